package remote_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/remote"
	"github.com/govirt/govirtd/rpc"
	"github.com/govirt/govirtd/vir"
)

// earlySession is a stand-in server session (govirtd itself no longer
// does this) that sends events for a registration before and while its
// reply travels: half of them before the reply, half racing it.
type earlySession struct{ p *rpc.Peer }

const nEv = 200

func (s *earlySession) send(i int) {
	s.p.SendMessage(protocol.RemoteProgram, protocol.RemoteProtocolVersion, int32(protocol.ProcDomainEventCallbackLifecycle),
		&protocol.DomainEventCallbackLifecycleMsg{CallbackID: 7, Msg: protocol.DomainEventLifecycleMsg{Dom: protocol.Domain{Name: "x", ID: 1}, Event: int32(vir.DomainEventStarted), Detail: int32(i)}})
}

func (s *earlySession) Dispatch(ctx context.Context, c *rpc.Call) (protocol.Encodable, error) {
	switch protocol.Procedure(c.Header.Procedure) {
	case protocol.ProcConnectDomainEventCallbackRegisterAny:
		for i := 0; i < nEv/2; i++ {
			s.send(i)
		}
		go func() {
			for i := nEv / 2; i < nEv; i++ {
				s.send(i)
			}
		}()
		return &protocol.ConnectDomainEventCallbackRegisterAnyRet{CallbackID: 7}, nil
	}
	return nil, nil
}
func (s *earlySession) Close() {}

// TestEarlyEventsKeepOrder: events that arrive before the client knows
// their callback id are held and delivered first, and every event of the
// id in arrival order.
func TestEarlyEventsKeepOrder(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "s")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := rpc.NewServer(rpc.ServerConfig{MaxQueue: 100000, Programs: []rpc.Program{{Number: protocol.RemoteProgram, Version: 1}},
		NewSession: func(p *rpc.Peer) rpc.Session { return &earlySession{p: p} },
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil))})
	go srv.Serve(l, rpc.ListenerOptions{Name: sock})
	defer srv.Shutdown(context.Background())
	bad := 0
	const connections = 100
	for iter := 0; iter < connections; iter++ {
		ctx := context.Background()
		c, err := remote.Dial(ctx, "test+unix:///default?socket="+sock)
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var got []int32
		done := make(chan struct{})
		_, err = c.ConnectDomainEventRegisterAny(ctx, nil, 0, func(id int, ev drivers.DomainEvent) {
			mu.Lock()
			got = append(got, ev.(drivers.LifecycleEvent).Detail)
			if len(got) == nEv {
				close(done)
			}
			mu.Unlock()
		})
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			mu.Lock()
			t.Fatalf("iteration %d: only %d events delivered", iter, len(got))
		}
		for i, d := range got {
			if int(d) != i {
				bad++
				t.Logf("iteration %d: event %d delivered at position %d", iter, d, i)
				break
			}
		}
		c.Close()
	}
	if bad > 0 {
		t.Errorf("%d of %d connections saw events out of order", bad, connections)
	}
}
