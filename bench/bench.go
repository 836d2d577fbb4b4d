package main

import (
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
)

// method says how the numbers were taken; it goes into the JSON file.
const method = `Both daemons are child processes of the benchmark on the same machine, each serving its test driver (test:///default) on a private unix socket with auth none and its default limits; libvirtd loads no driver modules (LIBVIRT_DRIVER_DIR is an empty directory). The client is go-libvirt in the benchmark process (GOMAXPROCS = cores). Every measure takes one sample per target per round, in the order A B … in even rounds and … B A in odd ones, after one discarded warm-up sample; the table shows the median over rounds. Latency percentiles are computed per round, then their median is taken. One extra connection to each daemon stays open for the whole run (libvirt's test driver resets when its last connection closes). The client ceiling is go-libvirt against a null server (this program, in its own process) that answers every call at once with an 8-byte OK reply, and for the event measures plays a domain "test" whose SUSPEND and RESUME send every subscriber its event before the reply. Measure 8 starts fresh daemons each round. "Daemon CPU" rows are the daemon's CPU time (all threads, /proc/PID/task/*/schedstat) during a sample divided by its calls or events. The connection storm of measure 5 runs after the event measures.`

// bench is one run: its options, its temporary directory and the daemons
// it started.
type bench struct {
	o   options
	dir string

	mu    sync.Mutex    // guards procs and dirs
	procs []*daemonProc // every daemon started, for stopAll
	dirs  []string      // directories outside dir to remove at the end (tmpfs)

	gv, lv, null *daemonProc
	keepers      []*libvirt.Libvirt
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// wants reports whether measure id is to run (-only). Measure 9's
// groups can be picked alone (-only 9-start,9-reattach): "9" then runs
// with only those.
func (b *bench) wants(id string) bool {
	if b.o.only == "" {
		return true
	}
	only := strings.Split(b.o.only, ",")
	if id == "9" && slices.ContainsFunc(only, func(s string) bool { return strings.HasPrefix(s, "9-") }) {
		return true
	}
	return slices.Contains(only, id) || strings.HasPrefix(id, "9-") && slices.Contains(only, "9")
}

// startDaemon starts the daemon of kind ("govirtd", "libvirtd", "null")
// in dir and waits until its socket accepts.
func (b *bench) startDaemon(kind, dir string) (*daemonProc, time.Duration, error) {
	var (
		p   *daemonProc
		err error
	)
	switch kind {
	case keyGovirtd:
		p, err = startGovirtd(b.o.govirtd, dir)
	case keyLibvirtd:
		p, err = startLibvirtd(b.o.libvirtd, dir)
	case keyNull:
		p, err = startNull(dir)
	default:
		panic("unknown daemon " + kind)
	}
	if err != nil {
		return nil, 0, err
	}
	b.mu.Lock()
	b.procs = append(b.procs, p)
	b.mu.Unlock()
	d, err := p.waitAccepting(30 * time.Second)
	if err != nil {
		p.stop()
		return nil, 0, err
	}
	return p, d, nil
}

// stopAll stops every daemon the run started that still runs, and
// removes the directories it made outside its own.
func (b *bench) stopAll() {
	b.mu.Lock()
	procs, dirs := b.procs, b.dirs
	b.procs, b.dirs = nil, nil
	b.mu.Unlock()
	for _, p := range procs {
		p.stop()
	}
	for _, d := range dirs {
		os.RemoveAll(d)
	}
}

// removeAtEnd has stopAll remove dir.
func (b *bench) removeAtEnd(dir string) {
	b.mu.Lock()
	b.dirs = append(b.dirs, dir)
	b.mu.Unlock()
}

// alternate takes one sample of every key per round: A B … in even
// rounds, … B A in odd ones, after one discarded warm-up sample each.
// sample returns one value for each of ms.
func (b *bench) alternate(ms []*Measure, keys []string, rounds int, sample func(key string, warmup bool) ([]float64, error)) error {
	for _, k := range keys {
		if _, err := sample(k, true); err != nil {
			return fmt.Errorf("%s, warm-up on %s: %w", ms[0].Name, k, err)
		}
	}
	for r := range rounds {
		order := slices.Clone(keys)
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, k := range order {
			vs, err := sample(k, false)
			if err != nil {
				return fmt.Errorf("%s, round %d on %s: %w", ms[0].Name, r+1, k, err)
			}
			for i, m := range ms {
				m.add(k, vs[i])
			}
		}
	}
	for _, m := range ms {
		m.finish()
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s %s", k, format(m.Medians[k], m.Unit)))
		}
		b.logf("measure %s, %s (%s): %s", m.ID, m.Name, m.Unit, strings.Join(parts, ", "))
	}
	return nil
}

