package daemon_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/govirt/govirtd/daemon"
	testdriver "github.com/govirt/govirtd/drivers/test"
	"github.com/govirt/govirtd/rpc"
)

// testDaemon is a daemon serving the test driver on sockets in a
// temporary directory, stopped when the test ends.
type testDaemon struct {
	*daemon.Daemon
	Driver *testdriver.Driver
	Dir    string // unix_sock_dir
}

// RW and RO are the paths of the read-write and read-only sockets.
func (d *testDaemon) RW() string { return filepath.Join(d.Dir, rpc.SockRW) }
func (d *testDaemon) RO() string { return filepath.Join(d.Dir, rpc.SockRO) }

// URI is the libvirt URI real virsh and go-libvirt users give for the
// read-write socket.
func (d *testDaemon) URI() string { return "test+unix:///default?socket=" + d.RW() }

// ROURI is the URI of the read-only socket.
func (d *testDaemon) ROURI() string { return "test+unix:///default?socket=" + d.RO() }

// startDaemon starts a daemon with the embedded default configuration,
// changed by edit when not nil.
func startDaemon(t testing.TB, edit func(*daemon.Config)) *testDaemon {
	t.Helper()
	cfg := daemon.Defaults()
	// Short socket paths: a unix socket path is limited to 108 bytes.
	dir, err := os.MkdirTemp("", "govirtd-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cfg.UnixSockDir = dir
	if edit != nil {
		edit(cfg)
	}
	level := slog.LevelWarn
	if testing.Verbose() {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(logWriter(t), &slog.HandlerOptions{Level: level}))
	drv := testdriver.New()
	d := daemon.New(cfg, log, drv)
	if err := d.Startup(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := d.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := d.Shutdown(ctx); err != nil {
			t.Errorf("daemon shutdown: %v", err)
		}
	})
	return &testDaemon{Daemon: d, Driver: drv, Dir: dir}
}

// logWriter sends the daemon's log to the test log when -v is given.
func logWriter(t testing.TB) io.Writer {
	if testing.Verbose() {
		return tWriter{t}
	}
	return io.Discard
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// demoXML is testdata/domains/demo.xml.
func demoXML(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "domains", "demo.xml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
