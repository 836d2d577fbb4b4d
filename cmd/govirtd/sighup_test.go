package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/govirt/govirtd/internal/testdaemon"
	"github.com/govirt/govirtd/internal/testutil"
	"github.com/govirt/govirtd/remote"
)

// logBuf collects a daemon's stderr as it writes it.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// running is a govirtd binary the test started; only its pid is ever
// signalled.
type running struct {
	t    *testing.T
	cmd  *exec.Cmd
	log  *logBuf
	conf string
	rw   string
}

// startBinary runs bin --config conf and waits until it listens.
func startBinary(t *testing.T, bin, dir, conf string) *running {
	t.Helper()
	r := &running{t: t, cmd: exec.Command(bin, "--config", conf), log: &logBuf{}, conf: conf, rw: filepath.Join(dir, "govirtd-sock")}
	stdout, _ := r.cmd.StdoutPipe()
	r.cmd.Stderr = r.log
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.cmd.Process.Signal(syscall.SIGTERM)
		if err := r.cmd.Wait(); err != nil {
			t.Errorf("govirtd exit after SIGTERM: %v\n%s", err, r.log)
		}
	})
	if _, err := bufio.NewReader(stdout).ReadString('\n'); err != nil {
		t.Fatalf("govirtd printed nothing: %v\n%s", err, r.log)
	}
	go io.Copy(io.Discard, stdout)
	return r
}

// hangup writes conf's new text, sends SIGHUP and waits for the n-th
// reload's outcome line (at log_level 2 or less).
func (r *running) hangup(text string, n int) {
	r.t.Helper()
	r.rewrite(text)
	r.hup()
	// Either a successful or a failed reload ends with this line.
	r.waitLog(n, "reload complete", "configuration file rejected")
}

func (r *running) rewrite(text string) {
	r.t.Helper()
	if err := os.WriteFile(r.conf, []byte(text), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *running) hup() {
	r.t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		r.t.Fatal(err)
	}
}

// waitLog waits until the log has n lines holding any of subs.
func (r *running) waitLog(n int, subs ...string) {
	r.t.Helper()
	testutil.WaitFor(r.t, fmt.Sprintf("%d log lines with %q", n, subs), func() bool { return r.count(subs...) >= n })
}

func (r *running) count(subs ...string) int {
	n := 0
	for _, line := range strings.Split(r.log.String(), "\n") {
		for _, s := range subs {
			if strings.Contains(line, s) {
				n++
				break
			}
		}
	}
	return n
}

// virsh runs real virsh against uri.
func virsh(t *testing.T, uri string, args ...string) (string, error) {
	t.Helper()
	path, err := exec.LookPath("virsh")
	if err != nil {
		t.Fatal("virsh not found: `make deps` installs it (Debian package libvirt-clients)")
	}
	out, err := exec.Command(path, append([]string{"-c", uri}, args...)...).CombinedOutput()
	return string(out), err
}

func mustList(t *testing.T, uri, when string) {
	t.Helper()
	out, err := virsh(t, uri, "list", "--all")
	if err != nil || !strings.Contains(out, " 1    test   running") {
		t.Fatalf("%s: virsh list: %v\n%s", when, err, out)
	}
}

