// Package daemon is the govirtd server process: configuration, the unix
// listeners, signal handling, the drivers' lifecycle hooks and the remote
// program's dispatch table with each client's session state. It
// implements no hypervisor behaviour: that is the drivers'.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/internal/sockpath"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/rpc"
	"github.com/govirt/govirtd/systemd"
)

// driverShutdownTimeout bounds the drivers' Shutdown hooks.
const driverShutdownTimeout = 30 * time.Second

// Daemon is a configured govirtd instance.
type Daemon struct {
	cfg      *Config
	log      *slog.Logger
	registry *drivers.Registry
	srv      *rpc.Server

	// started are the stateful drivers whose Startup succeeded, in order.
	started []drivers.StateDriver

	sessionsMu sync.Mutex // guards sessions
	sessions   map[*session]struct{}

	listenMu sync.Mutex // guards paths and tlsAddr
	paths    []string   // socket paths to remove at shutdown
	tlsAddr  string     // the TLS listener's address, once it listens (tls.go)
	// tlsInherited: the TLS listener is systemd's socket, which serves
	// (and reloads its material) whatever listen_tls says.
	tlsInherited bool
	roName       string // the read-only listener's name, for its limit

	// idle decides the idle exit (--timeout); used by Run's loop only.
	// idleSet hands the loop a timeout the admin program sets.
	idle    idleTimer
	idleSet chan time.Duration

	// The admin program (admin.go): its own transport, made by New; its
	// handler table, made on first use; what its logging calls set.
	adminSrv  *rpc.Server
	adminPath string // guarded by listenMu
	adminOnce sync.Once
	adminH    *adminHandlers
	logs      adminLogs

	// inherited are the sockets systemd passed, until Listen takes them.
	inherited *systemd.Inherited

	// tls is the TLS material of new handshakes; nil while the TLS
	// listener does not listen.
	tls atomic.Pointer[tlsState]

	// What SIGHUP re-reads and changes (reload.go).
	reloadMu   sync.Mutex       // one reload at a time; guards cfg's replacement
	configFile string           // --config; "" is the embedded default
	drvs       []drivers.Driver // every driver, whose keys the file may set
	logLevel   *slog.LevelVar   // the logger's level, which log_level sets
	logFixed   bool             // --verbose: log_level is not applied

	// OnListening, when set, is called with the two socket paths once
	// both accept clients.
	OnListening func(rw, ro string)
}

// New makes a daemon serving drivers (asked in order for each URI) with
// cfg. Nothing listens until Listen.
func New(cfg *Config, log *slog.Logger, drvs ...drivers.Driver) *Daemon {
	d := &Daemon{
		cfg:      cfg,
		log:      log,
		registry: &drivers.Registry{},
		sessions: map[*session]struct{}{},
		drvs:     drvs,
	}
	for _, drv := range drvs {
		d.registry.Register(drv)
	}
	d.srv = rpc.NewServer(rpc.ServerConfig{
		MaxClients:        cfg.MaxClients,
		MaxClientRequests: cfg.MaxClientRequests,
		MaxQueue:          cfg.MaxClientQueue,
		MaxQueueBytes:     int64(cfg.MaxClientQueueBytes),
		MaxInflightBytes:  int64(cfg.MaxInflightBytes),
		StuckTimeout:      time.Duration(cfg.ClientStuckTimeout) * time.Second,
		FrameTimeout:      time.Duration(cfg.ClientFrameTimeout) * time.Second,
		KeepaliveInterval: cfg.KeepaliveDuration(),
		KeepaliveCount:    cfg.KeepaliveCount,
		Programs: []rpc.Program{
			{Number: protocol.RemoteProgram, Version: protocol.RemoteProtocolVersion},
			{Number: protocol.QemuProgram, Version: protocol.QemuProtocolVersion},
		},
		NewSession: d.newSession,
		Logger:     log,
	})
	d.adminSrv = d.newAdminServer()
	d.idleSet = make(chan time.Duration, 1)
	return d
}

