package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"

	"github.com/govirt/govirtd/drivers/qemu/qmp"
	"github.com/govirt/govirtd/internal/libvirtdpriv"
)

// Measure 9: the QEMU driver's guest lifecycle through the API (go-libvirt
// calls, no virsh processes), govirtd's QEMU driver beside libvirtd 9.0's
// (with virtlogd, as it runs by default) and bare qemu driven over QMP by
// this program as the floor: what no daemon can beat. The guest is
// firmware-only (TCG, q35, 128 MiB, no disk): what is measured is the
// daemons' own work around qemu's, not a guest's boot.

// keyBare is bare qemu, started and stopped by the benchmark itself.
const keyBare = "qemu"

// qemuGuestXML is the measured guest, transient (DomainCreateXML), so no
// definition is written by either daemon.
func qemuGuestXML(name string) string {
	return fmt.Sprintf(`<domain type='qemu'><name>%s</name><memory unit='MiB'>128</memory>`+
		`<os><type arch='x86_64' machine='q35'>hvm</type></os></domain>`, name)
}

// linuxGuestXML is the tiny Linux guest (scripts/mkguest.sh) writing its
// serial console to console.
func linuxGuestXML(name, guest, console string) string {
	return fmt.Sprintf(`<domain type='qemu'><name>%s</name><memory unit='MiB'>128</memory>`+
		`<os><type arch='x86_64' machine='q35'>hvm</type><kernel>%s/vmlinuz</kernel><initrd>%s/initrd.gz</initrd>`+
		`<cmdline>console=ttyS0 quiet panic=-1</cmdline></os><features><acpi/></features>`+
		`<devices><serial type='file'><source path='%s'/></serial></devices></domain>`, name, guest, guest, console)
}

// waitFile polls path every millisecond until it holds marker.
func waitFile(path, marker string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if data, err := os.ReadFile(path); err == nil && strings.Contains(string(data), marker) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: no %s within %v", path, marker, timeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// govirtdQemuConf is govirtd's configuration with its QEMU driver on,
// its sockets in dir, every directory of its drivers in state (a
// tmpfs: the private libvirtd's are tmpfs too), no default network.
func govirtdQemuConf(dir, state string) string {
	return fmt.Sprintf(`unix_sock_dir = %q
log_level = 3
qemu_config_dir = %q
qemu_state_dir = %q
qemu_log_dir = %q
storage_config_dir = %q
storage_state_dir = %q
network_config_dir = %q
network_autostart_dir = %q
network_state_dir = %q
network_define_default = 0
`, dir, filepath.Join(state, "etc"), filepath.Join(state, "run"), filepath.Join(state, "log"),
		filepath.Join(state, "storage"), filepath.Join(state, "storage-state"), filepath.Join(state, "network"),
		filepath.Join(state, "network-autostart"), filepath.Join(state, "network-state"))
}

// tmpfsDir makes a directory on a tmpfs for govirtd's files: /dev/shm,
// which Linux systems mount as one.
func tmpfsDir() (string, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs("/dev/shm", &st); err != nil || st.Type != 0x01021994 { // TMPFS_MAGIC
		return "", fmt.Errorf("measure 9 keeps govirtd's state on a tmpfs, as the private libvirtd's, but /dev/shm is none (%v): mount one there", err)
	}
	return os.MkdirTemp("/dev/shm", "govirtd-bench-")
}

// startLibvirtdQemu runs libvirtd 9.0 with its QEMU driver privately
// (internal/libvirtdpriv: its own mount namespace, virtlogd beside it).
func startLibvirtdQemu(bin, dir string) (*daemonProc, error) {
	cmd, err := libvirtdpriv.Command(bin, dir, "")
	if err != nil {
		return nil, err
	}
	return startProc("libvirtd-qemu", dir, libvirtdpriv.Socket(dir), cmd)
}

func dialQemuURI(sock string) (*libvirt.Libvirt, error) {
	l := libvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(sock), dialers.WithLocalTimeout(10*time.Second)))
	if err := l.ConnectToURI(libvirt.ConnectURI("qemu:///system")); err != nil {
		return nil, err
	}
	return l, nil
}

