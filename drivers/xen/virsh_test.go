package xen_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/govirt/govirtd/drivers/xen/internal/xstest"
	"github.com/govirt/govirtd/internal/testutil"
)

// hang bounds every wait against hangs; it is not a timing assertion.
const hang = 60 * time.Second

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// binaries builds govirtd and the xl simulator once per run.
func binaries(t *testing.T) (govirtd, xl string) {
	t.Helper()
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "govirtd-xen-test-"); buildErr != nil {
			return
		}
		for pkg, out := range map[string]string{"../../cmd/govirtd": "govirtd", "./internal/xlsim": "xl-sim"} {
			if b, err := exec.Command("go", "build", "-o", filepath.Join(buildDir, out), pkg).CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, "govirtd"), filepath.Join(buildDir, "xl-sim")
}

type daemon struct {
	t      *testing.T
	dir    string
	x      *xstest.Xenstored
	xl     string
	cmd    *exec.Cmd
	exited chan struct{}
}

func startDaemon(t *testing.T) *daemon {
	t.Helper()
	if _, err := exec.LookPath("virsh"); err != nil {
		t.Fatal("virsh is not installed: `make deps` installs it")
	}
	bin, xl := binaries(t)
	d := &daemon{t: t, dir: t.TempDir(), x: xstest.Start(t), xl: xl}
	p := func(s string) string { return filepath.Join(d.dir, s) }
	conf := fmt.Sprintf("unix_sock_dir = %q\nqemu_config_dir = %q\nqemu_state_dir = %q\nqemu_log_dir = %q\nstorage_config_dir = %q\nstorage_state_dir = %q\nnetwork_config_dir = %q\nnetwork_state_dir = %q\nnetwork_define_default = 0\nxen_xenstored_socket = %q\nxen_xl_binary = %q\nxen_config_dir = %q\n",
		p("sock"), p("etc"), p("run"), p("log"), p("etc/storage"), p("run/storage"), p("etc/network"), p("run/network"), d.x.Socket, xl, p("xen"))
	os.WriteFile(p("govirtd.conf"), []byte(conf), 0o644)
	logf, _ := os.Create(p("daemon.log"))
	defer logf.Close()
	d.cmd = exec.Command(bin, "-f", p("govirtd.conf"))
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d.exited = make(chan struct{})
	go func() { d.cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() { d.cmd.Process.Kill(); <-d.exited })
	deadline := time.Now().Add(hang)
	for {
		if c, err := net.Dial("unix", p("sock/govirtd-sock")); err == nil {
			c.Close()
			return d
		}
		select {
		case <-d.exited:
			b, _ := os.ReadFile(p("daemon.log"))
			t.Fatalf("govirtd exited:\n%s", b)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("govirtd does not listen")
		}
	}
}

func (d *daemon) uri(drv string) string {
	return drv + "+unix:///system?socket=" + filepath.Join(d.dir, "sock/govirtd-sock")
}

func (d *daemon) virsh(drv string, args ...string) (string, error) {
	cmd := exec.Command("virsh", append([]string{"-c", d.uri(drv)}, args...)...)
	cmd.Env = append(os.Environ(), "LIBVIRT_AUTOSTART=0")
	b, err := cmd.CombinedOutput()
	return string(b), err
}

func (d *daemon) mustVirsh(args ...string) string {
	d.t.Helper()
	out, err := d.virsh("xen", args...)
	if err != nil {
		d.t.Fatalf("virsh %v: %v\n%s", args, err, out)
	}
	return out
}

// watch is `virsh event --all --loop` on one URI.
type watch struct {
	d    *daemon
	out  *testutil.SyncBuffer
	seen int
}

func (d *daemon) watch(drv string) *watch {
	w := &watch{d: d, out: &testutil.SyncBuffer{}}
	cmd := exec.Command("virsh", "-c", d.uri(drv), "event", "--all", "--loop")
	cmd.Env = append(os.Environ(), "LIBVIRT_AUTOSTART=0")
	cmd.Stdout, cmd.Stderr = w.out, w.out
	if err := cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	d.t.Cleanup(func() { cmd.Process.Kill(); <-done })
	return w
}

func (w *watch) lines() []string {
	var out []string
	for _, l := range strings.Split(w.out.String(), "\n") {
		if strings.HasPrefix(l, "event 'lifecycle'") {
			out = append(out, strings.TrimPrefix(l, "event 'lifecycle' for domain "))
		}
	}
	return out
}

// expect waits for len(want) new lifecycle lines and checks they are want.
func (w *watch) expect(want ...string) {
	t := w.d.t
	t.Helper()
	deadline := time.Now().Add(hang)
	for len(w.lines()) < w.seen+len(want) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	got := w.lines()[w.seen:]
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	w.seen += len(got)
}

// subscribed defines and undefines a sentinel until the watch reports it.
func (w *watch) subscribed() {
	xml := filepath.Join(w.d.dir, "sentinel.xml")
	os.WriteFile(xml, []byte("<domain type='xen'><name>sentinel</name><memory unit='MiB'>16</memory></domain>"), 0o644)
	deadline := time.Now().Add(hang)
	for !strings.Contains(w.out.String(), "'sentinel'") && time.Now().Before(deadline) {
		w.d.mustVirsh("define", xml)
		w.d.mustVirsh("undefine", "sentinel")
		time.Sleep(50 * time.Millisecond)
	}
	for !strings.HasSuffix(strings.TrimSpace(w.out.String()), "Undefined Removed") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	w.seen = len(w.lines())
}

