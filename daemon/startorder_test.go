package daemon_test

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/govirt/govirtd/daemon"
	"github.com/govirt/govirtd/drivers"
	testdriver "github.com/govirt/govirtd/drivers/test"
)

// hookLog records the lifecycle hooks drivers ran, in order.
type hookLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *hookLog) add(s string) { l.mu.Lock(); l.calls = append(l.calls, s); l.mu.Unlock() }
func (l *hookLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.calls, " ")
}

// orderedDriver is a stateful driver that records its hooks and
// requires some concerns.
type orderedDriver struct {
	name     string
	requires []drivers.Concern
	log      *hookLog
}

func (d *orderedDriver) Name() string                { return d.name }
func (d *orderedDriver) Requires() []drivers.Concern { return d.requires }
func (d *orderedDriver) Open(context.Context, *url.URL, uint32) (drivers.Conn, error) {
	return nil, drivers.ErrDeclined
}
func (d *orderedDriver) Startup(context.Context) error  { d.log.add("start:" + d.name); return nil }
func (d *orderedDriver) Reload(context.Context) error   { d.log.add("reload:" + d.name); return nil }
func (d *orderedDriver) Shutdown(context.Context) error { d.log.add("stop:" + d.name); return nil }

// TestStartupOrder: the daemon starts the storage and network drivers
// before a hypervisor driver that requires them (its autostart needs
// them), whatever the registration order, and stops them after it.
func TestStartupOrder(t *testing.T) {
	log := &hookLog{}
	cfg := daemon.Defaults()
	cfg.UnixSockDir = t.TempDir()
	hv := &orderedDriver{name: "hypervisor", requires: []drivers.Concern{drivers.ConcernNetwork, drivers.ConcernStorage}, log: log}
	d := daemon.New(cfg, slog.New(slog.NewTextHandler(logWriter(t), nil)), hv, testdriver.New())
	d.RegisterShared(drivers.ConcernNetwork, &orderedDriver{name: "network", requires: []drivers.Concern{drivers.ConcernStorage}, log: log})
	d.RegisterShared(drivers.ConcernStorage, &orderedDriver{name: "storage", log: log})
	ctx := context.Background()
	if err := d.Startup(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := log.String(), "start:storage start:network start:hypervisor"; got != want {
		t.Fatalf("startup ran %q, want %q", got, want)
	}
	if err := d.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	want := "start:storage start:network start:hypervisor reload:storage reload:network reload:hypervisor stop:hypervisor stop:network stop:storage"
	if got := log.String(); got != want {
		t.Fatalf("hooks ran %q, want %q", got, want)
	}
}