// bareQemu is a qemu the benchmark runs itself, as a daemon would: the
// monitor a listening socket qemu inherits, -S, QMP negotiation, cont.
type bareQemu struct {
	cmd      *exec.Cmd
	mon      *qmp.Monitor
	exited   chan struct{}
	shutdown chan struct{} // closed at qemu's SHUTDOWN event
	once     sync.Once
}

func startBareQemu(ctx context.Context, bin, dir, name string, extra ...string) (*bareQemu, error) {
	path := filepath.Join(dir, name+".qmp")
	os.Remove(path)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	l.SetUnlinkOnClose(true)
	f, err := l.File()
	if err != nil {
		l.Close()
		return nil, err
	}
	cmd := exec.Command(bin, "-name", "guest="+name, "-S", "-machine", "q35,accel=tcg", "-m", "128",
		"-nodefaults", "-no-user-config", "-display", "none", "-no-shutdown",
		"-chardev", "socket,id=charmonitor,fd=3,server=on,wait=off", "-mon", "chardev=charmonitor,id=monitor,mode=control")
	cmd.Args = append(cmd.Args, extra...)
	cmd.ExtraFiles = []*os.File{f}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		l.Close()
		return nil, err
	}
	f.Close()
	q := &bareQemu{cmd: cmd, exited: make(chan struct{}), shutdown: make(chan struct{})}
	go func() { cmd.Wait(); l.Close(); close(q.exited) }()
	onEvent := func(e qmp.Event) {
		if e.Name == "SHUTDOWN" {
			q.once.Do(func() { close(q.shutdown) })
		}
	}
	if q.mon, err = qmp.Dial(ctx, path, qmp.Options{OnEvent: onEvent}); err != nil {
		q.kill()
		return nil, err
	}
	if err := q.mon.Execute(ctx, "cont", nil, nil); err != nil {
		q.kill()
		return nil, err
	}
	return q, nil
}

// stop is a destroy: SIGTERM, and qemu's exit waited for.
func (q *bareQemu) stop() {
	q.cmd.Process.Signal(syscall.SIGTERM)
	<-q.exited
	q.mon.Close()
}

func (q *bareQemu) kill() {
	q.cmd.Process.Kill()
	<-q.exited
	if q.mon != nil {
		q.mon.Close()
	}
}

// qemuRig is what measure 9 runs against.
type qemuRig struct {
	b        *bench
	qemuBin  string
	dir      string
	gv, lv   *daemonProc
	gvl, lvl *libvirt.Libvirt
	seq      int
	cpu      map[string][]float64 // daemon CPU ms per start+destroy, by key
}

func (r *qemuRig) conn(key string) *libvirt.Libvirt {
	if key == keyGovirtd {
		return r.gvl
	}
	return r.lvl
}

func (r *qemuRig) pid(key string) int {
	if key == keyGovirtd {
		return r.gv.pid()
	}
	return r.lv.pid()
}

// starts starts n guests at once on key and returns the time until all
// run, and what stop stops them all at once with.
func (r *qemuRig) starts(ctx context.Context, key string, n int) (time.Duration, func() (time.Duration, error), error) {
	names := make([]string, n)
	for i := range names {
		r.seq++
		names[i] = fmt.Sprintf("bq%d", r.seq)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	var bare []*bareQemu
	var doms []libvirt.Domain
	if key == keyBare {
		bare = make([]*bareQemu, n)
	} else {
		doms = make([]libvirt.Domain, n)
	}
	begin := time.Now()
	for i := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if key == keyBare {
				bare[i], errs[i] = startBareQemu(ctx, r.qemuBin, r.dir, names[i])
				return
			}
			doms[i], errs[i] = r.conn(key).DomainCreateXML(qemuGuestXML(names[i]), 0)
		}()
	}
	wg.Wait()
	took := time.Since(begin)
	stop := func() (time.Duration, error) {
		var wg sync.WaitGroup
		serrs := make([]error, n)
		begin := time.Now()
		for i := range names {
			if errs[i] != nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if key == keyBare {
					bare[i].stop()
					return
				}
				serrs[i] = r.conn(key).DomainDestroy(doms[i])
			}()
		}
		wg.Wait()
		took := time.Since(begin)
		for _, err := range serrs {
			if err != nil {
				return took, err
			}
		}
		return took, nil
	}
	for _, err := range errs {
		if err != nil {
			stop()
			return took, nil, err
		}
	}
	return took, stop, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// restart stops the daemon of key (SIGTERM: the guests stay) and starts
