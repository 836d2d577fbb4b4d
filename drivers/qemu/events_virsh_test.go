package qemu_test

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/govirt/govirtd/internal/testutil"
)

// eventWatch is `virsh event --all --loop` running against the daemon.
type eventWatch struct {
	d    *testDaemon
	cmd  *exec.Cmd
	out  *testutil.SyncBuffer
	seen map[string]int // lines already checked, per domain
	done chan struct{}
}

const sentinelXML = `<domain type='qemu'><name>sentinel</name><memory unit='MiB'>16</memory></domain>`

// watchEvents starts virsh event and returns once it is subscribed: a
// sentinel domain is defined and undefined until virsh reports it.
func (d *testDaemon) watchEvents() *eventWatch {
	d.t.Helper()
	w := &eventWatch{d: d, out: &testutil.SyncBuffer{}, seen: map[string]int{}, done: make(chan struct{})}
	w.cmd = exec.Command("virsh", "-c", d.uri(), "event", "--all", "--loop")
	w.cmd.Env = append(os.Environ(), "LIBVIRT_AUTOSTART=0")
	w.cmd.Stdout, w.cmd.Stderr = w.out, w.out
	if err := w.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	go func() { w.cmd.Wait(); close(w.done) }()
	d.t.Cleanup(w.stop)
	sentinel := d.path("sentinel.xml")
	os.WriteFile(sentinel, []byte(sentinelXML), 0o644)
	deadline := time.Now().Add(hang)
	for !strings.Contains(w.out.String(), "domain 'sentinel'") {
		if time.Now().After(deadline) {
			d.t.Fatalf("virsh event reports nothing:\n%s", w.out)
		}
		d.mustVirsh("define", sentinel)
		d.mustVirsh("undefine", "sentinel")
		time.Sleep(50 * time.Millisecond)
	}
	return w
}

// lines returns what virsh printed for dom's lifecycle, as "Started
// Booted".
func (w *eventWatch) lines(dom string) []string {
	var out []string
	prefix := "event 'lifecycle' for domain '" + dom + "': "
	for _, l := range strings.Split(w.out.String(), "\n") {
		if s, ok := strings.CutPrefix(l, prefix); ok {
			out = append(out, s)
		}
	}
	return out
}

// expect waits until virsh printed len(want) new lifecycle events for
// dom, and checks they are exactly want.
func (w *eventWatch) expect(dom string, want ...string) {
	t := w.d.t
	t.Helper()
	deadline := time.Now().Add(hang)
	for len(w.lines(dom)) < w.seen[dom]+len(want) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	got := w.lines(dom)[w.seen[dom]:]
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events of %s:\n  %s\nwant:\n  %s\nvirsh event printed:\n%s", dom,
			strings.Join(got, "\n  "), strings.Join(want, "\n  "), w.out)
	}
	w.seen[dom] += len(got)
}

// stop ends virsh event, and checks nothing unexpected arrived for the
// domains expect was asked about.
func (w *eventWatch) stop() {
	select {
	case <-w.done:
		return
	default:
	}
	w.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-w.done:
	case <-time.After(hang):
		w.cmd.Process.Kill()
		<-w.done
	}
	for dom, n := range w.seen {
		if extra := w.lines(dom)[n:]; len(extra) > 0 {
			w.d.t.Errorf("unexpected events of %s: %v", dom, extra)
		}
	}
}

// waitLine waits until virsh event printed line.
func (w *eventWatch) waitLine(line string) {
	w.d.t.Helper()
	deadline := time.Now().Add(hang)
	for !strings.Contains(w.out.String(), line+"\n") {
		if time.Now().After(deadline) {
			w.d.t.Fatalf("virsh event did not print %q:\n%s", line, w.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
