package remote_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/govirt/govirtd/daemon"
	"github.com/govirt/govirtd/drivers"
	testdriver "github.com/govirt/govirtd/drivers/test"
	"github.com/govirt/govirtd/remote"
)

// dialNoFlagsDaemon starts a daemon with the test driver and dials it.
func dialNoFlagsDaemon(t *testing.T, opts remote.Options) *remote.Conn {
	t.Helper()
	dir, err := os.MkdirTemp("", "gvrm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cfg := daemon.Defaults()
	cfg.UnixSockDir = dir
	d := daemon.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), testdriver.New())
	if err := d.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	c, err := remote.DialOptions(ctx, "test+unix:///default?socket="+filepath.Join(dir, "govirtd-sock"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d.Shutdown(ctx)
	})
	return c
}

// TestNoFlagsCalls drives the default domain through the flagless entry
// points, and checks that the daemon names them in read-only refusals.
func TestNoFlagsCalls(t *testing.T) {
	ctx := context.Background()
	c := dialNoFlagsDaemon(t, remote.Options{})
	dom, err := c.DomainLookupByName(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	save := filepath.Join(t.TempDir(), "test.save")
	steps := []struct {
		name string
		call func() error
		want drivers.DomainState
	}{
		{"save", func() error { return c.DomainSaveNoFlags(ctx, dom, save) }, drivers.DomainShutoff},
		{"restore", func() error { return c.DomainRestoreNoFlags(ctx, save) }, drivers.DomainRunning},
		{"shutdown", func() error { return c.DomainShutdownNoFlags(ctx, dom) }, drivers.DomainShutoff},
		{"create", func() error { return c.DomainCreateNoFlags(ctx, dom) }, drivers.DomainRunning},
		{"destroy", func() error { return c.DomainDestroyNoFlags(ctx, dom) }, drivers.DomainShutoff},
	}
	for _, s := range steps {
		if err := s.call(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if st, _, err := c.DomainGetState(ctx, dom, 0); err != nil || st != s.want {
			t.Fatalf("after %s: state %v, %v; want %v", s.name, st, err, s.want)
		}
	}

	ro := dialNoFlagsDaemon(t, remote.Options{ReadOnly: true})
	err = ro.DomainDestroyNoFlags(ctx, dom)
	if !errors.Is(err, drivers.ErrOperationDenied) || err.Error() != "operation forbidden: read only access prevents virDomainDestroy" {
		t.Errorf("read-only destroy: %v", err)
	}
}

// TestUnsupportedCalls checks that calls the test driver or the daemon
// lack fail with an error, not a hang or a crash.
func TestUnsupportedCalls(t *testing.T) {
	ctx := context.Background()
	c := dialNoFlagsDaemon(t, remote.Options{})
	if _, err := c.ConnectListAllNetworks(ctx, 0); !errors.Is(err, drivers.ErrNoSupport) {
		t.Errorf("ConnectListAllNetworks: %v, want ErrNoSupport", err)
	}
	dom, err := c.DomainLookupByID(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.NodeGetSecurityModel(ctx); err == nil {
		t.Errorf("NodeGetSecurityModel succeeded on a daemon without it")
	}
	if _, err := c.DomainGetMessages(ctx, dom, 0); err == nil {
		t.Errorf("DomainGetMessages succeeded on a daemon without it")
	}
	for name, call := range map[string]func(context.Context, remote.Network) (bool, error){
		"NetworkIsActive": c.NetworkIsActive, "NetworkIsPersistent": c.NetworkIsPersistent, "NetworkGetAutostart": c.NetworkGetAutostart,
	} {
		if _, err := call(ctx, remote.Network{Name: "default"}); err == nil {
			t.Errorf("%s succeeded on a daemon without networks", name)
		}
	}
	// The connection is still usable.
	if _, err := c.DomainGetInfo(ctx, dom); err != nil {
		t.Errorf("after unsupported calls: %v", err)
	}
}