// it again, timing from the exec until a new connection lists n running
// domains; the rig's connection is replaced. libvirtd restarts in the
// mount namespace of the first one (kept by an open handle), where its
// state files are.
func (r *qemuRig) restart(key string, n int) (time.Duration, error) {
	old := r.gv
	if key == keyLibvirtd {
		old = r.lv
	}
	mnt, err := libvirtdpriv.Namespace(old.pid())
	if err != nil {
		return 0, err
	}
	defer mnt.Close()
	r.conn(key).Disconnect()
	old.stop()
	var p *daemonProc
	if key == keyGovirtd {
		p, err = startProc("govirtd-qemu", old.dir, old.sock, exec.Command(r.b.o.govirtd, "--config", filepath.Join(old.dir, "govirtd.conf")))
	} else {
		p, err = startProc("libvirtd-qemu", old.dir, old.sock, libvirtdpriv.Restart(r.b.o.libvirtd, old.dir, mnt))
	}
	if err != nil {
		return 0, err
	}
	if key == keyGovirtd {
		r.gv = p
	} else {
		r.lv = p
	}
	deadline := time.Now().Add(time.Minute)
	for {
		l, err := dialQemuURI(p.sock)
		if err == nil {
			doms, _, lerr := l.ConnectListAllDomains(1, libvirt.ConnectListDomainsRunning)
			if lerr == nil && len(doms) == n {
				// Listed is not re-attached: libvirtd lists a guest
				// from its status file before its reconnect thread
				// has reached qemu (and kills the guest if that
				// fails). A suspend and resume of each, which go to
				// qemu's monitor and wait for the reconnect's job,
				// prove the new daemon drives them.
				if err := suspendResumeAll(l, doms); err != nil {
					l.Disconnect()
					return 0, fmt.Errorf("%s restarted listed its %d guests running but cannot drive them: %w\n%s", key, n, err, p.tail())
				}
				took := time.Since(p.start)
				if key == keyGovirtd {
					r.gvl = l
				} else {
					r.lvl = l
				}
				return took, nil
			}
			l.Disconnect()
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s restarted does not list %d running domains within a minute:\n%s", key, n, p.tail())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// suspendResumeAll suspends and resumes every domain of doms, all at
// once.
func suspendResumeAll(l *libvirt.Libvirt, doms []libvirt.Domain) error {
	errs := make([]error, len(doms))
	var wg sync.WaitGroup
	for i, d := range doms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = l.DomainSuspend(d); errs[i] == nil {
				errs[i] = l.DomainResume(d)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// acpiShutdown boots the tiny Linux guest on key until it listens to the
// power button (GUEST-READY), then times a shutdown through the API
// (bare qemu: QMP system_powerdown) until the guest is off: the domain
// shut off, or bare qemu's SHUTDOWN event.
func (r *qemuRig) acpiShutdown(ctx context.Context, key, guest string) (time.Duration, error) {
	r.seq++
	name := fmt.Sprintf("bq%d", r.seq)
	console := filepath.Join(r.dir, name+".console")
	if key == keyBare {
		q, err := startBareQemu(ctx, r.qemuBin, r.dir, name, "-kernel", guest+"/vmlinuz", "-initrd", guest+"/initrd.gz",
			"-append", "console=ttyS0 quiet panic=-1", "-serial", "file:"+console)
		if err != nil {
			return 0, err
		}
		defer q.stop()
		if err := waitFile(console, "GUEST-READY", time.Minute); err != nil {
			return 0, err
		}
		begin := time.Now()
		if err := q.mon.Execute(ctx, "system_powerdown", nil, nil); err != nil {
			return 0, err
		}
		select {
		case <-q.shutdown:
		case <-time.After(time.Minute):
			return 0, fmt.Errorf("bare qemu: no SHUTDOWN within a minute of system_powerdown")
		}
		return time.Since(begin), nil
	}
	l := r.conn(key)
	dom, err := l.DomainCreateXML(linuxGuestXML(name, guest, console), 0)
	if err != nil {
		return 0, err
	}
	if err := waitFile(console, "GUEST-READY", time.Minute); err != nil {
		l.DomainDestroy(dom)
		return 0, err
	}
	begin := time.Now()
	if err := l.DomainShutdown(dom); err != nil {
		l.DomainDestroy(dom)
		return 0, err
	}
	// A transient domain is gone once it is off: the lookup fails.
	deadline := time.Now().Add(time.Minute)
	for {
		state, _, err := l.DomainGetState(dom, 0)
		if err != nil || libvirt.DomainState(state) == libvirt.DomainShutoff {
			return time.Since(begin), nil
		}
		if time.Now().After(deadline) {
			l.DomainDestroy(dom)
			return 0, fmt.Errorf("%s: the guest is not off a minute after the shutdown", key)
		}
		time.Sleep(time.Millisecond)
	}
}

// tinyGuest is the directory of the tiny Linux guest, built with
// scripts/mkguest.sh (Debian's cloud kernel and busybox, nothing
// installed) into the user's cache once.
func (b *bench) tinyGuest() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "govirtd-bench", "guest")
	if _, err := os.Stat(filepath.Join(dir, "initrd.gz")); err == nil {
		return dir, nil
	}
	out, err := exec.Command("scripts/mkguest.sh", dir).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("scripts/mkguest.sh (run from the repository's root): %v\n%s", err, out)
	}
	return dir, nil
}

// suspendResume starts a guest on key, then times a suspend and a
// resume through the API (bare qemu: QMP stop and cont), and destroys it.
func (r *qemuRig) suspendResume(ctx context.Context, key string) (time.Duration, time.Duration, error) {
	r.seq++
	name := fmt.Sprintf("bq%d", r.seq)
	if key == keyBare {
		q, err := startBareQemu(ctx, r.qemuBin, r.dir, name)
		if err != nil {
			return 0, 0, err
		}
		defer q.stop()
		t0 := time.Now()
		if err := q.mon.Execute(ctx, "stop", nil, nil); err != nil {
			return 0, 0, err
		}
		t1 := time.Now()
		err = q.mon.Execute(ctx, "cont", nil, nil)
		return t1.Sub(t0), time.Since(t1), err
	}
	l := r.conn(key)
	dom, err := l.DomainCreateXML(qemuGuestXML(name), 0)
	if err != nil {
		return 0, 0, err
	}
	defer l.DomainDestroy(dom)
	t0 := time.Now()
	if err := l.DomainSuspend(dom); err != nil {
		return 0, 0, err
	}
	t1 := time.Now()
	err = l.DomainResume(dom)
	return t1.Sub(t0), time.Since(t1), err
}

func (b *bench) measureQEMU() ([]*Measure, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("measure 9 (the QEMU drivers) needs root: libvirtd's QEMU driver runs privileged in a mount namespace of its own; run as root, or leave it out with -only 1,2,3,4,5,6,7,8")
	}
	qemuBin, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		return nil, fmt.Errorf("measure 9 needs qemu-system-x86_64 (%v): `make deps` installs it", err)
	}
	r := &qemuRig{b: b, qemuBin: qemuBin, dir: filepath.Join(b.dir, "bare"), cpu: map[string][]float64{}}
	os.MkdirAll(r.dir, 0o755)
	gvDir := filepath.Join(b.dir, "govirtd-qemu")
	os.MkdirAll(gvDir, 0o755)
	gvState, err := tmpfsDir()
	if err != nil {
		return nil, err
	}
	b.removeAtEnd(gvState)
	defer os.RemoveAll(gvState)
	os.WriteFile(filepath.Join(gvDir, "govirtd.conf"), []byte(govirtdQemuConf(gvDir, gvState)), 0o644)
	if r.gv, err = startProc("govirtd-qemu", gvDir, filepath.Join(gvDir, "govirtd-sock"),
		exec.Command(b.o.govirtd, "--config", filepath.Join(gvDir, "govirtd.conf"))); err != nil {
		return nil, err
	}
	defer func() { r.gv.stop() }()
	lvDir := filepath.Join(b.dir, "libvirtd-qemu")
	if r.lv, err = startLibvirtdQemu(b.o.libvirtd, lvDir); err != nil {
		return nil, err
	}
	defer libvirtdpriv.StopVirtlogd(lvDir)
	defer func() { r.lv.stop() }()
	for _, p := range []*daemonProc{r.gv, r.lv} {
		if _, err := p.waitAccepting(30 * time.Second); err != nil {
			return nil, err
		}
	}
	if r.gvl, err = dialQemuURI(r.gv.sock); err != nil {
		return nil, fmt.Errorf("govirtd's QEMU driver: %w\n%s", err, r.gv.tail())
	}
	defer func() { r.gvl.Disconnect() }()
	if r.lvl, err = dialQemuURI(r.lv.sock); err != nil {
		return nil, fmt.Errorf("libvirtd's QEMU driver: %w\n%s", err, r.lv.tail())
	}
	defer func() { r.lvl.Disconnect() }()
	ctx := context.Background()
	groups := []struct {
		id string
		f  func(context.Context) ([]*Measure, error)
	}{
		{"9-start", r.measureStartDestroy},
		{"9-suspend", r.measureSuspendResume},
		{"9-start10", r.measureTen},
		{"9-reattach", r.measureReattach},
		{"9-linux", r.measureLinux},
		{"9-shutdown", r.measureShutdown},
	}
	var out []*Measure
	for _, g := range groups {
		if !b.wants(g.id) {
			continue
		}
		ms, err := g.f(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, ms...)
	}
	return out, nil
}