func TestVirshLifecycle(t *testing.T) {
	d := startDaemon(t)
	w := d.watch("xen")
	w.subscribed()
	xml := filepath.Join(d.dir, "g1.xml")
	os.WriteFile(xml, []byte(`<domain type='xen'><name>g1</name><memory unit='MiB'>256</memory><vcpu>2</vcpu><os><type>linux</type></os></domain>`), 0o644)
	d.mustVirsh("define", xml)
	w.expect("'g1': Defined Added")
	d.mustVirsh("start", "g1")
	w.expect("'g1': Started Booted")
	if out := d.mustVirsh("list"); !strings.Contains(out, "g1") || !strings.Contains(out, "running") {
		t.Fatalf("virsh list:\n%s", out)
	}
	info := d.mustVirsh("dominfo", "g1")
	for _, want := range []string{"OS Type:        linux", "CPU(s):         2", "Used memory:    262144 KiB", "Persistent:     yes"} {
		if !strings.Contains(info, want) {
			t.Fatalf("dominfo lacks %q:\n%s", want, info)
		}
	}
	d.mustVirsh("suspend", "g1")
	w.expect("'g1': Suspended Paused")
	d.mustVirsh("resume", "g1")
	w.expect("'g1': Resumed Unpaused")
	d.mustVirsh("shutdown", "g1")
	w.expect("'g1': Stopped Shutdown")
	d.mustVirsh("start", "g1")
	w.expect("'g1': Started Booted")
	d.mustVirsh("destroy", "g1")
	w.expect("'g1': Stopped Destroyed")
	d.mustVirsh("undefine", "g1")
	w.expect("'g1': Undefined Removed")

	// A domain made with xl-sim directly, govirtd not involved.
	cfg := filepath.Join(d.dir, "ext.cfg")
	os.WriteFile(cfg, []byte("name = \"ext\"\nuuid = \"aaaaaaaa-2222-3333-4444-555555555555\"\nmemory = 64\n"), 0o644)
	xl := func(args ...string) {
		cmd := exec.Command(d.xl, args...)
		cmd.Env = d.x.Env()
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("xl-sim %v: %v\n%s", args, err, b)
		}
	}
	xl("create", cfg)
	w.expect("'ext': Started Booted")
	if out := d.mustVirsh("list"); !strings.Contains(out, "ext") {
		t.Fatalf("virsh list:\n%s", out)
	}
	xl("destroy", "ext")
	w.expect("'ext': Stopped Destroyed")
	if out := d.mustVirsh("list", "--all"); strings.Contains(out, "ext") {
		t.Fatalf("virsh list --all:\n%s", out)
	}

	// xenstored down: Xen calls fail clearly, QEMU's are unaffected.
	d.x.Stop()
	deadline := time.Now().Add(hang)
	var out string
	for time.Now().Before(deadline) {
		var err error
		if out, err = d.virsh("xen", "list"); err != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(out, "is xenstored running?") {
		t.Fatalf("virsh list with xenstored down:\n%s", out)
	}
	if out, err := d.virsh("qemu", "uri"); err != nil || !strings.Contains(out, "qemu") {
		t.Fatalf("qemu:///system while xenstored is down: %v\n%s", err, out)
	}
	os.Remove(filepath.Join(d.x.Dir, "xlsim-state.json")) // the fake hypervisor restarts empty with the store
	d.x.Restart(t)
	deadline = time.Now().Add(hang)
	for time.Now().Before(deadline) {
		if _, err := d.virsh("xen", "list"); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	xl("create", cfg)
	w.expect("'ext': Started Booted")
	xl("destroy", "ext")
	w.expect("'ext': Stopped Destroyed")

	// One socket, two drivers, each with its own events: a QEMU domain's
	// events reach the qemu:///system subscriber only.
	qw := d.watch("qemu")
	qxml := filepath.Join(d.dir, "q.xml")
	os.WriteFile(qxml, []byte("<domain type='qemu'><name>qdom</name><memory unit='MiB'>16</memory></domain>"), 0o644)
	deadline = time.Now().Add(hang)
	for !strings.Contains(qw.out.String(), "'qdom'") && time.Now().Before(deadline) {
		if out, err := d.virsh("qemu", "define", qxml); err != nil {
			t.Fatalf("qemu define: %v\n%s", err, out)
		}
		d.virsh("qemu", "undefine", "qdom")
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(qw.out.String(), "for domain 'qdom'") {
		t.Fatalf("qemu:///system subscriber saw:\n%s", qw.out)
	}
	xl("create", cfg)
	w.expect("'ext': Started Booted") // and nothing of qdom
	if strings.Contains(qw.out.String(), "'ext'") {
		t.Fatalf("a Xen event reached the qemu:///system subscriber:\n%s", qw.out)
	}
}
