// Package qemu is govirtd's QEMU driver: it runs each domain as a qemu
// process it supervises over QMP, serves qemu:///system (as root) and
// qemu:///session (otherwise), and raises the domains' events itself,
// including for what happens without an API call (a guest that powers
// off, a qemu killed from outside, an autostart).
//
// Guests outlive the daemon: each runs in its own session, and a status
// file in the state directory lets a new daemon re-attach. The driver
// never kills a guest because its own bookkeeping failed.
package qemu

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/qemu/qmp"
	"github.com/govirt/govirtd/vir"
)

// Driver is the QEMU driver's state, shared by all its connections.
type Driver struct {
	// given is the configuration New and the configuration keys set; cfg
	// is it with the defaults filled in. Both change only before Startup.
	given Config
	cfg   Config
	log   *slog.Logger

	// Set by Startup, then read-only.
	binary  string // the resolved qemu binary
	version uint64 // its version, major*1e6+minor*1e3+micro

	// domains are the driver's domains in the order they became known:
	// the shared domain list, read without a lock. mu serialises its
	// changes (claim's check and add); see domain for the lock order.
	mu      sync.Mutex
	domains drivers.DomainObjList[*domain]

	nextID atomic.Int32 // the id the next started domain gets

	events drivers.CallbackList

	// writeDef writes a definition file: writeFileAtomic, a seam for
	// tests that stall the disk. Set before Startup, never changed.
	writeDef func(path string, data []byte, perm os.FileMode) error
	// writeStatusData writes a status file, the same seam for status
	// files.
	writeStatusData func(path string, data []byte, perm os.FileMode) error

	consoles      consoles                // the consoles clients hold open (console.go)
	graphicsPorts graphicsPorts           // the SPICE ports starts have chosen (graphicsports.go)
	volumes       drivers.VolumeResolver  // resolves <disk type='volume'> (volumes.go); nil without a storage driver
	networks      drivers.NetworkResolver // resolves <interface type='network'> (netif.go); nil without a network driver
	unplugs       unplugs                 // detaches waiting for the guest (hotplug.go)
	caps          capsCache               // each qemu binary's probed capabilities (capsprobe.go)

	goMu    sync.Mutex     // orders goroutine starts before Shutdown's wait
	closing chan struct{}  // closed by Shutdown, with goMu held
	wg      sync.WaitGroup // the driver's goroutines (watchers, autostart)
}

// background runs f on a goroutine the driver owns; Shutdown waits for
// it. Once Shutdown began, f is not run and background returns false.
func (d *Driver) background(f func()) bool {
	d.goMu.Lock()
	defer d.goMu.Unlock()
	select {
	case <-d.closing:
		return false
	default:
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		f()
	}()
	return true
}

// New returns a QEMU driver configured by cfg (empty fields get their
// defaults). It does nothing until the daemon calls Startup.
func New(cfg Config, log *slog.Logger) *Driver {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Driver{given: cfg, cfg: cfg.Defaults(), log: log.With("driver", "QEMU"), closing: make(chan struct{}), writeDef: writeFileAtomic, writeStatusData: writeFileAtomic}
	d.nextID.Store(1)
	return d
}

// Name is the driver's name.
func (d *Driver) Name() string { return "QEMU" }

// SetLogger makes log the driver's logger; call it before Startup (the
// daemon's logger is made once the configuration, which the driver's
// keys are part of, is read).
func (d *Driver) SetLogger(log *slog.Logger) { d.log = log.With("driver", "QEMU") }

// ConfigKeys are the QEMU driver's keys of the daemon's configuration
// file: its binary and directories. Unset, each keeps Config.Defaults's
// value. They are set before Startup.
func (d *Driver) ConfigKeys() []drivers.ConfigKey {
	key := func(name string, typ drivers.ConfigType, field func(*Config) *string) drivers.ConfigKey {
		return drivers.ConfigKey{Name: name, Type: typ, SetString: func(v string) error {
			*field(&d.given) = v
			d.cfg = d.given.Defaults() // the autostart directory follows the config directory
			return nil
		}}
	}
	return []drivers.ConfigKey{
		key("qemu_binary", drivers.ConfigString, func(c *Config) *string { return &c.Binary }),
		key("qemu_config_dir", drivers.ConfigAbsPath, func(c *Config) *string { return &c.ConfigDir }),
		key("qemu_autostart_dir", drivers.ConfigAbsPath, func(c *Config) *string { return &c.AutostartDir }),
		key("qemu_state_dir", drivers.ConfigAbsPath, func(c *Config) *string { return &c.StateDir }),
		key("qemu_log_dir", drivers.ConfigAbsPath, func(c *Config) *string { return &c.LogDir }),
	}
}

// Requires names the concerns whose drivers start before this one: the
// guests it autostarts at startup may use networks and pools, as
// libvirt starts its network and storage drivers before QEMU's.
func (d *Driver) Requires() []drivers.Concern {
	return []drivers.Concern{drivers.ConcernStorage, drivers.ConcernNetwork}
}

// Config is the driver's configuration with defaults filled in.
func (d *Driver) Config() Config { return d.cfg }

// Open accepts qemu:///system when the daemon runs as root and
// qemu:///session otherwise; an empty URI (a client probing) gets the
// one that applies.
func (d *Driver) Open(ctx context.Context, uri *url.URL, flags uint32) (drivers.Conn, error) {
	if uri.String() == "" {
		return &conn{drv: d}, nil
	}
	if uri.Scheme != "qemu" {
		return nil, drivers.ErrDeclined
	}
	want := servedPath()
	if uri.Host != "" || uri.Path != want {
		return nil, drivers.Errorf(vir.ErrNoConnect, vir.FromQEMU,
			"%s (this daemon runs as uid %d and serves qemu://%s)", uri.Redacted(), os.Geteuid(), want)
	}
	return &conn{drv: d}, nil
}

