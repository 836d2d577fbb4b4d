package qemu

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/govirt/govirtd/drivers/hostinfo"
	"github.com/govirt/govirtd/drivers/qemu/qmp"
	"github.com/govirt/govirtd/internal/testutil"
	"github.com/govirt/govirtd/vir"
)

// demoXML is testdata's demo domain renamed to name, with its own uuid.
func demoXML(t *testing.T, name string, n int) string {
	xml := readTestdata(t, "demo.xml")
	xml = strings.Replace(xml, "<name>demo</name>", "<name>"+name+"</name>", 1)
	return strings.Replace(xml, "3f0e5a2c-9b1d-4c6e-8a7f-1d2e3c4b5a69", fmt.Sprintf("3f0e5a2c-9b1d-4c6e-8a7f-%012d", n), 1)
}

// restarted makes a second driver on d's directories, as a restarted
// daemon would; events raised by its Startup are recorded.
func restarted(t *testing.T, d *Driver) (*Driver, *conn, *eventRecorder) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d2 := New(d.cfg, log)
	u, _ := url.Parse("")
	c, err := d2.Open(context.Background(), u, 0)
	if err != nil {
		t.Fatal(err)
	}
	ev := recordEvents(t, c.(*conn))
	if err := d2.Startup(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { killAll(d2); d2.Shutdown(context.Background()) })
	return d2, c.(*conn), ev
}

