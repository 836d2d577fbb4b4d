package qemu

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/vir"
)

// needQEMU fails (never skips) a test that needs the real qemu.
func needQEMU(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Fatal("qemu-system-x86_64 is not installed: `make deps` installs it")
	}
}

// testDriver is a started driver whose directories are all in a temporary
// directory; cleanup kills every qemu it started and shuts it down.
func testDriver(t *testing.T) (*Driver, *conn) {
	t.Helper()
	return testDriverWith(t, func(*Config) {})
}

// testDriverWith is testDriver with the configuration changed by tune.
func testDriverWith(t *testing.T, tune func(*Config)) (*Driver, *conn) {
	t.Helper()
	needQEMU(t)
	dir := t.TempDir()
	cfg := Config{
		ConfigDir: filepath.Join(dir, "etc"), StateDir: filepath.Join(dir, "run"),
		LogDir: filepath.Join(dir, "log"), DestroyGrace: 5 * time.Second,
	}
	tune(&cfg)
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d := New(cfg, log)
	ctx := context.Background()
	if err := d.Startup(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { killAll(d); d.Shutdown(ctx) })
	u, _ := url.Parse("qemu:///system")
	if !privileged() {
		u, _ = url.Parse("qemu:///session")
	}
	c, err := d.Open(ctx, u, 0)
	if err != nil {
		t.Fatal(err)
	}
	return d, c.(*conn)
}

// killAll kills the qemu of every domain d runs.
func killAll(d *Driver) {
	for _, dom := range d.list() {
		dom.mu.Lock()
		if dom.proc != nil {
			syscall.Kill(dom.proc.pid, syscall.SIGKILL)
		}
		dom.mu.Unlock()
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// eventRecorder collects the lifecycle events of a connection as
// "Type Detail" strings.
type eventRecorder struct {
	mu     sync.Mutex
	events []string
	cond   *sync.Cond
}

func recordEvents(t *testing.T, c *conn) *eventRecorder {
	r := &eventRecorder{}
	r.cond = sync.NewCond(&r.mu)
	_, err := c.ConnectDomainEventRegisterAny(context.Background(), nil, vir.DomainEventIDLifecycle, func(_ int, ev drivers.DomainEvent) {
		le := ev.(drivers.LifecycleEvent)
		r.mu.Lock()
		r.events = append(r.events, fmt.Sprintf("%s %s %s", le.Dom.Name, drivers.EventTypeString(le.Event), drivers.EventDetailString(le.Event, le.Detail)))
		r.cond.Broadcast()
		r.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// waitFor waits until the events recorded are want, failing on a
// different one; the time bound only guards against a hang.
func (r *eventRecorder) waitFor(t *testing.T, want ...string) {
	t.Helper()
	deadline := time.AfterFunc(60*time.Second, func() { r.mu.Lock(); r.cond.Broadcast(); r.mu.Unlock() })
	defer deadline.Stop()
	start := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.events) < len(want) && time.Since(start) < 60*time.Second {
		r.cond.Wait()
	}
	if strings.Join(r.events, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(r.events, "\n"), strings.Join(want, "\n"))
	}
	r.events = nil
}

func readTestdata(t *testing.T, name string) string {
	data, err := os.ReadFile(filepath.Join("../../testdata/qemu/domains", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestDriverLifecycle(t *testing.T) {
	d, c := testDriver(t)
	ctx := context.Background()
	ev := recordEvents(t, c)
	dom, err := c.DomainDefineXML(ctx, readTestdata(t, "demo.xml"), 0)
	if err != nil {
		t.Fatal(err)
	}
	ev.waitFor(t, "demo Defined Added")
	if dom, err = c.DomainCreate(ctx, dom, 0); err != nil {
		t.Fatal(err)
	}
	ev.waitFor(t, "demo Started Booted")
	checkState(t, c, dom, vir.DomainRunning, vir.DomainRunningBooted)
	if err := c.DomainSuspend(ctx, dom); err != nil {
		t.Fatal(err)
	}
	checkState(t, c, dom, vir.DomainPaused, vir.DomainPausedUser)
	if err := c.DomainResume(ctx, dom); err != nil {
		t.Fatal(err)
	}
	checkState(t, c, dom, vir.DomainRunning, vir.DomainRunningUnpaused)
	ev.waitFor(t, "demo Suspended Paused", "demo Resumed Unpaused")
	img := filepath.Join(t.TempDir(), "demo.save")
	if err := c.DomainSave(ctx, dom, img, "", 0); err != nil {
		t.Fatal(err)
	}
	checkState(t, c, dom, vir.DomainShutoff, vir.DomainShutoffSaved)
	ev.waitFor(t, "demo Suspended Paused", "demo Stopped Saved")
	if err := c.DomainRestore(ctx, img, "", 0); err != nil {
		t.Fatal(err)
	}
	checkState(t, c, dom, vir.DomainRunning, vir.DomainRunningRestored)
	ev.waitFor(t, "demo Started Restored")
	if err := c.DomainDestroy(ctx, dom, 0); err != nil {
		t.Fatal(err)
	}
	checkState(t, c, dom, vir.DomainShutoff, vir.DomainShutoffDestroyed)
	ev.waitFor(t, "demo Stopped Destroyed")
	if err := c.DomainUndefine(ctx, dom, 0); err != nil {
		t.Fatal(err)
	}
	ev.waitFor(t, "demo Undefined Removed")
	_ = d
}

// checkState checks dom's state and its reason, a value of that state's
// reason enum (vir.DomainRunningBooted, vir.DomainShutoffUnknown).
func checkState[R ~int32](t *testing.T, c *conn, dom drivers.Domain, state vir.DomainState, reason R) {
	t.Helper()
	s, r, err := c.DomainGetState(context.Background(), dom, 0)
	if err != nil || s != state || r != int32(reason) {
		t.Fatalf("state %v/%d (%v), want %v/%d (%v)", s, r, err, state, reason, reason)
	}
}
