package daemon_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/govirt/govirtd/daemon"
	"github.com/govirt/govirtd/internal/testdaemon"
	"github.com/govirt/govirtd/internal/testutil"
	"github.com/govirt/govirtd/remote"
)

// virtAdmin runs Debian's real virt-admin against the daemon's admin
// socket.
func virtAdmin(t *testing.T, sock string, args ...string) (string, error) {
	t.Helper()
	bin := testutil.RequireBinary(t, "virt-admin", "libvirt-clients")
	out, err := exec.Command(bin, append([]string{"-c", "govirtd:///system?socket=" + sock}, args...)...).CombinedOutput()
	return string(out), err
}

func mustAdmin(t *testing.T, sock string, args ...string) string {
	t.Helper()
	out, err := virtAdmin(t, sock, args...)
	if err != nil {
		t.Fatalf("virt-admin %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// TestVirtAdmin drives the admin program with the real virt-admin, each
// command's effect checked: srv-list names both servers; srv-clients-list
// shows our connected client, client-info its uid and pid;
// srv-clients-set --max-clients 1 refuses the next client and a raise
// lets it in; daemon-log-filters sets and reads back; client-disconnect
// closes our client; the admin socket is root's only.
func TestVirtAdmin(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{})
	sock := d.AdminSocket()
	if sock != filepath.Join(d.Dir, daemon.SockAdmin) {
		t.Fatalf("admin socket %q", sock)
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("admin socket mode: %v, %v", fi.Mode(), err)
	}

	out := mustAdmin(t, sock, "srv-list")
	if !regexp.MustCompile(`(?m)^ 0\s+govirtd$`).MatchString(out) || !regexp.MustCompile(`(?m)^ 1\s+admin$`).MatchString(out) {
		t.Fatalf("srv-list:\n%s", out)
	}
	if out := mustAdmin(t, sock, "srv-threadpool-info", "govirtd"); !strings.Contains(out, "maxWorkers") {
		t.Fatalf("srv-threadpool-info:\n%s", out)
	}

	ctx := context.Background()
	c, err := remote.Dial(ctx, d.URI())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out = mustAdmin(t, sock, "srv-clients-list", "govirtd")
	m := regexp.MustCompile(`(?m)^ (\d+)\s+unix\s+\d{4}-`).FindAllStringSubmatch(out, -1)
	if len(m) != 1 {
		t.Fatalf("srv-clients-list with one client:\n%s", out)
	}
	id := m[0][1]
	out = mustAdmin(t, sock, "client-info", "govirtd", id)
	for _, want := range []string{"readonly       : no", "unix_user_id   : " + fmt.Sprint(os.Getuid()), "unix_process_id: " + fmt.Sprint(os.Getpid())} {
		if !strings.Contains(out, want) {
			t.Fatalf("client-info lacks %q:\n%s", want, out)
		}
	}

	// max_clients at run time.
	mustAdmin(t, sock, "srv-clients-set", "govirtd", "--max-clients", "1")
	if out := mustAdmin(t, sock, "srv-clients-info", "govirtd"); !regexp.MustCompile(`nclients_max\s*: 1\n`).MatchString(out) {
		t.Fatalf("srv-clients-info after the set:\n%s", out)
	}
	if c2, err := remote.Dial(ctx, d.URI()); err == nil {
		_, err = c2.ConnectGetHostname(ctx)
		c2.Close()
		if err == nil {
			t.Fatal("a second client was served over --max-clients 1")
		}
	}
	mustAdmin(t, sock, "srv-clients-set", "govirtd", "--max-clients", "10")
	c3, err := remote.Dial(ctx, d.URI())
	if err != nil {
		t.Fatalf("after raising max clients: %v", err)
	}
	c3.Close()

	// Logging filters.
	if out := mustAdmin(t, sock, "daemon-log-filters"); strings.Contains(out, "qemu") {
		t.Fatalf("filters before any set:\n%s", out)
	}
	// The filters' effect, on a log at warning level: QEMU's debug
	// lines pass once 1:qemu is set; the storage driver's and the
	// daemon's own do not.
	var buf testutil.SyncBuffer
	base := &slog.LevelVar{}
	base.Set(slog.LevelWarn)
	filter := daemon.NewLogFilter(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}), base)
	d.SetLogFilter(filter)
	qemuLog, storageLog, daemonLog := slog.New(filter).With("driver", "QEMU"), slog.New(filter).With("driver", "storage"), slog.New(filter)
	qemuLog.Debug("qemu-before")
	mustAdmin(t, sock, "daemon-log-filters", "1:qemu 3:rpc")
	if out := mustAdmin(t, sock, "daemon-log-filters"); !strings.Contains(out, "Logging filters: 1:qemu 3:rpc") {
		t.Fatalf("filters after the set:\n%s", out)
	}
	qemuLog.Debug("qemu-after")
	storageLog.Debug("storage-after")
	daemonLog.Debug("daemon-after")
	daemonLog.Warn("daemon-warn")
	got := buf.String()
	for want, in := range map[string]bool{"qemu-before": false, "qemu-after": true, "storage-after": false, "daemon-after": false, "daemon-warn": true} {
		if strings.Contains(got, want) != in {
			t.Errorf("with filters 1:qemu 3:rpc, %q in the log: %v, want %v:\n%s", want, !in, in, got)
		}
	}
	if out, err := virtAdmin(t, sock, "daemon-log-filters", "9:qemu"); err == nil || !strings.Contains(out, "level of 1 to 4") {
		t.Fatalf("a bad filter: %v\n%s", err, out)
	}
	if out := mustAdmin(t, sock, "daemon-log-outputs"); !regexp.MustCompile(`Logging outputs: \d:stderr`).MatchString(out) {
		t.Fatalf("daemon-log-outputs:\n%s", out)
	}

	// client-disconnect closes our client.
	if _, err := c.ConnectGetHostname(ctx); err != nil {
		t.Fatal(err)
	}
	if out := mustAdmin(t, sock, "client-disconnect", "govirtd", id); !strings.Contains(out, "Client '"+id+"' disconnected") {
		t.Fatalf("client-disconnect:\n%s", out)
	}
	<-c.Done()
	if out, err := virtAdmin(t, sock, "client-info", "govirtd", id); err == nil || !strings.Contains(out, "no client with matching id") {
		t.Fatalf("client-info of a disconnected client: %v\n%s", err, out)
	}

	// Not root: the socket refuses.
	setpriv := testutil.RequireBinary(t, "setpriv", "util-linux")
	va := testutil.RequireBinary(t, "virt-admin", "libvirt-clients")
	nobody, err := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", va,
		"-c", "govirtd:///system?socket="+sock, "srv-list").CombinedOutput()
	if err == nil {
		t.Fatalf("virt-admin as nobody was served:\n%s", nobody)
	}
}

