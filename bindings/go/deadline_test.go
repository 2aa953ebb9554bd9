package armature

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestRequestContextsEndAtTheirDeadlineInOrderAndWhenTheirHandlerReturns(t *testing.T) {
	var d deadlines
	now := time.Now()
	first := d.start(&Request{}, now.Add(20*time.Millisecond))
	second := d.start(&Request{}, now.Add(40*time.Millisecond))
	returned := d.start(&Request{}, now.Add(60*time.Millisecond))
	derived, cancel := context.WithCancel(second) // through AfterFunc, no goroutine of its own
	defer cancel()

	d.finish(returned)
	if !errors.Is(returned.Err(), context.Canceled) {
		t.Fatalf("a finished handler's context: %v, want Canceled", returned.Err())
	}
	select {
	case <-returned.Done():
	default:
		t.Fatal("Done of a finished context is not closed")
	}

	select {
	case <-first.Done():
	case <-time.After(time.Second):
		t.Fatal("the first deadline did not end its context")
	}
	if !errors.Is(first.Err(), context.DeadlineExceeded) {
		t.Fatalf("first: %v, want DeadlineExceeded", first.Err())
	}
	select {
	case <-derived.Done():
	case <-time.After(time.Second):
		t.Fatal("a context derived from the second did not end with it")
	}
	if !errors.Is(second.Err(), context.DeadlineExceeded) || !errors.Is(derived.Err(), context.DeadlineExceeded) {
		t.Fatalf("second: %v, derived: %v", second.Err(), derived.Err())
	}
	if deadline, ok := second.Deadline(); !ok || !deadline.Equal(now.Add(40*time.Millisecond)) {
		t.Fatalf("Deadline() = %v, %v", deadline, ok)
	}
	// The list is empty again; a new context arms the timer anew.
	again := d.start(&Request{}, time.Now().Add(10*time.Millisecond))
	select {
	case <-again.Done():
	case <-time.After(time.Second):
		t.Fatal("the timer was not armed again for a later context")
	}
	request := &Request{}
	if c := d.start(request, time.Now().Add(time.Hour)); c.Value(requestKey{}) != request {
		t.Fatal("Value(requestKey{}) is not the request")
	}
}

func TestAfterFuncOfAnEndedContextRunsAtOnceAndStopReports(t *testing.T) {
	var d deadlines
	c := d.start(&Request{}, time.Now().Add(time.Hour))
	ran := make(chan struct{})
	stop := c.AfterFunc(func() { close(ran) })
	if !stop() {
		t.Fatal("stop before the end did not report that it stopped the function")
	}
	d.finish(c)
	select {
	case <-ran:
		t.Fatal("a stopped function ran")
	case <-time.After(20 * time.Millisecond):
	}
	late := make(chan struct{})
	c.AfterFunc(func() { close(late) })
	select {
	case <-late:
	case <-time.After(time.Second):
		t.Fatal("AfterFunc on an ended context did not run")
	}
}
