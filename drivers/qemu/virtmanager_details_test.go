package qemu_test

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/govirt/govirtd/internal/testutil"
)

// hwListPy prints, as a JSON list, the rows of the hardware list
// (the tree view virt-manager names "hw-list") of virt-manager's window
// titled argv[1], read through AT-SPI; an empty list while there is no
// such window yet.
const hwListPy = `
import json, sys, pyatspi

def find(acc, pred, depth=0):
    if acc is None or depth > 40:
        return None
    try:
        if pred(acc):
            return acc
        n = acc.childCount
    except Exception:
        return None
    for i in range(n):
        try:
            r = find(acc.getChildAtIndex(i), pred, depth + 1)
        except Exception:
            r = None
        if r is not None:
            return r
    return None

rows = []
desk = pyatspi.Registry.getDesktop(0)
for i in range(desk.childCount):
    app = desk.getChildAtIndex(i)
    if app is None or app.name != 'virt-manager':
        continue
    frame = find(app, lambda a: a.getRoleName() == 'frame' and a.name == sys.argv[1])
    table = find(frame, lambda a: a.getRoleName() == 'table' and a.name == 'hw-list')
    if table is None:
        continue
    # Each row is a cell holding the icon's cell and the label's cell.
    for j in range(table.childCount):
        row = table.getChildAtIndex(j)
        if row is None or row.getRoleName() != 'table cell':
            continue
        for k in range(row.childCount):
            c = row.getChildAtIndex(k)
            if c is not None and c.name:
                rows.append(c.name)
print(json.dumps(rows))
`

// detailsGuestXML is a guest as virt-install writes one for q35
// (an XHCI controller, a USB tablet, VNC with VGA, a disk and a NIC),
// its disk in dir.
func detailsGuestXML(t *testing.T, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	disk := filepath.Join(dir, "disk.img")
	if err := os.WriteFile(disk, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	xml := strings.Replace(readFile(t, demoXMLPath), "<on_poweroff>", `<devices>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='`+disk+`'/><target dev='vda' bus='virtio'/></disk>
    <controller type='usb' model='qemu-xhci'/>
    <interface type='user'><mac address='52:54:00:6e:78:02'/><model type='virtio'/></interface>
    <input type='tablet' bus='usb'/>
    <graphics type='vnc' port='-1' autoport='yes'/>
    <video><model type='vga'/></video>
  </devices><on_poweroff>`, 1)
	p := filepath.Join(dir, "demo-details.xml")
	writeFile(t, p, xml)
	return p
}

// TestVirtManagerDetails: unchanged virt-manager, under Xvfb, opens
// the running guest's details window (--show-domain-editor) on govirtd
// and on a private libvirtd 9.0 running the same definition; its
// hardware list, read through AT-SPI (Debian's pyatspi, on a private
// session bus), lists the disk, the NIC, the inputs (the USB tablet
// and the implicit PS/2 mouse and keyboard), the display, the video and
// the controllers (the USB one, and the implicit PCIe root and SATA),
// the same entries on both daemons. (Their order differs: libvirt
// lists the implicit SATA controller before the PCIe root, govirtd
// after it, as in each daemon's live XML.)
func TestVirtManagerDetails(t *testing.T) {
	vm := testutil.RequireBinary(t, "virt-manager", "virt-manager")
	xvfb := testutil.RequireBinary(t, "Xvfb", "xvfb")
	testutil.RequireBinary(t, "dbus-daemon", "dbus")
	if _, err := os.Stat("/usr/libexec/at-spi-bus-launcher"); err != nil {
		t.Fatalf("AT-SPI's bus launcher: %v: `make deps` installs it (Debian package at-spi2-core)", err)
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import pyatspi").Run(); err != nil {
		t.Fatalf("python3 cannot import pyatspi (%v): `make deps` installs it (Debian packages python3-pyatspi, gir1.2-atspi-2.0)", err)
	}
	d := newTestDaemon(t)
	d.start()
	lv := startPrivLibvirtd(t, d.path("libvirtd"), "")
	d.mustVirsh("define", detailsGuestXML(t, d.path("gv")))
	d.mustVirsh("start", "demo")
	defer d.mustVirsh("destroy", "demo")
	lv.mustVirsh("define", detailsGuestXML(t, d.path("lv")))
	lv.mustVirsh("start", "demo")
	defer lv.mustVirsh("destroy", "demo")

	display := startXvfb(t, xvfb)
	env := virtManagerEnv(t, display)
	for i, e := range env {
		if e == "NO_AT_BRIDGE=1" {
			env[i] = "NO_AT_BRIDGE=0"
		}
	}
	env = append(env, "DBUS_SESSION_BUS_ADDRESS="+startSessionBus(t, env))
	script := d.path("hwlist.py")
	writeFile(t, script, hwListPy)

	gv := hardwareList(t, vm, script, d.path("sock", "govirtd-sock"), env)
	lvList := hardwareList(t, vm, script, filepath.Join(d.path("libvirtd"), "libvirt-sock"), env)
	want := []string{"VirtIO Disk 1", "NIC :6e:78:02", "Tablet", "Mouse", "Keyboard", "Display VNC", "Video VGA",
		"Controller USB 0", "Controller PCIe 0", "Controller SATA 0"}
	for _, w := range want {
		if !slices.Contains(gv, w) {
			t.Errorf("virt-manager's hardware list on govirtd lacks %q: %q", w, gv)
		}
	}
	if !slices.Equal(sortedCopy(gv), sortedCopy(lvList)) {
		t.Errorf("virt-manager's hardware lists differ:\n  govirtd  %q\n  libvirtd %q", gv, lvList)
	}
}

// hardwareList runs virt-manager on sock with the demo guest's details
// window open and returns its hardware list once it has the guest's
// devices and stays the same across two reads; virt-manager is stopped
// before it returns.
func hardwareList(t *testing.T, vm, script, sock string, env []string) []string {
	t.Helper()
	cmd, vmLog := startVirtManager(t, vm, sock, env, "--show-domain-editor", "demo")
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	var last []string
	deadline := time.Now().Add(hang)
	for time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		py := exec.Command("/usr/bin/python3", script, "demo on QEMU/KVM")
		py.Env = env
		out, err := py.Output()
		if err != nil {
			t.Fatalf("reading virt-manager's window through AT-SPI: %v\n%s", err, out)
		}
		var rows []string
		if err := json.Unmarshal(out, &rows); err != nil {
			t.Fatalf("the AT-SPI script printed %q: %v", out, err)
		}
		if len(rows) > 0 && slices.Contains(rows, "Controller PCIe 0") && strings.Join(rows, "\n") == strings.Join(last, "\n") {
			return rows
		}
		last = rows
	}
	t.Fatalf("virt-manager never showed the details of demo on %s (last hardware list %q):\n%s", sock, last, vmLog)
	return nil
}

