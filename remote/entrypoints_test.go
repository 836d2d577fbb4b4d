package remote_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/remote"
	"github.com/govirt/govirtd/vir"
)

// TestFlaglessEntryPoints drives the default domain through the calls
// that, without flags, use libvirt's flagless entry points, and checks
// that the daemon names the entry point in read-only refusals.
func TestFlaglessEntryPoints(t *testing.T) {
	ctx := context.Background()
	uri, _ := serve(t)
	c := dial(t, uri)
	dom, err := c.DomainLookupByName(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	save := filepath.Join(t.TempDir(), "test.save")
	steps := []struct {
		name string
		call func() error
		want vir.DomainState
	}{
		{"save", func() error { return c.DomainSave(ctx, dom, save, "", 0) }, vir.DomainShutoff},
		{"restore", func() error { return c.DomainRestore(ctx, save, "", 0) }, vir.DomainRunning},
		{"shutdown", func() error { return c.DomainShutdown(ctx, dom, 0) }, vir.DomainShutoff},
		{"create", func() error {
			started, err := c.DomainCreate(ctx, dom, 0)
			if err == nil && started.ID < 0 {
				t.Errorf("DomainCreate returned id %d", started.ID)
			}
			return err
		}, vir.DomainRunning},
		{"destroy", func() error { return c.DomainDestroy(ctx, dom, 0) }, vir.DomainShutoff},
	}
	for _, s := range steps {
		if err := s.call(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if st, _, err := c.DomainGetState(ctx, dom, 0); err != nil || st != s.want {
			t.Fatalf("after %s: state %v, %v; want %v", s.name, st, err, s.want)
		}
	}

	ro, err := remote.DialOptions(ctx, uri, remote.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	err = ro.DomainDestroy(ctx, dom, 0)
	if drivers.CodeOf(err) != vir.ErrOperationDenied || err.Error() != "operation forbidden: read only access prevents virDomainDestroy" {
		t.Errorf("read-only destroy: %v", err)
	}
	err = ro.DomainDestroy(ctx, dom, uint32(vir.DomainDestroyGraceful))
	if err == nil || err.Error() != "operation forbidden: read only access prevents virDomainDestroyFlags" {
		t.Errorf("read-only destroy with flags: %v", err)
	}
}

// TestUnsupportedCalls checks that calls the test driver or the daemon
// lack fail with an error, not a hang or a crash.
func TestUnsupportedCalls(t *testing.T) {
	ctx := context.Background()
	uri, _ := serve(t)
	c := dial(t, uri)
	if _, err := c.ConnectNumOfNwfilters(ctx); drivers.CodeOf(err) != vir.ErrNoSupport {
		t.Errorf("ConnectNumOfNwfilters: %v, want ErrNoSupport (the test driver has no network filters, as libvirt's)", err)
	}
	dom, err := c.DomainLookupByID(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ConnectNumOfSecrets(ctx); drivers.CodeOf(err) != vir.ErrNoSupport {
		t.Errorf("ConnectNumOfSecrets: %v, want ErrNoSupport (no driver has secrets)", err)
	}
	if _, err := c.ConnectGetDomainCapabilities(ctx, nil, nil, nil, nil, 0); drivers.CodeOf(err) != vir.ErrNoSupport {
		t.Errorf("ConnectGetDomainCapabilities: %v, want ErrNoSupport (the test driver has none, as libvirt's)", err)
	}
	// The connection is still usable.
	if _, err := c.DomainGetInfo(ctx, dom); err != nil {
		t.Errorf("after unsupported calls: %v", err)
	}
}