// Server is the daemon's transport, for its statistics.
func (d *Daemon) Server() *rpc.Server { return d.srv }

// RegisterShared makes drv the driver of concern k for the connections
// whose hypervisor driver has no table of its own for k (the network
// and storage drivers of qemu:///system); call it before Startup.
func (d *Daemon) RegisterShared(k drivers.Concern, drv drivers.Driver) {
	d.drvs = append(d.drvs, drv)
	d.registry.RegisterShared(k, drv)
}

// Startup runs the Startup hook of every stateful driver, each after the
// drivers it requires (drivers.Registry.StartOrder). A driver that skips
// is unregistered and logged; any other failure stops the daemon.
func (d *Daemon) Startup(ctx context.Context) error {
	order, err := d.registry.StartOrder()
	if err != nil {
		return err
	}
	for _, sd := range order {
		err := sd.Startup(ctx)
		switch {
		case errors.Is(err, drivers.ErrSkip):
			d.log.Warn("driver not started", "driver", sd.Name(), "reason", err)
			d.registry.Unregister(sd)
		case err != nil:
			d.shutdownDrivers(ctx)
			return fmt.Errorf("start %s driver: %w", sd.Name(), err)
		default:
			d.started = append(d.started, sd)
			d.log.Info("driver started", "driver", sd.Name())
		}
	}
	return nil
}

// Reload runs every started driver's Reload hook (SIGHUP).
func (d *Daemon) Reload(ctx context.Context) error {
	var errs []error
	for _, sd := range d.started {
		if err := sd.Reload(ctx); err != nil {
			d.log.Error("reload failed", "driver", sd.Name(), "err", err)
			errs = append(errs, fmt.Errorf("reload %s driver: %w", sd.Name(), err))
		}
	}
	return errors.Join(errs...)
}

func (d *Daemon) shutdownDrivers(ctx context.Context) {
	for i := len(d.started) - 1; i >= 0; i-- {
		sd := d.started[i]
		if err := sd.Shutdown(ctx); err != nil {
			d.log.Error("driver shutdown failed", "driver", sd.Name(), "err", err)
		}
	}
	d.started = nil
}

// SetInherited gives the daemon the sockets systemd passed it (socket
// activation); Listen serves each instead of making its own, and never
// removes their files.
func (d *Daemon) SetInherited(in *systemd.Inherited) { d.inherited = in }

// Listen serves, until Shutdown, the read-write and read-only unix
// sockets — the ones systemd passed (SetInherited), else its own in
// unix_sock_dir — and the TLS listener when systemd passed its socket or
// listen_tls = 1. It returns once they accept.
func (d *Daemon) Listen() error {
	in := d.inherited
	defer in.Close() // what no listener took
	rw, err := d.unixListener(in, systemd.SocketRW, sockpath.RW, d.cfg.UnixSockRWPerms)
	if err != nil {
		return err
	}
	ro, err := d.unixListener(in, systemd.SocketRO, sockpath.RO, d.cfg.UnixSockROPerms)
	if err != nil {
		rw.Close()
		return err
	}
	d.roName = ro.Addr().String()
	for _, l := range []struct {
		l    net.Listener
		opts rpc.ListenerOptions
	}{
		{rw, rpc.ListenerOptions{Name: rw.Addr().String()}},
		{ro, rpc.ListenerOptions{Name: d.roName, ReadOnly: true,
			MaxClients: d.cfg.ROClientLimit(), MaxClientsKey: "max_ro_clients"}},
	} {
		go func() {
			if err := d.srv.Serve(l.l, l.opts); err != nil && !errors.Is(err, rpc.ErrServerClosed) {
				d.log.Error("listener failed", "socket", l.opts.Name, "err", err)
			}
		}()
	}
	// A broken TLS setup is logged and leaves only TLS off.
	d.listenTLS(in.Take(systemd.SocketTLS))
	// Without its admin socket the daemon serves on, saying so.
	if err := d.listenAdmin(in.Take(systemd.SocketAdmin)); err != nil {
		d.log.Error("admin socket disabled (virt-admin cannot connect); the other sockets keep serving", "err", err)
	}
	if rest := in.Rest(); len(rest) > 0 {
		d.log.Warn("systemd passed sockets govirtd does not know; closed (name them govirtd.socket, govirtd-ro.socket, govirtd-admin.socket or govirtd-tls.socket)",
			"names", strings.Join(rest, ", "))
	}
	if d.OnListening != nil {
		d.OnListening(rw.Addr().String(), ro.Addr().String())
	}
	return nil
}

