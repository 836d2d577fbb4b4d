// Package storage is govirtd's storage driver: the storage concern of
// qemu:///system and qemu:///session, beside the QEMU hypervisor driver,
// as libvirt's storage driver serves its QEMU driver's connections. It
// serves dir pools on real directories and their volumes as real files
// made, copied and resized by qemu-img.
//
// Locking: mu guards the pool table and everything a list, lookup, info
// or XML call reads; it is never held across a file operation or a
// qemu-img run. Each pool has a job lock that orders the calls changing
// it (build, start, refresh, volume create…); those do their I/O holding
// only that lock, then take mu briefly to publish the result.
package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/govirt/govirtd/drivers"
)

// Config says where the storage driver keeps its files and finds
// qemu-img. Empty fields get Defaults' values.
type Config struct {
	// ConfigDir holds the persistent pool definitions, NAME.xml
	// (storage_config_dir), as libvirt's /etc/libvirt/storage.
	ConfigDir string
	// AutostartDir holds a link NAME.xml -> ConfigDir/NAME.xml for each
	// pool flagged autostart (storage_autostart_dir; default
	// ConfigDir/autostart).
	AutostartDir string
	// StateDir holds the definition of each active pool, so that a
	// restarted daemon finds the pools that were running, transient ones
	// included (storage_state_dir), as libvirt's /run/libvirt/storage.
	StateDir string
	// QemuImg is the qemu-img executable (storage_qemu_img; default
	// qemu-img from $PATH).
	QemuImg string
}

func privileged() bool { return os.Geteuid() == 0 }

// Defaults returns c with every empty field set: /etc/govirtd/storage and
// /run/govirtd/storage as root, else under the user's XDG directories.
func (c Config) Defaults() Config {
	if privileged() {
		setDefault(&c.ConfigDir, "/etc/govirtd/storage")
		setDefault(&c.StateDir, "/run/govirtd/storage")
	} else {
		setDefault(&c.ConfigDir, filepath.Join(xdgDir("XDG_CONFIG_HOME", ".config"), "govirtd", "storage"))
		run := os.Getenv("XDG_RUNTIME_DIR")
		if run == "" {
			run = filepath.Join(os.TempDir(), fmt.Sprintf("govirtd-%d", os.Geteuid()))
		}
		setDefault(&c.StateDir, filepath.Join(run, "govirtd", "storage"))
	}
	setDefault(&c.AutostartDir, filepath.Join(c.ConfigDir, "autostart"))
	return c
}

func setDefault(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

func xdgDir(env, fallback string) string {
	if d := os.Getenv(env); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = os.TempDir()
	}
	return filepath.Join(home, fallback)
}

func (c Config) configPath(name string) string    { return filepath.Join(c.ConfigDir, name+".xml") }
func (c Config) autostartPath(name string) string { return filepath.Join(c.AutostartDir, name+".xml") }
func (c Config) statePath(name string) string     { return filepath.Join(c.StateDir, name+".xml") }

// Driver is the storage driver's state, shared by its connections.
type Driver struct {
	given, cfg Config
	log        *slog.Logger
	qemuImgBin string // resolved by Startup

	mu     sync.RWMutex
	pools  []*pool // in definition order
	events drivers.StoragePoolCallbackList
}

// New returns a storage driver configured by cfg; it does nothing until
// Startup.
func New(cfg Config, log *slog.Logger) *Driver {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Driver{given: cfg, cfg: cfg.Defaults(), log: log.With("driver", "storage")}
}

// Name is the driver's name.
func (d *Driver) Name() string { return "storage" }

// SetLogger makes log the driver's logger; call it before Startup.
func (d *Driver) SetLogger(log *slog.Logger) { d.log = log.With("driver", "storage") }

// Config is the driver's configuration with defaults filled in.
func (d *Driver) Config() Config { return d.cfg }

// ConfigKeys are the storage driver's keys of the daemon's configuration
// file, set before Startup.
func (d *Driver) ConfigKeys() []drivers.ConfigKey {
	key := func(name string, typ drivers.ConfigType, field func(*Config) *string) drivers.ConfigKey {
		return drivers.ConfigKey{Name: name, Type: typ, SetString: func(v string) error {
			*field(&d.given) = v
			d.cfg = d.given.Defaults()
			return nil
		}}
	}
	return []drivers.ConfigKey{
		key("storage_config_dir", drivers.ConfigAbsPath, func(c *Config) *string { return &c.ConfigDir }),
		key("storage_autostart_dir", drivers.ConfigAbsPath, func(c *Config) *string { return &c.AutostartDir }),
		key("storage_state_dir", drivers.ConfigAbsPath, func(c *Config) *string { return &c.StateDir }),
		key("storage_qemu_img", drivers.ConfigString, func(c *Config) *string { return &c.QemuImg }),
	}
}

