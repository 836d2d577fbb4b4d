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

	"github.com/govirt/govirtd/internal/testutil"
	"github.com/govirt/govirtd/remote"
	"github.com/govirt/govirtd/rpc"
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
storage_config_dir = "`+dir+`/storage-config"
storage_state_dir = "`+dir+`/storage-state"
network_config_dir = "`+dir+`/network-config"
network_state_dir = "`+dir+`/network-state"
network_define_default = 0
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

	// Keepalive runs on a manual clock: each Advance of an interval is
	// one check, no test waits on wall time.
	ctx := context.Background()
	clock := rpc.NewManualClock(time.Unix(1000, 0))
	const interval, count = 5 * time.Second, 3
	c, err := remote.DialOptions(ctx, "test+unix:///default?socket="+filepath.Join(dir, "govirtd-sock"),
		remote.Options{KeepaliveInterval: interval, KeepaliveCount: count, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if clock.Armed() != 1 {
		t.Fatalf("keepalive armed %d timers, want 1 (does the daemon support keepalive?)", clock.Armed())
	}
	if _, err := c.ConnectDomainEventRegisterAny(ctx, nil, vir.DomainEventIDLifecycle, nil); err != nil {
		t.Fatal(err)
	}
	// Alive and answering: many intervals pass, each with a ping, and
	// the daemon's answers keep the connection open.
	for i := range 4 * count {
		clock.Advance(interval)
		if _, err := c.DomainLookupByName(ctx, "test"); err != nil {
			t.Fatalf("interval %d: a call on a live daemon: %v", i, err)
		}
	}

	cmd.Process.Signal(syscall.SIGSTOP)
	// count pings go unanswered, then keepalive gives up. (A frame the
	// daemon sent before it stopped may still restart the count: the
	// loop allows for it.)
	for i := 0; i < 10*count; i++ {
		select {
		case <-c.Done():
		default:
			clock.Advance(interval)
			continue
		}
		break
	}
	long, cancel := context.WithTimeout(ctx, testutil.HangTimeout)
	defer cancel()
	_, err = c.EventWait(long, remote.AllEvents, nil)
	var closed *remote.ClosedError
	if !errors.As(err, &closed) || !strings.Contains(err.Error(), "keepalive timeout") {
		t.Fatalf("EventWait on a stopped daemon: %v", err)
	}
}
