package drivers_test

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/govirt/govirtd/drivers"
)

// fakeDriver opens fakeConns for one URI scheme and counts what it did.
type fakeDriver struct {
	scheme  string
	own     bool  // its connections serve every concern themselves
	fail    error // Open fails with it
	opened  int
	closed  int
	lastURI string
}

type fakeConn struct{ d *fakeDriver }

func (c *fakeConn) Close() error { c.d.closed++; return nil }

type ownConn struct{ fakeConn }

func (c *ownConn) ConcernConn(drivers.Concern) drivers.Conn { return c }

func (d *fakeDriver) Name() string { return d.scheme }

func (d *fakeDriver) Open(ctx context.Context, uri *url.URL, flags uint32) (drivers.Conn, error) {
	if d.scheme != "" && uri.Scheme != d.scheme {
		return nil, drivers.ErrDeclined
	}
	if d.fail != nil {
		return nil, d.fail
	}
	d.opened++
	d.lastURI = uri.String()
	if d.own {
		return &ownConn{fakeConn{d}}, nil
	}
	return &fakeConn{d}, nil
}

func TestRegistryOpensConcerns(t *testing.T) {
	ctx := context.Background()
	hv := &fakeDriver{scheme: "qemu"}
	own := &fakeDriver{scheme: "test", own: true}
	network := &fakeDriver{} // takes every URI
	storage := &fakeDriver{scheme: "other"}
	var r drivers.Registry
	r.Register(own)
	r.Register(hv)
	r.RegisterShared(drivers.ConcernNetwork, network)
	r.RegisterShared(drivers.ConcernStorage, storage)

	// A hypervisor driver without tables of its own gets the shared
	// network driver, opened for the connection's URI; the storage driver
	// declines this URI, and no driver serves the other concerns.
	c, err := r.Open(ctx, "qemu:///system", 0)
	if err != nil {
		t.Fatal(err)
	}
	if c.Hypervisor() == nil || c.Hypervisor().(*fakeConn).d != hv {
		t.Fatalf("hypervisor connection %v, want the qemu driver's", c.Hypervisor())
	}
	if n, ok := c.For(drivers.ConcernNetwork).(*fakeConn); !ok || n.d != network || network.lastURI != "qemu:///system" {
		t.Fatalf("network connection %v (opened for %q), want the shared network driver's for qemu:///system", c.For(drivers.ConcernNetwork), network.lastURI)
	}
	for _, k := range []drivers.Concern{drivers.ConcernStorage, drivers.ConcernInterface, drivers.ConcernNodeDevice, drivers.ConcernSecret, drivers.ConcernNWFilter, drivers.NumConcerns} {
		if c.For(k) != nil {
			t.Errorf("concern %s served by %v, want none", k, c.For(k))
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if hv.closed != 1 || network.closed != 1 {
		t.Errorf("closed hypervisor %d, network %d times; want once each", hv.closed, network.closed)
	}

	// A hypervisor connection with its own tables serves every concern:
	// no shared driver is opened, and Close closes it once.
	network.opened = 0
	c, err = r.Open(ctx, "test:///default", 0)
	if err != nil {
		t.Fatal(err)
	}
	for k := drivers.ConcernHypervisor; k < drivers.NumConcerns; k++ {
		if c.For(k) != c.Hypervisor() {
			t.Errorf("concern %s served by %v, want the test connection", k, c.For(k))
		}
	}
	if network.opened != 0 {
		t.Errorf("the shared network driver was opened %d times for a driver with its own network table", network.opened)
	}
	c.Close()
	if own.closed != 1 {
		t.Errorf("the connection serving every concern was closed %d times, want once", own.closed)
	}

	// A shared driver that fails fails the open and closes what was opened.
	network.fail = errors.New("no bridge")
	if _, err := r.Open(ctx, "qemu:///system", 0); err == nil || err.Error() != "no bridge" {
		t.Fatalf("open with a failing network driver: %v, want its error", err)
	}
	if hv.opened != 2 || hv.closed != 2 {
		t.Errorf("hypervisor opened %d, closed %d; want the failed open's connection closed", hv.opened, hv.closed)
	}
	if _, err := r.Open(ctx, "xen:///system", 0); drivers.CodeOf(err) == 0 {
		t.Errorf("open of a URI no driver takes: %v, want VIR_ERR_NO_CONNECT", err)
	}
}

func parseURL(s string) (*url.URL, error) { return url.Parse(s) }