// unixListener is the socket systemd passed as unit, or else the
// daemon's own file in unix_sock_dir.
func (d *Daemon) unixListener(in *systemd.Inherited, unit, file string, perms os.FileMode) (net.Listener, error) {
	if l := in.Take(unit); l != nil {
		if _, ok := l.(*net.UnixListener); !ok {
			l.Close()
			return nil, fmt.Errorf("systemd passed %s as %s, which is not a unix socket (set ListenStream= to a path in %s)", l.Addr(), unit, unit)
		}
		d.log.Info("listening", "socket", l.Addr().String(), "from", "systemd "+unit)
		return l, nil
	}
	dir := d.cfg.SockDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create unix_sock_dir %s: %w (run as root, or set unix_sock_dir in the config file)", dir, err)
	}
	return d.listenUnix(filepath.Join(dir, file), perms)
}

// listenUnix listens on path with mode perms, taking over a stale socket
// file but never one a live daemon still serves.
func (d *Daemon) listenUnix(path string, perms os.FileMode) (net.Listener, error) {
	if _, err := os.Lstat(path); err == nil {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("cannot listen on %s: another daemon is serving it (stop it, or set unix_sock_dir)", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("cannot remove stale socket %s: %w", path, err)
		}
	}
	// The socket is born with the umask's mode: make it private until the
	// chmod below, so no one connects in between.
	old := syscall.Umask(0o077)
	l, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s: %w (check unix_sock_dir)", path, err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := os.Chmod(path, perms); err != nil {
		l.Close()
		return nil, fmt.Errorf("cannot set mode %04o on %s: %w", perms, path, err)
	}
	if g := d.cfg.UnixSockGroup; g != "" {
		if err := chownGroup(path, g); err != nil {
			l.Close()
			return nil, fmt.Errorf("unix_sock_group: %w", err)
		}
	}
	d.listenMu.Lock()
	d.paths = append(d.paths, path)
	d.listenMu.Unlock()
	d.log.Info("listening", "socket", path, "mode", fmt.Sprintf("%04o", perms))
	return l, nil
}

// Shutdown stops the daemon in order: no new clients; clients that
// registered a close callback are told; every client gets what is queued
// for it and is disconnected; the drivers shut down (guests keep running).
func (d *Daemon) Shutdown(ctx context.Context) error {
	d.srv.CloseListeners()
	d.adminSrv.CloseListeners()
	d.sessionsMu.Lock()
	for s := range d.sessions {
		s.notifyClosing()
	}
	d.sessionsMu.Unlock()
	err := d.srv.Shutdown(ctx)
	d.adminSrv.Shutdown(ctx)
	// The drivers get their own time, whatever the clients took.
	dctx, cancel := context.WithTimeout(context.Background(), driverShutdownTimeout)
	defer cancel()
	d.shutdownDrivers(dctx)
	d.listenMu.Lock()
	for _, p := range d.paths {
		os.Remove(p)
	}
	d.paths = nil
	d.listenMu.Unlock()
	return err
}