// keys is every target of measure 9.
var qemuKeys = []string{keyGovirtd, keyLibvirtd, keyBare}

// measureStartDestroy: one start and its destroy per sample, with the
// daemon's CPU over both.
func (r *qemuRig) measureStartDestroy(ctx context.Context) ([]*Measure, error) {
	start := newMeasure("9-start", "QEMU: start a firmware-only guest (API call until running)", "ms", false)
	destroy := newMeasure("9-destroy", "QEMU: destroy it (API call until gone)", "ms", false)
	err := r.b.alternate([]*Measure{start, destroy}, qemuKeys, r.b.o.rounds, func(k string, warmup bool) ([]float64, error) {
		var cpu0 time.Duration
		if k != keyBare {
			cpu0, _ = cpuTime(r.pid(k))
		}
		s, stop, err := r.starts(ctx, k, 1)
		if err != nil {
			return nil, err
		}
		d, err := stop()
		if k != keyBare && !warmup {
			cpu1, _ := cpuTime(r.pid(k))
			r.cpu[k] = append(r.cpu[k], ms(cpu1-cpu0))
		}
		return []float64{ms(s), ms(d)}, err
	})
	if err != nil {
		return nil, err
	}
	cpu := newMeasure("9-cpu", "QEMU: daemon CPU per start + destroy", "ms", false)
	for _, k := range []string{keyGovirtd, keyLibvirtd} {
		for _, v := range r.cpu[k] {
			cpu.add(k, v)
		}
	}
	cpu.finish()
	return []*Measure{start, destroy, cpu}, nil
}

