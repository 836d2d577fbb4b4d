package qemu_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/govirt/govirtd/internal/libvirtdpriv"
)

// privateLibvirtd starts Debian's real libvirtd 9.0 as a private
// instance in dir (internal/libvirtdpriv), in network namespace netns
// when it is not empty, and returns its URI; it is stopped, by pid,
// with its virtlogd, when the test ends (after cleanup, which the
// caller may use for what it started inside).
func privateLibvirtd(t *testing.T, dir, netns string, cleanup func()) string {
	t.Helper()
	lvBin := "/usr/sbin/libvirtd"
	if _, err := os.Stat(lvBin); err != nil {
		t.Fatalf("%s: %v: `make deps` installs it (Debian package libvirt-daemon)", lvBin, err)
	}
	cmd, err := libvirtdpriv.Command(lvBin, dir, netns)
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(dir + ".out")
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
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		libvirtdpriv.StopVirtlogd(dir)
		if cleanup != nil {
			cleanup()
		}
		logf.Close()
	})
	deadline := time.Now().Add(hang)
	for {
		if c, err := net.Dial("unix", libvirtdpriv.Socket(dir)); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(dir + ".out")
			t.Fatalf("the private libvirtd does not listen:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "qemu+unix:///system?socket=" + libvirtdpriv.Socket(dir)
}

// virshOn runs real virsh against uri and returns "ok" or "failed",
// a newline and its output.
func virshOn(uri string, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	c := exec.CommandContext(ctx, "virsh", append([]string{"-c", uri}, args...)...)
	c.Env = append(os.Environ(), "LIBVIRT_AUTOSTART=0")
	out, err := c.CombinedOutput()
	status := "ok"
	if err != nil {
		status = "failed"
	}
	return status + "\n" + string(out)
}
