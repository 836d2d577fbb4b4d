// Package xstest runs Xen's real xenstored for tests: Debian's C
// xenstored from xen-utils-4.17, unpacked by scripts/xen-harness.sh
// (`make deps`), under fakexen, our LD_PRELOAD stand-in for the
// hypervisor (testdata/fakexen.c, built here with gcc). The store, its
// protocol, transactions and watches are Xen's own code; only what the
// hypervisor would answer is faked.
package xstest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// DefaultRoot is where scripts/xen-harness.sh unpacks xen-utils-4.17.
const DefaultRoot = "/var/cache/govirtd/xen"

// Binary is the xenstored to run: $GOVIRTD_XENSTORED, else the one
// unpacked under DefaultRoot.
func Binary() string {
	if p := os.Getenv("GOVIRTD_XENSTORED"); p != "" {
		return p
	}
	return filepath.Join(DefaultRoot, "root/usr/lib/xen-4.17/bin/xenstored")
}

// Xenstored is one running xenstored with its own directory.
type Xenstored struct {
	Dir    string // run dir: socket, trace log, fakexen's files
	Socket string
	bin    string
	shim   string

	mu   sync.Mutex // guards cmd and done
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been waited for
}

// Start runs a xenstored for t; t's cleanup stops it. It fails the test
// naming what to install when xenstored or gcc is missing.
func Start(t testing.TB) *Xenstored {
	t.Helper()
	bin := Binary()
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("Xen's xenstored is not at %s: run `make deps` (scripts/xen-harness.sh unpacks Debian's xen-utils-4.17 there), or set GOVIRTD_XENSTORED", bin)
	}
	dir := t.TempDir()
	shim := filepath.Join(dir, "fakexen.so")
	if err := buildShim(shim); err != nil {
		t.Fatal(err)
	}
	x := &Xenstored{Dir: dir, Socket: filepath.Join(dir, "socket"), bin: bin, shim: shim}
	if err := x.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(x.Stop)
	return x
}

func buildShim(out string) error {
	_, self, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(self), "testdata", "fakexen.c")
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		return errors.New("gcc is needed to build the fakexen shim for xenstored: run `make deps`")
	}
	cmd := exec.Command(gcc, "-Wall", "-shared", "-fPIC", "-o", out, src, "-ldl")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s: %v\n%s", src, err, b)
	}
	return nil
}

func (x *Xenstored) start() error {
	os.Remove(x.Socket)
	cmd := exec.Command(x.bin, "-N", "-T", filepath.Join(x.Dir, "trace.log"))
	cmd.Env = append(os.Environ(),
		"XENSTORED_RUNDIR="+x.Dir,
		"LD_PRELOAD="+x.shim,
		"FAKEXEN_DIR="+x.Dir,
		"FAKEXEN_DEAD="+filepath.Join(x.Dir, "dead"),
		"FAKEXEN_VIRQ="+filepath.Join(x.Dir, "virq"),
	)
	log, err := os.OpenFile(filepath.Join(x.Dir, "xenstored.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", x.bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	x.mu.Lock()
	x.cmd, x.done = cmd, done
	x.mu.Unlock()
	// Ready once the socket accepts a connection, or failed when the
	// process exits first.
	for i := 0; ; i++ {
		if c, err := net.Dial("unix", x.Socket); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-done:
			b, _ := os.ReadFile(filepath.Join(x.Dir, "xenstored.log"))
			return fmt.Errorf("xenstored exited before listening on %s: %s", x.Socket, b)
		case <-time.After(5 * time.Millisecond):
		}
		if i > 2000 {
			x.Stop()
			return fmt.Errorf("xenstored did not listen on %s within 10s", x.Socket)
		}
	}
}

// Pid is the running xenstored's process id, 0 when stopped.
func (x *Xenstored) Pid() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.cmd == nil {
		return 0
	}
	return x.cmd.Process.Pid
}

// Stop kills this xenstored (only it, by pid) and waits for it.
func (x *Xenstored) Stop() {
	x.mu.Lock()
	cmd, done := x.cmd, x.done
	x.cmd = nil
	x.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-done
}

// Restart stops xenstored and starts a fresh one on the same socket;
// the store starts empty, as after a restart on a real host.
func (x *Xenstored) Restart(t testing.TB) {
	t.Helper()
	x.Stop()
	os.Remove(filepath.Join(x.Dir, "dead"))
	if err := x.start(); err != nil {
		t.Fatal(err)
	}
}

// Env is the environment a xenstore client (xenstore-ls, the xl
// simulator) needs to reach this xenstored.
func (x *Xenstored) Env() []string {
	return append(os.Environ(), "XENSTORED_PATH="+x.Socket)
}

// MarkDying makes the fake hypervisor report domid as dying and raises
// VIRQ_DOM_EXC, so xenstored notices and fires @releaseDomain, as when
// Xen tells it a domain died. See also DeadFile and VirqFIFO.
func (x *Xenstored) MarkDying(domid uint32) error {
	return MarkDying(x.Dir, domid)
}

// MarkDying is Xenstored.MarkDying for the xenstored whose fakexen
// files are in dir (the xl simulator does this from another process).
func MarkDying(dir string, domid uint32) error {
	f, err := os.OpenFile(filepath.Join(dir, "dead"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strconv.FormatUint(uint64(domid), 10) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	v, err := os.OpenFile(filepath.Join(dir, "virq"), os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("raise VIRQ_DOM_EXC: %w", err)
	}
	defer v.Close()
	_, err = v.Write([]byte{1})
	return err
}