func pidOf(t *testing.T, c *conn, name string) int {
	t.Helper()
	ref, err := c.DomainLookupByName(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	dom, _ := c.drv.find(ref)
	dom.mu.Lock()
	defer dom.mu.Unlock()
	if dom.proc == nil {
		t.Fatalf("%s is not running", name)
	}
	return dom.proc.pid
}

// TestReconnect: the driver goes away and a new one takes over the
// guests from the status files: running ones keep their qemu, what
// changed meanwhile raises events, a guest killed meanwhile is shut off.
func TestReconnect(t *testing.T) {
	d, c := testDriver(t)
	ctx := context.Background()
	ev := recordEvents(t, c)
	var pids []int
	for i, name := range []string{"alpha", "beta", "gamma"} {
		dom, err := c.DomainDefineXML(ctx, demoXML(t, name, i), 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.DomainCreate(ctx, dom, 0); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pidOf(t, c, name))
	}
	beta, _ := c.DomainLookupByName(ctx, "beta")
	if err := c.DomainSuspend(ctx, beta); err != nil {
		t.Fatal(err)
	}
	ev.mu.Lock()
	ev.events = nil
	ev.mu.Unlock()
	d.Shutdown(ctx)

	// While no driver watches: alpha's qemu is killed, beta is resumed
	// by someone else through its monitor.
	syscall.Kill(pids[0], syscall.SIGKILL)
	m, err := qmp.Dial(ctx, filepath.Join(d.cfg.StateDir, "beta.monitor"), qmp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Execute(ctx, "cont", nil, nil); err != nil {
		t.Fatal(err)
	}
	m.Close()
	testutil.WaitFor(t, "the killed qemu to exit", func() bool { return !hostinfo.Alive(pids[0]) })

	_, c2, ev2 := restarted(t, d)
	ev2.waitForSet(t, "alpha Stopped Failed", "beta Resumed Unpaused")
	alpha, _ := c2.DomainLookupByName(ctx, "alpha")
	checkState(t, c2, alpha, vir.DomainShutoff, vir.DomainShutoffCrashed)
	checkState(t, c2, beta, vir.DomainRunning, vir.DomainRunningUnpaused)
	for i, name := range []string{"beta", "gamma"} {
		if pid := pidOf(t, c2, name); pid != pids[i+1] {
			t.Errorf("%s: pid %d, was %d", name, pid, pids[i+1])
		}
	}
	if err := c2.DomainSuspend(ctx, beta); err != nil {
		t.Fatal(err)
	}
	gamma, _ := c2.DomainLookupByName(ctx, "gamma")
	if err := c2.DomainDestroy(ctx, gamma, 0); err != nil {
		t.Fatal(err)
	}
	ev2.waitFor(t, "beta Suspended Paused", "gamma Stopped Destroyed")
	// The one that died is restartable.
	if _, err := c2.DomainCreate(ctx, alpha, 0); err != nil {
		t.Fatal(err)
	}
	ev2.waitFor(t, "alpha Started Booted")
}

// waitForSet is waitFor for events whose order does not matter.
func (r *eventRecorder) waitForSet(t *testing.T, want ...string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		r.mu.Lock()
		n := len(r.events)
		got := append([]string(nil), r.events...)
		r.mu.Unlock()
		if n >= len(want) || time.Now().After(deadline) {
			g, w := strings.Join(sorted(got), "\n"), strings.Join(sorted(want), "\n")
			if g != w {
				t.Fatalf("events:\n%s\nwant (any order):\n%s", g, w)
			}
			r.mu.Lock()
			r.events = r.events[n:]
			r.mu.Unlock()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestBookkeepingFailureKeepsGuest: when the status file cannot be
// written the guest runs on; the driver logs and carries on.
func TestBookkeepingFailureKeepsGuest(t *testing.T) {
	d, c := testDriver(t)
	ev := recordEvents(t, c)
	dom, inst := startDemo(t, c, ev)
	status := d.cfg.statusPath("demo")
	os.Remove(status)
	os.MkdirAll(filepath.Join(status, "blocker"), 0o755) // rename onto it fails
	if err := c.DomainSuspend(context.Background(), dom); err != nil {
		t.Fatal(err)
	}
	ev.waitFor(t, "demo Suspended Paused")
	if !hostinfo.Alive(inst.pid) {
		t.Fatal("the guest died")
	}
	x, _ := d.find(dom)
	// The write follows the event, off the domain's lock.
	testutil.WaitFor(t, "the guest to be marked degraded, naming the status file", func() bool {
		x.mu.Lock()
		defer x.mu.Unlock()
		return strings.Contains(inst.degraded, "status file")
	})
	os.RemoveAll(status)
}

// TestCorruptStatusFile: a status file that cannot be read leaves its
// guest alone, and the domain cannot be started a second time on top of
// it.
func TestCorruptStatusFile(t *testing.T) {
	d, c := testDriver(t)
	ev := recordEvents(t, c)
	_, inst := startDemo(t, c, ev)
	d.Shutdown(context.Background())
	if err := os.WriteFile(d.cfg.statusPath("demo"), []byte("{garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, c2, _ := restarted(t, d)
	ref, err := c2.DomainLookupByName(context.Background(), "demo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.DomainCreate(context.Background(), ref, 0); err == nil || !strings.Contains(err.Error(), "status file") {
		t.Errorf("start over an unreadable status file: %v, want a refusal naming it", err)
	}
	if !hostinfo.Alive(inst.pid) {
		t.Error("the guest was killed")
	}
}

// TestReconnectPausedStart: a guest started paused (qemu still in
// prelaunch, never continued) survives a restart, paused: it is not
// mistaken for a start the daemon did not finish.
func TestReconnectPausedStart(t *testing.T) {
	d, c := testDriver(t)
	ctx := context.Background()
	ev := recordEvents(t, c)
	ref, err := c.DomainDefineXML(ctx, readTestdata(t, "demo.xml"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if ref, err = c.DomainCreate(ctx, ref, uint32(vir.DomainStartPaused)); err != nil {
		t.Fatal(err)
	}
	ev.waitFor(t, "demo Defined Added", "demo Started Booted", "demo Suspended Paused")
	pid := pidOf(t, c, "demo")
	d.Shutdown(ctx)

	_, c2, ev2 := restarted(t, d)
	checkState(t, c2, ref, vir.DomainPaused, vir.DomainPausedUser)
	if got := pidOf(t, c2, "demo"); got != pid || !hostinfo.Alive(pid) {
		t.Fatalf("qemu pid %d (alive: %v), was %d", got, hostinfo.Alive(pid), pid)
	}
	if err := c2.DomainResume(ctx, ref); err != nil {
		t.Fatal(err)
	}
	ev2.waitFor(t, "demo Resumed Unpaused")
}
