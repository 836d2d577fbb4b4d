package qemu_test

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/govirt/govirtd/internal/testutil"
)

// consolePy opens the console of the domain named argv[2] on the URI
// argv[1] with libvirt-python's stream API, prints "OPEN", then what the
// guest writes, until the guest stops (the stream's end) and prints
// "EOF"; the flags for openConsole are argv[3]. Once the guest is
// ready, a second console opened while the first is held tries argv[4]
// flags and prints the error (then destroys the guest, which ends the
// first console), or "TAKEN" when it took the console over (which ends
// the first console with the guest still running).
const consolePy = `
import sys, libvirt
uri, name, flags, second = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
c = libvirt.open(uri)
dom = c.lookupByName(name)
st = c.newStream(0)
dom.openConsole(None, st, flags)
print("OPEN", flush=True)
seen = b""
while True:
    data = st.recv(65536)
    if data == -2:
        continue
    if not data:
        break
    seen += data
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    if b"GUEST-READY" in seen and second != "none":
        other = c.newStream(0)
        try:
            dom.openConsole(None, other, int(second))
            print("\nTAKEN", flush=True)
            other.abort()
        except libvirt.libvirtError as e:
            print("\nREFUSED", e.get_error_code(), e.get_error_message(), flush=True)
        if second == "0":
            dom.destroy()  # the stream then ends with the guest
        second = "none"
st.finish()
print("\nEOF", flush=True)
`

// TestConsole: a client reads a real guest's serial console on its pty
// through DOMAIN_OPEN_CONSOLE and STREAM messages; a second client is
// refused the console while the first holds it (libvirt's
// OPERATION_FAILED, "Active console session exists"); when the guest
// stops, the console's stream ends cleanly.
func TestConsole(t *testing.T) {
	py := testutil.RequirePythonLibvirt(t)
	d := newTestDaemon(t)
	d.writeTinyGuest(t, "")
	xml := readFile(t, d.path("tiny.xml"))
	xml = strings.Replace(xml, "<serial type='file'><source path='"+d.path("console.log")+"'/></serial>", "<serial type='pty'/>", 1)
	if !strings.Contains(xml, "<serial type='pty'/>") {
		t.Fatal("writeTinyGuest's serial port changed: no file serial to replace")
	}
	writeFile(t, d.path("tiny.xml"), xml)
	d.start()
	d.mustVirsh("define", d.path("tiny.xml"))
	d.mustVirsh("start", "tiny")
	if out := d.mustVirsh("dumpxml", "tiny"); !strings.Contains(out, "/dev/pts/") {
		t.Fatalf("the live XML has no pty path:\n%s", out)
	}
	script := filepath.Join(t.TempDir(), "console.py")
	writeFile(t, script, consolePy)
	run := func(second string, want ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), hang)
		defer cancel()
		cmd := exec.CommandContext(ctx, py, script, d.uri(), "tiny", "0", second)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("console.py: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
		}
		for _, w := range want {
			if !strings.Contains(stdout.String(), w) {
				t.Errorf("console.py printed no %q\nstdout:\n%s\nstderr:\n%s", w, stdout.String(), stderr.String())
			}
		}
	}
	// Refused while held; the guest's destroy ends the stream.
	run("0", "OPEN", "GUEST-READY", "REFUSED 9 operation failed: Active console session exists for this domain", "\nEOF")
	checkDomstate(t, d, "tiny", "shut off (destroyed)")
	// VIR_DOMAIN_CONSOLE_FORCE takes it over: the first console ends.
	d.mustVirsh("start", "tiny")
	run("1", "OPEN", "GUEST-READY", "TAKEN", "\nEOF")
	checkDomstate(t, d, "tiny", "running (booted)")
	d.mustVirsh("destroy", "tiny")
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestVirshMonitoring: what monitoring tools ask, through real virsh
// against the daemon's QEMU driver and a running guest.
func TestVirshMonitoring(t *testing.T) {
	d := newTestDaemon(t)
	d.start()
	// demo with a VGA card, so that it has a screen.
	xml := strings.Replace(readFile(t, demoXMLPath), "<on_poweroff>", "<devices><video><model type='vga'/></video></devices><on_poweroff>", 1)
	writeFile(t, d.path("demo-vga.xml"), xml)
	d.mustVirsh("define", d.path("demo-vga.xml"))
	d.mustVirsh("start", "demo")
	defer d.mustVirsh("destroy", "demo")
	shot := d.path("screen.png")
	if out := d.mustVirsh("screenshot", "demo", shot); !strings.Contains(out, "with type of image/png") {
		t.Errorf("virsh screenshot: %s", out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("virsh screenshot wrote no valid PNG: %v", err)
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"domstats", "demo"}, []string{"state.state=1", "cpu.time=", "balloon.maximum=65536", "vcpu.current=1", "vcpu.0.state=1"}},
		{[]string{"vcpuinfo", "demo"}, []string{"VCPU:           0", "State:          running", "CPU Affinity:"}},
		{[]string{"dommemstat", "demo"}, []string{"rss "}},
		{[]string{"nodecpumap"}, []string{"CPUs present:", "CPUs online:"}},
		{[]string{"nodecpustats"}, []string{"user:", "system:", "idle:", "iowait:"}},
		{[]string{"nodememstats"}, []string{"total  :", "free   :"}},
	} {
		out := d.mustVirsh(c.args...)
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("virsh %s printed no %q:\n%s", strings.Join(c.args, " "), w, out)
			}
		}
	}
}
