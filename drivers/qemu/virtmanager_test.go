package qemu_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/govirt/govirtd/internal/testutil"
)

// rootShotPy saves a PNG of the X display's root window (argv[1]), with
// GTK's own Gdk, which virt-manager brings.
const rootShotPy = `
import sys, gi
gi.require_version('Gdk', '3.0')
from gi.repository import Gdk
w = Gdk.get_default_root_window()
pb = Gdk.pixbuf_get_from_window(w, 0, 0, w.get_width(), w.get_height())
pb.savev(sys.argv[1], 'png', [], [])
`

// TestVirtManagerConsole: unchanged virt-manager, under Xvfb, connects
// to qemu:///system (the daemon's socket where libvirt's clients look
// for it, in a mount namespace of virt-manager's own), opens the
// running guest's graphical console and shows its screen: the guest's
// own screenshot is found, pixel for pixel, in a screenshot of the X
// display. virt-manager reaches the VNC server through
// DOMAIN_OPEN_GRAPHICS_FD (a socket passed over the daemon's unix
// socket), so no TCP connection to the VNC port exists meanwhile.
func TestVirtManagerConsole(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root: virt-manager finds qemu:///system's socket in /run/libvirt, which the test puts on a tmpfs in a mount namespace")
	}
	vm := testutil.RequireBinary(t, "virt-manager", "virt-manager")
	xvfb := testutil.RequireBinary(t, "Xvfb", "xvfb")
	d := newTestDaemon(t)
	d.start()
	xml := strings.Replace(readFile(t, demoXMLPath), "<on_poweroff>",
		"<devices><graphics type='vnc' port='-1' autoport='yes'/><video><model type='vga'/></video></devices><on_poweroff>", 1)
	writeFile(t, d.path("demo-vnc.xml"), xml)
	d.mustVirsh("define", d.path("demo-vnc.xml"))
	d.mustVirsh("start", "demo")
	defer d.mustVirsh("destroy", "demo")

	display := startXvfb(t, xvfb)
	env := virtManagerEnv(t, display)
	_, vmLog := startVirtManager(t, vm, d.path("sock", "govirtd-sock"), env, "--show-domain-console", "demo")

	guestShot := d.path("guest.png")
	rootShot := d.path("root.png")
	shotScript := d.path("rootshot.py")
	writeFile(t, shotScript, rootShotPy)
	found := false
	deadline := time.Now().Add(hang)
	for !found && time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		// The guest's screen now (the firmware's text, which stops
		// changing once it found nothing to boot)…
		d.mustVirsh("screenshot", "demo", guestShot)
		guest := decodePNG(t, guestShot)
		// …and the X display's: virt-manager shows it unscaled.
		shot := exec.Command("/usr/bin/python3", shotScript, rootShot)
		shot.Env = env
		if out, err := shot.CombinedOutput(); err != nil {
			t.Fatalf("screenshot of the X display: %v\n%s", err, out)
		}
		// The first 120 rows: the firmware's lines, not the blinking
		// cursor below them.
		found = containsImage(decodePNG(t, rootShot), guest, 120)
	}
	if !found {
		t.Fatalf("virt-manager's window never showed the guest's screen (last screenshots: %s, %s)", rootShot, guestShot)
	}
	if !strings.Contains(vmLog.String(), "Viewer connected") {
		t.Errorf("virt-manager's log has no 'Viewer connected'")
	}
	port := vncPort(t, d.mustVirsh("dumpxml", "demo"))
	if conns := tcpConnectionsTo(t, port); len(conns) != 0 {
		t.Errorf("TCP connections to the VNC port %d: %v; virt-manager should use the passed socket", port, conns)
	}
}

// virtManagerEnv is the environment of a virt-manager run on display:
// a home of its own, settings in memory, no accessibility bus.
func virtManagerEnv(t *testing.T, display string) []string {
	home := t.TempDir()
	return append(os.Environ(), "DISPLAY="+display, "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_CACHE_HOME="+filepath.Join(home, ".cache"), "GSETTINGS_BACKEND=memory", "NO_AT_BRIDGE=1", "LC_ALL=C")
}

