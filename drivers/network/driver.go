// Package network is govirtd's network driver: the network concern of
// qemu:///system and qemu:///session, beside the QEMU hypervisor driver,
// as libvirt's bridge driver serves its QEMU driver's connections. Each
// active network with a bridge of its own is real: a Linux bridge made
// over netlink with the network's addresses, one dnsmasq serving its
// DHCP ranges, static hosts and DNS names, and for nat and route
// networks the forwarding and NAT rules in an nftables table of
// govirtd's own. A network of forward mode bridge names a host bridge
// that exists already.
//
// Like guests, active networks outlive the daemon: the bridge, dnsmasq
// and the rules stay, each active network's live definition is kept in
// the state directory, and a restarted daemon re-attaches to its dnsmasq
// by the pid file (starting a new one only when that one is gone).
//
// Locking: mu guards the table and everything a list, lookup, info or XML
// call reads; it is never held across I/O. job orders the calls that
// change networks (define, start, destroy, update, autostart…), which do
// their netlink, nft and dnsmasq work holding only job, then take mu
// briefly to publish.
package network

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/netxml"
	"github.com/govirt/govirtd/vir"
)

// Config says where the network driver keeps its files and finds its
// programs. Empty fields get Defaults' values.
type Config struct {
	// ConfigDir holds the persistent definitions, NAME.xml
	// (network_config_dir), as libvirt's /etc/libvirt/qemu/networks.
	ConfigDir string
	// AutostartDir holds a link NAME.xml -> ConfigDir/NAME.xml for each
	// network flagged autostart (network_autostart_dir; default
	// ConfigDir/autostart).
	AutostartDir string
	// StateDir holds each active network's live definition and its
	// dnsmasq's files: configuration, pid file, hosts files and leases
	// (network_state_dir), as libvirt's /run/libvirt/network and
	// /var/lib/libvirt/dnsmasq.
	StateDir string
	// Dnsmasq and Nft are the executables (network_dnsmasq,
	// network_nft; default dnsmasq and nft from $PATH).
	Dnsmasq string
	Nft     string
	// NoDefault keeps the driver from defining the network default when
	// ConfigDir is new (network_define_default = 0): a host that wants
	// no NAT bridge, or a test daemon outside a network namespace.
	NoDefault bool
}

func privileged() bool { return os.Geteuid() == 0 }

// Defaults returns c with every empty field set: /etc/govirtd/network and
// /run/govirtd/network as root, else under the user's XDG directories.
func (c Config) Defaults() Config {
	if privileged() {
		setDefault(&c.ConfigDir, "/etc/govirtd/network")
		setDefault(&c.StateDir, "/run/govirtd/network")
	} else {
		home, err := os.UserConfigDir()
		if err != nil {
			home = os.TempDir()
		}
		setDefault(&c.ConfigDir, filepath.Join(home, "govirtd", "network"))
		run := os.Getenv("XDG_RUNTIME_DIR")
		if run == "" {
			run = filepath.Join(os.TempDir(), fmt.Sprintf("govirtd-%d", os.Geteuid()))
		}
		setDefault(&c.StateDir, filepath.Join(run, "govirtd", "network"))
	}
	setDefault(&c.AutostartDir, filepath.Join(c.ConfigDir, "autostart"))
	setDefault(&c.Dnsmasq, "dnsmasq")
	setDefault(&c.Nft, "nft")
	return c
}

func setDefault(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

func (c Config) configPath(name string) string    { return filepath.Join(c.ConfigDir, name+".xml") }
func (c Config) autostartPath(name string) string { return filepath.Join(c.AutostartDir, name+".xml") }
func (c Config) statePath(name string) string     { return filepath.Join(c.StateDir, name+".xml") }

// dnsmasqPath is one of the files of name's dnsmasq: conf, pid,
// hostsfile, addnhosts, leases.
func (c Config) dnsmasqPath(name, kind string) string {
	return filepath.Join(c.StateDir, name+"."+kind)
}

// Driver is the network driver's state, shared by its connections.
type Driver struct {
	given, cfg Config
	log        *slog.Logger

	job sync.Mutex // orders the calls that change networks; held across I/O

	mu     sync.RWMutex
	nets   netxml.Table
	dns    map[string]int // the pid of each active network's dnsmasq
	events drivers.NetworkCallbackList
}

// New returns a network driver configured by cfg; it does nothing until
// Startup.
func New(cfg Config, log *slog.Logger) *Driver {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Driver{given: cfg, cfg: cfg.Defaults(), log: log.With("driver", "network"),
		nets: netxml.Table{From: vir.FromNetwork}, dns: map[string]int{}}
}

// Name is the driver's name.
func (d *Driver) Name() string { return "network" }

// SetLogger makes log the driver's logger; call it before Startup.
func (d *Driver) SetLogger(log *slog.Logger) { d.log = log.With("driver", "network") }

// Config is the driver's configuration with defaults filled in.
func (d *Driver) Config() Config { return d.cfg }

// ConfigKeys are the network driver's keys of the daemon's configuration
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
		key("network_config_dir", drivers.ConfigAbsPath, func(c *Config) *string { return &c.ConfigDir }),
		key("network_autostart_dir", drivers.ConfigAbsPath, func(c *Config) *string { return &c.AutostartDir }),
		key("network_state_dir", drivers.ConfigAbsPath, func(c *Config) *string { return &c.StateDir }),
		key("network_dnsmasq", drivers.ConfigString, func(c *Config) *string { return &c.Dnsmasq }),
		key("network_nft", drivers.ConfigString, func(c *Config) *string { return &c.Nft }),
		{Name: "network_define_default", Type: drivers.ConfigInt, Min: 0, Max: 1, SetInt: func(v int64) error {
			d.given.NoDefault = v == 0
			d.cfg = d.given.Defaults()
			return nil
		}},
	}
}

