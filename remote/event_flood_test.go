package remote_test

// A flood of events at a connection whose callback is stuck: the push
// queue stays at its bound however many arrive, and the connection goes
// on answering calls. The server is an rpc.Server with a session of the
// test's own that sends events as fast as its queue takes them, faster
// than any driver raises them.

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/internal/testutil"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/remote"
	"github.com/govirt/govirtd/rpc"
	"github.com/govirt/govirtd/vir"
)

// floodSession sends early lifecycle events for callback id 7 before it
// replies to the registration (once hold, when not nil, is closed), and
// n more as fast as its queue takes them once the client calls
// DomainResume; it serves every other call with an empty reply.
type floodSession struct {
	p        *rpc.Peer
	early, n int
	hold     chan struct{}
}

func (s *floodSession) send(i int) error {
	return s.p.SendMessage(protocol.RemoteProgram, protocol.RemoteProtocolVersion, int32(protocol.ProcDomainEventCallbackLifecycle),
		&protocol.DomainEventCallbackLifecycleMsg{CallbackID: 7, Msg: protocol.DomainEventLifecycleMsg{
			Dom: protocol.Domain{Name: "flood", ID: 1}, Event: int32(vir.DomainEventStarted), Detail: int32(i)}})
}

func (s *floodSession) Dispatch(ctx context.Context, c *rpc.Call) (protocol.Encodable, error) {
	switch protocol.Procedure(c.Header.Procedure) {
	case protocol.ProcConnectDomainEventCallbackRegisterAny:
		for i := range s.early {
			s.send(i)
		}
		if s.hold != nil {
			<-s.hold
		}
		return &protocol.ConnectDomainEventCallbackRegisterAnyRet{CallbackID: 7}, nil
	case protocol.ProcDomainResume:
		go func() {
			for i := range s.n {
				if s.send(s.early+i) != nil {
					return
				}
			}
		}()
	}
	return nil, nil
}
func (s *floodSession) Close() {}

func serveFlood(t testing.TB, proto floodSession) string {
	sock := filepath.Join(t.TempDir(), "s")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := rpc.NewServer(rpc.ServerConfig{MaxQueue: proto.early + proto.n + 16, MaxQueueBytes: 1 << 30,
		Programs: []rpc.Program{{Number: protocol.RemoteProgram, Version: protocol.RemoteProtocolVersion}},
		NewSession: func(p *rpc.Peer) rpc.Session {
			s := proto
			s.p = p
			return &s
		},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	go srv.Serve(l, rpc.ListenerOptions{Name: sock})
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return "test+unix:///default?socket=" + sock
}

var flood = remote.Domain{Name: "flood"}

func TestFloodStuckCallback(t *testing.T) {
	const n = 50000
	uri := serveFlood(t, floodSession{n: n})
	ctx := context.Background()
	var reports atomic.Int32
	c, err := remote.DialOptions(ctx, uri, remote.Options{OnEventsLost: func(remote.EventsLost) { reports.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	release := make(chan struct{})
	var once sync.Once
	letGo := func() { once.Do(func() { close(release) }) }
	defer letGo()
	var delivered atomic.Int32
	if _, err := c.ConnectDomainEventRegisterAny(ctx, nil, vir.DomainEventIDLifecycle, func(int, drivers.DomainEvent) {
		<-release
		delivered.Add(1)
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.DomainResume(ctx, flood); err != nil {
		t.Fatal(err)
	}
	calls := 0
	testutil.WaitFor(t, "every event received", func() bool {
		st := checkBound(t, c, "during the flood")
		// Calls go on during the flood.
		if err := c.DomainSuspend(ctx, flood); err != nil {
			t.Fatalf("call during the flood: %v", err)
		}
		calls++
		return 1+st.Queued+int(st.Lost) == n
	})
	st := c.EventQueueStats()
	t.Logf("after %d events at a stuck callback: %+v (%d calls answered meanwhile)", n, st, calls)
	if st.Queued != remote.DefaultEventQueueLen {
		t.Fatalf("queued %d, want the bound %d", st.Queued, remote.DefaultEventQueueLen)
	}
	letGo()
	testutil.WaitFor(t, "the queued events and the report delivered", func() bool {
		return int(delivered.Load()) == 1+remote.DefaultEventQueueLen && reports.Load() == 1
	})
}

// BenchmarkEventDelivery: events from the socket to a callback, per
// event, with the push queue's bookkeeping (bound above b.N: none is
// lost however far the callback falls behind the reader).
func BenchmarkEventDelivery(b *testing.B) {
	uri := serveFlood(b, floodSession{n: b.N})
	ctx := context.Background()
	c, err := remote.DialOptions(ctx, uri, remote.Options{EventQueueLen: b.N + 16})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	done := make(chan struct{})
	var got atomic.Int64
	b.ResetTimer()
	if _, err := c.ConnectDomainEventRegisterAny(ctx, nil, vir.DomainEventIDLifecycle, func(int, drivers.DomainEvent) {
		if got.Add(1) == int64(b.N) {
			close(done)
		}
	}); err != nil {
		b.Fatal(err)
	}
	if err := c.DomainResume(ctx, flood); err != nil {
		b.Fatal(err)
	}
	<-done
	b.StopTimer()
	b.ReportMetric(float64(c.EventQueueStats().Lost), "lost")
}

// TestTooManyEarlyEvents: a daemon that sends more events for a
// registration before replying to it than the client holds (256): the
// registration is told how many of the oldest it lost, then gets the
// rest in order.
func TestTooManyEarlyEvents(t *testing.T) {
	const early, held = 1000, 256
	hold := make(chan struct{})
	uri := serveFlood(t, floodSession{early: early, hold: hold})
	ctx := context.Background()
	var mu sync.Mutex
	var report remote.EventsLost
	var details []int32
	var log []string
	c, err := remote.DialOptions(ctx, uri, remote.Options{OnEventsLost: func(l remote.EventsLost) {
		mu.Lock()
		defer mu.Unlock()
		report = l
		log = append(log, "lost")
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	registered := make(chan error, 1)
	go func() {
		_, err := c.ConnectDomainEventRegisterAny(ctx, nil, vir.DomainEventIDLifecycle, func(_ int, ev drivers.DomainEvent) {
			mu.Lock()
			defer mu.Unlock()
			details = append(details, ev.(drivers.LifecycleEvent).Detail)
			if len(log) == 0 || log[len(log)-1] != "event" {
				log = append(log, "event")
			}
		})
		registered <- err
	}()
	testutil.WaitFor(t, "the early events held", func() bool {
		st := c.EventQueueStats()
		return st.Received == early && st.Queued == 0 && st.Held == held
	})
	close(hold)
	if err := recv(t, registered, "the registration"); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "the held events delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(details) == held
	})
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(log, []string{"lost", "event"}) {
		t.Errorf("delivered %v, want the report, then the events", log)
	}
	if report.Count != early-held || report.FirstSeq != 1 || report.LastSeq != early-held || !errors.Is(report.Reason, remote.ErrTooManyEarlyEvents) {
		t.Errorf("report %v, want %d lost, Seq 1 to %d, ErrTooManyEarlyEvents", report, early-held, early-held)
	}
	for i, d := range details {
		if int(d) != early-held+i {
			t.Fatalf("event %d has detail %d, want %d (the newest held, in order)", i, d, early-held+i)
		}
	}
	if st := c.EventQueueStats(); st.Lost != early-held || st.Held != 0 {
		t.Errorf("stats %+v", st)
	}
}