// startSessionBus starts a private D-Bus session bus (its socket in a
// temporary directory) for virt-manager and the AT-SPI reader, and
// returns its address. When the test ends the bus is stopped, by pid,
// with what it started for AT-SPI: the processes whose environment
// names this bus, and their children.
func startSessionBus(t *testing.T, env []string) string {
	t.Helper()
	addr := "unix:path=" + filepath.Join(t.TempDir(), "bus")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("dbus-daemon", "--config-file=/usr/share/dbus-1/session.conf", "--nofork", "--address="+addr, "--print-address=3")
	cmd.Env = env
	cmd.ExtraFiles = []*os.File{w}
	var stderr testutil.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() {
		for _, pid := range busProcesses(addr) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
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
	case got := <-ch:
		if !strings.HasPrefix(got, addr) {
			t.Fatalf("dbus-daemon printed the address %q, want %s:\n%s", got, addr, stderr.String())
		}
		return got
	case <-time.After(hang):
		t.Fatalf("dbus-daemon did not start:\n%s", stderr.String())
	}
	return ""
}

// busProcesses lists the processes the session bus at addr activated
// (AT-SPI's bus launcher, its registry daemon), found by the bus's
// address in their environment, and their children (the accessibility
// bus's own dbus-daemon).
func busProcesses(addr string) []int {
	procs, _ := filepath.Glob("/proc/[0-9]*")
	mine := map[int]bool{}
	parent := map[int]int{}
	for _, p := range procs {
		pid, err := strconv.Atoi(filepath.Base(p))
		if err != nil {
			continue
		}
		if status, err := os.ReadFile(p + "/status"); err == nil {
			for _, line := range strings.Split(string(status), "\n") {
				if v, ok := strings.CutPrefix(line, "PPid:"); ok {
					parent[pid], _ = strconv.Atoi(strings.TrimSpace(v))
				}
			}
		}
		environ, err := os.ReadFile(p + "/environ")
		if err == nil && strings.Contains("\x00"+string(environ), "\x00DBUS_SESSION_BUS_ADDRESS="+addr) {
			mine[pid] = true
		}
	}
	var out []int
	for pid := range parent {
		if (mine[pid] || mine[parent[pid]]) && processAlive(pid) {
			out = append(out, pid)
		}
	}
	return out
}

func sortedCopy(list []string) []string {
	out := slices.Clone(list)
	slices.Sort(out)
	return out
}
