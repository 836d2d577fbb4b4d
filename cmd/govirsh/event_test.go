package main

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/govirt/govirtd/internal/testutil"
)

// eventProcess is a govirsh event command running in the background.
type eventProcess struct {
	cmd    *exec.Cmd
	lines  chan string // stdout, line by line; closed at EOF
	stderr testutil.SyncBuffer
	cancel context.CancelFunc
}

// startEvent starts govirsh event with args against d and waits until it
// has registered callbacks (want of them) with the daemon.
func startEvent(t *testing.T, d *testDaemon, want int, args ...string) *eventProcess {
	t.Helper()
	base := d.drv.Callbacks()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	p := &eventProcess{cancel: cancel, lines: make(chan string, 100)}
	p.cmd = exec.CommandContext(ctx, govirshBin, append([]string{"-c", d.uri, "event"}, args...)...)
	p.cmd.Dir = d.dir
	p.cmd.Stderr = &p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Kill it if it still runs; the reader ends at EOF, then reap.
		p.cancel()
		for range p.lines {
		}
		p.cmd.Wait()
	})
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for d.drv.Callbacks() < base+want {
		if time.Now().After(deadline) {
			t.Fatalf("govirsh event did not register %d callbacks; stderr: %s", want, p.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return p
}

// next returns the next line of output, failing the test on EOF or after
// a generous timeout.
func (p *eventProcess) next(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			t.Fatalf("govirsh event ended early; stderr: %s", p.stderr.String())
		}
		return l
	case <-time.After(30 * time.Second):
		t.Fatal("no output from govirsh event")
	}
	return ""
}

// wait reads the rest of the output and returns it with the exit status.
func (p *eventProcess) wait(t *testing.T) ([]string, int) {
	t.Helper()
	var rest []string
	for l := range p.lines {
		rest = append(rest, l)
	}
	err := p.cmd.Wait()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return rest, exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return rest, 0
}

var timestamped = regexp.MustCompile(`^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})\+0000: (.*)$`)

// TestEventLoopTimestamp watches with event --all --loop --timestamp the
// changes other govirsh processes make, then interrupts it.
func TestEventLoopTimestamp(t *testing.T) {
	d := startDaemon(t)
	copyTestdata(t, d)
	p := startEvent(t, d, 2, "--all", "--loop", "--timestamp") // lifecycle and reboot

	for _, args := range [][]string{
		{"define", "demo.xml"}, {"start", "demo"}, {"suspend", "demo"}, {"resume", "demo"},
		{"reboot", "test"}, {"destroy", "demo"}, {"undefine", "demo"},
	} {
		if r := d.govirsh(t, args...); r.code != 0 {
			t.Fatalf("govirsh %v: %s", args, r)
		}
	}
	want := []string{
		"event 'lifecycle' for domain 'demo': Defined Added",
		"event 'lifecycle' for domain 'demo': Started Booted",
		"event 'lifecycle' for domain 'demo': Suspended Paused",
		"event 'lifecycle' for domain 'demo': Resumed Unpaused",
		"event 'reboot' for domain 'test'",
		"event 'lifecycle' for domain 'demo': Stopped Destroyed",
		"event 'lifecycle' for domain 'demo': Undefined Removed",
	}
	var last time.Time
	for _, w := range want {
		line := p.next(t)
		m := timestamped.FindStringSubmatch(line)
		if m == nil || m[2] != w {
			t.Fatalf("got %q, want a timestamp and %q", line, w)
		}
		ts, err := time.Parse("2006-01-02 15:04:05.000", m[1])
		if err != nil {
			t.Fatalf("timestamp of %q: %v", line, err)
		}
		if ts.Before(last) {
			t.Errorf("timestamps go backwards at %q", line)
		}
		last = ts
	}
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	rest, code := p.wait(t)
	if want := []string{"event loop interrupted", "events received: 7", ""}; !slices.Equal(rest, want) || code != 0 {
		t.Errorf("after SIGINT: exit %d, output %q, want exit 0, %q; stderr: %s", code, rest, want, p.stderr.String())
	}
}

// TestEventOneShot waits for one lifecycle event of one domain: govirsh
// exits after it, with status 0.
func TestEventOneShot(t *testing.T) {
	d := startDaemon(t)
	copyTestdata(t, d)
	p := startEvent(t, d, 1, "--domain", "test", "--event", "lifecycle")
	// Another domain's event does not count.
	if r := d.govirsh(t, "define", "demo.xml"); r.code != 0 {
		t.Fatal(r)
	}
	if r := d.govirsh(t, "suspend", "test"); r.code != 0 {
		t.Fatal(r)
	}
	rest, code := p.wait(t)
	want := []string{"event 'lifecycle' for domain 'test': Suspended Paused", "events received: 1", ""}
	if !slices.Equal(rest, want) || code != 0 || p.stderr.String() != "" {
		t.Errorf("exit %d, output %q, want exit 0, %q; stderr: %s", code, rest, want, p.stderr.String())
	}
}

// TestEventTerminated stops a loop with SIGTERM before any event: the
// status is then 1, as virsh's when no event arrived.
func TestEventTerminated(t *testing.T) {
	d := startDaemon(t)
	p := startEvent(t, d, 1, "--event", "lifecycle", "--loop")
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	rest, code := p.wait(t)
	want := []string{"event loop interrupted", "events received: 0", ""}
	if !slices.Equal(rest, want) || code != 1 || p.stderr.String() != "" {
		t.Errorf("exit %d, output %q, want exit 1, %q; stderr: %s", code, rest, want, p.stderr.String())
	}
}
