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

// TestUnitsVerify runs the real `systemd-analyze verify` on the units,
// with ExecStart's binary put in a temporary directory (verify checks
// that it is executable): it must accept them without a word.
func TestUnitsVerify(t *testing.T) {
	sa := testutil.RequireBinary(t, "systemd-analyze", "systemd")
	dir := t.TempDir()
	bin := filepath.Join(dir, "govirtd")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, u := range units {
		text, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		s := strings.ReplaceAll(string(text), "/usr/local/sbin/govirtd", bin)
		p := filepath.Join(dir, u)
		os.WriteFile(p, []byte(s), 0o644)
		paths = append(paths, p)
	}
	out, err := exec.Command(sa, append([]string{"verify", "--man=no"}, paths...)...).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
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
		"ExecStart": "/usr/local/sbin/govirtd --config /etc/govirtd/govirtd.conf",
	} {
		if got := unitKey(svc, k); got != want {
			t.Errorf("govirtd.service: %s=%s, want %s", k, got, want)
		}
	}
}