// Requires is empty: the network driver needs no other driver, and the
// QEMU driver requires it.
func (d *Driver) Requires() []drivers.Concern { return nil }

// Open serves the network concern of qemu:///system and qemu:///session
// (the hypervisor driver has checked which of them this daemon serves)
// and of a probed connection; it declines every other URI.
func (d *Driver) Open(ctx context.Context, uri *url.URL, flags uint32) (drivers.Conn, error) {
	if uri.String() != "" && uri.Scheme != "qemu" {
		return nil, drivers.ErrDeclined
	}
	return &conn{drv: d}, nil
}

// defaultNetworkXML is the network the driver defines, and marks
// autostart, when its configuration directory does not exist yet: the
// NAT network libvirt's packages install.
const defaultNetworkXML = `<network>
  <name>default</name>
  <bridge name='virbr0'/>
  <forward/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
    </dhcp>
  </ip>
</network>`

// Startup makes the directories (defining the network default when the
// configuration directory is new, unless network_define_default = 0), loads the persistent definitions and
// the live ones of the networks that were active, re-attaches to those
// (restarting a dnsmasq that is gone) and starts the autostart networks.
func (d *Driver) Startup(ctx context.Context) error {
	_, err := os.Stat(d.cfg.ConfigDir)
	firstStart := errors.Is(err, os.ErrNotExist)
	for _, dir := range []string{d.cfg.ConfigDir, d.cfg.StateDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("cannot create network directory %s: %w (run as root, or set network_config_dir/network_state_dir)", dir, err)
		}
	}
	if dir := unsearchable(d.cfg.StateDir); dir != "" {
		d.log.Warn("dnsmasq drops its privileges (to nobody) and then cannot re-read its hosts files in network_state_dir: DHCP hosts added to a running network will not apply; make the directory world-searchable (chmod o+x) or set network_state_dir elsewhere",
			"network_state_dir", d.cfg.StateDir, "directory", dir)
	}
	if firstStart && !d.cfg.NoDefault {
		if err := d.defineDefault(); err != nil {
			d.log.Error("network 'default' not defined", "err", err)
		}
	}
	d.load(ctx)
	return nil
}

// unsearchable is the first directory from / to dir that others may not
// enter, "" when there is none.
func unsearchable(dir string) string {
	parts := strings.Split(filepath.Clean(dir), string(filepath.Separator))
	p := string(filepath.Separator)
	for _, part := range parts {
		p = filepath.Join(p, part)
		if st, err := os.Stat(p); err == nil && st.Mode().Perm()&0o001 == 0 {
			return p
		}
	}
	return ""
}

// defineDefault writes the network default and its autostart link.
func (d *Driver) defineDefault() error {
	def, uuid, err := netxml.Parse(defaultNetworkXML)
	if err != nil {
		return err
	}
	addMAC(def)
	d.nets.Objs = nil
	if err := d.saveConfig(def); err != nil {
		return err
	}
	d.log.Info("network 'default' defined (first start)", "uuid", uuid, "file", d.cfg.configPath("default"))
	return d.setAutostartLink("default", true)
}

