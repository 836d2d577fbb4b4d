package qemu_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/govirt/govirtd/drivers/qemu/qmp"
	"github.com/govirt/govirtd/internal/testutil"
)

const demoXMLPath = "../../testdata/qemu/domains/demo.xml"

// TestVirshLifecycle drives a qemu guest through every operation with the
// real virsh, while `virsh event --all --loop` checks each event.
func TestVirshLifecycle(t *testing.T) {
	d := newTestDaemon(t)
	d.start()
	ev := d.watchEvents()

	d.mustVirsh("define", demoXMLPath)
	ev.expect("demo", "Defined Added")
	d.mustVirsh("start", "demo")
	ev.expect("demo", "Started Booted")
	info := d.mustVirsh("dominfo", "demo")
	for _, want := range []string{"State:          running", "CPU(s):         1", "Max memory:     65536 KiB", "Persistent:     yes"} {
		if !strings.Contains(info, want) {
			t.Errorf("dominfo lacks %q:\n%s", want, info)
		}
	}
	if live := d.mustVirsh("dumpxml", "demo"); !strings.Contains(live, `<domain type="qemu" id="1">`) {
		t.Errorf("the live XML has no id:\n%s", live)
	}
	if inactive := d.mustVirsh("dumpxml", "--inactive", "demo"); strings.Contains(inactive, `<domain type="qemu" id=`) {
		t.Errorf("the inactive XML has an id:\n%s", inactive)
	}
	d.mustVirsh("autostart", "demo")
	if _, err := os.Lstat(d.path("etc", "autostart", "demo.xml")); err != nil {
		t.Errorf("virsh autostart made no link: %v", err)
	}
	d.mustVirsh("autostart", "--disable", "demo")
	d.mustVirsh("suspend", "demo")
	ev.expect("demo", "Suspended Paused")
	checkDomstate(t, d, "demo", "paused (user)")
	d.mustVirsh("resume", "demo")
	ev.expect("demo", "Resumed Unpaused")
	checkDomstate(t, d, "demo", "running (unpaused)")

	image := d.path("demo.save")
	d.mustVirsh("save", "demo", image)
	ev.expect("demo", "Suspended Paused", "Stopped Saved")
	checkDomstate(t, d, "demo", "shut off (saved)")
	d.mustVirsh("restore", image)
	ev.expect("demo", "Started Restored")
	checkDomstate(t, d, "demo", "running (restored)")

	d.mustVirsh("destroy", "demo")
	ev.expect("demo", "Stopped Destroyed")
	checkDomstate(t, d, "demo", "shut off (destroyed)")
	d.mustVirsh("undefine", "demo")
	ev.expect("demo", "Undefined Removed")
	if out, err := d.virsh("dominfo", "demo"); err == nil {
		t.Errorf("demo still exists after undefine:\n%s", out)
	}
	ev.stop()
}

func checkDomstate(t *testing.T, d *testDaemon, dom, want string) {
	t.Helper()
	if got := strings.TrimSpace(d.mustVirsh("domstate", "--reason", dom)); got != want {
		t.Errorf("domstate %s = %q, want %q", dom, got, want)
	}
}

// TestVirshStartResetNVRAM: virsh start --reset-nvram sends
// VIR_DOMAIN_START_RESET_NVRAM (1 << 5), which libvirt's QEMU driver
// accepts; for a guest without NVRAM the start is an ordinary boot.
func TestVirshStartResetNVRAM(t *testing.T) {
	d := newTestDaemon(t)
	d.start()
	ev := d.watchEvents()
	d.mustVirsh("define", demoXMLPath)
	ev.expect("demo", "Defined Added")
	d.mustVirsh("start", "--reset-nvram", "demo")
	ev.expect("demo", "Started Booted")
	checkDomstate(t, d, "demo", "running (booted)")
	d.mustVirsh("destroy", "demo")
	ev.expect("demo", "Stopped Destroyed")
	ev.stop()
}

// TestExternalKill: qemu killed from outside, with no API call made:
// kill -TERM is a host shutdown, kill -9 a crash; a subscribed client is
// told, and the states say so.
func TestExternalKill(t *testing.T) {
	d := newTestDaemon(t)
	d.start()
	ev := d.watchEvents()
	d.mustVirsh("define", demoXMLPath)
	d.mustVirsh("start", "demo")
	ev.expect("demo", "Defined Added", "Started Booted")

	syscall.Kill(d.qemuPIDs()["demo"], syscall.SIGTERM)
	ev.expect("demo", "Shutdown Finished after host request", "Stopped Shutdown")
	checkDomstate(t, d, "demo", "shut off (shutdown)")

	d.mustVirsh("start", "demo")
	ev.expect("demo", "Started Booted")
	syscall.Kill(d.qemuPIDs()["demo"], syscall.SIGKILL)
	ev.expect("demo", "Stopped Failed")
	checkDomstate(t, d, "demo", "shut off (crashed)")
	ev.stop()
}

