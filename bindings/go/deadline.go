package armature

import (
	"context"
	"sync"
	"time"
)

// requestContext is a handler's context: its deadline is the core's request timeout and
// Value(requestKey{}) is its Request. It replaces a context.WithValue and a
// context.WithDeadline per request, each with its own runtime timer: every request has the
// same timeout, so deadlines come in the order requests are taken, and one timer (deadlines)
// serves every running request, armed for the oldest (docs/go.md has the measurements).
//
// Cancelled (context.Canceled) when its handler returns, as the context of WithDeadline was by
// its cancel function; at its deadline, context.DeadlineExceeded.
type requestContext struct {
	request  *Request
	deadline time.Time
	// Neighbours in the deadline list while the handler runs; guarded by deadlines.mu.
	previous, next *requestContext

	mu    sync.Mutex
	done  chan struct{} // made when first asked for: most handlers never ask
	err   error
	after map[*afterFunc]struct{}
}

type afterFunc struct{ f func() }

var closedChannel = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

func (c *requestContext) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *requestContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		if c.err != nil {
			c.done = closedChannel
		} else {
			c.done = make(chan struct{})
		}
	}
	return c.done
}

func (c *requestContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *requestContext) Value(key any) any {
	if _, ok := key.(requestKey); ok {
		return c.request
	}
	return nil
}

// AfterFunc runs f in its own goroutine once the context ends, as context.AfterFunc does; the
// context package uses it for contexts derived from this one, instead of a goroutine each that
// waits on Done. stop unregisters f, and reports whether it did so before f started.
func (c *requestContext) AfterFunc(f func()) (stop func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		go f()
		return func() bool { return false }
	}
	registered := &afterFunc{f: f}
	if c.after == nil {
		c.after = map[*afterFunc]struct{}{}
	}
	c.after[registered] = struct{}{}
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, waiting := c.after[registered]
		delete(c.after, registered)
		return waiting
	}
}

// end ends the context with err, once.
func (c *requestContext) end(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	if c.done != nil {
		close(c.done)
	}
	after := c.after
	c.after = nil
	c.mu.Unlock()
	for registered := range after {
		go registered.f()
	}
}

var _ context.Context = (*requestContext)(nil)

// deadlines holds the contexts of running handlers in deadline order, with one timer armed for
// the first. A handler that returns leaves the list without touching the timer; when the timer
// fires it ends the contexts whose deadline passed and re-arms for the new first one.
type deadlines struct {
	mu          sync.Mutex
	first, last *requestContext
	timer       *time.Timer
	armed       bool
}

// start is the context of request, whose handler starts now and must end by deadline (never
// earlier than the deadline of a context started before it).
func (d *deadlines) start(request *Request, deadline time.Time) *requestContext {
	c := &requestContext{request: request, deadline: deadline}
	d.mu.Lock()
	c.previous = d.last
	if d.last != nil {
		d.last.next = c
	} else {
		d.first = c
	}
	d.last = c
	if !d.armed {
		d.armed = true
		wait := time.Until(deadline)
		if d.timer == nil {
			d.timer = time.AfterFunc(wait, d.fire)
		} else {
			d.timer.Reset(wait)
		}
	}
	d.mu.Unlock()
	return c
}

// finish ends c (its handler returned): context.Canceled, as a cancel function would.
func (d *deadlines) finish(c *requestContext) {
	d.mu.Lock()
	d.unlink(c)
	d.mu.Unlock()
	c.end(context.Canceled)
}

func (d *deadlines) unlink(c *requestContext) {
	if c.previous != nil {
		c.previous.next = c.next
	} else if d.first == c {
		d.first = c.next
	} else {
		return // not in the list (already expired)
	}
	if c.next != nil {
		c.next.previous = c.previous
	} else {
		d.last = c.previous
	}
	c.previous, c.next = nil, nil
}

// fire ends every context whose deadline has passed and re-arms the timer for the first one
// left.
func (d *deadlines) fire() {
	now := time.Now()
	var expired []*requestContext
	d.mu.Lock()
	for d.first != nil && !d.first.deadline.After(now) {
		c := d.first
		d.unlink(c)
		expired = append(expired, c)
	}
	if d.first != nil {
		d.timer.Reset(d.first.deadline.Sub(now))
	} else {
		d.armed = false
	}
	d.mu.Unlock()
	for _, c := range expired {
		c.end(context.DeadlineExceeded)
	}
}
