package qemu_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/govirt/govirtd/internal/libvirtdpriv"
)

// privLibvirtd is a private libvirtd 9.0 (internal/libvirtdpriv) that a
// differential test drives beside its govirtd, in dir, optionally in a
// network namespace of its own.
type privLibvirtd struct {
	t     *testing.T
	dir   string
	netns string
}

// startPrivLibvirtd starts Debian's libvirtd privately in dir (in
// network namespace netns when not empty; the caller made it and deletes
// it) and waits until its socket accepts. It is stopped, by pid, with
// its virtlogd and any qemu it left, when the test ends.
func startPrivLibvirtd(t *testing.T, dir, netns string) *privLibvirtd {
	t.Helper()
	const bin = "/usr/sbin/libvirtd"
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s: %v: `make deps` installs it (Debian package libvirt-daemon)", bin, err)
	}
	if os.Geteuid() != 0 {
		t.Fatal("the private libvirtd needs root (a mount namespace of its own)")
	}
	cmd, err := libvirtdpriv.Command(bin, dir, netns)
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(dir + "/libvirtd.out")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	lv := &privLibvirtd{t: t, dir: dir, netns: netns}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		libvirtdpriv.StopVirtlogd(dir)
		// libvirtd leaves its guests running when it stops.
		for _, pid := range qemusNaming(dir) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		logf.Close()
		if t.Failed() {
			data, _ := os.ReadFile(dir + "/libvirtd.log")
			t.Logf("the private libvirtd's log (last 4 KiB):\n%s", tail(string(data), 4096))
		}
	})
	deadline := time.Now().Add(hang)
	for {
		if c, err := net.Dial("unix", libvirtdpriv.Socket(dir)); err == nil {
			c.Close()
			return lv
		}
		select {
		case <-exited:
			out, _ := os.ReadFile(dir + "/libvirtd.out")
			t.Fatalf("the private libvirtd exited at startup:\n%s", out)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(dir + "/libvirtd.out")
			t.Fatalf("the private libvirtd does not listen:\n%s", out)
		}
	}
}

// uri is the QEMU driver's URI on the instance's socket.
func (lv *privLibvirtd) uri() string {
	return "qemu+unix:///system?socket=" + libvirtdpriv.Socket(lv.dir)
}

// virsh runs virsh on the instance.
func (lv *privLibvirtd) virsh(args ...string) (string, error) { return runVirsh(lv.uri(), args...) }

func (lv *privLibvirtd) mustVirsh(args ...string) string {
	lv.t.Helper()
	out, err := lv.virsh(args...)
	if err != nil {
		lv.t.Fatalf("virsh (libvirtd) %v: %v\n%s", args, err, out)
	}
	return out
}

// qemusNaming lists the live qemu processes whose command line names a
// path in dir: libvirtd's qemus run in / as daemons of their own, so a
// test finds those it started by their disks' paths in its directory.
func qemusNaming(dir string) []int {
	var pids []int
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		comm, _ := os.ReadFile(p + "/comm")
		cmdline, err := os.ReadFile(p + "/cmdline")
		if err != nil || !strings.HasPrefix(string(comm), "qemu-system") || !strings.Contains(string(cmdline), dir+"/") {
			continue
		}
		var pid int
		fmt.Sscan(filepath.Base(p), &pid)
		if processAlive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