// TestDaemonRestart: five guests run; the daemon is killed with SIGKILL,
// one guest is killed while it is down, and a new daemon takes over: the
// four keep their pids and run, the fifth is shut off, operations and
// events work.
func TestDaemonRestart(t *testing.T) {
	d := newTestDaemon(t)
	d.start()
	var names []string
	for i := 0; i < 5; i++ {
		name := fmt.Sprintf("guest%d", i)
		names = append(names, name)
		xml := strings.Replace(readFile(t, demoXMLPath), "<name>demo</name>", "<name>"+name+"</name>", 1)
		xml = strings.Replace(xml, "3f0e5a2c-9b1d-4c6e-8a7f-1d2e3c4b5a69", fmt.Sprintf("3f0e5a2c-9b1d-4c6e-8a7f-00000000000%d", i), 1)
		path := d.path(name + ".xml")
		os.WriteFile(path, []byte(xml), 0o644)
		d.mustVirsh("define", path)
		d.mustVirsh("start", name)
	}
	before := d.qemuPIDs()
	if len(before) != 5 {
		t.Fatalf("status files of %v, want 5", before)
	}

	d.kill9()
	victim := before["guest3"]
	syscall.Kill(victim, syscall.SIGKILL)
	// No reaper: it turns into a zombie.
	testutil.WaitFor(t, "the killed guest's qemu to die", func() bool { return !processAlive(victim) })
	for name, pid := range before {
		if name != "guest3" && !processAlive(pid) {
			t.Fatalf("%s (pid %d) died with the daemon", name, pid)
		}
	}

	d.start()
	after := d.qemuPIDs()
	for _, name := range names {
		switch {
		case name == "guest3":
			checkDomstate(t, d, name, "shut off (crashed)")
			if _, ok := after[name]; ok {
				t.Errorf("guest3 still has a status file")
			}
		case after[name] != before[name]:
			t.Errorf("%s: pid %d, was %d", name, after[name], before[name])
		default:
			checkDomstate(t, d, name, "running (booted)")
		}
	}
	list := d.mustVirsh("list")
	if n := strings.Count(list, "running"); n != 4 {
		t.Errorf("virsh list shows %d running, want 4:\n%s", n, list)
	}

	ev := d.watchEvents()
	d.mustVirsh("suspend", "guest1")
	d.mustVirsh("resume", "guest1")
	ev.expect("guest1", "Suspended Paused", "Resumed Unpaused")
	d.mustVirsh("destroy", "guest4")
	ev.expect("guest4", "Stopped Destroyed")
	d.mustVirsh("start", "guest3")
	ev.expect("guest3", "Started Booted")
	ev.stop()
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestSIGHUP: a definition dropped into the config directory with an
// autostart link is defined and started on SIGHUP; a subscribed client
// sees DEFINED then STARTED.
func TestSIGHUP(t *testing.T) {
	d := newTestDaemon(t)
	d.start()
	ev := d.watchEvents()
	def := d.path("etc", "demo.xml")
	os.MkdirAll(d.path("etc", "autostart"), 0o755)
	if err := os.WriteFile(def, []byte(readFile(t, demoXMLPath)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(def, d.path("etc", "autostart", "demo.xml")); err != nil {
		t.Fatal(err)
	}
	d.signal(syscall.SIGHUP)
	ev.expect("demo", "Defined Added", "Started Booted")
	checkDomstate(t, d, "demo", "running (booted)")
	if out := d.mustVirsh("dominfo", "demo"); !strings.Contains(out, "Autostart:      enable") {
		t.Errorf("dominfo does not show autostart:\n%s", out)
	}
	ev.stop()
}

// guestDir builds the tiny Linux guest with scripts/mkguest.sh into a
// cache directory, once.
func guestDir(t *testing.T) string {
	t.Helper()
	// The directory's name changes with what mkguest.sh builds, so that
	// a cache of an older guest is not used.
	dir := filepath.Join(testCacheDir(), "guest-agent")
	if _, err := os.Stat(filepath.Join(dir, "initrd.gz")); err == nil {
		return dir
	}
	out, err := runCmd("../../scripts/mkguest.sh", dir)
	if err != nil {
		t.Fatalf("cannot build the test guest (scripts/mkguest.sh needs apt-get download and cpio; `make deps`): %v\n%s", err, out)
	}
	return dir
}

// TestGuestPowerOff: a real Linux guest told to shut down with virsh
// powers itself off: SHUTDOWN (after guest request), then STOPPED
// SHUTDOWN, and qemu is gone.
func TestGuestPowerOff(t *testing.T) {
	d := newTestDaemon(t)
	console := d.writeTinyGuest(t, "")
	d.start()
	ev := d.watchEvents()
	d.mustVirsh("define", d.path("tiny.xml"))
	d.mustVirsh("start", "tiny")
	ev.expect("tiny", "Defined Added", "Started Booted")
	pid := d.qemuPIDs()["tiny"]
	waitConsole(t, console, "GUEST-READY", 1)

	// A reboot: the guest powers off, the driver resets and continues it
	// (no lifecycle event), and a reboot event is raised.
	d.mustVirsh("reboot", "tiny")
	waitConsole(t, console, "GUEST-READY", 2)
	ev.waitLine("event 'reboot' for domain 'tiny'")
	checkDomstate(t, d, "tiny", "running (booted)")

	d.mustVirsh("shutdown", "tiny")
	ev.expect("tiny", "Shutdown Finished after guest request", "Stopped Shutdown")
	checkDomstate(t, d, "tiny", "shut off (shutdown)")
	if !strings.Contains(readFile(t, console), "GUEST-POWEROFF") {
		t.Errorf("the guest did not power off by itself; console:\n%s", readFile(t, console))
	}
	deadline := time.Now().Add(hang)
	for processAlive(pid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if processAlive(pid) {
		t.Errorf("qemu (pid %d) still runs", pid)
	}
	ev.stop()
}

// TestPowerOffWhileAway: a guest whose definition says on_poweroff
// restart powers off while the daemon is down; the next daemon finds
// qemu waiting in its shutdown state and restarts the guest, as the
// definition asks, rather than ending it.
func TestPowerOffWhileAway(t *testing.T) {
	d := newTestDaemon(t)
	console := d.writeTinyGuest(t, "<on_poweroff>restart</on_poweroff>")
	d.start()
	d.mustVirsh("define", d.path("tiny.xml"))
	d.mustVirsh("start", "tiny")
	pid := d.qemuPIDs()["tiny"]
	waitConsole(t, console, "GUEST-READY", 1)

	d.kill9()
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	mon, err := qmp.Dial(ctx, d.path("run", "tiny.monitor"), qmp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := mon.Execute(ctx, "system_powerdown", nil, nil); err != nil {
		t.Fatal(err)
	}
	for {
		var st struct{ Status string }
		if err := mon.Execute(ctx, "query-status", nil, &st); err != nil {
			t.Fatal(err)
		}
		if st.Status == "shutdown" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	mon.Close()

	d.start()
	checkDomstate(t, d, "tiny", "running (booted)")
	waitConsole(t, console, "GUEST-READY", 2)
	if now := d.qemuPIDs()["tiny"]; now != pid {
		t.Errorf("qemu pid %d, was %d", now, pid)
	}
}

// waitConsole waits until the guest printed marker n times.
func waitConsole(t *testing.T, console, marker string, n int) {
	t.Helper()
	deadline := time.Now().Add(hang)
	for strings.Count(readFile(t, console), marker) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the guest did not print %s %d times; console:\n%s", marker, n, readFile(t, console))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestNoQemuBinary: without qemu the daemon runs on, the QEMU URI answers
// "no connection driver available", and the log says why.
func TestNoQemuBinary(t *testing.T) {
	d := newTestDaemon(t)
	d.configure(`qemu_binary = "/nonexistent/qemu-system-x86_64"`)
	d.start()
	out, err := d.virsh("list")
	if err == nil || !strings.Contains(out, "no connection driver available") {
		t.Errorf("virsh list: %v\n%s\nwant: no connection driver available", err, out)
	}
	if log := d.log(); !strings.Contains(log, "driver not started") || !strings.Contains(log, "qemu_binary") {
		t.Errorf("the log does not say why the QEMU driver is off:\n%s", log)
	}
}

// writeTinyGuest writes d's tiny.xml: the tiny Linux guest, its serial
// console to a file (returned), with extra elements such as
// <on_poweroff>.
func (d *testDaemon) writeTinyGuest(t *testing.T, extra string) string {
	t.Helper()
	guest := guestDir(t)
	console := d.path("console.log")
	xml := fmt.Sprintf(`<domain type='qemu'>
  <name>tiny</name>
  <memory unit='MiB'>128</memory>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>%s/vmlinuz</kernel>
    <initrd>%s/initrd.gz</initrd>
    <cmdline>console=ttyS0 quiet panic=-1</cmdline>
  </os>
  <features><acpi/></features>
  %s
  <devices>
    <serial type='file'><source path='%s'/></serial>
  </devices>
</domain>
`, guest, guest, extra, console)
	if err := os.WriteFile(d.path("tiny.xml"), []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	return console
}
