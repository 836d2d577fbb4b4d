package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/govirt/govirtd/internal/testdaemon"
	"github.com/govirt/govirtd/internal/testutil"
)

// notifySocket is where systemd would listen for sd_notify datagrams:
// every message received, in order.
type notifySocket struct {
	path string
	conn *net.UnixConn
	mu   sync.Mutex
	msgs []string
}

func listenNotify(t *testing.T, dir string) *notifySocket {
	t.Helper()
	n := &notifySocket{path: filepath.Join(dir, "notify")}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: n.path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	n.conn = conn
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				return
			}
			n.mu.Lock()
			n.msgs = append(n.msgs, string(buf[:k]))
			n.mu.Unlock()
		}
	}()
	return n
}

// all is a copy of every message so far.
func (n *notifySocket) all() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.msgs...)
}

// wait waits for the count-th message for which match holds and returns
// it with the messages that came before it.
func (n *notifySocket) wait(t *testing.T, what string, count int, match func(string) bool) (string, []string) {
	t.Helper()
	var msg string
	var before []string
	testutil.WaitFor(t, fmt.Sprintf("sd_notify message %d: %s", count, what), func() bool {
		seen := 0
		msgs := n.all()
		for i, m := range msgs {
			if match(m) {
				if seen++; seen == count {
					msg, before = m, msgs[:i]
					return true
				}
			}
		}
		return false
	})
	return msg, before
}

// hasLine says whether msg has the line exactly.
func hasLine(msg, line string) bool {
	for _, l := range strings.Split(msg, "\n") {
		if l == line {
			return true
		}
	}
	return false
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// activated is a daemon started by real systemd-socket-activate on the
// four sockets, as systemd starts it from govirtd*.socket.
type activated struct {
	*running
	rw, ro, admin, tls string
	notify             *notifySocket
}

// startActivated makes systemd-socket-activate listen on the four
// sockets of the units (under dir) and, at the first client, exec bin
// with them. env are more variables for the daemon (-E), args more
// arguments.
func startActivated(t *testing.T, bin, dir, conf string, env []string, args ...string) *activated {
	t.Helper()
	sa := testutil.RequireBinary(t, "systemd-socket-activate", "systemd")
	sd := filepath.Join(dir, "systemd")
	os.MkdirAll(sd, 0o755)
	a := &activated{rw: filepath.Join(sd, "rw"), ro: filepath.Join(sd, "ro"), admin: filepath.Join(sd, "admin"),
		tls: freePort(t), notify: listenNotify(t, dir)}
	sargs := []string{"-l", a.rw, "-l", a.ro, "-l", a.admin, "-l", a.tls,
		"--fdname=govirtd.socket:govirtd-ro.socket:govirtd-admin.socket:govirtd-tls.socket",
		"-E", "NOTIFY_SOCKET=" + a.notify.path, "-E", "PATH=" + os.Getenv("PATH")}
	for _, e := range env {
		sargs = append(sargs, "-E", e)
	}
	sargs = append(append(sargs, bin, "--config", conf), args...)
	r := &running{t: t, cmd: exec.Command(sa, sargs...), log: &logBuf{}, conf: conf, rw: a.rw}
	r.cmd.Stderr = r.log
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The same pid: systemd-socket-activate execs the daemon.
		r.cmd.Process.Signal(syscall.SIGTERM)
		r.cmd.Wait()
	})
	a.running = r
	r.waitLog(1, "Listening on "+a.tls+" as 6.")
	return a
}

