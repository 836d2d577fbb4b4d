package remote_test

// A subscriber that falls behind gets a bounded queue and a report of
// what it lost and why, in order with its events, while calls on the same
// connection go on; against the real govirtd daemon, in process.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/internal/testutil"
	"github.com/govirt/govirtd/remote"
	"github.com/govirt/govirtd/vir"
)

// checkBound fails the test if a queue of c holds more than its bound.
func checkBound(t *testing.T, c *remote.Conn, when string) remote.EventQueueStats {
	t.Helper()
	st := c.EventQueueStats()
	if st.Queued > st.MaxLen || st.QueuedBytes > st.MaxBytes || st.Kept > st.MaxLen || st.KeptBytes > st.MaxBytes {
		t.Fatalf("%s: event queues over their bound: %+v", when, st)
	}
	return st
}

// TestStuckCallbackBoundedQueue: a callback that does not return holds
// its connection's push queue at EventQueueLen while calls on the same
// connection keep working; once it returns it gets the queued events,
// then one report of the rest (count, Seq range, registration, reason),
// then the events that came after.
func TestStuckCallbackBoundedQueue(t *testing.T) {
	uri, _ := serve(t)
	ctx := context.Background()
	const bound, rounds = 8, 20 // 2 events a round

	var mu sync.Mutex
	var log []string // what the dispatcher handed on, in order
	var report remote.EventsLost
	entered, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	letGo := func() { releaseOnce.Do(func() { close(release) }) }
	defer letGo() // a failing test does not leave the callback stuck
	c, err := remote.DialOptions(ctx, uri, remote.Options{
		EventQueueLen: bound,
		OnEventsLost: func(l remote.EventsLost) {
			mu.Lock()
			defer mu.Unlock()
			report = l
			log = append(log, fmt.Sprintf("lost %d", l.Count))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	first := true
	id, err := c.ConnectDomainEventRegisterAny(ctx, nil, vir.DomainEventIDLifecycle, func(_ int, ev drivers.DomainEvent) {
		if first {
			first = false
			close(entered)
			<-release // stuck until the test lets it go
		}
		mu.Lock()
		defer mu.Unlock()
		log = append(log, ev.(drivers.LifecycleEvent).Event.String())
	})
	if err != nil {
		t.Fatal(err)
	}

	test, err := c.DomainLookupByName(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	for i := range rounds {
		if err := c.DomainSuspend(ctx, test); err != nil {
			t.Fatalf("round %d: suspend on the connection whose callback is stuck: %v", i, err)
		}
		if err := c.DomainResume(ctx, test); err != nil {
			t.Fatalf("round %d: resume on the connection whose callback is stuck: %v", i, err)
		}
		checkBound(t, c, fmt.Sprintf("round %d", i))
	}
	recv(t, entered, "the first event in the callback")
	// Every event has arrived once one is in the callback, bound are
	// queued and the rest are counted lost.
	testutil.WaitFor(t, "all events received", func() bool {
		st := checkBound(t, c, "while the callback is stuck")
		return 1+st.Queued+int(st.Lost) == 2*rounds
	})
	if st := c.EventQueueStats(); st.Queued != bound || st.MaxLen != bound || st.Lost != 2*rounds-1-bound {
		t.Fatalf("with the callback stuck: %+v, want %d queued and %d lost", st, bound, 2*rounds-1-bound)
	}
	// A call still works, and its state is what a resync would read.
	if state, _, err := c.DomainGetState(ctx, test, 0); err != nil || state != vir.DomainRunning {
		t.Fatalf("state with the callback stuck: %v, %v", state, err)
	}

	letGo()
	testutil.WaitFor(t, "the report of the loss", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return report.Count > 0
	})
	// One more event comes after the report.
	if err := c.DomainSuspend(ctx, test); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "the event after the loss", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(log) == 1+bound+2
	})
	mu.Lock()
	defer mu.Unlock()
	var want []string
	for i := range 1 + bound {
		want = append(want, []vir.DomainEventType{vir.DomainEventSuspended, vir.DomainEventResumed}[i%2].String())
	}
	want = append(want, fmt.Sprintf("lost %d", 2*rounds-1-bound), vir.DomainEventSuspended.String())
	if !slices.Equal(log, want) {
		t.Errorf("delivered %q, want %q", log, want)
	}
	if report.FirstSeq != 1+bound+1 || report.LastSeq != 2*rounds || !slices.Equal(report.CallbackIDs, []int{id}) {
		t.Errorf("report %v: want Seq %d to %d of callback %d", report, 1+bound+1, 2*rounds, id)
	}
	if !errors.Is(report.Reason, remote.ErrEventQueueFull) {
		t.Errorf("reason %v, want ErrEventQueueFull", report.Reason)
	}
	t.Logf("%v", report)
	c.DomainResume(ctx, test)
}

// TestUndrainedPullBuffer: events kept for EventCheck that nobody takes
// stay at the bound, the oldest dropped; the report comes at once (no
// callback holds the dispatcher), and what is left is the newest, their
// Seq showing the gap.
func TestUndrainedPullBuffer(t *testing.T) {
	uri, _ := serve(t)
	ctx := context.Background()
	const bound, rounds = 4, 5
	reports := make(chan remote.EventsLost, 2*rounds)
	c, err := remote.DialOptions(ctx, uri, remote.Options{
		EventQueueLen: bound,
		OnEventsLost:  func(l remote.EventsLost) { reports <- l },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ConnectDomainEventRegisterAny(ctx, nil, vir.DomainEventIDLifecycle, nil); err != nil {
		t.Fatal(err)
	}
	test, _ := c.DomainLookupByName(ctx, "test")
	for range rounds {
		if err := c.DomainSuspend(ctx, test); err != nil {
			t.Fatal(err)
		}
		if err := c.DomainResume(ctx, test); err != nil {
			t.Fatal(err)
		}
		checkBound(t, c, "while nobody pulls")
	}
	const lost = 2*rounds - bound
	testutil.WaitFor(t, "all events received", func() bool {
		return c.EventQueueStats().Lost == lost
	})
	if st := c.EventQueueStats(); st.Kept != bound {
		t.Fatalf("pull buffer %+v, want %d kept", st, bound)
	}
	var n uint64
	for n < lost {
		select {
		case l := <-reports:
			if !errors.Is(l.Reason, remote.ErrPullBufferFull) {
				t.Fatalf("report %v, want ErrPullBufferFull", l)
			}
			n += l.Count
		case <-time.After(testutil.HangTimeout):
			t.Fatalf("reported %d lost of %d", n, lost)
		}
	}
	for i := range bound {
		ev, ok := c.EventCheck(remote.AllEvents, nil)
		if want := uint64(lost + 1 + i); !ok || ev.Seq != want {
			t.Fatalf("kept event %d: %+v %v, want Seq %d (the oldest were dropped)", i, ev, ok, want)
		}
	}
	if st := c.EventQueueStats(); st.Kept != 0 || st.KeptBytes != 0 {
		t.Fatalf("after taking everything: %+v", st)
	}
}

// TestDefaultEventQueueBound: without options the bound is the default.
func TestDefaultEventQueueBound(t *testing.T) {
	uri, _ := serve(t)
	st := dial(t, uri).EventQueueStats()
	if st.MaxLen != remote.DefaultEventQueueLen || st.MaxBytes != remote.DefaultEventQueueBytes {
		t.Fatalf("default bound %+v", st)
	}
}

// TestEventQueueByteBound: the byte bound holds as the count bound does
// (a lifecycle event's message is 40 bytes on the wire, 2 fit in 100).
func TestEventQueueByteBound(t *testing.T) {
	uri, _ := serve(t)
	ctx := context.Background()
	c, err := remote.DialOptions(ctx, uri, remote.Options{EventQueueBytes: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ConnectDomainEventRegisterAny(ctx, nil, vir.DomainEventIDLifecycle, nil); err != nil {
		t.Fatal(err)
	}
	test, _ := c.DomainLookupByName(ctx, "test")
	const rounds = 5
	for range rounds {
		c.DomainSuspend(ctx, test)
		c.DomainResume(ctx, test)
		checkBound(t, c, "while nobody pulls")
	}
	testutil.WaitFor(t, "all events received", func() bool {
		st := c.EventQueueStats()
		return st.Kept+int(st.Lost) == 2*rounds
	})
	if st := c.EventQueueStats(); st.Kept != 2 || st.KeptBytes != 80 || st.MaxBytes != 100 {
		t.Fatalf("pull buffer %+v, want 2 events, 80 bytes kept", st)
	}
}
