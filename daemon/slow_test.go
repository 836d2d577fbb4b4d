package daemon_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govirt/govirtd/daemon"
	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/remote"
	"github.com/govirt/govirtd/rpc"
	"github.com/govirt/govirtd/vir"
)

// TestSlowSubscriberDropped: a client that registers for events and
// never reads is disconnected once its queue is full, while 50 other
// subscribers receive every event, and no client's queue ever holds more
// than max_client_queue messages.
func TestSlowSubscriberDropped(t *testing.T) {
	const queue = 64
	d := startDaemon(t, func(c *daemon.Config) { c.MaxClientQueue = queue })
	ctx := context.Background()

	// The slow client: registers, then never reads again.
	slow, err := net.Dial("unix", d.RW())
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	rawCall(t, slow, 1, protocol.ProcConnectOpen, &protocol.ConnectOpenArgs{Name: ptr("test:///default")})
	rawCall(t, slow, 2, protocol.ProcConnectDomainEventCallbackRegisterAny, &protocol.ConnectDomainEventCallbackRegisterAnyArgs{})

	const subscribers = 50
	counts := make([]atomic.Int64, subscribers)
	var orderErr atomic.Value
	for i := range subscribers {
		c, err := remote.Dial(ctx, d.URI())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var last vir.DomainEventType = -1
		if _, err := c.ConnectDomainEventRegisterAny(ctx, nil, vir.DomainEventIDLifecycle, func(_ int, ev drivers.DomainEvent) {
			e := ev.(drivers.LifecycleEvent)
			// suspend and resume alternate; anything else is a lost or
			// reordered event.
			if last == e.Event {
				orderErr.Store("two " + drivers.EventTypeString(e.Event) + " events in a row")
			}
			last = e.Event
			counts[i].Add(1)
		}); err != nil {
			t.Fatal(err)
		}
	}

	actor, err := remote.Dial(ctx, d.URI())
	if err != nil {
		t.Fatal(err)
	}
	defer actor.Close()
	test, err := actor.DomainLookupByName(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	// Change the domain until the silent client is dropped (how many
	// events that takes depends on the kernel's socket buffers), and at
	// least 2,000 times.
	pairs := 0
	for pairs < 2000 || d.Server().Stats().SlowDropped == 0 {
		if pairs == 1_000_000 {
			t.Fatal("the client that stopped reading was never dropped")
		}
		if err := actor.DomainSuspend(ctx, test); err != nil {
			t.Fatal(err)
		}
		if err := actor.DomainResume(ctx, test); err != nil {
			t.Fatal(err)
		}
		pairs++
	}
	waitFor(t, "every subscriber to get every event", func() bool {
		for i := range counts {
			if counts[i].Load() < int64(2*pairs) {
				return false
			}
		}
		return true
	})
	if s := d.Server().Stats(); s.SlowDropped != 1 {
		t.Fatalf("%d clients dropped as slow, want exactly the one that stopped reading", s.SlowDropped)
	}
	for i := range counts {
		if n := counts[i].Load(); n != int64(2*pairs) {
			t.Fatalf("subscriber %d got %d events, want %d", i, n, 2*pairs)
		}
	}
	if e := orderErr.Load(); e != nil {
		t.Fatal(e)
	}
	if n := d.Server().Stats().QueuePeak; n > queue {
		t.Fatalf("a queue held %d messages, over max_client_queue %d", n, queue)
	}
	// The slow client finds its connection closed once it reads.
	slow.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		if _, _, err := rpc.ReadFrame(slow); err != nil {
			break
		}
	}
}

func ptr[T any](v T) *T { return &v }

// rawCall writes a CALL frame on nc and reads frames until its reply.
func rawCall(t testing.TB, nc net.Conn, serial uint32, proc protocol.Procedure, args protocol.Encodable) {
	t.Helper()
	f, err := rpc.EncodeFrame(protocol.Header{Program: protocol.RemoteProgram, Version: 1,
		Procedure: int32(proc), Type: protocol.Call, Serial: serial}, args)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Write(f); err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer nc.SetReadDeadline(time.Time{})
	for {
		h, _, err := rpc.ReadFrame(nc)
		if err != nil {
			t.Fatalf("%s: %v", proc, err)
		}
		if h.Type == protocol.Reply && h.Serial == serial {
			if h.Status != protocol.StatusOK {
				t.Fatalf("%s failed: %s", proc, h)
			}
			return
		}
	}
}
