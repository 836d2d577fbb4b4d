package test

import (
	"context"
	"testing"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/vir"
)

// TestSetLifecycleAction changes the live power-off action only, and
// refuses a coredump action for anything but a crash.
func TestSetLifecycleAction(t *testing.T) {
	d := New()
	c, _ := open(t, d)
	ctx := context.Background()
	dom := must[drivers.Domain](t)(c.DomainLookupByName(ctx, "test"))
	if err := c.DomainSetLifecycleAction(ctx, dom, uint32(vir.DomainLifecyclePoweroff), uint32(vir.DomainLifecycleActionRestart), affectLive); err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	live, config := d.domains.Objects()[0].live.XML.OnPoweroff, d.domains.Objects()[0].persistent.XML.OnPoweroff
	d.mu.Unlock()
	if live != "restart" || config != "destroy" {
		t.Errorf("on_poweroff live %q config %q, want restart and destroy", live, config)
	}
	wantCode(t, c.DomainSetLifecycleAction(ctx, dom, uint32(vir.DomainLifecycleReboot), uint32(vir.DomainLifecycleActionCoredumpRestart), 0), vir.ErrConfigUnsupported)
	if err := c.DomainSetLifecycleAction(ctx, dom, uint32(vir.DomainLifecycleCrash), uint32(vir.DomainLifecycleActionCoredumpRestart), 0); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.DomainSetLifecycleAction(ctx, dom, 3, 0, 0), vir.ErrInvalidArg)
}
