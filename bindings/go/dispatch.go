package armature

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"time"
)

// drain takes requests from the core's queue and runs each handler in its own goroutine (one
// reused from an earlier request when one is idle).
//
// The queue's descriptor is watched by Go's netpoller (RawConn.Read parks this goroutine, not
// an OS thread, until it is readable). Once woken, this goroutine drains: it takes every waiting
// request with non-blocking calls (armature_server_drain_take), lets the handlers it started run
// (runtime.Gosched) and takes again, and goes back to the netpoller only when a take finds
// nothing and armature_server_drain_end agrees. While it drains the core writes nothing to the
// descriptor, so requests that arrive meanwhile cost no system call on either side and no
// netpoller wake-up; and the answers the handlers give meanwhile are held by the core and
// delivered together at the next take, one wake-up of the core's worker per round instead of
// one per answer (docs/go.md has the measurements). It ends when the core closes the queue
// (the server stopped) or the descriptor is closed (Shutdown of an in-process-only app), then
// waits for the handlers still running.
func (a *App) drain(server *nativeServer, queue *os.File) {
	defer func() {
		a.inFlight.Wait()
		a.workers.stop()
		a.mu.Lock()
		waited := a.waited
		a.mu.Unlock()
		if waited != nil {
			<-waited // armature_server_wait has returned: the server may now be freed
		}
		close(a.stopped)
	}()
	defer queue.Close()
	raw, err := queue.SyscallConn()
	if err != nil {
		log.Printf("armature: watching the request queue: %v", err)
		return
	}
	timeout := time.Duration(a.timeout) * time.Millisecond
	batch := make([]pending, 0, takeBatch)
	var takeErr error
	readErr := raw.Read(func(uintptr) bool {
		for {
			free := cap(a.slots) - len(a.slots)
			if free == 0 {
				// MaxConcurrency handlers are running: leave requests in the core's queue (which
				// answers 503 past server.queue_capacity) until one returns, with the answers
				// given so far delivered.
				if _, takeErr = server.drainEnd(); takeErr != nil {
					return true
				}
				a.slots <- struct{}{}
				<-a.slots
				continue
			}
			var closed bool
			want := min(free, takeBatch)
			batch, closed, takeErr = server.drainTake(batch[:0], want)
			if len(batch) > 0 {
				deadline := time.Now().Add(timeout)
				for i := range batch {
					a.slots <- struct{}{}
					a.inFlight.Add(1)
					a.start(job{batch[i], deadline})
				}
			}
			if closed || takeErr != nil {
				if _, err := server.drainEnd(); err != nil && takeErr == nil {
					takeErr = err // the answers held so far are delivered all the same
				}
				return true
			}
			switch {
			case len(batch) == want:
				// More may wait.
			case len(batch) > 0:
				// Let the handlers just started run and answer; requests that arrive meanwhile
				// are taken without a wake-up.
				runtime.Gosched()
			default:
				var idle bool
				if idle, takeErr = server.drainEnd(); takeErr != nil {
					return true
				}
				if idle {
					return false // the queue is empty: wait until readable again
				}
			}
		}
	})
	if takeErr != nil {
		log.Printf("armature: taking requests: %v", takeErr)
	}
	if readErr != nil && !a.closing.Load() {
		log.Printf("armature: watching the request queue: %v", readErr)
	}
}

// dispatch runs the operation's handler for one request and answers with what it returns.
func (a *App) dispatch(p pending, deadline time.Time) {
	defer func() {
		<-a.slots
		a.inFlight.Done()
	}()
	route, ok := a.handlers[p.operationID]
	if !ok {
		// The core sends only the operations registered here: a broken invariant, not a request's fault.
		p.finish(finishFail, 0, "no Go handler for operation "+p.operationID)
		return
	}
	request := &Request{p: &p}
	ctx := a.deadlines.start(request, deadline)
	response, err := call(route.handler, ctx, request)
	a.deadlines.finish(ctx)
	request.done.Store(true)
	if err != nil {
		a.fail(&p, err)
		return
	}
	a.answer(&p, route.status, response)
}

// call runs handler, turning a panic into an error (logged with its stack by fail).
func call(handler HandlerFunc, ctx context.Context, request *Request) (response *Response, err error) {
	defer func() {
		if recovered := recover(); recovered != nil {
			err = &panicError{value: recovered, stack: debug.Stack()}
		}
	}()
	return handler(ctx, request)
}

type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.value) }

// answer sends what the handler returned: a nil response (or NoContent) is "nothing returned"
// with the operation's status, anything else is sent as given. What that becomes (204 for nothing with
// 200, which content type wins) is the core's answer rule; this only converts.
func (a *App) answer(p *pending, status int, response *Response) {
	if response == nil {
		response = NoContent(status)
	}
	kind := bodyExact
	if response.nothing {
		kind = bodyNothing
	}
	if response.err != nil {
		a.fail(p, response.err)
		return
	}
	var headers packed
	for name, values := range response.Header {
		for _, value := range values {
			headers.add(name, value)
		}
	}
	status = response.Status
	if status == 0 {
		status = http.StatusOK
	}
	freed, err := p.respond(status, kind, response.ContentType, response.Body, &headers)
	if !freed {
		// An answer the core's answer rule refuses: the handler's fault, a 500.
		a.fail(p, fmt.Errorf("the handler's response was refused: %w", err))
		return
	}
	if err != nil {
		log.Printf("armature: answering %s: %v", p.operationID, err)
	}
}

// fail answers a handler's error: a refusal as the `refused` problem, the end of its context
// as no answer at all (the core answers 504 after a timeout, 500 no-response otherwise), any
// other error as the 500 `handler-error` problem, its message logged and never shown.
func (a *App) fail(p *pending, err error) {
	if refusal, ok := asRefusal(err); ok {
		// A status outside 400-599 makes go_finish fail the request instead.
		if e := p.finish(finishRefuse, refusal.Status, refusal.Detail); e != nil {
			log.Printf("armature: refusing %s with %d: %v", p.operationID, refusal.Status, e)
		}
		return
	}
	if errors.Is(err, ErrAbandon) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		if errors.Is(err, context.DeadlineExceeded) {
			// The context's deadline is the core's request timeout, whose timer may fire a
			// moment after Go's: let the core answer 504 first, or dropping the answer would
			// give 500 no-response. Bounded, in case the deadline was the handler's own.
			for wait := time.Now(); p.isWaiting() && time.Since(wait) < time.Second; {
				time.Sleep(2 * time.Millisecond)
			}
		}
		if e := p.finish(finishDrop, 0, ""); e != nil {
			log.Printf("armature: dropping %s: %v", p.operationID, e)
		}
		return
	}
	message := err.Error()
	var panicked *panicError
	if errors.As(err, &panicked) {
		log.Printf("armature: handler of %s panicked (request %s): %v\n%s", p.operationID, p.requestID(), panicked.value, panicked.stack)
	} else {
		log.Printf("armature: handler of %s failed (request %s): %v", p.operationID, p.requestID(), err)
	}
	if e := p.finish(finishFail, 0, message); e != nil {
		log.Printf("armature: failing %s: %v", p.operationID, e)
	}
}

type requestKey struct{}

// FromContext is the Request a handler's context belongs to (also the context of the
// *http.Request that HTTPHandler passes on): its request id, trace ids and identity.
func FromContext(ctx context.Context) (*Request, bool) {
	request, ok := ctx.Value(requestKey{}).(*Request)
	return request, ok
}
