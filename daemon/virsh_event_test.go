package daemon_test

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/govirt/govirtd/internal/testutil"
)

// waitFor polls cond until it holds; see testutil.WaitFor.
func waitFor(t testing.TB, what string, cond func() bool) { testutil.WaitFor(t, what, cond) }

// TestVirshEventLoop runs `virsh event --all --loop --timestamp` in the
// background while another virsh process changes a domain, and checks
// that it prints each lifecycle event, in order, and exits 0 when
// stopped.
func TestVirshEventLoop(t *testing.T) {
	d := startDaemon(t, nil)
	bin := requireBinary(t, "virsh", "libvirt-clients")
	cmd := exec.Command(bin, "-c", d.URI(), "event", "--all", "--loop", "--timestamp")
	cmd.Env = append(os.Environ(), "LIBVIRT_AUTOSTART=0", "LC_ALL=C", "HOME="+t.TempDir())
	var out, errb testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	// virsh registers one callback per event id (27); the test driver
	// holds them all once it is listening.
	waitFor(t, "virsh event to register its callbacks", func() bool { return d.Driver.Callbacks() == 27 })

	v := func(args ...string) { runVirsh(t, d.URI(), args...).ok(t) }
	v("define", testdata("demo.xml"))
	v("start", "demo")
	v("suspend", "demo")
	v("resume", "demo")
	v("destroy", "demo")
	v("undefine", "demo")

	want := []string{"Defined Added", "Started Booted", "Suspended Paused", "Resumed Unpaused", "Stopped Destroyed", "Undefined Removed"}
	waitFor(t, "virsh event to print 6 events", func() bool {
		return strings.Count(out.String(), "event 'lifecycle'") == len(want)
	})
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("virsh event exited with %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errb.String())
	}

	line := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\+0000: event 'lifecycle' for domain 'demo': (.+)$`)
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if m := line.FindStringSubmatch(l); m != nil {
			got = append(got, m[1])
		} else if l != "" && l != "event loop interrupted" && !strings.HasPrefix(l, "events received:") {
			t.Errorf("unexpected line %q", l)
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("virsh printed %q, want %q\nstdout:\n%s", got, want, out.String())
	}
	if !strings.Contains(out.String(), "events received: 6") {
		t.Fatalf("no event count\n%s", out.String())
	}
	// virsh deregistered every callback on its way out.
	waitFor(t, "callbacks to go", func() bool { return d.Driver.Callbacks() == 0 })
}