// servedPath is the path of the URI this daemon serves: /system as root,
// /session otherwise.
func servedPath() string {
	if privileged() {
		return "/system"
	}
	return "/session"
}

// Startup finds qemu, prepares the directories, re-attaches to the guests
// that ran when the daemon stopped, loads the definitions and, once per
// boot, starts the autostart domains. Without a qemu binary it answers
// drivers.SkipError and the daemon runs on without this driver.
func (d *Driver) Startup(ctx context.Context) error {
	bin, err := d.cfg.findBinary()
	if err != nil {
		return &drivers.SkipError{Reason: err.Error()}
	}
	d.binary = bin
	if d.version, err = qemuVersion(ctx, bin); err != nil {
		return &drivers.SkipError{Reason: err.Error()}
	}
	// The other directories are made when first written to.
	if err := os.MkdirAll(d.cfg.StateDir, 0o755); err != nil {
		return fmt.Errorf("cannot create qemu_state_dir %s: %w (run as root, or set qemu_state_dir in the config file)", d.cfg.StateDir, err)
	}
	d.checkStateDir()
	d.loadDefinitions(ctx, false)
	d.reconnectAll(ctx)
	d.autostartOnce()
	d.log.Info("QEMU driver started", "binary", bin, "version", d.version, "domains", len(d.list()))
	return nil
}

// checkStateDir warns when the state directory cannot be written: the
// guests already running keep running, but none can be started.
func (d *Driver) checkStateDir() {
	f, err := os.CreateTemp(d.cfg.StateDir, ".probe-*")
	if err != nil {
		d.log.Error("state directory is not writable: running guests are kept, new ones cannot start",
			"dir", d.cfg.StateDir, "err", err)
		return
	}
	f.Close()
	os.Remove(f.Name())
}

var versionRE = regexp.MustCompile(`version (\d+)\.(\d+)\.(\d+)`)

// qemuVersion runs `qemu --version`.
func qemuVersion(ctx context.Context, bin string) (uint64, error) {
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return 0, fmt.Errorf("cannot run %s --version: %v", bin, err)
	}
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("cannot read the version of %s from %q", bin, out)
	}
	var v [3]uint64
	for i := range v {
		v[i], _ = strconv.ParseUint(string(m[i+1]), 10, 32)
	}
	return v[0]*1_000_000 + v[1]*1000 + v[2], nil
}

// Reload re-reads the definitions and starts the autostart domains that
// are not running (libvirt does not autostart on reload; govirtd does).
func (d *Driver) Reload(ctx context.Context) error {
	d.loadDefinitions(ctx, true)
	return d.autostartAll(ctx, "reload")
}

// Shutdown detaches from the guests, which keep running, and stops the
// driver's goroutines.
func (d *Driver) Shutdown(ctx context.Context) error {
	d.goMu.Lock()
	select {
	case <-d.closing:
		d.goMu.Unlock()
		return nil
	default:
	}
	close(d.closing)
	d.goMu.Unlock()
	// Close waits for the monitor's reader, which may wait for the
	// domain's mu in an event handler: close outside it.
	var mons []*qmp.Monitor
	for _, dom := range d.list() {
		dom.mu.Lock()
		if inst := dom.proc; inst != nil && inst.mon != nil {
			mons = append(mons, inst.mon)
		}
		dom.mu.Unlock()
	}
	for _, m := range mons {
		m.Close()
	}
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("QEMU driver: goroutines still running at shutdown: %w", ctx.Err())
	}
}

// list returns the domains, visible or not; the caller must not change
// the slice.
func (d *Driver) list() []*domain { return d.domains.Objects() }

// add puts dom on the list.
func (d *Driver) add(dom *domain) {
	d.mu.Lock()
	d.domains.Add(dom)
	d.mu.Unlock()
}

// remove takes dom off the list; dom.mu held.
func (d *Driver) remove(dom *domain) {
	dom.removed = true
	d.mu.Lock()
	defer d.mu.Unlock()
	d.domains.Remove(dom)
}

// find returns the visible domain with ref's UUID. It may be removed
// by the time the caller locks it: see lock.
func (d *Driver) find(ref drivers.Domain) (*domain, error) {
	for _, dom := range d.list() {
		if dom.uuid == ref.UUID {
			dom.mu.Lock()
			visible := dom.visible()
			dom.mu.Unlock()
			if visible {
				return dom, nil
			}
		}
	}
	return nil, noDomain(ref)
}

func noDomain(ref drivers.Domain) error {
	return drivers.Errorf(vir.ErrNoDomain, vir.FromQEMU, "no domain with matching uuid '%s' (%s)", ref.UUID, ref.Name)
}

// lock finds ref's domain and returns it with its mu held, still
// visible.
func (d *Driver) lock(ref drivers.Domain) (*domain, error) {
	dom, err := d.find(ref)
	if err != nil {
		return nil, err
	}
	dom.mu.Lock()
	if !dom.visible() {
		dom.mu.Unlock()
		return nil, noDomain(ref)
	}
	return dom, nil
}

// findBy returns the first domain that match accepts, visible or not.
func (d *Driver) findBy(match func(*domain) bool) *domain {
	for _, dom := range d.list() {
		if match(dom) {
			return dom
		}
	}
	return nil
}
