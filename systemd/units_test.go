package systemd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/govirt/govirtd/internal/testutil"
)

// units are the unit files of this directory, which `make install` puts
// in the system's unit directory.
var units = []string{"govirtd.service", "govirtd.socket", "govirtd-ro.socket", "govirtd-admin.socket", "govirtd-tls.socket"}

// unitKey is the value of key in a unit file's text ("" when absent).
func unitKey(text, key string) string {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, key+"="); ok {
			return v
		}
	}
	return ""
}

// verify runs the real `systemd-analyze verify` on the unit files in
// dir, with ExecStart's binary replaced by bin (verify checks that it is
// executable): it must accept them without a word.
func verify(t *testing.T, dir, execStart, bin string) {
	t.Helper()
	sa := testutil.RequireBinary(t, "systemd-analyze", "systemd")
	out := t.TempDir()
	var paths []string
	for _, u := range units {
		text, err := os.ReadFile(filepath.Join(dir, u))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(out, u)
		os.WriteFile(p, []byte(strings.ReplaceAll(string(text), execStart, bin)), 0o644)
		paths = append(paths, p)
	}
	msg, err := exec.Command(sa, append([]string{"verify", "--man=no"}, paths...)...).CombinedOutput()
	if err != nil || len(msg) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, msg)
	}
}

// TestMakeInstall runs the real `make install` into a temporary DESTDIR:
// the binaries, units and default configuration land where the units
// expect them, the installed daemon runs, systemd-analyze verify accepts
// the installed units, and a second install keeps an edited
// configuration. With PREFIX=/usr the units name /usr/sbin/govirtd.
func TestMakeInstall(t *testing.T) {
	mk := testutil.RequireBinary(t, "make", "make")
	dest := t.TempDir()
	install := func(extra ...string) {
		t.Helper()
		args := append([]string{"-C", "..", "install", "DESTDIR=" + dest, "BIN=" + filepath.Join(dest, "build")}, extra...)
		if out, err := exec.Command(mk, args...).CombinedOutput(); err != nil {
			t.Fatalf("make install: %v\n%s", err, out)
		}
	}
	install()
	for path, mode := range map[string]os.FileMode{
		"usr/local/sbin/govirtd":                            0o755,
		"usr/local/bin/govirsh":                             0o755,
		"etc/govirtd/govirtd.conf":                          0o644,
		"usr/local/lib/systemd/system/govirtd.service":      0o644,
		"usr/local/lib/systemd/system/govirtd.socket":       0o644,
		"usr/local/lib/systemd/system/govirtd-ro.socket":    0o644,
		"usr/local/lib/systemd/system/govirtd-admin.socket": 0o644,
		"usr/local/lib/systemd/system/govirtd-tls.socket":   0o644,
	} {
		fi, err := os.Stat(filepath.Join(dest, path))
		if err != nil {
			t.Errorf("not installed: %v", err)
		} else if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %04o, want %04o", path, fi.Mode().Perm(), mode)
		}
	}
	unitDir := filepath.Join(dest, "usr/local/lib/systemd/system")
	for _, u := range units {
		got, _ := os.ReadFile(filepath.Join(unitDir, u))
		want, _ := os.ReadFile(u)
		if string(got) != string(want) {
			t.Errorf("installed %s differs from systemd/%s with the default paths", u, u)
		}
	}
	conf, _ := os.ReadFile(filepath.Join(dest, "etc/govirtd/govirtd.conf"))
	if def, _ := os.ReadFile("../daemon/govirtd.conf"); string(conf) != string(def) {
		t.Error("the installed govirtd.conf is not the default daemon/govirtd.conf")
	}
	sbin := filepath.Join(dest, "usr/local/sbin/govirtd")
	if out, err := exec.Command(sbin, "--help").CombinedOutput(); err != nil || !strings.Contains(string(out), "--timeout") {
		t.Fatalf("installed govirtd --help: %v\n%s", err, out)
	}
	verify(t, unitDir, "/usr/local/sbin/govirtd", sbin)

	// An edited configuration survives a second install.
	edited := filepath.Join(dest, "etc/govirtd/govirtd.conf")
	os.WriteFile(edited, []byte("log_level = 1\n"), 0o644)
	install()
	if b, _ := os.ReadFile(edited); string(b) != "log_level = 1\n" {
		t.Fatal("make install overwrote an existing govirtd.conf")
	}

	install("PREFIX=/usr")
	svc, _ := os.ReadFile(filepath.Join(dest, "usr/lib/systemd/system/govirtd.service"))
	if got := unitKey(string(svc), "ExecStart"); got != "/usr/sbin/govirtd --config /etc/govirtd/govirtd.conf $GOVIRTD_ARGS" {
		t.Fatalf("with PREFIX=/usr: ExecStart=%s", got)
	}
	if _, err := os.Stat(filepath.Join(dest, "usr/sbin/govirtd")); err != nil {
		t.Fatal(err)
	}
}

// TestUnitsVerify: systemd-analyze verify accepts the units as they are
// in the repository.
func TestUnitsVerify(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "govirtd")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	verify(t, ".", "/usr/local/sbin/govirtd", bin)
}

// TestUnitsMatchDaemon: each socket unit listens where the daemon would
// (unix_sock_dir's default as root, libvirt's TLS port) and is passed to
// govirtd.service, whose name the daemon knows it by; the service is a
// notify service whose reload is SIGHUP and whose stop leaves guests.
func TestUnitsMatchDaemon(t *testing.T) {
	read := func(u string) string {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, c := range []struct{ unit, listen, mode string }{
		{SocketRW, "/run/govirtd/govirtd-sock", "0600"},
		{SocketRO, "/run/govirtd/govirtd-sock-ro", "0666"},
		{SocketAdmin, "/run/govirtd/govirtd-admin-sock", "0600"},
		{SocketTLS, "16514", ""},
	} {
		text := read(c.unit)
		if got := unitKey(text, "ListenStream"); got != c.listen {
			t.Errorf("%s: ListenStream=%s, want %s", c.unit, got, c.listen)
		}
		if got := unitKey(text, "SocketMode"); got != c.mode {
			t.Errorf("%s: SocketMode=%s, want %s", c.unit, got, c.mode)
		}
		if got := unitKey(text, "Service"); got != "govirtd.service" {
			t.Errorf("%s: Service=%s", c.unit, got)
		}
		if got := unitKey(text, "FileDescriptorName"); got != "" {
			t.Errorf("%s: FileDescriptorName=%s: the daemon knows the socket by its unit's name", c.unit, got)
		}
	}
	svc := read("govirtd.service")
	for k, want := range map[string]string{
		"Type": "notify", "KillMode": "process", "ExecReload": "/bin/kill -HUP $MAINPID",
		"ExecStart":   "/usr/local/sbin/govirtd --config /etc/govirtd/govirtd.conf $GOVIRTD_ARGS",
		"Environment": `GOVIRTD_ARGS="--timeout 120"`,
	} {
		if got := unitKey(svc, k); got != want {
			t.Errorf("govirtd.service: %s=%s, want %s", k, got, want)
		}
	}
}