// TestSocketActivation: real systemd-socket-activate holds the four
// sockets; real virsh's first connection starts the daemon, which
// serves virsh on the inherited read-write, read-only and TLS sockets
// (listen_tls = 0: the unit decides). On its NOTIFY_SOCKET: READY=1
// with a STATUS= line, WATCHDOG=1 pings (WATCHDOG_USEC set), on SIGHUP
// RELOADING=1 with MONOTONIC_USEC then READY=1, on SIGTERM STOPPING=1;
// systemd's socket files stay in place.
func TestSocketActivation(t *testing.T) {
	bin := buildDaemon(t)
	dir, err := os.MkdirTemp("", "govirtd-sa-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	pki := testdaemon.NewPKI(t, "activation")
	srvCert, srvKey := pki.Issue("server", testdaemon.CertOptions{Subject: "/O=govirt/CN=localhost", Server: true})
	cliCert, cliKey := pki.Issue("alice", testdaemon.CertOptions{Subject: "/O=govirt/CN=alice"})
	alice := testdaemon.ClientDir(t, pki.CACert(), cliCert, cliKey)
	conf := filepath.Join(dir, "govirtd.conf")
	os.WriteFile(conf, []byte(privateConfig(dir)+fmt.Sprintf("log_level = 2\nlisten_tls = 0\nkey_file = %q\ncert_file = %q\nca_file = %q\n",
		srvKey, srvCert, pki.CACert())), 0o644)

	// systemd's WatchdogSec=1s: pings every half second.
	a := startActivated(t, bin, dir, conf, []string{"WATCHDOG_USEC=1000000"})
	if msgs := a.notify.all(); len(msgs) != 0 {
		t.Fatalf("notifications before any client: %q", msgs)
	}
	// The first client starts the daemon.
	mustList(t, "test+unix:///default?socket="+a.rw, "on the inherited read-write socket")
	ready, _ := a.notify.wait(t, "READY=1", 1, func(m string) bool { return hasLine(m, "READY=1") })
	if !strings.Contains(ready, "STATUS=") {
		t.Errorf("READY=1 without a STATUS= line: %q", ready)
	}
	for _, unit := range []string{"govirtd.socket", "govirtd-ro.socket", "govirtd-tls.socket", "govirtd-admin.socket"} {
		if a.count(`from="systemd `+unit+`"`) != 1 {
			t.Errorf("the log does not say %s came from systemd:\n%s", unit, a.log)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "govirtd-sock")); !os.IsNotExist(err) {
		t.Fatalf("the daemon made its own socket in unix_sock_dir beside systemd's: %v", err)
	}

	roURI := "test+unix:///default?socket=" + a.ro
	mustList(t, roURI, "on the inherited read-only socket")
	if out, err := virsh(t, roURI, "destroy", "test"); err == nil || !strings.Contains(out, "read only") {
		t.Fatalf("destroy on the read-only socket: %v\n%s", err, out)
	}
	mustList(t, "test+tls://"+a.tls+"/default?pkipath="+alice, "on the inherited TLS socket")

	// The admin program on the inherited admin socket.
	if out, err := virtAdmin(t, a.admin, "srv-list"); err != nil || !strings.Contains(out, "govirtd") {
		t.Fatalf("virt-admin srv-list on the inherited admin socket: %v\n%s", err, out)
	}

	// The watchdog is pinged, more than once.
	a.notify.wait(t, "WATCHDOG=1", 2, func(m string) bool { return m == "WATCHDOG=1" })

	// SIGHUP: RELOADING=1 with CLOCK_MONOTONIC, then READY=1 again.
	a.hup()
	reload, _ := a.notify.wait(t, "RELOADING=1", 1, func(m string) bool { return hasLine(m, "RELOADING=1") })
	if !regexp.MustCompile(`\nMONOTONIC_USEC=\d+\n`).MatchString(reload) || !strings.Contains(reload, "STATUS=reloading") {
		t.Fatalf("RELOADING=1 without MONOTONIC_USEC and STATUS: %q", reload)
	}
	again, before := a.notify.wait(t, "READY=1 after the reload", 2, func(m string) bool { return hasLine(m, "READY=1") })
	if !slices.Contains(before, reload) || !strings.Contains(again, "STATUS=serving; last reload succeeded") {
		t.Fatalf("the second READY=1 (%q) does not follow RELOADING=1: %q", again, before)
	}
	mustList(t, "test+unix:///default?socket="+a.rw, "after the reload")
	// The inherited TLS socket's material is re-read, listen_tls = 0
	// notwithstanding, and TLS serves on.
	if a.count("TLS material re-read") != 1 {
		t.Fatalf("the reload did not re-read the inherited TLS socket's material:\n%s", a.log)
	}
	mustList(t, "test+tls://"+a.tls+"/default?pkipath="+alice, "on the inherited TLS socket after the reload")

	a.cmd.Process.Signal(syscall.SIGTERM)
	if err := a.cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, a.log)
	}
	if _, before := a.notify.wait(t, "STOPPING=1", 1, func(m string) bool { return hasLine(m, "STOPPING=1") }); len(before) == 0 {
		t.Fatal("STOPPING=1 came first")
	}
	for _, p := range []string{a.rw, a.ro, a.admin} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("systemd's socket %s was removed by the daemon: %v", p, err)
		}
	}
}

