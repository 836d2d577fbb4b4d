package daemon_test

import (
	"context"
	"testing"

	"github.com/govirt/govirtd/internal/testutil"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/remote"
	"github.com/govirt/govirtd/vir"
)

// TestNoLeaksAcrossConnections: 1,000 clients that connect, register for
// events, call and disconnect leave no goroutine, fd or callback behind.
func TestNoLeaksAcrossConnections(t *testing.T) {
	d := startDaemon(t, nil)
	ctx := context.Background()
	cycle := func() {
		c, err := remote.Dial(ctx, d.URI())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ConnectDomainEventRegisterAny(ctx, nil, vir.DomainEventIDLifecycle, func(int, drivers.DomainEvent) {}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.DomainLookupByName(ctx, "test"); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// Warm up: the first connections start the goroutines that stay.
	for range 10 {
		cycle()
	}
	waitFor(t, "the warm-up clients to go", func() bool { return d.Server().Stats().Clients == 0 })
	leaks := testutil.Baseline(t)

	for range 1000 {
		cycle()
	}
	waitFor(t, "every client to go", func() bool { return d.Server().Stats().Clients == 0 })
	leaks.Check(0)
	if n := d.Driver.Callbacks(); n != 0 {
		t.Fatalf("%d event callbacks left behind", n)
	}
	if s := d.Server().Stats(); s.Accepted != 1010 {
		t.Fatalf("accepted %d clients, want 1010", s.Accepted)
	}
}