// Requires is empty: the storage driver needs no other driver, and the
// QEMU driver requires it.
func (d *Driver) Requires() []drivers.Concern { return nil }

// Open serves the storage concern of qemu:///system and qemu:///session
// (the hypervisor driver has checked which of them this daemon serves)
// and of a probed connection; it declines every other URI.
func (d *Driver) Open(ctx context.Context, uri *url.URL, flags uint32) (drivers.Conn, error) {
	if uri.String() != "" && uri.Scheme != "qemu" {
		return nil, drivers.ErrDeclined
	}
	return &conn{drv: d}, nil
}

// Startup finds qemu-img, makes the directories, loads the persistent
// definitions and the state of the pools that were active, restarts
// those, and starts the autostart pools, as libvirt's storage driver
// does at its start.
func (d *Driver) Startup(ctx context.Context) error {
	bin := d.cfg.QemuImg
	if bin == "" {
		bin = "qemu-img"
	}
	p, err := exec.LookPath(bin)
	if err != nil {
		return &drivers.SkipError{Reason: fmt.Sprintf("no %s executable (%v): install qemu-utils (`make deps`) or set storage_qemu_img", bin, err)}
	}
	d.qemuImgBin = p
	for _, dir := range []string{d.cfg.ConfigDir, d.cfg.StateDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("cannot create storage directory %s: %w (run as root, or set storage_config_dir/storage_state_dir)", dir, err)
		}
	}
	d.load(ctx)
	return nil
}

// Reload re-reads nothing yet: definitions change only through the API.
func (d *Driver) Reload(ctx context.Context) error { return nil }

// Shutdown forgets the pools; their files, state files included, stay
// for the next start.
func (d *Driver) Shutdown(ctx context.Context) error {
	d.mu.Lock()
	d.pools = nil
	d.mu.Unlock()
	return nil
}

// load reads ConfigDir's definitions and StateDir's active pools, then
// starts what was active and what is autostart.
func (d *Driver) load(ctx context.Context) {
	defs := map[string]*poolDef{}
	var order []string
	read := func(dir string) map[string]*poolDef {
		out := map[string]*poolDef{}
		ents, err := os.ReadDir(dir)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				d.log.Error("cannot read storage directory", "dir", dir, "err", err)
			}
			return out
		}
		for _, e := range ents {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".xml") {
				continue
			}
			path := filepath.Join(dir, e.Name())
			data, err := os.ReadFile(path)
			if err != nil {
				d.log.Error("cannot read pool definition", "file", path, "err", err)
				continue
			}
			def, err := parsePoolXML(string(data))
			if err != nil {
				d.log.Error("pool definition ignored", "file", path, "err", err)
				continue
			}
			if def.name+".xml" != e.Name() {
				d.log.Error("pool definition ignored: its name differs from its file's", "file", path, "name", def.name)
				continue
			}
			out[def.name] = def
		}
		return out
	}
	for name, def := range read(d.cfg.ConfigDir) {
		defs[name] = def
		order = append(order, name)
	}
	states := read(d.cfg.StateDir)
	for name := range states {
		if defs[name] == nil {
			order = append(order, name)
		}
	}
	sort.Strings(order)
	d.mu.Lock()
	for _, name := range order {
		p := &pool{}
		if def := defs[name]; def != nil {
			p.def, p.persistent = def, true
			if _, err := os.Lstat(d.cfg.autostartPath(name)); err == nil {
				p.autostart = true
			}
		} else {
			p.def = states[name]
		}
		d.pools = append(d.pools, p)
	}
	pools := append([]*pool(nil), d.pools...)
	d.mu.Unlock()
	for _, p := range pools {
		_, wasActive := states[p.def.name]
		if !wasActive && !p.autostart {
			continue
		}
		if err := d.start(ctx, p, 0); err != nil {
			d.log.Error("storage pool not started", "pool", p.def.name, "err", err)
			if !p.persistent {
				d.mu.Lock()
				d.remove(p)
				d.mu.Unlock()
			}
		}
	}
}
