package remote_test

// A call made after the daemon dropped the client for reading too slowly
// still lets the client read what the daemon flushed first: the events
// and the farewell saying why (found in review: the call's failed write
// discarded them and the reason became "broken pipe").

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govirt/govirtd/daemon"
	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/remote"
	"github.com/govirt/govirtd/vir"
)

// slowConn stalls reads, then reads a few bytes at a time: a client that
// reads, but slowly.
type slowConn struct {
	net.Conn
	mu      sync.Mutex
	stalled chan struct{}
	slow    atomic.Bool
}

func (c *slowConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	st := c.stalled
	c.mu.Unlock()
	if st != nil {
		<-st
	}
	if c.slow.Load() {
		time.Sleep(time.Millisecond)
		if len(p) > 64 {
			p = p[:64]
		}
	}
	return c.Conn.Read(p)
}

func TestDroppedThenCall(t *testing.T) {
	uri, d, _ := serveConfig(t, func(c *daemon.Config) { c.MaxClientQueue = 16 })
	ctx := context.Background()
	var conn *slowConn
	slow, err := remote.DialOptions(ctx, uri, remote.Options{
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			conn = &slowConn{Conn: nc}
			return conn, err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	var received atomic.Int32
	if _, err := slow.ConnectDomainEventRegisterAny(ctx, nil, vir.DomainEventIDLifecycle, func(int, drivers.DomainEvent) {
		received.Add(1)
	}); err != nil {
		t.Fatal(err)
	}
	reason := make(chan error, 1)
	slow.RegisterCloseCallback(func(err error) { reason <- err })

	stall := make(chan struct{})
	conn.mu.Lock()
	conn.stalled = stall
	conn.mu.Unlock()
	actor := dial(t, uri)
	test, _ := actor.DomainLookupByName(ctx, "test")
	sentEvents := 0
	for d.Server().Stats().SlowDropped == 0 {
		actor.DomainSuspend(ctx, test)
		actor.DomainResume(ctx, test)
		sentEvents += 2
	}
	// The client reads again, slowly.
	conn.slow.Store(true)
	conn.mu.Lock()
	conn.stalled = nil
	conn.mu.Unlock()
	close(stall)
	// Wait until the daemon has flushed and closed the socket: only the
	// actor is left.
	for d.Server().Stats().Clients != 1 {
		time.Sleep(time.Millisecond)
	}
	// The application makes a call: the write hits the closed socket.
	_, callErr := slow.DomainLookupByName(ctx, "test")
	var got error
	select {
	case got = <-reason:
	case <-time.After(30 * time.Second):
		t.Fatal("no close callback")
	}
	t.Logf("events sent to the client %d, delivered %d; call error: %v; close reason: %v", sentEvents, received.Load(), callErr, got)
	if !errors.Is(got, remote.ErrDroppedSlow) {
		t.Errorf("close reason %v, want ErrDroppedSlow (the daemon did write its farewell)", got)
	}
	if !errors.Is(callErr, remote.ErrDroppedSlow) {
		t.Errorf("call after the drop: %v, want ErrDroppedSlow", callErr)
	}
}
