package remote_test

import (
	"context"
	"testing"
	"time"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/remote"
	"github.com/govirt/govirtd/vir"
)

// TestCloseFromEventCallback: a callback may close its own connection
// (it once deadlocked: Close waited for the dispatcher running it).
func TestCloseFromEventCallback(t *testing.T) {
	uri, _ := serve(t)
	ctx := context.Background()
	c, err := remote.Dial(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	_, err = c.ConnectDomainEventRegisterAny(ctx, nil, vir.DomainEventIDLifecycle, func(id int, ev drivers.DomainEvent) {
		c.Close()
		close(closed)
	})
	if err != nil {
		t.Fatal(err)
	}
	c2 := dial(t, uri)
	dom, _ := c2.DomainLookupByName(ctx, "test")
	c2.DomainSuspend(ctx, dom)
	defer c2.DomainResume(ctx, dom)
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close called from an event callback never returned (deadlock)")
	}
}

// TestCloseFromCloseCallback: closing from the close callback, the usual
// answer to losing the daemon, returns.
func TestCloseFromCloseCallback(t *testing.T) {
	uri, stop := serve(t)
	ctx := context.Background()
	c, err := remote.Dial(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	c.RegisterCloseCallback(func(error) {
		c.Close()
		close(closed)
	})
	stop()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close called from a close callback never returned (deadlock)")
	}
}