// TestSIGHUPConfig runs the real binary and sends it real SIGHUPs: a file
// with a bad value is rejected, the log naming the file, line and key,
// and virsh is served on the old configuration; a valid file with an
// unknown key (a warning) applies max_client_requests and log_level and
// names, in one line, the changed keys that need a restart.
func TestSIGHUPConfig(t *testing.T) {
	bin := buildDaemon(t)
	dir, err := os.MkdirTemp("", "govirtd-hup-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	conf := filepath.Join(dir, "govirtd.conf")
	base := privateConfig(dir)
	n := strings.Count(base, "\n")
	os.WriteFile(conf, []byte(base+"log_level = 2\nmax_client_requests = 5\n"), 0o644)
	r := startBinary(t, bin, dir, conf)
	uri := "test+unix:///default?socket=" + r.rw
	mustList(t, uri, "at start")

	// 1: a bad value.
	r.hangup(base+"log_level = 2\nno_such_key = 1\nmax_clients = \"lots\"\n", 1)
	if want := fmt.Sprintf("%s:%d: max_clients: must be an integer, not a string", conf, n+3); r.count("configuration file rejected", want) != 1 || r.count(want) != 1 {
		t.Fatalf("the log does not reject the file naming %q:\n%s", want, r.log)
	}
	mustList(t, uri, "after a rejected SIGHUP")

	// 4: keys that need a restart, beside ones that apply.
	moved := strings.Replace(base, filepath.Join(dir, "qemu-config"), filepath.Join(dir, "qemu-config2"), 1)
	next := moved + "log_level = 2\nno_such_key = 1\nkeepalive_interval = 10\nlisten_tls = 1\nmax_client_requests = 7\n"
	r.hangup(next, 2)
	restart := `keys="keepalive_interval, listen_tls, qemu_config_dir"`
	if r.count("applied only by a restart", restart) != 1 || r.count(restart) != 1 {
		t.Fatalf("no single line naming the keys that need a restart (%s):\n%s", restart, r.log)
	}
	if r.count(`applied=max_client_requests`) != 1 {
		t.Fatalf("the reload does not say max_client_requests applied:\n%s", r.log)
	}
	if r.count(fmt.Sprintf("%s:%d: unknown setting no_such_key; ignored", conf, n+2)) != 1 {
		t.Fatalf("no warning about the unknown key:\n%s", r.log)
	}
	mustList(t, uri, "after a SIGHUP that changed keys needing a restart")

	// log_level = 3 applies: the next reload's info lines are gone, its
	// warning (the keys still needing a restart) is there.
	r.rewrite(strings.Replace(next, "log_level = 2", "log_level = 3", 1))
	r.hup()
	r.waitLog(2, "applied only by a restart")
	before := r.count("SIGHUP: reloading")
	r.hup()
	r.waitLog(3, "applied only by a restart")
	if after := r.count("SIGHUP: reloading"); after != before {
		t.Fatalf("with log_level = 3 the reload still logs at info level:\n%s", r.log)
	}
	mustList(t, uri, "at the end")
}

// virshShell is an interactive virsh reading commands from a pipe: one
// connection for its whole life.
type virshShell struct {
	t   *testing.T
	in  io.WriteCloser
	out *logBuf
}

func startVirshShell(t *testing.T, uri string) *virshShell {
	t.Helper()
	path, err := exec.LookPath("virsh")
	if err != nil {
		t.Fatal("virsh not found: `make deps` installs it (Debian package libvirt-clients)")
	}
	cmd := exec.Command(path, "-c", uri)
	sh := &virshShell{t: t, out: &logBuf{}}
	cmd.Stdout, cmd.Stderr = sh.out, sh.out
	if sh.in, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sh.in.Write([]byte("quit\n"))
		sh.in.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("virsh shell: %v\n%s", err, sh.out)
		}
	})
	return sh
}

// quit ends the shell's session: its connection closes.
func (sh *virshShell) quit() {
	sh.in.Write([]byte("quit\n"))
	sh.in.Close()
}

// run types a command and waits for the n-th occurrence of want.
func (sh *virshShell) run(command, want string, n int) {
	sh.t.Helper()
	if _, err := sh.in.Write([]byte(command + "\n")); err != nil {
		sh.t.Fatal(err)
	}
	testutil.WaitFor(sh.t, fmt.Sprintf("virsh shell to print %q %d times", want, n), func() bool {
		return strings.Count(sh.out.String(), want) >= n
	})
	if strings.Contains(sh.out.String(), "error") {
		sh.t.Fatalf("virsh shell:\n%s", sh.out)
	}
}

// serial reads a certificate file's serial number.
func serial(t *testing.T, file string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c.SerialNumber.String()
}

