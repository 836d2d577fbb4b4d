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
	"github.com/govirt/govirtd/internal/testutil"
	"github.com/govirt/govirtd/remote"
	"github.com/govirt/govirtd/vir"
)

// gatedConn holds reads while stalled; then, reading 64 bytes at a time,
// asks hold before each read whether to wait for release. It closes
// writeFailed when a write fails.
type gatedConn struct {
	net.Conn
	mu          sync.Mutex
	stalled     chan struct{} // guarded by mu; nil: not stalled
	hold        func() bool   // guarded by mu
	release     chan struct{}
	writeFailed chan struct{}
	failOnce    sync.Once
}

func (c *gatedConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	st, hold := c.stalled, c.hold
	c.mu.Unlock()
	if st != nil {
		<-st
	}
	if hold != nil {
		if hold() {
			<-c.release
		}
		if len(p) > 64 {
			p = p[:64]
		}
	}
	return c.Conn.Read(p)
}

func (c *gatedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err != nil {
		c.failOnce.Do(func() { close(c.writeFailed) })
	}
	return n, err
}

func TestDroppedThenCall(t *testing.T) {
	uri, d, _ := serveConfig(t, func(c *daemon.Config) { c.MaxClientQueue = 16 })
	ctx := context.Background()
	var conn *gatedConn
	slow, err := remote.DialOptions(ctx, uri, remote.Options{
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			conn = &gatedConn{Conn: nc, release: make(chan struct{}), writeFailed: make(chan struct{})}
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
	deadline := time.Now().Add(testutil.HangTimeout)
	for d.Server().Stats().SlowDropped == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the stalled client was never dropped")
		}
		actor.DomainSuspend(ctx, test)
		actor.DomainResume(ctx, test)
		sentEvents += 2
	}
	// The client reads again, so that the daemon can flush and close,
	// and stops reading once it has: what the daemon wrote last (the
	// farewell among it) is still unread.
	conn.mu.Lock()
	conn.stalled = nil
	conn.hold = func() bool { return d.Server().Stats().Clients == 1 }
	conn.mu.Unlock()
	close(stall)
	testutil.WaitFor(t, "the daemon to close the dropped client", func() bool { return d.Server().Stats().Clients == 1 })
	// The application makes a call: the write hits the closed socket,
	// and the reader is let go on meanwhile.
	go func() {
		select {
		case <-conn.writeFailed:
		case <-time.After(testutil.HangTimeout):
			t.Error("the call's write to the closed socket did not fail")
		}
		close(conn.release)
	}()
	_, callErr := slow.DomainLookupByName(ctx, "test")
	var got error
	select {
	case got = <-reason:
	case <-time.After(testutil.HangTimeout):
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
