package remote_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/govirt/govirtd/remote"
	"github.com/govirt/govirtd/vir"
)

// TestKeepaliveTimeout: a client that asked for keepalive learns that a
// daemon which stopped answering (here: the real govirtd, SIGSTOPped) is
// gone, and its subscribers learn why.
func TestKeepaliveTimeout(t *testing.T) {
	dir, err := os.MkdirTemp("", "govirtd-ka-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "govirtd")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/govirtd").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	conf := filepath.Join(dir, "govirtd.conf")
	// Every path under dir: the test must not touch the host's.
	os.WriteFile(conf, []byte(`unix_sock_dir = "`+dir+`"
qemu_config_dir = "`+dir+`/qemu-config"
qemu_state_dir = "`+dir+`/qemu-state"
qemu_log_dir = "`+dir+`/qemu-log"
`), 0o644)
	cmd := exec.Command(bin, "--config", conf)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGCONT)
		cmd.Process.Kill()
		cmd.Wait()
	}()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || !strings.Contains(line, "listening") {
		t.Fatalf("daemon did not start: %q %v", line, err)
	}

	ctx := context.Background()
	c, err := remote.DialOptions(ctx, "test+unix:///default?socket="+filepath.Join(dir, "govirtd-sock"),
		remote.Options{KeepaliveInterval: 200 * time.Millisecond, KeepaliveCount: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ConnectDomainEventRegisterAny(ctx, nil, vir.DomainEventIDLifecycle, nil); err != nil {
		t.Fatal(err)
	}
	// Alive and answering: pings come and go while we wait a little.
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := c.EventWait(short, remote.AllEvents, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("EventWait on a live daemon: %v", err)
	}

	cmd.Process.Signal(syscall.SIGSTOP)
	long, cancel2 := context.WithTimeout(ctx, 30*time.Second)
	defer cancel2()
	_, err = c.EventWait(long, remote.AllEvents, nil)
	var closed *remote.ClosedError
	if !errors.As(err, &closed) || !strings.Contains(err.Error(), "keepalive timeout") {
		t.Fatalf("EventWait on a stopped daemon: %v", err)
	}
}
