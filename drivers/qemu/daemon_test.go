package qemu_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tests in this file and integration_test.go run the real govirtd
// binary, built from ./cmd/govirtd, with every path in a temporary
// directory, and drive it with the real virsh against the real qemu.
// They stop only the processes they started, by pid, and leave no qemu
// running.

// hang bounds every wait: it guards against hangs, it is not a timing
// assertion.
const hang = 90 * time.Second

func need(t *testing.T, bins ...string) {
	t.Helper()
	for _, b := range bins {
		if _, err := exec.LookPath(b); err != nil {
			t.Fatalf("%s is not installed: `make deps` installs it", b)
		}
	}
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// TestMain removes the daemon binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// daemonBinary builds ./cmd/govirtd once per test binary run, into a
// directory of its own (test runs may overlap on a shared machine).
func daemonBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "govirtd-qemu-test-"); buildErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(buildDir, "govirtd"), "../../cmd/govirtd").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/govirtd: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, "govirtd")
}

// testDaemon is one govirtd run (or several, across restarts) on one
// directory.
type testDaemon struct {
	t   *testing.T
	bin string
	dir string

	cmd    *exec.Cmd
	exited chan struct{}

	// privateVarLib runs the daemon (and so its guests) in a mount
	// namespace of its own with a tmpfs over /var/lib, for a test whose
	// client makes the daemon write where libvirt's defaults are
	// (/var/lib/libvirt/images): the host's stays untouched. Root only.
	privateVarLib bool
	// netns, when set, is the network namespace (ip netns) the daemon
	// runs in: its networks' bridges, rules and dnsmasq, and its guests'
	// taps, are there (see newNetDaemon).
	netns string
}

func newTestDaemon(t *testing.T) *testDaemon {
	t.Helper()
	need(t, "qemu-system-x86_64", "virsh")
	d := &testDaemon{t: t, bin: daemonBinary(t), dir: t.TempDir()}
	conf := fmt.Sprintf(`unix_sock_dir = %q
qemu_config_dir = %q
qemu_state_dir = %q
qemu_log_dir = %q
storage_config_dir = %q
storage_state_dir = %q
network_config_dir = %q
network_state_dir = %q
network_define_default = %d
log_level = 1
`, d.path("sock"), d.path("etc"), d.path("run"), d.path("log"), d.path("etc", "storage"), d.path("run", "storage"),
		d.path("etc", "network"), d.path("run", "network"), 0)
	if err := os.WriteFile(d.path("govirtd.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.cleanup)
	return d
}

func (d *testDaemon) path(elem ...string) string {
	return filepath.Join(append([]string{d.dir}, elem...)...)
}

// uri is the QEMU driver's URI on this daemon's socket.
func (d *testDaemon) uri() string {
	name := "session"
	if os.Geteuid() == 0 {
		name = "system"
	}
	return "qemu+unix:///" + name + "?socket=" + d.path("sock", "govirtd-sock")
}

// configure adds lines to the daemon's configuration file.
func (d *testDaemon) configure(lines string) {
	f, err := os.OpenFile(d.path("govirtd.conf"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		d.t.Fatal(err)
	}
	defer f.Close()
	f.WriteString(lines + "\n")
}

// start runs the daemon and waits until its socket accepts.
func (d *testDaemon) start() {
	d.t.Helper()
	logf, err := os.OpenFile(d.path("daemon.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		d.t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(d.bin, "-f", d.path("govirtd.conf"))
	if d.netns != "" {
		// ip netns exec execs the daemon: the pid started is the daemon's.
		cmd = exec.Command("ip", "netns", "exec", d.netns, d.bin, "-f", d.path("govirtd.conf"))
	}
	if d.privateVarLib {
		// unshare and sh exec the daemon: the pid started is the daemon's.
		cmd = exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c",
			`mount -t tmpfs -o mode=0755 tmpfs /var/lib && exec "$0" "$@"`, d.bin, "-f", d.path("govirtd.conf"))
	}
	// qemu inherits the daemon's working directory: cleanup finds every
	// qemu this test started by it.
	cmd.Dir = d.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.cmd, d.exited = cmd, make(chan struct{})
	go func() { cmd.Wait(); close(d.exited) }()
	deadline := time.Now().Add(hang)
	for {
		c, err := net.Dial("unix", d.path("sock", "govirtd-sock"))
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-d.exited:
			d.t.Fatalf("govirtd exited at startup:\n%s", d.log())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("govirtd does not listen:\n%s", d.log())
		}
	}
}

// signal sends sig to the daemon.
func (d *testDaemon) signal(sig syscall.Signal) {
	d.t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		d.t.Fatal(err)
	}
}

// kill9 kills the daemon with SIGKILL and waits for it.
func (d *testDaemon) kill9() {
	d.t.Helper()
	d.signal(syscall.SIGKILL)
	<-d.exited
}

func (d *testDaemon) log() string {
	data, _ := os.ReadFile(d.path("daemon.log"))
	return string(data)
}

// virsh runs virsh on the daemon's URI.
func (d *testDaemon) virsh(args ...string) (string, error) { return runVirsh(d.uri(), args...) }

func (d *testDaemon) mustVirsh(args ...string) string {
	d.t.Helper()
	out, err := d.virsh(args...)
	if err != nil {
		d.t.Fatalf("virsh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// qemuPIDs reads the pid of each running domain's qemu from the status
// files.
func (d *testDaemon) qemuPIDs() map[string]int {
	pids := map[string]int{}
	files, _ := filepath.Glob(d.path("run", "*.status"))
	for _, f := range files {
		var st struct {
			Name string `json:"name"`
			PID  int    `json:"pid"`
		}
		data, err := os.ReadFile(f)
		if err == nil && json.Unmarshal(data, &st) == nil {
			pids[st.Name] = st.PID
		}
	}
	return pids
}

// ownQemus lists the live qemu processes this test's daemon started: they
// run in its directory.
func (d *testDaemon) ownQemus() []int {
	var pids []int
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		cwd, err := os.Readlink(p + "/cwd")
		comm, _ := os.ReadFile(p + "/comm")
		if err != nil || cwd != d.dir || !strings.HasPrefix(string(comm), "qemu-system") {
			continue
		}
		var pid int
		fmt.Sscan(filepath.Base(p), &pid)
		if processAlive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// processAlive reads /proc: a zombie is dead (PID 1 here does not reap
// orphans, so kill -0 would still succeed).
func processAlive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(data, ')')
	return i > 0 && i+2 < len(data) && data[i+2] != 'Z' && data[i+2] != 'X'
}

func (d *testDaemon) cleanup() {
	if d.cmd != nil {
		select {
		case <-d.exited:
		default:
			d.cmd.Process.Kill()
			<-d.exited
		}
	}
	for _, pid := range d.ownQemus() {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	if d.netns != "" {
		d.cleanupNetns()
	}
	if d.t.Failed() {
		d.t.Logf("daemon log:\n%s", d.log())
	}
}

// testCacheDir holds what the tests build and keep: the tiny guest.
func testCacheDir() string {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	return filepath.Join(cache, "govirtd-test")
}

func runCmd(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}
