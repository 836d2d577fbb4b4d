package remote_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/govirt/govirtd/daemon"
	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/remote"
	"github.com/govirt/govirtd/vir"
)

// stallingConn is a connection whose reads can be held, as if the client
// process stopped reading its socket.
type stallingConn struct {
	net.Conn
	mu      sync.Mutex
	stalled bool
	resume  chan struct{} // closed when reads may go on
}

func (c *stallingConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	stalled, resume := c.stalled, c.resume
	c.mu.Unlock()
	if stalled {
		<-resume
	}
	return c.Conn.Read(p)
}

func (c *stallingConn) stall() {
	c.mu.Lock()
	c.stalled, c.resume = true, make(chan struct{})
	c.mu.Unlock()
}

func (c *stallingConn) unstall() {
	c.mu.Lock()
	c.stalled = false
	close(c.resume)
	c.mu.Unlock()
}

// TestDroppedAsTooSlow: a client that stops reading is dropped by the
// daemon, and once it reads again its subscribers learn that it was
// dropped for being too slow, after every event queued before the drop.
func TestDroppedAsTooSlow(t *testing.T) {
	uri, d, _ := serveConfig(t, func(c *daemon.Config) { c.MaxClientQueue = 16 })
	ctx := context.Background()
	var conn *stallingConn
	slow, err := remote.DialOptions(ctx, uri, remote.Options{
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			conn = &stallingConn{Conn: nc}
			return conn, err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	var mu sync.Mutex
	received := 0
	if _, err := slow.ConnectDomainEventRegisterAny(ctx, nil, vir.DomainEventIDLifecycle, func(int, drivers.DomainEvent) {
		mu.Lock()
		received++
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	reason := make(chan error, 1)
	slow.RegisterCloseCallback(func(err error) { reason <- err })

	conn.stall()
	actor := dial(t, uri)
	test, err := actor.DomainLookupByName(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for d.Server().Stats().SlowDropped == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the stalled client was never dropped")
		}
		actor.DomainSuspend(ctx, test)
		actor.DomainResume(ctx, test)
	}
	conn.unstall()

	select {
	case err := <-reason:
		if !errors.Is(err, remote.ErrDroppedSlow) {
			t.Fatalf("close reason %v, want ErrDroppedSlow", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the close callback never ran")
	}
	mu.Lock()
	defer mu.Unlock()
	if received == 0 {
		t.Fatal("no event queued before the drop was delivered")
	}
	if _, err := slow.DomainLookupByName(ctx, "test"); !errors.Is(err, remote.ErrDroppedSlow) {
		t.Fatalf("call after the drop: %v", err)
	}
}
