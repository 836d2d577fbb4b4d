package drivers_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/govirt/govirtd/drivers"
)

// stateDriver is a stateful driver that requires some concerns.
type stateDriver struct {
	name     string
	requires []drivers.Concern
}

func (d *stateDriver) Name() string { return d.name }
func (d *stateDriver) Open(context.Context, *url.URL, uint32) (drivers.Conn, error) {
	return nil, drivers.ErrDeclined
}
func (d *stateDriver) Startup(context.Context) error  { return nil }
func (d *stateDriver) Reload(context.Context) error   { return nil }
func (d *stateDriver) Shutdown(context.Context) error { return nil }
func (d *stateDriver) Requires() []drivers.Concern    { return d.requires }

func names(ds []drivers.StateDriver) string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Name())
	}
	return strings.Join(out, " ")
}

func TestStartOrderFollowsRequires(t *testing.T) {
	// Registered in the wrong order: the hypervisor first, the network
	// driver (which needs a secret) before the storage and secret drivers.
	var r drivers.Registry
	r.Register(&stateDriver{name: "QEMU", requires: []drivers.Concern{drivers.ConcernStorage, drivers.ConcernNetwork}})
	r.Register(&stateDriver{name: "test"})
	r.RegisterShared(drivers.ConcernNetwork, &stateDriver{name: "network", requires: []drivers.Concern{drivers.ConcernSecret}})
	r.RegisterShared(drivers.ConcernStorage, &stateDriver{name: "storage"})
	r.RegisterShared(drivers.ConcernSecret, &stateDriver{name: "secret"})
	order, err := r.StartOrder()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(order), "storage secret network QEMU test"; got != want {
		t.Fatalf("start order %q, want %q", got, want)
	}

	// A required concern no driver serves does not stop the others.
	var lone drivers.Registry
	lone.Register(&stateDriver{name: "QEMU", requires: []drivers.Concern{drivers.ConcernStorage}})
	if order, err := lone.StartOrder(); err != nil || names(order) != "QEMU" {
		t.Fatalf("start order %q, %v; want QEMU alone", names(order), err)
	}

	// Drivers requiring each other are refused, with the cycle named.
	var cyc drivers.Registry
	cyc.RegisterShared(drivers.ConcernNetwork, &stateDriver{name: "network", requires: []drivers.Concern{drivers.ConcernStorage}})
	cyc.RegisterShared(drivers.ConcernStorage, &stateDriver{name: "storage", requires: []drivers.Concern{drivers.ConcernNetwork}})
	if _, err := cyc.StartOrder(); err == nil || !strings.Contains(err.Error(), "network (requires storage) → storage (requires network) → network") {
		t.Fatalf("cyclic requirements: %v, want an error naming the cycle", err)
	}
}
