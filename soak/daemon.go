package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// hang bounds every wait of the soak: it keeps a broken daemon from
// hanging the run; nothing asserts how long anything takes.
const hang = 60 * time.Second

// daemon is one govirtd binary run (or several, across kill -9 and
// restarts) on one private directory: its config, sockets, QEMU driver
// directories and log. It runs with that directory as its working
// directory, so the qemu processes it starts do too, which is how the
// soak finds them (and only them) at the end.
type daemon struct {
	bin, dir string
	log      string // stdout and stderr of every run, appended

	cmd    *exec.Cmd
	exited chan struct{} // closed when the current run has been reaped
	err    error         // how it exited; read after exited is closed
}

// govirtdConf is a daemon's configuration: sockets and QEMU driver
// directories in dir, then the phase's own keys. Without qemu the
// QEMU driver is pointed at a binary that does not exist, so it skips
// itself and the daemon serves test:///default only.
func govirtdConf(dir string, qemu bool, extra map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "unix_sock_dir = %q\nlog_level = 3\n", filepath.Join(dir, "sock"))
	if !qemu {
		fmt.Fprintf(&b, "qemu_binary = %q\n", filepath.Join(dir, "no-qemu-binary"))
	}
	for k, v := range map[string]string{
		"qemu_config_dir": "etc", "qemu_autostart_dir": "etc/autostart",
		"qemu_state_dir": "run", "qemu_log_dir": "log",
		"storage_config_dir": "etc/storage", "storage_state_dir": "run/storage",
		"network_config_dir": "etc/network", "network_state_dir": "run/network",
	} {
		fmt.Fprintf(&b, "%s = %q\n", k, filepath.Join(dir, v))
	}
	// No NAT bridge on the host's network: these daemons run outside a
	// network namespace.
	b.WriteString("network_define_default = 0\n")
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %s\n", k, extra[k])
	}
	return b.String()
}

// newDaemon writes the configuration into dir and starts the daemon.
func newDaemon(bin, dir string, qemu bool, extra map[string]string) (*daemon, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	conf := govirtdConf(dir, qemu, extra)
	if err := os.WriteFile(filepath.Join(dir, "govirtd.conf"), []byte(conf), 0o644); err != nil {
		return nil, err
	}
	d := &daemon{bin: bin, dir: dir, log: filepath.Join(dir, "govirtd.log")}
	if _, err := d.start(); err != nil {
		return nil, err
	}
	return d, nil
}

// sock is the read-write socket.
func (d *daemon) sock() string { return filepath.Join(d.dir, "sock", "govirtd-sock") }

// sockRO is the read-only socket.
func (d *daemon) sockRO() string { return filepath.Join(d.dir, "sock", "govirtd-sock-ro") }

// pid is the current run's process id.
func (d *daemon) pid() int { return d.cmd.Process.Pid }

// start runs the daemon and waits until its socket accepts; it returns
// the time from exec to accepting.
func (d *daemon) start() (time.Duration, error) {
	logf, err := os.OpenFile(d.log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	cmd := exec.Command(d.bin, "--config", filepath.Join(d.dir, "govirtd.conf"))
	cmd.Dir = d.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	// GOTRACEBACK=all: SIGQUIT dumps every goroutine, which is how the
	// soak counts them from outside. Pdeathsig: the daemon dies with the
	// soak even when the soak is killed before it can stop it (its
	// guests do not: they outlive the daemon by design).
	cmd.Env = append(os.Environ(), "GOTRACEBACK=all")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("cannot start %s: %w (build it with go build ./cmd/govirtd)", d.bin, err)
	}
	d.cmd, d.exited, d.err = cmd, make(chan struct{}), nil
	go func() { d.err = cmd.Wait(); close(d.exited) }()
	deadline := time.Now().Add(hang)
	for {
		c, err := net.Dial("unix", d.sock())
		if err == nil {
			c.Close()
			return time.Since(began), nil
		}
		select {
		case <-d.exited:
			return 0, fmt.Errorf("govirtd exited at startup (%v); its log:\n%s", d.err, d.tail(2000))
		default:
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("govirtd did not accept on %s within %v; its log:\n%s", d.sock(), hang, d.tail(2000))
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// alive reports whether the current run is still running.
func (d *daemon) alive() bool {
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// kill9 kills the current run with SIGKILL, by its pid, and reaps it.
func (d *daemon) kill9() {
	d.cmd.Process.Kill()
	<-d.exited
}

// stop ends the current run with SIGTERM (SIGKILL after hang).
func (d *daemon) stop() {
	if !d.alive() {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(hang):
		d.kill9()
	}
}

var goroutineLine = regexp.MustCompile(`(?m)^goroutine [1-9]\d* .*\[`)

// goroutines ends the current run with SIGQUIT and counts the goroutines
// of the stack dump the Go runtime writes: the only view of them from
// outside the process (govirtd exposes no debug endpoint).
func (d *daemon) goroutines() (int, error) {
	before, _ := os.Stat(d.log)
	d.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-d.exited:
	case <-time.After(hang):
		d.kill9()
		return 0, errors.New("govirtd did not exit on SIGQUIT")
	}
	data, err := os.ReadFile(d.log)
	if err != nil {
		return 0, err
	}
	if before != nil && int(before.Size()) <= len(data) {
		data = data[before.Size():]
	}
	n := len(goroutineLine.FindAll(data, -1))
	if n == 0 {
		return 0, fmt.Errorf("no goroutine dump in the log after SIGQUIT:\n%s", lastBytes(data, 1000))
	}
	return n, nil
}

// logHas reports whether the log holds s.
func (d *daemon) logHas(s string) bool {
	data, _ := os.ReadFile(d.log)
	return strings.Contains(string(data), s)
}

// tail is the end of the log, for error messages.
func (d *daemon) tail(n int) string {
	data, _ := os.ReadFile(d.log)
	return string(lastBytes(data, n))
}

func lastBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// procStats is what /proc says of a process at one moment.
type procStats struct {
	rssKiB, fds, threads int
}

func statsOf(pid int) (procStats, error) {
	var s procStats
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			s.rssKiB, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			s.threads, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return s, err
	}
	s.fds = len(fds)
	return s, nil
}

// settledFDs waits until the daemon's fd count is the same in 5
// samples in a row (a connection the soak closed may take a moment to be
// seen closed) and returns it.
func (d *daemon) settledFDs() int {
	last, same := -1, 0
	deadline := time.Now().Add(hang)
	for same < 5 && time.Now().Before(deadline) {
		s, err := statsOf(d.pid())
		if err != nil {
			return -1
		}
		if s.fds == last {
			same++
		} else {
			last, same = s.fds, 0
		}
		time.Sleep(20 * time.Millisecond)
	}
	return last
}

// waitFDs waits until the daemon holds at most want descriptors and
// returns what it holds then.
func (d *daemon) waitFDs(want int) int {
	deadline := time.Now().Add(hang)
	for {
		s, err := statsOf(d.pid())
		if err != nil || s.fds <= want || time.Now().After(deadline) {
			return s.fds
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// processGone reports whether pid has exited (a zombie nobody reaped
// counts as exited).
func processGone(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z' || s[i+2] == 'X'
}

// ownQemus lists the live qemu processes the daemon started: they run
// in its directory.
func (d *daemon) ownQemus() []int {
	var pids []int
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		cwd, err := os.Readlink(p + "/cwd")
		comm, _ := os.ReadFile(p + "/comm")
		if err != nil || cwd != d.dir || !strings.HasPrefix(string(comm), "qemu-system") {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(p))
		if !processGone(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}
