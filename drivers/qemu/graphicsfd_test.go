package qemu_test

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/govirt/govirtd/internal/testutil"
)

// graphicsFDPy asks for the display of the domain argv[2] on the URI
// argv[1] the way virt-manager does (virDomainOpenGraphicsFD, with the
// flags argv[3]) and prints what the VNC server first says on the
// socket it was given, or the error.
const graphicsFDPy = `
import os, sys, libvirt
uri, name, flags = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = libvirt.open(uri)
dom = c.lookupByName(name)
try:
    fd = dom.openGraphicsFD(0, flags)
except libvirt.libvirtError as e:
    print("ERROR", e.get_error_code(), e.get_error_message())
    sys.exit(0)
print("FD", repr(os.read(fd, 12)))
os.close(fd)
`

// TestOpenGraphicsFD: libvirt-python's openGraphicsFD, as virt-manager
// calls it, gets a socket on which the guest's VNC server (one with no
// listening socket of its own: <listen type='none'/>) greets it with
// the RFB banner; the file travelled with the reply as SCM_RIGHTS. Over
// the read-only socket it is refused; a stopped guest is not running.
func TestOpenGraphicsFD(t *testing.T) {
	py := testutil.RequirePythonLibvirt(t)
	d := newTestDaemon(t)
	d.start()
	xml := strings.Replace(readFile(t, demoXMLPath), "<on_poweroff>",
		"<devices><graphics type='vnc'><listen type='none'/></graphics><video><model type='vga'/></video></devices><on_poweroff>", 1)
	writeFile(t, d.path("demo-vnc.xml"), xml)
	d.mustVirsh("define", d.path("demo-vnc.xml"))
	script := filepath.Join(t.TempDir(), "graphicsfd.py")
	writeFile(t, script, graphicsFDPy)
	run := func(uri, flags, want string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), hang)
		defer cancel()
		cmd := exec.CommandContext(ctx, py, script, uri, "demo", flags)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("graphicsfd.py: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
		}
		if got := strings.TrimSpace(stdout.String()); got != want {
			t.Errorf("openGraphicsFD(0, %s) on %s:\n got %s\nwant %s\nstderr:\n%s", flags, uri, got, want, stderr.String())
		}
	}
	run(d.uri(), "0", "ERROR 55 Requested operation is not valid: domain 'demo' is not running")
	d.mustVirsh("start", "demo")
	defer d.mustVirsh("destroy", "demo")
	run(d.uri(), "0", `FD b'RFB 003.008\n'`)
	run(d.uri(), "1", `FD b'RFB 003.008\n'`) // VIR_DOMAIN_OPEN_GRAPHICS_SKIPAUTH
	run(d.uri(), "2", "ERROR 8 invalid argument: unsupported flags (0x2) in function qemuDomainOpenGraphicsFD")
	run(d.roURI(), "0", "ERROR 29 operation forbidden: read only access prevents virDomainOpenGraphicsFD")
}

// roURI is the daemon's read-only socket.
func (d *testDaemon) roURI() string {
	return strings.Replace(d.uri(), "govirtd-sock", "govirtd-sock-ro", 1)
}