// TestIdleTimeout: started by systemd-socket-activate with --timeout 1,
// the daemon stays up while a real virsh shell (its first client) is
// connected, across several idle checks that found the client, and exits
// cleanly by itself once virsh quits, telling systemd STOPPING=1.
func TestIdleTimeout(t *testing.T) {
	bin := buildDaemon(t)
	dir, err := os.MkdirTemp("", "govirtd-idle-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	conf := filepath.Join(dir, "govirtd.conf")
	os.WriteFile(conf, []byte(privateConfig(dir)+"log_level = 1\n"), 0o644)
	a := startActivated(t, bin, dir, conf, nil, "--timeout", "1")
	sh := startVirshShell(t, "test+unix:///default?socket="+a.rw)
	sh.run("list --all", " 1    test   running", 1)
	// Three checks that found the client: more than the timeout went by
	// with the daemon up.
	a.waitLog(3, `msg="idle timeout: not idle" why="1 client(s) connected"`)
	sh.run("list --all", " 1    test   running", 2)
	sh.quit()
	if err := a.cmd.Wait(); err != nil {
		t.Fatalf("exit after the idle timeout: %v\n%s", err, a.log)
	}
	if a.count("shutting down: idle for the --timeout") != 1 {
		t.Fatalf("the daemon exited without saying it was idle:\n%s", a.log)
	}
	a.notify.wait(t, "STOPPING=1", 1, func(m string) bool { return hasLine(m, "STOPPING=1") })
}

// virtAdmin runs Debian's real virt-admin on the admin socket sock.
func virtAdmin(t *testing.T, sock string, args ...string) (string, error) {
	t.Helper()
	bin := testutil.RequireBinary(t, "virt-admin", "libvirt-clients")
	out, err := exec.Command(bin, append([]string{"-c", "govirtd:///system?socket=" + sock}, args...)...).CombinedOutput()
	return string(out), err
}

// TestAdminDaemonTimeout: a daemon started without --timeout by its
// first client, real virt-admin's daemon-timeout 1 on the admin socket,
// exits cleanly by itself once idle.
func TestAdminDaemonTimeout(t *testing.T) {
	bin := buildDaemon(t)
	dir, err := os.MkdirTemp("", "govirtd-admto-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	conf := filepath.Join(dir, "govirtd.conf")
	os.WriteFile(conf, []byte(privateConfig(dir)+"log_level = 2\n"), 0o644)
	a := startActivated(t, bin, dir, conf, nil)
	if out, err := virtAdmin(t, a.admin, "daemon-timeout", "--timeout", "1"); err != nil {
		t.Fatalf("virt-admin daemon-timeout: %v\n%s", err, out)
	}
	if err := a.cmd.Wait(); err != nil {
		t.Fatalf("exit after the idle timeout: %v\n%s", err, a.log)
	}
	if a.count("idle timeout set by the admin program") != 1 || a.count("shutting down: idle") != 1 {
		t.Fatalf("the log does not show the timeout set and the idle exit:\n%s", a.log)
	}
}