func (r *qemuRig) measureSuspendResume(ctx context.Context) ([]*Measure, error) {
	suspend := newMeasure("9-suspend", "QEMU: suspend a running guest", "ms", false)
	resume := newMeasure("9-resume", "QEMU: resume it", "ms", false)
	err := r.b.alternate([]*Measure{suspend, resume}, qemuKeys, r.b.o.rounds, func(k string, warmup bool) ([]float64, error) {
		s, res, err := r.suspendResume(ctx, k)
		return []float64{ms(s), ms(res)}, err
	})
	if err != nil {
		return nil, err
	}
	return []*Measure{suspend, resume}, nil
}

// tenRounds is the rounds of the measures with 10 guests at once.
func (r *qemuRig) tenRounds() int { return max(1, r.b.o.rounds/2) }

func (r *qemuRig) measureTen(ctx context.Context) ([]*Measure, error) {
	rss := newMeasure("9-rss10", "QEMU: daemon RSS with 10 guests running", "MiB", false)
	start10 := newMeasure("9-start10", "QEMU: 10 starts at once, until all run", "ms", false)
	destroy10 := newMeasure("9-destroy10", "QEMU: 10 destroys at once, until all gone", "ms", false)
	err := r.b.alternate([]*Measure{start10, destroy10}, qemuKeys, r.tenRounds(), func(k string, warmup bool) ([]float64, error) {
		s, stop, err := r.starts(ctx, k, 10)
		if err != nil {
			return nil, err
		}
		if k != keyBare && !warmup {
			if kib, err := rssKiB(r.pid(k)); err == nil {
				rss.add(k, float64(kib)/1024)
			}
		}
		d, err := stop()
		return []float64{ms(s), ms(d)}, err
	})
	if err != nil {
		return nil, err
	}
	rss.finish()
	return []*Measure{start10, destroy10, rss}, nil
}

