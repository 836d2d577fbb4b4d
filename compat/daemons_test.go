package compat_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/govirt/govirtd/internal/testdaemon"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"

	"github.com/govirt/govirtd/internal/testutil"
)

// target is one daemon under comparison: its read-write socket, the URI
// clients give for test:///default on it, and a directory of its own for
// the files commands write ($TMP in the scripts).
type target struct {
	name string // "libvirtd" or "govirtd"
	sock string
	tmp  string
}

func (t target) uri() string { return "test+unix:///default?socket=" + t.sock }

// shortDir is a fresh directory with a short path (a unix socket path is
// limited to 108 bytes, and t.TempDir's can be longer), removed when the
// test ends.
func shortDir(t *testing.T, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// startLibvirtd starts Debian's libvirtd 9.0 on a private configuration:
// sockets in its own directory, auth none, and LIBVIRT_DRIVER_DIR on an
// empty directory so that it loads no driver module and serves only the
// test driver built into libvirt.so (as bench/daemons.go does). It holds
// one connection to test:///default open for the whole test, because
// libvirt's test driver resets its state when its last connection
// closes, and every virsh run is a connection of its own.
func startLibvirtd(t *testing.T) target {
	t.Helper()
	bin := "/usr/sbin/libvirtd"
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s is not installed: `make deps` installs it (Debian package libvirt-daemon)", bin)
	}
	dir := shortDir(t, "compat-lv-")
	noDrivers := filepath.Join(dir, "no-driver-modules")
	if err := os.Mkdir(noDrivers, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "libvirtd.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`unix_sock_dir = %q
unix_sock_ro_perms = "0777"
unix_sock_rw_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
log_level = 3
log_outputs = "3:file:%s"
`, dir, filepath.Join(dir, "libvirtd.log"))), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	out := &testutil.SyncBuffer{}
	cmd := exec.Command(bin, "-f", conf, "-p", filepath.Join(dir, "libvirtd.pid"))
	cmd.Env = append(os.Environ(), "LIBVIRT_DRIVER_DIR="+noDrivers)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(testutil.HangTimeout):
			cmd.Process.Kill()
			<-exited
		}
	})
	sock := filepath.Join(dir, "libvirt-sock")
	testutil.WaitFor(t, "libvirtd to accept on "+sock, func() bool {
		select {
		case <-exited:
			t.Fatalf("libvirtd exited before listening; its output:\n%s", out.String())
		default:
		}
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	holdOpen(t, sock)
	return target{name: "libvirtd", sock: sock, tmp: shortDir(t, "compat-lv-tmp-")}
}

// startGovirtd starts govirtd in this process, serving only its test
// driver on sockets in a directory of its own.
func startGovirtd(t *testing.T) target {
	t.Helper()
	d := testdaemon.Start(t, testdaemon.Options{Log: io.Discard, ShutdownTimeout: testutil.HangTimeout})
	holdOpen(t, d.RW())
	return target{name: "govirtd", sock: d.RW(), tmp: shortDir(t, "compat-gv-tmp-")}
}

// holdOpen keeps a go-libvirt connection to test:///default on sock open
// until the test ends.
func holdOpen(t *testing.T, sock string) {
	t.Helper()
	l := libvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(sock), dialers.WithLocalTimeout(5*time.Second)))
	if err := l.ConnectToURI("test:///default"); err != nil {
		t.Fatalf("go-libvirt connect to %s: %v", sock, err)
	}
	t.Cleanup(func() { l.Disconnect() })
}