func (b *bench) sockOf(key string) string {
	switch key {
	case keyGovirtd, keyRemote:
		return b.gv.sock
	case keyLibvirtd:
		return b.lv.sock
	case keyNull:
		return b.null.sock
	}
	panic("unknown key " + key)
}

func (b *bench) pidOf(key string) int {
	switch key {
	case keyGovirtd, keyRemote:
		return b.gv.pid()
	case keyLibvirtd:
		return b.lv.pid()
	case keyNull:
		return b.null.pid()
	}
	panic("unknown key " + key)
}

func (b *bench) run() (*Results, error) {
	begin := time.Now()
	res := &Results{
		Date:          begin.UTC().Format(time.RFC3339),
		Mode:          map[bool]string{true: "quick", false: "full"}[b.o.quick],
		Rounds:        b.o.rounds,
		SampleSeconds: b.o.sample.Seconds(),
		Machine:       machine(),
		Versions:      versions(b.o),
		Method:        method,
	}
	b.logf("libvirtd %s, govirtd %s, go-libvirt %s; %s run in %s", res.Versions.Libvirtd, res.Versions.Govirtd,
		res.Versions.GoLibvirt, res.Mode, b.dir)

	var startup []*Measure
	if b.wants("8") {
		var err error
		if startup, err = b.measureStartup(); err != nil {
			return nil, err
		}
	}

	var err error
	if b.gv, _, err = b.startDaemon(keyGovirtd, filepath.Join(b.dir, "govirtd")); err != nil {
		return nil, err
	}
	if b.lv, _, err = b.startDaemon(keyLibvirtd, filepath.Join(b.dir, "libvirtd")); err != nil {
		return nil, err
	}
	if b.null, _, err = b.startDaemon(keyNull, filepath.Join(b.dir, "null")); err != nil {
		return nil, err
	}
	// libvirt's test driver resets when its last connection closes: one
	// connection to each daemon stays open for the whole run.
	for _, p := range []*daemonProc{b.gv, b.lv} {
		l, err := dialGoLibvirt(p.sock)
		if err != nil {
			return nil, fmt.Errorf("connect to %s: %w", p.name, err)
		}
		b.keepers = append(b.keepers, l)
	}
	defer func() {
		for _, l := range b.keepers {
			l.Disconnect()
		}
	}()

	steps := []struct {
		id string
		f  func() ([]*Measure, error)
	}{
		{"1", b.measureSequential},
		{"2", b.measureParallel},
		{"3", b.measurePipelined},
		{"4", b.measureLookups},
		// The event measures run before the connection storm of measure
		// 5: after it, libvirtd's event p99 was several times higher for
		// some seconds, which is not what measure 6 is about.
		{"6", b.measureEventLatency},
		{"7", b.measureFanout},
		{"5", b.measureConnect},
		// The QEMU driver's lifecycle, against daemons of its own.
		{"9", b.measureQEMU},
	}
	for _, s := range steps {
		if !b.wants(s.id) {
			continue
		}
		ms, err := s.f()
		if err != nil {
			return nil, err
		}
		res.Measures = append(res.Measures, ms...)
	}
	res.Measures = append(res.Measures, startup...)
	res.Machine.LoadEnd = loadavg()
	res.DurationSeconds = time.Since(begin).Round(time.Second).Seconds()
	res.checkTargets()
	return res, nil
}

// machine describes this machine.
func machine() Machine {
	m := Machine{Cores: runtime.NumCPU(), LoadStart: loadavg()}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kib int
		if _, err := fmt.Sscanf(string(data), "MemTotal: %d kB", &kib); err == nil {
			m.MemTotalMiB = kib / 1024
		}
	}
	return m
}

func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// versions finds the versions of the daemons and the client.
func versions(o options) Versions {
	v := Versions{Go: runtime.Version(), Libvirtd: "unknown", Govirtd: "unknown", GoLibvirt: "unknown"}
	if out, err := exec.Command(o.libvirtd, "--version").Output(); err == nil {
		f := strings.Fields(string(out))
		if len(f) > 0 {
			v.Libvirtd = f[len(f)-1]
		}
	}
	if out, err := exec.Command("dpkg-query", "-W", "-f", "${Version}", "libvirt-daemon").Output(); err == nil && len(out) > 0 {
		v.Libvirtd += " (Debian " + string(out) + ")"
	}
	if bi, err := buildinfo.ReadFile(o.govirtd); err == nil {
		var rev, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" {
			v.Govirtd = rev
			if modified == "true" {
				v.Govirtd += "+changes"
			}
		}
	}
	if v.Govirtd == "unknown" {
		// Built with -buildvcs=false: ask git about the working tree.
		if out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output(); err == nil {
			v.Govirtd = strings.TrimSpace(string(out))
			if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
				v.Govirtd += "+changes"
			}
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/digitalocean/go-libvirt" {
				v.GoLibvirt = d.Version
			}
		}
	}
	return v
}
