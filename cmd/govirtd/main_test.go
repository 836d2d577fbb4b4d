package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildDaemon builds the govirtd binary into a temporary directory.
func buildDaemon(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "govirtd")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// privateConfig keeps every path of a daemon under dir, so a test never
// touches the host's /run/govirtd, /etc/govirtd or /var/log/govirtd.
func privateConfig(dir string) string {
	var b strings.Builder
	for _, kv := range [][2]string{
		{"unix_sock_dir", dir},
		{"qemu_config_dir", filepath.Join(dir, "qemu-config")},
		{"qemu_state_dir", filepath.Join(dir, "qemu-state")},
		{"qemu_log_dir", filepath.Join(dir, "qemu-log")},
		{"storage_config_dir", filepath.Join(dir, "storage-config")},
		{"storage_state_dir", filepath.Join(dir, "storage-state")},
		{"network_config_dir", filepath.Join(dir, "network-config")},
		{"network_state_dir", filepath.Join(dir, "network-state")},
	} {
		fmt.Fprintf(&b, "%s = %q\n", kv[0], kv[1])
	}
	b.WriteString("network_define_default = 0\n") // no NAT bridge on the host's network
	return b.String()
}

// TestDaemonBinary runs the real binary: it says where it listens, serves
// real virsh, and on SIGTERM exits 0 and removes its sockets.
func TestDaemonBinary(t *testing.T) {
	virsh, err := exec.LookPath("virsh")
	if err != nil {
		t.Fatal("virsh not found: `make deps` installs it (Debian package libvirt-clients)")
	}
	bin := buildDaemon(t)
	dir, err := os.MkdirTemp("", "govirtd-bin-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	conf := filepath.Join(dir, "govirtd.conf")
	os.WriteFile(conf, []byte(privateConfig(dir)+"no_such_key = 1\n"), 0o644)

	cmd := exec.Command(bin, "--config", conf)
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("no output: %v\n%s", err, stderr.String())
	}
	rw := filepath.Join(dir, "govirtd-sock")
	if want := "govirtd: listening on " + rw + " (read-write) and " + rw + "-ro (read-only)\n"; line != want {
		t.Fatalf("printed %q, want %q", line, want)
	}
	out, err := exec.Command(virsh, "-c", "test+unix:///default?socket="+rw, "list", "--all").CombinedOutput()
	if err != nil || !strings.Contains(string(out), " 1    test   running") {
		t.Fatalf("virsh list: %v\n%s", err, out)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("govirtd did not exit after SIGTERM")
	}
	if !strings.Contains(stderr.String(), "unknown setting no_such_key; ignored") {
		t.Fatalf("no warning about the unknown key:\n%s", stderr.String())
	}
	if _, err := os.Stat(rw); !os.IsNotExist(err) {
		t.Fatalf("socket %s left behind: %v", rw, err)
	}
}

// TestDaemonBinaryBadConfig: a bad value stops the daemon with the file,
// line and key named.
func TestDaemonBinaryBadConfig(t *testing.T) {
	bin := buildDaemon(t)
	conf := filepath.Join(t.TempDir(), "bad.conf")
	os.WriteFile(conf, []byte("max_clients = \"lots\"\n"), 0o644)
	out, err := exec.Command(bin, "--config", conf).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v\n%s", err, out)
	}
	want := "govirtd: " + conf + ":1: max_clients: must be an integer, not a string\n"
	if string(out) != want {
		t.Fatalf("printed %q, want %q", out, want)
	}
}

// TestSignalRightAfterStart: a SIGTERM sent the moment the daemon says it
// listens stops it cleanly (it once killed it half-started, leaving its
// sockets behind and its drivers not shut down).
func TestSignalRightAfterStart(t *testing.T) {
	bin := buildDaemon(t)
	dir, err := os.MkdirTemp("", "govirtd-sig-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	conf := filepath.Join(dir, "govirtd.conf")
	os.WriteFile(conf, []byte(privateConfig(dir)), 0o644)
	for i := range 10 {
		cmd := exec.Command(bin, "--config", conf)
		stdout, _ := cmd.StdoutPipe()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		bufio.NewReader(stdout).ReadString('\n')
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("run %d: exit after SIGTERM: %v\n%s", i, err, stderr.String())
		}
		if _, err := os.Stat(filepath.Join(dir, "govirtd-sock")); !os.IsNotExist(err) {
			t.Fatalf("run %d: socket left behind: %v", i, err)
		}
	}
}