// Run starts the drivers, listens, and serves until SIGTERM or SIGINT
// (clean shutdown) or ctx ends; SIGHUP re-reads the configuration file
// and reloads the drivers (Hangup).
func (d *Daemon) Run(ctx context.Context) error {
	// Signals are caught before anything starts: a SIGHUP or SIGTERM
	// during a long Startup waits for the loop below instead of killing
	// the daemon half-started.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	d.notify(systemd.Status("starting the drivers"))
	if err := d.Startup(ctx); err != nil {
		return err
	}
	if err := d.Listen(); err != nil {
		d.shutdownDrivers(context.Background())
		return err
	}
	d.notify(systemd.Ready(d.servingStatus()))
	// The watchdog is pinged from this loop, not a goroutine of its own:
	// a loop stuck (in a reload, say) stops the pings and systemd
	// restarts the daemon, as WatchdogSec= means.
	var watchdog <-chan time.Time
	every, err := systemd.WatchdogInterval()
	d.notify(err)
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		watchdog = t.C
		d.notify(systemd.Watchdog())
	}
	// The idle check ticks while a timeout is set (--timeout, or the
	// admin program's daemon-timeout, which arrives on idleSet).
	var idleCheck <-chan time.Time
	var idleTicker *time.Ticker
	setIdle := func(timeout time.Duration) {
		if idleTicker != nil {
			idleTicker.Stop()
			idleTicker, idleCheck = nil, nil
		}
		d.idle.timeout = timeout
		if timeout > 0 {
			idleTicker = time.NewTicker(min(idleCheckEvery, timeout))
			idleCheck = idleTicker.C
			d.idle.start(time.Now())
		}
	}
	setIdle(d.idle.timeout)
	defer func() { setIdle(0) }()
	for {
		select {
		case <-ctx.Done():
			return d.stop()
		case t := <-d.idleSet:
			d.log.Info("idle timeout set by the admin program", "timeout", t.String())
			setIdle(t)
		case now := <-idleCheck:
			why := d.Busy()
			if d.idle.check(now, why) {
				d.log.Info("shutting down: idle for the --timeout (no client, no running guest)", "timeout", d.idle.timeout.String())
				return d.stop()
			}
			if why != "" {
				d.log.Debug("idle timeout: not idle", "why", why)
			}
		case <-watchdog:
			d.notify(systemd.Watchdog())
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				d.pingDuring(every, func() { d.Hangup(ctx) })
				continue
			}
			d.log.Info("shutting down", "signal", sig.String())
			return d.stop()
		}
	}
}

// maxReloadPings bounds how long a reload keeps the watchdog fed: a
// reload (the QEMU driver autostarting guests) may take longer than
// WatchdogSec, but one that runs past this is taken for hung.
const maxReloadPings = 10 * time.Minute

// pingDuring runs f while pinging the watchdog every interval (when
// systemd wants pings), for at most maxReloadPings.
func (d *Daemon) pingDuring(every time.Duration, f func()) {
	if every <= 0 {
		f()
		return
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(every)
		defer t.Stop()
		limit := time.After(maxReloadPings)
		for {
			select {
			case <-done:
				return
			case <-limit:
				d.log.Error("the reload has run for too long: the systemd watchdog is no longer pinged", "after", maxReloadPings.String())
				return
			case <-t.C:
				d.notify(systemd.Watchdog())
			}
		}
	}()
	f()
	close(done)
	<-stopped
}

// servingStatus is the STATUS= line of a daemon that serves: where.
func (d *Daemon) servingStatus() string {
	s := "serving on " + d.cfg.SockDir()
	if d.roName != "" {
		s = "serving on " + filepath.Dir(d.roName)
	}
	if a := d.TLSAddr(); a != "" {
		s += " and TLS " + a
	}
	return s
}

// notify logs a failed systemd notification; the daemon runs on.
func (d *Daemon) notify(err error) {
	if err != nil {
		d.log.Warn("systemd notification failed", "err", err)
	}
}

func (d *Daemon) stop() error {
	d.notify(systemd.Stopping("stopping: disconnecting clients, then stopping the drivers (guests keep running)"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return d.Shutdown(ctx)
}