// Reload does what libvirt's network driver does on SIGHUP: definitions
// written to network_config_dir meanwhile are added (a file of a
// network already known is left alone: definitions change through the
// API), each active network's rules are put back and its dnsmasq
// refreshed (started again if gone, else told to re-read its hosts
// files), and the autostart networks that are not running are started,
// before the QEMU driver autostarts guests that may need them.
func (d *Driver) Reload(ctx context.Context) error {
	d.job.Lock()
	defer d.job.Unlock()
	configs := d.readDefs(d.cfg.ConfigDir)
	names := make([]string, 0, len(configs))
	for n := range configs {
		names = append(names, n)
	}
	sort.Strings(names)
	d.mu.Lock()
	for _, name := range names {
		c := configs[name]
		if _, err := d.nets.ByName(name); err == nil || d.nets.FindUUID(c.uuid) != nil {
			continue
		}
		o := &netxml.Obj{Def: c.def, UUID: c.uuid, Persistent: true}
		if _, err := os.Lstat(d.cfg.autostartPath(name)); err == nil {
			o.Autostart = true
		}
		d.nets.Objs = append(d.nets.Objs, o)
		d.log.Info("network definition found on reload", "network", name, "file", d.cfg.configPath(name))
		d.emit(o, vir.NetworkEventDefined)
	}
	objs := append([]*netxml.Obj(nil), d.nets.Objs...)
	d.mu.Unlock()
	for _, o := range objs {
		switch {
		case o.Active:
			if subs, err := subnets(o.Def); err == nil && ownBridge(o.Def) {
				if err := d.addRules(o.Def, subs); err != nil {
					d.log.Error("network's firewall rules not put back", "network", o.Def.Name, "err", err)
				}
			}
			if err := d.refreshDnsmasq(o.Def); err != nil {
				d.log.Error("dnsmasq not refreshed", "network", o.Def.Name, "err", err)
			}
		case o.Autostart:
			if err := d.start(ctx, o); err != nil {
				d.log.Error("autostart network not started", "network", o.Def.Name, "err", err)
			}
		}
	}
	return nil
}

// Shutdown forgets the networks: their bridges, dnsmasq and rules stay
// for the guests, and for the next start to re-attach to.
func (d *Driver) Shutdown(ctx context.Context) error {
	d.mu.Lock()
	d.nets.Objs = nil
	d.mu.Unlock()
	return nil
}

// load reads ConfigDir's definitions and StateDir's active networks,
// re-attaches to the networks that were active and starts the autostart
// ones.
func (d *Driver) load(ctx context.Context) {
	configs := d.readDefs(d.cfg.ConfigDir)
	states := d.readDefs(d.cfg.StateDir)
	names := map[string]bool{}
	for n := range configs {
		names[n] = true
	}
	for n := range states {
		names[n] = true
	}
	order := make([]string, 0, len(names))
	for n := range names {
		order = append(order, n)
	}
	sort.Strings(order)
	d.job.Lock()
	defer d.job.Unlock()
	for _, name := range order {
		o := &netxml.Obj{}
		if c := configs[name]; c != nil {
			o.Def, o.UUID, o.Persistent = c.def, c.uuid, true
			if _, err := os.Lstat(d.cfg.autostartPath(name)); err == nil {
				o.Autostart = true
			}
		}
		if s := states[name]; s != nil {
			if o.Def != nil && s.uuid != o.UUID {
				d.log.Error("network state ignored: its uuid differs from the definition's", "network", name, "file", d.cfg.statePath(name))
			} else {
				if o.Def != nil {
					o.NewDef = o.Def
				}
				o.Def, o.UUID, o.Active = s.def, s.uuid, true
			}
		}
		d.mu.Lock()
		d.nets.Objs = append(d.nets.Objs, o)
		d.mu.Unlock()
		switch {
		case o.Active:
			if err := d.reattach(ctx, o.Def); err != nil {
				d.log.Error("active network not re-attached: stopping it", "network", name, "err", err)
				d.teardown(o.Def)
				d.mu.Lock()
				d.deactivate(o)
				d.mu.Unlock()
			} else {
				d.log.Info("network re-attached", "network", name, "bridge", bridgeName(o.Def))
			}
		case o.Autostart:
			if err := d.start(ctx, o); err != nil {
				d.log.Error("autostart network not started", "network", name, "err", err)
			}
		}
	}
}

type loadedDef struct {
	def  *libvirtxml.Network
	uuid drivers.UUID
}

// readDefs parses the NAME.xml files of dir; a file that does not parse,
// or whose network is named otherwise, is logged and left alone.
func (d *Driver) readDefs(dir string) map[string]*loadedDef {
	out := map[string]*loadedDef{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			d.log.Error("cannot read network directory", "dir", dir, "err", err)
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
			d.log.Error("cannot read network definition", "file", path, "err", err)
			continue
		}
		def, uuid, err := netxml.Parse(string(data))
		if err != nil {
			d.log.Error("network definition ignored", "file", path, "err", err)
			continue
		}
		if def.Name+".xml" != e.Name() {
			d.log.Error("network definition ignored: its name differs from its file's", "file", path, "name", def.Name)
			continue
		}
		out[def.Name] = &loadedDef{def: def, uuid: uuid}
	}
	return out
}
