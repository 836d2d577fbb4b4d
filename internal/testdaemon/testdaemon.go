// Package testdaemon starts the daemon in the test's process, serving the
// test driver (or drivers the test gives) on sockets in a directory of
// its own, stopped when the test ends: the one helper the packages'
// tests share instead of each starting a daemon its own way.
package testdaemon

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/govirt/govirtd/daemon"
	"github.com/govirt/govirtd/drivers"
	testdriver "github.com/govirt/govirtd/drivers/test"
	"github.com/govirt/govirtd/internal/sockpath"
)

// Options change how the daemon is started; the zero value is the
// embedded default configuration and a fresh test driver.
type Options struct {
	// Edit changes the configuration before the daemon starts.
	Edit func(*daemon.Config)
	// Drivers replace the test driver.
	Drivers []drivers.Driver
	// Shared are the shared drivers by concern (a storage driver beside
	// the QEMU driver), registered before Startup.
	Shared map[drivers.Concern]drivers.Driver
	// Log receives the daemon's log; nil sends it to the test's log
	// when -v is given (debug level) and drops it otherwise.
	Log io.Writer
	// LogInfo sends info lines (clients connecting, with their
	// identity) to Log too, not only warnings and errors.
	LogInfo bool
	// ShutdownTimeout bounds the stop at the end (default 10 s).
	ShutdownTimeout time.Duration
	// TLS, when set, turns the TLS listener on with these settings, on
	// 127.0.0.1 and a free port unless they say otherwise (TLSAddr,
	// TLSURI).
	TLS *daemon.TLSSettings
	// Config, when set, is the text of a configuration file the daemon
	// is started from (after a line setting unix_sock_dir), and which
	// Hangup (SIGHUP's path) re-reads: WriteConfig rewrites it. Edit and
	// TLS do not apply to it.
	Config string
}

// Daemon is a running in-process daemon.
type Daemon struct {
	*daemon.Daemon
	// Driver is the test driver it serves (nil when Options.Drivers
	// replaced it).
	Driver *testdriver.Driver
	// Dir is its unix_sock_dir.
	Dir string
	// ConfigFile is the file Options.Config was written to.
	ConfigFile string

	stopOnce sync.Once
	timeout  time.Duration
	t        testing.TB
}

// Start starts a daemon; it is stopped when the test ends, or earlier
// by Stop.
func Start(t testing.TB, o Options) *Daemon {
	t.Helper()
	cfg := daemon.Defaults()
	// Short socket paths: a unix socket path is limited to 108 bytes,
	// which t.TempDir() under a long test name can pass.
	dir, err := os.MkdirTemp("", "govirtd-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cfg.UnixSockDir = dir
	if o.TLS != nil {
		cfg.TLS = *o.TLS
		cfg.TLS.Listen = true
		if cfg.TLS.ListenAddr == "" {
			cfg.TLS.ListenAddr = "127.0.0.1"
		}
		if cfg.TLS.Port == "" {
			cfg.TLS.Port = "0"
		}
	}
	if o.Edit != nil {
		o.Edit(cfg)
	}
	d := &Daemon{Dir: dir, timeout: o.ShutdownTimeout, t: t}
	if d.timeout <= 0 {
		d.timeout = 10 * time.Second
	}
	drvs := o.Drivers
	if drvs == nil {
		d.Driver = testdriver.New()
		drvs = []drivers.Driver{d.Driver}
	}
	if o.Config != "" {
		d.ConfigFile = filepath.Join(dir, "govirtd.conf")
		d.WriteConfig(o.Config)
		if cfg, err = daemon.LoadConfig(d.ConfigFile, drvs...); err != nil {
			t.Fatal(err)
		}
	}
	d.Daemon = daemon.New(cfg, logger(t, o.Log, o.LogInfo), drvs...)
	d.SetConfigFile(d.ConfigFile)
	for k, drv := range o.Shared {
		d.RegisterShared(k, drv)
	}
	if err := d.Startup(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := d.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Stop)
	return d
}

// WriteConfig replaces the configuration file with text, after the
// line that keeps unix_sock_dir (so the file's line n is text's n+1).
func (d *Daemon) WriteConfig(text string) {
	d.t.Helper()
	if err := os.WriteFile(d.ConfigFile, []byte("unix_sock_dir = \""+d.Dir+"\"\n"+text), 0o600); err != nil {
		d.t.Fatal(err)
	}
}

// Stop shuts the daemon down once, failing the test if that fails.
func (d *Daemon) Stop() {
	d.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
		defer cancel()
		if err := d.Shutdown(ctx); err != nil {
			d.t.Errorf("daemon shutdown: %v", err)
		}
	})
}

// RW and RO are the paths of the read-write and read-only sockets.
func (d *Daemon) RW() string { return filepath.Join(d.Dir, sockpath.RW) }

// RO is the read-only socket.
func (d *Daemon) RO() string { return filepath.Join(d.Dir, sockpath.RO) }

// URI is what real virsh and go-libvirt users give for the read-write
// socket.
func (d *Daemon) URI() string { return "test+unix:///default?socket=" + d.RW() }

// TLSURI is the test driver's URI over the TLS listener, with the
// client files of pkipath (ClientDir).
func (d *Daemon) TLSURI(pkipath string) string {
	return "test+tls://" + d.TLSAddr() + "/default?pkipath=" + pkipath
}

// ROURI is the URI of the read-only socket.
func (d *Daemon) ROURI() string { return "test+unix:///default?socket=" + d.RO() }

func logger(t testing.TB, w io.Writer, info bool) *slog.Logger {
	level := slog.LevelWarn
	if info {
		level = slog.LevelInfo
	}
	if w == nil {
		if !testing.Verbose() {
			return slog.New(slog.DiscardHandler)
		}
		w, level = tWriter{t}, slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// tWriter sends each log line to the test's log.
type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}
