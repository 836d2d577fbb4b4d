// Package xen is govirtd's unified Xen driver (xen:///system). One
// connection holds one driver that owns three private sub-drivers and
// calls, per operation, the one that can do it (see conn.go):
//   - xenstore (store.go): the running domains, their names, uuids,
//     memory targets and vcpus, read from xenstored, and the lifecycle
//     events, raised from its @introduceDomain / @releaseDomain watches;
//   - toolstack (toolstack.go): lifecycle through the xl command;
//   - config (cfgdir.go): inactive domains as xl.cfg files.
//
// The driver skips, leaving the daemon running, when no xenstored socket
// answers.
package xen

import (
	"context"
	"log/slog"
	"net/url"
	"os"
	"sync"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/xen/xenstore"
	"github.com/govirt/govirtd/vir"
)

// Config is the driver's settings; empty fields take the defaults.
type Config struct {
	Socket    string // xenstored's socket: $XENSTORED_PATH or /var/run/xenstored/socket
	XL        string // the xl binary ("xl")
	ConfigDir string // xl.cfg files ("/etc/xen")
}

// Driver is the unified Xen driver.
type Driver struct {
	cfg Config
	log *slog.Logger

	store *storeDriver
	tools *toolstack
	defs  *cfgDir

	events drivers.CallbackList
	doms   drivers.DomainObjList[*dom]

	// syncMu serialises resyncs, so each change raises its event once.
	syncMu sync.Mutex
	// intents are the stop details of stops govirtd asked for, by uuid;
	// guarded by syncMu.
	intents map[drivers.UUID]int32
	// restoring counts the restores under way; guarded by syncMu.
	restoring int

	stopWatch chan struct{}
	wg        sync.WaitGroup
}

// New returns a driver with cfg; log may be nil.
func New(cfg Config, log *slog.Logger) *Driver {
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return &Driver{cfg: cfg, log: log, intents: map[drivers.UUID]int32{}}
}

// Name is the driver's name in logs.
func (d *Driver) Name() string { return "Xen" }

// ConfigKeys are the driver's keys of the daemon's configuration.
func (d *Driver) ConfigKeys() []drivers.ConfigKey {
	set := func(p *string) func(string) error { return func(v string) error { *p = v; return nil } }
	return []drivers.ConfigKey{
		{Name: "xen_xenstored_socket", Type: drivers.ConfigAbsPath, SetString: set(&d.cfg.Socket)},
		{Name: "xen_xl_binary", Type: drivers.ConfigString, SetString: set(&d.cfg.XL)},
		{Name: "xen_config_dir", Type: drivers.ConfigAbsPath, SetString: set(&d.cfg.ConfigDir)},
	}
}

// Startup connects to xenstored and watches domains come and go; with
// no xenstored it skips.
func (d *Driver) Startup(ctx context.Context) error {
	if d.cfg.Socket == "" {
		d.cfg.Socket = xenstore.SocketPath()
	}
	if d.cfg.XL == "" {
		d.cfg.XL = "xl"
	}
	if d.cfg.ConfigDir == "" {
		d.cfg.ConfigDir = "/etc/xen"
	}
	xs, err := xenstore.Dial(d.cfg.Socket, xenstore.Options{
		Reconnect:    true,
		OnDisconnect: func(err error) { d.log.Warn("Xen: lost xenstored; calls fail until it is back", "err", err) },
		OnReconnect:  func() { d.log.Info("Xen: xenstored is back, resyncing"); d.resync(context.Background()) },
	})
	if err != nil {
		return &drivers.SkipError{Reason: err.Error()}
	}
	d.store = &storeDriver{xs: xs}
	d.tools = &toolstack{xl: d.cfg.XL, socket: d.cfg.Socket}
	if err := d.tools.check(); err != nil {
		d.log.Warn("Xen: lifecycle calls will fail", "err", err)
	}
	d.defs = &cfgDir{dir: d.cfg.ConfigDir}
	in, err := xs.Watch(ctx, "@introduceDomain", "govirtd-introduce")
	if err != nil {
		xs.Close()
		return err
	}
	out, err := xs.Watch(ctx, "@releaseDomain", "govirtd-release")
	if err != nil {
		xs.Close()
		return err
	}
	d.stopWatch = make(chan struct{})
	d.resync(ctx)
	d.wg.Add(1)
	go d.watchLoop(in, out)
	return nil
}

// watchLoop resyncs on every firing of the two watches: an event says
// "look again", so a dropped one loses nothing while one is queued.
func (d *Driver) watchLoop(in, out *xenstore.Watch) {
	defer d.wg.Done()
	for {
		select {
		case <-d.stopWatch:
			return
		case <-in.Events():
		case <-out.Events():
		}
		d.resync(context.Background())
	}
}

// Reload re-reads the config directory.
func (d *Driver) Reload(ctx context.Context) error {
	d.resync(ctx)
	return nil
}

// Shutdown stops watching and closes the xenstore connection; guests run on.
func (d *Driver) Shutdown(ctx context.Context) error {
	if d.stopWatch != nil {
		close(d.stopWatch)
		d.wg.Wait()
	}
	if d.store != nil {
		return d.store.xs.Close()
	}
	return nil
}

// Open serves xen:///system (and xen:///, as libvirt does).
func (d *Driver) Open(ctx context.Context, uri *url.URL, flags uint32) (drivers.Conn, error) {
	if uri.Scheme != "xen" || uri.Host != "" || (uri.Path != "/system" && uri.Path != "/" && uri.Path != "") {
		return nil, drivers.ErrDeclined
	}
	if d.store == nil {
		return nil, drivers.Errorf(vir.ErrNoConnect, vir.FromXen, "the Xen driver is not running (no xenstored at %s)", d.cfg.Socket)
	}
	return &conn{d: d}, nil
}

// SetLogger sets the driver's log; call before Startup.
func (d *Driver) SetLogger(log *slog.Logger) { d.log = log }
