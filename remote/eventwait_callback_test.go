package remote_test

// A push callback may wait for a pulled event (found in review: the
// pulled events were delivered by the goroutine running the callback).

import (
	"context"
	"testing"
	"time"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/remote"
	"github.com/govirt/govirtd/vir"
)

func TestEventWaitFromCallback(t *testing.T) {
	uri, _ := serve(t)
	ctx := context.Background()
	c := dial(t, uri)
	// Pull registration for reboot events, push for lifecycle.
	if _, err := c.ConnectDomainEventRegisterAny(ctx, nil, vir.DomainEventIDReboot, nil); err != nil {
		t.Fatal(err)
	}
	res := make(chan error, 1)
	if _, err := c.ConnectDomainEventRegisterAny(ctx, nil, vir.DomainEventIDLifecycle, func(int, drivers.DomainEvent) {
		wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		_, err := c.EventWait(wctx, remote.MaskOf(vir.DomainEventIDReboot), nil)
		select {
		case res <- err:
		default:
		}
	}); err != nil {
		t.Fatal(err)
	}
	actor := dial(t, uri)
	dom, _ := actor.DomainLookupByName(ctx, "test")
	actor.DomainSuspend(ctx, dom) // lifecycle: the callback starts waiting
	actor.DomainResume(ctx, dom)
	actor.DomainReboot(ctx, dom, 0) // the reboot event it waits for
	if err := recv(t, res, "EventWait in the callback"); err != nil {
		t.Errorf("EventWait from a callback for an event that arrived: %v", err)
	}
}
