package daemon_test

import (
	"context"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/govirt/govirtd/drivers"
	testdriver "github.com/govirt/govirtd/drivers/test"
	"github.com/govirt/govirtd/internal/testdaemon"
	"github.com/govirt/govirtd/internal/testutil"
	"github.com/govirt/govirtd/remote"
)

// guestRunner is a stateful driver whose only behaviour is the answer to
// HasRunningGuests, which the test sets: the daemon's side of the hook
// (the QEMU driver's own answer is tested in drivers/qemu).
type guestRunner struct{ running atomic.Bool }

func (g *guestRunner) Name() string { return "guests" }
func (g *guestRunner) Open(context.Context, *url.URL, uint32) (drivers.Conn, error) {
	return nil, drivers.ErrDeclined
}
func (g *guestRunner) Startup(context.Context) error  { return nil }
func (g *guestRunner) Reload(context.Context) error   { return nil }
func (g *guestRunner) Shutdown(context.Context) error { return nil }
func (g *guestRunner) HasRunningGuests() bool         { return g.running.Load() }

// TestBusy: what keeps the daemon from its idle exit — a connected
// client (an event subscriber among them), a driver's running guest —
// and nothing once they are gone.
func TestBusy(t *testing.T) {
	g := &guestRunner{}
	d := testdaemon.Start(t, testdaemon.Options{Drivers: []drivers.Driver{testdriver.New(), g}})
	if why := d.Busy(); why != "" {
		t.Fatalf("busy with nothing: %s", why)
	}
	ctx := context.Background()
	c, err := remote.Dial(ctx, d.URI())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ConnectDomainEventRegister(ctx); err != nil {
		t.Fatal(err)
	}
	if why := d.Busy(); !strings.Contains(why, "1 client(s) connected") {
		t.Fatalf("an event subscriber is connected: busy %q", why)
	}
	c.Close()
	testutil.WaitFor(t, "no client", func() bool { return d.Busy() == "" })

	g.running.Store(true)
	if why := d.Busy(); why != "the guests driver has running guests" {
		t.Fatalf("a running guest: busy %q", why)
	}
	g.running.Store(false)
	if why := d.Busy(); why != "" {
		t.Fatalf("busy after the guest: %s", why)
	}
}
