package remote_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/govirt/govirtd/daemon"
	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/internal/testdaemon"
	"github.com/govirt/govirtd/internal/testutil"
	"github.com/govirt/govirtd/remote"
	"github.com/govirt/govirtd/vir"
)

// serve starts a daemon with the test driver and returns its URI and a
// function that stops it.
func serve(t *testing.T) (string, func()) {
	t.Helper()
	uri, _, stop := serveConfig(t, nil)
	return uri, stop
}

// serveConfig is serve with the configuration changed by edit, returning
// the daemon too.
func serveConfig(t *testing.T, edit func(*daemon.Config)) (string, *daemon.Daemon, func()) {
	t.Helper()
	d := testdaemon.Start(t, testdaemon.Options{Edit: edit, Log: io.Discard})
	return d.URI(), d.Daemon, d.Stop
}

// recv takes a value from ch, failing the test if none comes within
// testutil.HangTimeout (a guard against hangs, not a timing assertion).
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(testutil.HangTimeout):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func dial(t *testing.T, uri string) *remote.Conn {
	t.Helper()
	c, err := remote.Dial(context.Background(), uri)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestCallbackCallsBack: a callback that calls into the library (looks up
// the domain the event names) does not deadlock, and events arrive in
// order.
func TestCallbackCallsBack(t *testing.T) {
	uri, _ := serve(t)
	ctx := context.Background()
	c := dial(t, uri)
	type seen struct {
		event vir.DomainEventType
		state remote.DomainState
	}
	got := make(chan seen, 10)
	if _, err := c.ConnectDomainEventRegisterAny(ctx, nil, vir.DomainEventIDLifecycle, func(_ int, ev drivers.DomainEvent) {
		dom, err := c.DomainLookupByName(ctx, ev.EventDomain().Name)
		if err != nil {
			t.Error(err)
		}
		state, _, err := c.DomainGetState(ctx, dom, 0)
		if err != nil {
			t.Error(err)
		}
		got <- seen{ev.(drivers.LifecycleEvent).Event, state}
	}); err != nil {
		t.Fatal(err)
	}
	test, err := c.DomainLookupByName(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.DomainSuspend(ctx, test); err != nil {
		t.Fatal(err)
	}
	first := recv(t, got, "the suspend callback")
	if err := c.DomainResume(ctx, test); err != nil {
		t.Fatal(err)
	}
	second := recv(t, got, "the resume callback")
	if first.event != vir.DomainEventSuspended || second.event != vir.DomainEventResumed {
		t.Fatalf("events %v then %v", first.event, second.event)
	}
	if second.state != vir.DomainRunning {
		t.Fatalf("state seen from the resume callback: %v", second.state)
	}
}

// TestPullEvents: EventCheck and EventWait return kept events by mask and
// predicate, leaving the others; push and pull registrations mix.
func TestPullEvents(t *testing.T) {
	uri, _ := serve(t)
	ctx := context.Background()
	c := dial(t, uri)
	if _, err := c.ConnectDomainEventRegisterAny(ctx, nil, vir.DomainEventIDLifecycle, nil); err != nil {
		t.Fatal(err)
	}
	pushed := make(chan drivers.DomainEvent, 1)
	if _, err := c.ConnectDomainEventRegisterAny(ctx, nil, vir.DomainEventIDReboot, func(_ int, ev drivers.DomainEvent) { pushed <- ev }); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.EventCheck(remote.AllEvents, nil); ok {
		t.Fatal("EventCheck found an event before any happened")
	}
	test, _ := c.DomainLookupByName(ctx, "test")
	for _, op := range []func(context.Context, remote.Domain) error{c.DomainSuspend, c.DomainResume} {
		if err := op(ctx, test); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.DomainReboot(ctx, test, 0); err != nil {
		t.Fatal(err)
	}
	if ev := recv(t, pushed, "the reboot event"); ev.EventID() != vir.DomainEventIDReboot {
		t.Fatalf("pushed %v", ev)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// Ask for the resume first: the suspend stays queued.
	resumed, err := c.EventWait(wctx, remote.MaskOf(vir.DomainEventIDLifecycle), func(e remote.Event) bool {
		return e.DomainEvent.(drivers.LifecycleEvent).Event == vir.DomainEventResumed
	})
	if err != nil {
		t.Fatal(err)
	}
	suspended, ok := c.EventCheck(remote.AllEvents, nil)
	if !ok || suspended.DomainEvent.(drivers.LifecycleEvent).Event != vir.DomainEventSuspended {
		t.Fatalf("EventCheck: %v %v", suspended, ok)
	}
	if suspended.Seq >= resumed.Seq {
		t.Fatalf("sequence numbers %d, %d out of arrival order", suspended.Seq, resumed.Seq)
	}
	if _, ok := c.EventCheck(remote.AllEvents, nil); ok {
		t.Fatal("an event was delivered twice")
	}
	short, cancel2 := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel2()
	if _, err := c.EventWait(short, remote.AllEvents, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("EventWait with nothing to wait for: %v", err)
	}
}

// TestCloseReasons: subscribers learn why the connection closed.
func TestCloseReasons(t *testing.T) {
	uri, stop := serve(t)
	ctx := context.Background()

	byClient := dial(t, uri)
	reason := make(chan error, 1)
	byClient.RegisterCloseCallback(func(err error) { reason <- err })
	byClient.Close()
	if err := recv(t, reason, "the close callback"); !errors.Is(err, remote.ErrClosedByClient) {
		t.Fatalf("close by the client: %v", err)
	}
	if _, err := byClient.DomainLookupByName(ctx, "test"); !errors.Is(err, remote.ErrClosedByClient) {
		t.Fatalf("call after Close: %v", err)
	}

	waiter := dial(t, uri)
	if _, err := waiter.ConnectDomainEventRegisterAny(ctx, nil, vir.DomainEventIDLifecycle, nil); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() {
		_, err := waiter.EventWait(ctx, remote.AllEvents, nil)
		waited <- err
	}()
	stop()
	var closed *remote.ClosedError
	if err := recv(t, waited, "EventWait to return"); !errors.As(err, &closed) || !errors.Is(err, remote.ErrDaemonShutdown) {
		t.Fatalf("EventWait across a daemon shutdown: %v", err)
	}
	if !errors.Is(waiter.Err(), remote.ErrDaemonShutdown) {
		t.Fatalf("Err after a daemon shutdown: %v", waiter.Err())
	}
}

// TestTypedErrors: daemon errors come back as *drivers.Error with
// libvirt's code.
func TestTypedErrors(t *testing.T) {
	uri, _ := serve(t)
	c := dial(t, uri)
	_, err := c.DomainLookupByName(context.Background(), "nosuch")
	var e *remote.Error
	if drivers.CodeOf(err) != vir.ErrNoDomain || !errors.As(err, &e) || e.Domain != vir.FromTest {
		t.Fatalf("lookup miss: %#v", err)
	}
	if e.Message != "Domain not found: no domain with matching name 'nosuch'" {
		t.Fatalf("message %q", e.Message)
	}
	if _, err := remote.Dial(context.Background(), "test+unix:///default?socket=/nonexistent/sock"); err == nil {
		t.Fatal("dial of a missing socket succeeded")
	}
}