// servedSerial is the serial of the certificate a new TLS handshake
// with addr is shown.
func servedSerial(t *testing.T, addr string) string {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

func copyTo(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestVirtAdminUpdateTLS: real virt-admin server-update-tls makes the
// renewed server certificate (same file names) the one new handshakes
// see; without a TLS listener it is refused saying so.
func TestVirtAdminUpdateTLS(t *testing.T) {
	plain := testdaemon.Start(t, testdaemon.Options{})
	if out, err := virtAdmin(t, plain.AdminSocket(), "server-update-tls", "govirtd"); err == nil || !strings.Contains(out, "TLS listener is not running") {
		t.Fatalf("server-update-tls without TLS: %v\n%s", err, out)
	}

	ca := testdaemon.NewPKI(t, "admintls")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "servercert.pem"), filepath.Join(dir, "serverkey.pem")
	cert, key := ca.Issue("server", testdaemon.CertOptions{Subject: "/O=govirt/CN=localhost", Server: true})
	copyTo(t, cert, certFile)
	copyTo(t, key, keyFile)
	d := testdaemon.Start(t, testdaemon.Options{TLS: &daemon.TLSSettings{KeyFile: keyFile, CertFile: certFile, CAFile: ca.CACert()}})
	before := servedSerial(t, d.TLSAddr())

	// A TLS client as the admin program shows it.
	aliceCert, aliceKey := ca.Issue("alice", testdaemon.CertOptions{Subject: "/O=govirt/CN=alice"})
	alice, err := remote.Dial(context.Background(), d.TLSURI(testdaemon.ClientDir(t, ca.CACert(), aliceCert, aliceKey)))
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	out := mustAdmin(t, d.AdminSocket(), "srv-clients-list", "govirtd")
	m := regexp.MustCompile(`(?m)^ (\d+)\s+tls\s+\d{4}-`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("srv-clients-list with a TLS client:\n%s", out)
	}
	out = mustAdmin(t, d.AdminSocket(), "client-info", "govirtd", m[1])
	if !strings.Contains(out, "tls_x509_dname : CN=alice,O=govirt") || !strings.Contains(out, "sock_addr      : 127.0.0.1:") {
		t.Fatalf("client-info of the TLS client:\n%s", out)
	}

	renewed, renewedKey := ca.Issue("server2", testdaemon.CertOptions{Subject: "/O=govirt/CN=localhost", Server: true})
	copyTo(t, renewed, certFile)
	copyTo(t, renewedKey, keyFile)
	if got := servedSerial(t, d.TLSAddr()); got != before {
		t.Fatalf("the certificate changed before server-update-tls: %s, was %s", got, before)
	}
	mustAdmin(t, d.AdminSocket(), "server-update-tls", "govirtd")
	if got := servedSerial(t, d.TLSAddr()); got == before {
		t.Fatalf("after server-update-tls the old certificate (serial %s) is still served", got)
	}
}

// TestAdminConfigKeys: log_filters and admin_max_clients from the file
// are what real virt-admin reads, a SIGHUP's new values replace them,
// and a bad log_filters rejects the file naming the item.
func TestAdminConfigKeys(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{Config: "log_filters = \"1:qemu\"\nadmin_max_clients = 7\n"})
	var buf testutil.SyncBuffer
	d.SetLogFilter(daemon.NewLogFilter(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}), slog.LevelWarn))
	sock := d.AdminSocket()
	if out := mustAdmin(t, sock, "daemon-log-filters"); !strings.Contains(out, "Logging filters: 1:qemu\n") {
		t.Fatalf("filters from the file:\n%s", out)
	}
	if out := mustAdmin(t, sock, "srv-clients-info", "admin"); !regexp.MustCompile(`nclients_max\s*: 7\n`).MatchString(out) {
		t.Fatalf("admin_max_clients from the file:\n%s", out)
	}
	d.WriteConfig("log_filters = \"3:storage\"\nadmin_max_clients = 2\n")
	if err := d.ReloadConfig(); err != nil {
		t.Fatal(err)
	}
	if out := mustAdmin(t, sock, "daemon-log-filters"); !strings.Contains(out, "Logging filters: 3:storage\n") {
		t.Fatalf("filters after the reload:\n%s", out)
	}
	if out := mustAdmin(t, sock, "srv-clients-info", "admin"); !regexp.MustCompile(`nclients_max\s*: 2\n`).MatchString(out) {
		t.Fatalf("admin_max_clients after the reload:\n%s", out)
	}
	d.WriteConfig("log_filters = \"1:qemu 7:storage\"\n")
	if err := d.ReloadConfig(); err == nil || !strings.Contains(err.Error(), "log_filters: logging filter '7:storage'") {
		t.Fatalf("a bad log_filters: %v", err)
	}
}