func (r *qemuRig) measureReattach(ctx context.Context) ([]*Measure, error) {
	reattach := newMeasure("9-reattach", "QEMU: daemon restart with 10 guests running, until it drives them (listed running, each suspended and resumed)", "ms", false)
	err := r.b.alternate([]*Measure{reattach}, []string{keyGovirtd, keyLibvirtd}, r.tenRounds(), func(k string, warmup bool) ([]float64, error) {
		_, stop, err := r.starts(ctx, k, 10)
		if err != nil {
			return nil, err
		}
		d, err := r.restart(k, 10)
		if _, serr := stop(); err == nil {
			err = serr
		}
		return []float64{ms(d)}, err
	})
	if err != nil {
		return nil, err
	}
	return []*Measure{reattach}, nil
}

func (r *qemuRig) measureLinux(ctx context.Context) ([]*Measure, error) {
	guest, err := r.b.tinyGuest()
	if err != nil {
		r.b.logf("measure 9-linux left out: %v", err)
		return nil, nil
	}
	linux := newMeasure("9-linux", "QEMU: start the tiny Linux guest until its first serial output", "ms", false)
	err = r.b.alternate([]*Measure{linux}, qemuKeys, r.b.o.rounds, func(k string, warmup bool) ([]float64, error) {
		r.seq++
		name := fmt.Sprintf("bq%d", r.seq)
		console := filepath.Join(r.dir, name+".console")
		begin := time.Now()
		var stop func() error
		if k == keyBare {
			q, err := startBareQemu(ctx, r.qemuBin, r.dir, name, "-kernel", guest+"/vmlinuz", "-initrd", guest+"/initrd.gz",
				"-append", "console=ttyS0 quiet panic=-1", "-serial", "file:"+console)
			if err != nil {
				return nil, err
			}
			stop = func() error { q.stop(); return nil }
		} else {
			dom, err := r.conn(k).DomainCreateXML(linuxGuestXML(name, guest, console), 0)
			if err != nil {
				return nil, err
			}
			stop = func() error { return r.conn(k).DomainDestroy(dom) }
		}
		err := waitFile(console, "GUEST-UP", time.Minute)
		took := time.Since(begin)
		if serr := stop(); err == nil {
			err = serr
		}
		return []float64{ms(took)}, err
	})
	if err != nil {
		return nil, err
	}
	return []*Measure{linux}, nil
}

func (r *qemuRig) measureShutdown(ctx context.Context) ([]*Measure, error) {
	guest, err := r.b.tinyGuest()
	if err != nil {
		r.b.logf("measure 9-shutdown left out: %v", err)
		return nil, nil
	}
	shutdown := newMeasure("9-shutdown", "QEMU: ACPI shutdown of the tiny Linux guest, until shut off", "ms", false)
	err = r.b.alternate([]*Measure{shutdown}, qemuKeys, r.b.o.rounds, func(k string, warmup bool) ([]float64, error) {
		d, err := r.acpiShutdown(ctx, k, guest)
		return []float64{ms(d)}, err
	})
	if err != nil {
		return nil, err
	}
	return []*Measure{shutdown}, nil
}
