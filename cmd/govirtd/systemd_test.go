package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/govirt/govirtd/internal/testutil"
)

// notifyListener is where systemd would listen for sd_notify datagrams.
type notifyListener struct {
	t    *testing.T
	conn *net.UnixConn
	msgs chan string
}

func listenNotify(t *testing.T, path string) *notifyListener {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	n := &notifyListener{t: t, conn: conn, msgs: make(chan string, 256)}
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				close(n.msgs)
				return
			}
			n.msgs <- string(buf[:k])
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return n
}

// next waits for the next message that is not a WATCHDOG=1 ping
// (counting those in *pings).
func (n *notifyListener) next(pings *int) string {
	n.t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case m, ok := <-n.msgs:
			if !ok {
				n.t.Fatal("notify socket closed")
			}
			if m == "WATCHDOG=1" {
				*pings++
				continue
			}
			return m
		case <-timeout:
			n.t.Fatal("no sd_notify message within 30s")
		}
	}
}

// TestSocketActivation: started by the real systemd-socket-activate with
// the read-write and read-only sockets, the daemon serves real virsh on
// the inherited sockets (making none of its own), and tells systemd
// READY=1, WATCHDOG=1 at half of WATCHDOG_USEC, RELOADING=1 with
// MONOTONIC_USEC then READY=1 around a SIGHUP, STOPPING=1 on SIGTERM;
// it exits 0 leaving systemd's socket files in place.
func TestSocketActivation(t *testing.T) {
	for _, b := range []string{"systemd-socket-activate", "virsh"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Fatalf("%s is not installed: `make deps` installs it (Debian packages systemd, libvirt-clients)", b)
		}
	}
	bin := buildDaemon(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "govirtd.conf")
	own := filepath.Join(dir, "own")
	os.WriteFile(conf, []byte(strings.Replace(privateConfig(dir), `unix_sock_dir = "`+dir+`"`, `unix_sock_dir = "`+own+`"`, 1)), 0o644)
	act := filepath.Join(dir, "systemd")
	os.Mkdir(act, 0o755)
	rw, ro := filepath.Join(act, "govirtd-sock"), filepath.Join(act, "govirtd-sock-ro")
	n := listenNotify(t, filepath.Join(dir, "notify"))

	cmd := exec.Command("systemd-socket-activate", "-l", rw, "-l", ro, "--fdname=govirtd-sock:govirtd-sock-ro",
		"-E", "NOTIFY_SOCKET="+filepath.Join(dir, "notify"), "-E", "WATCHDOG_USEC=200000", bin, "-f", conf)
	out := &testutil.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	defer func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
	}()
	// systemd-socket-activate listens, and execs the daemon (same pid)
	// at the first connection.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(ro); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("systemd-socket-activate does not listen:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	virsh := func(sock string, args ...string) string {
		t.Helper()
		c := exec.Command("virsh", append([]string{"-c", "test+unix:///default?socket=" + sock}, args...)...)
		b, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("virsh %v on %s: %v\n%s\ndaemon:\n%s", args, sock, err, b, out.String())
		}
		return string(b)
	}
	if got := virsh(rw, "list"); !strings.Contains(got, "test") {
		t.Errorf("virsh list on the inherited read-write socket:\n%s", got)
	}
	pings := 0
	if m := n.next(&pings); m != "READY=1\nSTATUS=serving" {
		t.Fatalf("first notification %q, want READY=1", m)
	}
	if got := virsh(ro, "-r", "list"); !strings.Contains(got, "test") {
		t.Errorf("virsh -r list on the inherited read-only socket:\n%s", got)
	}
	if _, err := os.Stat(own); err == nil {
		t.Errorf("the daemon made unix_sock_dir %s although systemd passed its sockets", own)
	}
	// Pings at half of 200 ms: a few arrive while we wait for them.
	for pings < 2 {
		select {
		case m := <-n.msgs:
			if m != "WATCHDOG=1" {
				t.Fatalf("unexpected notification %q while waiting for WATCHDOG=1", m)
			}
			pings++
		case <-time.After(30 * time.Second):
			t.Fatal("no WATCHDOG=1 pings")
		}
	}

	cmd.Process.Signal(syscall.SIGHUP)
	m := n.next(&pings)
	if !strings.HasPrefix(m, "RELOADING=1\nMONOTONIC_USEC=") || !strings.HasSuffix(m, "\nSTATUS=reloading") {
		t.Errorf("on SIGHUP: %q, want RELOADING=1 with MONOTONIC_USEC", m)
	}
	if m := n.next(&pings); !strings.HasPrefix(m, "READY=1\n") {
		t.Errorf("after the reload: %q, want READY=1", m)
	}
	virsh(rw, "list")

	cmd.Process.Signal(syscall.SIGTERM)
	if m := n.next(&pings); m != "STOPPING=1\nSTATUS=stopping" {
		t.Errorf("on SIGTERM: %q, want STOPPING=1", m)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("the daemon exited with %v:\n%s", waitErr, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the daemon does not exit on SIGTERM")
	}
	for _, p := range []string{rw, ro} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("the daemon removed systemd's socket %s: %v", p, err)
		}
	}
}

// TestSocketActivationWrongName: a socket passed under a name that is
// not one of govirtd's stops the start with an error naming it.
func TestSocketActivationWrongName(t *testing.T) {
	if _, err := exec.LookPath("systemd-socket-activate"); err != nil {
		t.Fatal("systemd-socket-activate is not installed: `make deps` installs it (Debian package systemd)")
	}
	bin := buildDaemon(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "govirtd.conf")
	os.WriteFile(conf, []byte(privateConfig(dir)), 0o644)
	sock := filepath.Join(dir, "x.sock")
	cmd := exec.Command("systemd-socket-activate", "-l", sock, "--fdname=something-else", bin, "-f", conf)
	out := &testutil.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("systemd-socket-activate does not listen:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(out.String(), `named "something-else"`) || !strings.Contains(out.String(), "FileDescriptorName") {
			t.Errorf("exit %v, output:\n%s\nwant a failure naming the socket and FileDescriptorName=", err, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the daemon started on a socket it does not know")
	}
}

// TestUnitsVerify: systemd-analyze verify accepts the service and socket
// units (their ExecStart pointed at the binary just built, which verify
// wants to exist).
func TestUnitsVerify(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Fatal("systemd-analyze is not installed: `make deps` installs it (Debian package systemd)")
	}
	bin := buildDaemon(t)
	dir := t.TempDir()
	var units []string
	for _, u := range []string{"govirtd.service", "govirtd.socket", "govirtd-ro.socket", "govirtd-admin.socket", "govirtd-tls.socket"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "systemd", u))
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(data), "/usr/local/bin/govirtd", bin)
		p := filepath.Join(dir, u)
		os.WriteFile(p, []byte(text), 0o644)
		units = append(units, p)
	}
	c := exec.Command("systemd-analyze", append([]string{"verify", "--man=no"}, units...)...)
	b, err := c.CombinedOutput()
	if err != nil || strings.Contains(string(b), dir) {
		t.Errorf("systemd-analyze verify: %v\n%s", err, b)
	}
}