// startVirtManager runs unchanged virt-manager with env and args,
// connected to qemu:///system, which is sock: in a mount namespace of
// its own /run/libvirt is a tmpfs with libvirt's socket name linked to
// sock. It is killed, by pid, when the test ends, and its log shown if
// the test failed.
func startVirtManager(t *testing.T, vm, sock string, env []string, args ...string) (*exec.Cmd, *testutil.SyncBuffer) {
	t.Helper()
	if err := os.MkdirAll("/run/libvirt", 0o755); err != nil {
		t.Fatal(err)
	}
	// unshare and sh exec virt-manager: the pid started is its own.
	cmd := exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "sh", "-c",
		`mount -t tmpfs govirtd-test /run/libvirt && ln -s "$1" /run/libvirt/libvirt-sock && shift && exec "$@"`,
		"sh", sock, vm, "--no-fork", "--debug", "--connect", "qemu:///system"}, args...)...)
	cmd.Env = env
	vmLog := &testutil.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = vmLog, vmLog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("virt-manager's log (%v):\n%s", args, vmLog)
		}
	})
	return cmd, vmLog
}

// startXvfb starts a private X server and returns its display; it is
// stopped, by pid, when the test ends.
func startXvfb(t *testing.T, bin string) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-displayfd", "3", "-screen", "0", "1280x1024x24", "-nolisten", "tcp")
	cmd.ExtraFiles = []*os.File{w}
	var stderr testutil.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	ch := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		r.Close()
		ch <- strings.TrimSpace(line)
	}()
	select {
	case n := <-ch:
		if _, err := strconv.Atoi(n); err != nil {
			t.Fatalf("Xvfb gave no display number (%q):\n%s", n, stderr.String())
		}
		return ":" + n
	case <-time.After(hang):
		t.Fatalf("Xvfb did not start:\n%s", stderr.String())
	}
	return ""
}

func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// containsImage reports whether the first rows of small appear, pixel
// for pixel, somewhere in big.
func containsImage(big, small image.Image, rows int) bool {
	bb, sb := big.Bounds(), small.Bounds()
	w, h := sb.Dx(), min(rows, sb.Dy())
	same := func(x, y, sx, sy int) bool {
		r1, g1, b1, _ := big.At(x, y).RGBA()
		r2, g2, b2, _ := small.At(sx, sy).RGBA()
		return r1>>8 == r2>>8 && g1>>8 == g2>>8 && b1>>8 == b2>>8
	}
	// Anchor on the first lit pixel of small, so the search skips the
	// black background quickly.
	ax, ay := -1, -1
	for y := 0; y < h && ax < 0; y++ {
		for x := 0; x < w; x++ {
			if r, g, b, _ := small.At(sb.Min.X+x, sb.Min.Y+y).RGBA(); r|g|b != 0 {
				ax, ay = x, y
				break
			}
		}
	}
	if ax < 0 {
		return false // a black screen proves nothing
	}
	for oy := bb.Min.Y; oy+h <= bb.Max.Y; oy++ {
		for ox := bb.Min.X; ox+w <= bb.Max.X; ox++ {
			if !same(ox+ax, oy+ay, sb.Min.X+ax, sb.Min.Y+ay) {
				continue
			}
			match := true
			for y := 0; y < h && match; y++ {
				for x := 0; x < w; x++ {
					if !same(ox+x, oy+y, sb.Min.X+x, sb.Min.Y+y) {
						match = false
						break
					}
				}
			}
			if match {
				return true
			}
		}
	}
	return false
}

// vncPort is the port of the live XML's VNC server.
func vncPort(t *testing.T, xml string) int {
	t.Helper()
	i := strings.Index(xml, `<graphics type="vnc" port="`)
	if i < 0 {
		t.Fatalf("no VNC port in the live XML:\n%s", xml)
	}
	var port int
	fmt.Sscanf(xml[i+len(`<graphics type="vnc" port="`):], "%d", &port)
	return port
}

// tcpConnectionsTo lists the established TCP connections to port (ss).
func tcpConnectionsTo(t *testing.T, port int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ss", "-Htn", "state", "established").Output()
	if err != nil {
		t.Fatalf("ss: %v", err)
	}
	var conns []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, ":"+strconv.Itoa(port)+" ") {
			conns = append(conns, strings.TrimSpace(l))
		}
	}
	return conns
}