// servedSerial is the serial of the certificate the daemon's TLS
// listener presents to a new handshake.
func servedSerial(t *testing.T, addr string) string {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestSIGHUPTLS: renewed server certificates and a changed
// tls_allowed_dn_list apply after a real SIGHUP to new TLS clients (real
// virsh over test+tls://), while a TLS client connected before keeps
// working; TLS files that do not load reject the reload, naming the key
// and line, and the previous material serves on.
func TestSIGHUPTLS(t *testing.T) {
	bin := buildDaemon(t)
	dir, err := os.MkdirTemp("", "govirtd-huptls-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	pki := testdaemon.NewPKI(t, "sighup")
	srvCert, srvKey := pki.Issue("server", testdaemon.CertOptions{Subject: "/O=govirt/CN=localhost", Server: true})
	aliceCert, aliceKey := pki.Issue("alice", testdaemon.CertOptions{Subject: "/O=govirt/CN=alice"})
	bobCert, bobKey := pki.Issue("bob", testdaemon.CertOptions{Subject: "/O=govirt/CN=bob"})
	alice := testdaemon.ClientDir(t, pki.CACert(), aliceCert, aliceKey)
	bob := testdaemon.ClientDir(t, pki.CACert(), bobCert, bobKey)
	certFile, keyFile := filepath.Join(dir, "servercert.pem"), filepath.Join(dir, "serverkey.pem")
	copyFile(t, srvCert, certFile)
	copyFile(t, srvKey, keyFile)

	conf := filepath.Join(dir, "govirtd.conf")
	tlsConf := func(dn, cert string) string {
		return privateConfig(dir) + fmt.Sprintf("log_level = 2\nlisten_tls = 1\nlisten_addr = \"127.0.0.1\"\ntls_port = \"0\"\n"+
			"key_file = %q\ncert_file = %q\nca_file = %q\ntls_allowed_dn_list = [%q]\n", keyFile, cert, pki.CACert(), dn)
	}
	os.WriteFile(conf, []byte(tlsConf("CN=alice,O=govirt", certFile)), 0o644)
	r := startBinary(t, bin, dir, conf)
	r.waitLog(1, "msg=listening tls=")
	m := regexp.MustCompile(`msg=listening tls=(127\.0\.0\.1:\d+)`).FindStringSubmatch(r.log.String())
	if m == nil {
		t.Fatalf("no TLS address in the log:\n%s", r.log)
	}
	addr := m[1]
	uri := func(pkipath string) string { return "test+tls://" + addr + "/default?pkipath=" + pkipath }

	mustList(t, uri(alice), "alice before the reload")
	if out, err := virsh(t, uri(bob), "list"); err == nil {
		t.Fatalf("bob, outside tls_allowed_dn_list, was let in:\n%s", out)
	}
	if got, want := servedSerial(t, addr), serial(t, srvCert); got != want {
		t.Fatalf("served certificate serial %s, want %s", got, want)
	}
	// Clients that stay connected across the reload: an interactive
	// virsh (which would reconnect if dropped, and alice may not after
	// the reload) and our own client.
	sh := startVirshShell(t, uri(alice))
	sh.run("list --all", " 1    test   running", 1)
	ctx := context.Background()
	kept, err := remote.Dial(ctx, uri(alice))
	if err != nil {
		t.Fatal(err)
	}
	defer kept.Close()
	if _, err := kept.ConnectGetHostname(ctx); err != nil {
		t.Fatal(err)
	}

	aliceIn := r.count(`identity="x509 CN=alice,O=govirt"`)

	// Renewed certificate, same files; bob allowed instead of alice.
	newCert, newKey := pki.Issue("server2", testdaemon.CertOptions{Subject: "/O=govirt/CN=localhost", Server: true})
	copyFile(t, newCert, certFile)
	copyFile(t, newKey, keyFile)
	r.hangup(tlsConf("CN=bob,O=govirt", certFile), 1)
	if r.count("TLS material re-read") != 1 || r.count("applied=tls_allowed_dn_list") != 1 {
		t.Fatalf("the reload does not say the TLS material was re-read and the allowed DNs applied:\n%s", r.log)
	}
	if got, want := servedSerial(t, addr), serial(t, newCert); got != want {
		t.Fatalf("after SIGHUP the served certificate serial is %s, want the renewed %s", got, want)
	}
	mustList(t, uri(bob), "bob after the reload")
	if out, err := virsh(t, uri(alice), "list"); err == nil {
		t.Fatalf("alice, no longer in tls_allowed_dn_list, was let in:\n%s", out)
	}
	if _, err := kept.ConnectGetHostname(ctx); err != nil {
		t.Fatalf("the TLS client connected before the reload: %v", err)
	}
	sh.run("list --all", " 1    test   running", 2)
	if n := r.count(`identity="x509 CN=alice,O=govirt"`); n != aliceIn {
		t.Fatalf("alice connected %d times, %d before the reload: a client reconnected:\n%s", n, aliceIn, r.log)
	}

	// A cert_file that does not exist: the reload is rejected, the line
	// and key named, and the renewed material serves on.
	missing := filepath.Join(dir, "nosuch.pem")
	r.hangup(tlsConf("CN=alice,O=govirt", missing), 2)
	if want := fmt.Sprintf("%s:%d: cert_file %s", conf, strings.Count(privateConfig(dir), "\n")+6, missing); r.count("configuration file rejected", want) != 1 || r.count(want) != 1 {
		t.Fatalf("the log does not reject the file naming %q:\n%s", want, r.log)
	}
	mustList(t, uri(bob), "bob after a rejected reload")
	if _, err := kept.ConnectGetHostname(ctx); err != nil {
		t.Fatalf("the TLS client connected before the reloads: %v", err)
	}
}
