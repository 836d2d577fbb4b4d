package qemu_test

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/govirt/govirtd/internal/testutil"
)

// ptyConsole is `virsh console` run on a pseudo-terminal, as a person
// runs it: virsh refuses to run without one.
type ptyConsole struct {
	t      *testing.T
	master *os.File
	cmd    *exec.Cmd
	out    testutil.SyncBuffer
	exited chan error
}

// openPty opens a new pseudo-terminal pair.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("cannot open /dev/ptmx: %v", err)
	}
	rc, _ := m.SyscallConn()
	var n int
	var ierr error
	rc.Control(func(fd uintptr) {
		if ierr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); ierr == nil {
			n, ierr = unix.IoctlGetInt(int(fd), unix.TIOCGPTN)
		}
	})
	if ierr != nil {
		m.Close()
		t.Fatalf("cannot unlock the pty: %v", ierr)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Fatalf("cannot open the pty's slave: %v", err)
	}
	return m, s
}

func startConsole(t *testing.T, d *testDaemon, args ...string) *ptyConsole {
	t.Helper()
	master, slave := openPty(t)
	c := &ptyConsole{t: t, master: master, exited: make(chan error, 1)}
	c.cmd = exec.Command("virsh", append([]string{"-c", d.uri(), "console"}, args...)...)
	c.cmd.Env = append(os.Environ(), "LC_ALL=C", "TERM=dumb")
	c.cmd.Stdin, c.cmd.Stdout, c.cmd.Stderr = slave, slave, slave
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	go io.Copy(&c.out, master)
	go func() { c.exited <- c.cmd.Wait() }()
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		master.Close()
	})
	return c
}

// typeUntil types line (with a carriage return) until want shows in
// what the console printed: the guest's shell may not be up yet.
func (c *ptyConsole) typeUntil(line, want string) {
	c.t.Helper()
	deadline := time.Now().Add(hang)
	for !strings.Contains(c.out.String(), want) {
		if time.Now().After(deadline) {
			c.t.Fatalf("the console never printed %q after %q; it printed:\n%s", want, line, c.out.String())
		}
		c.master.Write([]byte(line + "\r"))
		waitUntil(func() bool { return strings.Contains(c.out.String(), want) }, time.Second)
	}
}

// waitUntil waits up to d for cond: a pause between retyped lines, not
// an assertion.
func waitUntil(cond func() bool, d time.Duration) {
	end := time.Now().Add(d)
	for !cond() && time.Now().Before(end) {
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *ptyConsole) wait(what string) error {
	c.t.Helper()
	select {
	case err := <-c.exited:
		return err
	case <-time.After(hang):
		c.t.Fatalf("virsh console did not exit after %s; it printed:\n%s", what, c.out.String())
		return nil
	}
}

// TestVirshConsole: real virsh console on a pty reaches the tiny guest's
// shell: what is typed runs and its output comes back; Ctrl-] detaches
// (virsh exits 0); a second `console --force` takes the console over,
// ending the first.
func TestVirshConsole(t *testing.T) {
	d := newTestDaemon(t)
	d.writeTinyGuest(t, "")
	xml := strings.Replace(readFile(t, d.path("tiny.xml")), "<serial type='file'><source path='"+d.path("console.log")+"'/></serial>", "<serial type='pty'/>", 1)
	writeFile(t, d.path("tiny.xml"), xml)
	d.start()
	d.mustVirsh("define", d.path("tiny.xml"))
	d.mustVirsh("start", "tiny")
	defer d.mustVirsh("destroy", "tiny")

	first := startConsole(t, d, "tiny")
	first.typeUntil("echo A$((6*7))", "A42")
	first.master.Write([]byte{0x1d}) // Ctrl-]
	if err := first.wait("Ctrl-]"); err != nil {
		t.Fatalf("virsh console after Ctrl-]: %v\n%s", err, first.out.String())
	}

	held := startConsole(t, d, "tiny")
	held.typeUntil("echo B$((6*7))", "B42")
	taker := startConsole(t, d, "tiny", "--force")
	taker.typeUntil("echo C$((6*7))", "C42")
	held.wait("another client's console --force")
	taker.master.Write([]byte{0x1d})
	if err := taker.wait("Ctrl-]"); err != nil {
		t.Fatalf("virsh console --force after Ctrl-]: %v\n%s", err, taker.out.String())
	}
}
