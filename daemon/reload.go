package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/govirt/govirtd/rpc"
	"github.com/govirt/govirtd/systemd"
)

// LogLevel is the slog level of a log_level value (1 debug … 4 error).
func LogLevel(n int) slog.Level {
	switch n {
	case 1:
		return slog.LevelDebug
	case 2:
		return slog.LevelInfo
	case 4:
		return slog.LevelError
	}
	return slog.LevelWarn
}

// SetConfigFile names the file SIGHUP re-reads: the --config file the
// daemon's configuration came from; "" (the embedded default) has
// nothing to re-read.
func (d *Daemon) SetConfigFile(path string) { d.configFile = path }

// SetLogLevel gives the daemon its logger's level, which a changed
// log_level sets on SIGHUP; fixed (--verbose) keeps it as it is.
func (d *Daemon) SetLogLevel(v *slog.LevelVar, fixed bool) { d.logLevel, d.logFixed = v, fixed }

// Hangup is what SIGHUP does: it re-reads the configuration file
// (ReloadConfig), then runs every driver's Reload hook, which happens
// whether or not the file was valid (the drivers' definitions are
// theirs, not the file's). systemd hears RELOADING=1, then READY=1.
func (d *Daemon) Hangup(ctx context.Context) error {
	d.log.Info("SIGHUP: reloading the configuration and the drivers")
	d.notify(systemd.Reloading("reloading the configuration file and the drivers"))
	cerr := d.ReloadConfig()
	derr := d.Reload(ctx)
	status := "serving; last reload succeeded"
	switch {
	case cerr != nil:
		status = "serving on the previous configuration; last reload rejected the file: " + cerr.Error()
	case derr != nil:
		status = "serving; last reload failed: " + derr.Error()
	default:
		d.log.Info("reload complete")
	}
	d.notify(systemd.Ready(status))
	return errors.Join(cerr, derr)
}

// reloadable are the keys a reload applies; every other key that changed
// is listed in the log as needing a restart and keeps its old value.
var reloadable = map[string]bool{
	"max_clients": true, "max_ro_clients": true, "max_client_requests": true,
	"max_client_queue": true, "max_client_queue_bytes": true, "client_stuck_timeout": true,
	"log_level": true, "log_filters": true,
	"admin_max_clients": true, "admin_max_client_requests": true,
	// The TLS material, for new handshakes.
	"key_file": true, "cert_file": true, "ca_file": true, "crl_file": true,
	"tls_allowed_dn_list": true, "tls_no_verify_certificate": true,
	"tls_no_sanity_certificate": true, "tls_priority": true,
}

// tlsKeys are the reloadable keys that are TLS material.
var tlsKeys = []string{"key_file", "cert_file", "ca_file", "crl_file", "tls_allowed_dn_list",
	"tls_no_verify_certificate", "tls_no_sanity_certificate", "tls_priority"}

// settings is the value in effect of every key the daemon owns, defaults
// filled in, so that two configurations compare key by key.
func (c *Config) settings() map[string]string {
	dn := "(unset)"
	if c.TLS.AllowedDNSet {
		dn = fmt.Sprintf("%q", c.TLS.AllowedDN)
	}
	return map[string]string{
		"unix_sock_dir":             c.SockDir(),
		"unix_sock_group":           c.UnixSockGroup,
		"unix_sock_ro_perms":        fmt.Sprintf("%04o", c.UnixSockROPerms),
		"unix_sock_rw_perms":        fmt.Sprintf("%04o", c.UnixSockRWPerms),
		"max_clients":               fmt.Sprint(c.MaxClients),
		"max_ro_clients":            fmt.Sprint(c.MaxROClients),
		"max_client_requests":       fmt.Sprint(c.MaxClientRequests),
		"max_client_queue":          fmt.Sprint(c.MaxClientQueue),
		"max_client_queue_bytes":    fmt.Sprint(c.MaxClientQueueBytes),
		"client_stuck_timeout":      fmt.Sprint(c.ClientStuckTimeout),
		"client_frame_timeout":      fmt.Sprint(c.ClientFrameTimeout),
		"max_inflight_bytes":        fmt.Sprint(c.MaxInflightBytes),
		"keepalive_interval":        fmt.Sprint(c.KeepaliveInterval),
		"keepalive_count":           fmt.Sprint(c.KeepaliveCount),
		"log_level":                 fmt.Sprint(c.LogLevel),
		"log_filters":               c.LogFilters,
		"admin_max_clients":         fmt.Sprint(c.AdminMaxClients),
		"admin_max_client_requests": fmt.Sprint(c.AdminMaxClientRequests),
		"listen_tls":                fmt.Sprint(c.TLS.Listen),
		"listen_addr":               c.TLS.ListenAddr,
		"tls_port":                  orDefault(c.TLS.Port, DefaultTLSPort),
		"key_file":                  c.TLS.Key(),
		"cert_file":                 c.TLS.Cert(),
		"ca_file":                   c.TLS.CA(),
		"crl_file":                  c.TLS.CRLFile,
		"tls_no_verify_certificate": fmt.Sprint(c.TLS.NoVerify),
		"tls_no_sanity_certificate": fmt.Sprint(c.TLS.NoSanity),
		"tls_allowed_dn_list":       dn,
		"tls_priority":              c.TLS.Priority,
	}
}

// changedKeys are the keys whose value differs between old and nc, the
// drivers' keys compared as the files wrote them, sorted.
func changedKeys(old, nc *Config) []string {
	var out []string
	was, now := old.settings(), nc.settings()
	for k, v := range now {
		if was[k] != v {
			out = append(out, k)
		}
	}
	for k, v := range nc.driverValues {
		if old.driverValues[k] != v {
			out = append(out, k)
		}
	}
	for k := range old.driverValues {
		if _, ok := nc.driverValues[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// ReloadConfig re-reads the configuration file (SetConfigFile) and
// checks the whole of it, the new TLS files included, before changing
// anything: a file that does not parse, a value out of range or TLS
// material that does not load rejects the reload, logged with the file,
// line and key, and the daemon serves on with its configuration as it
// was. Otherwise the keys that can change at run time apply at once —
// the client limits to the next client and call (the queue bounds to
// clients that connect afterwards), log_level and log_filters, the admin
// server's limits, and the TLS material and
// allowed DNs to the next TLS handshake — without disconnecting anyone;
// the keys that changed but need a restart (sockets, listen_tls and its
// address, keepalive and frame settings, the drivers' keys) are named in
// one log line and keep their old values.
func (d *Daemon) ReloadConfig() error {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	if d.configFile == "" {
		d.log.Info("SIGHUP: govirtd runs on the embedded default configuration (no --config): there is no file to re-read")
		return nil
	}
	reject := func(err error) error {
		d.log.Error("SIGHUP: configuration file rejected; the daemon serves on with its previous configuration (fix the file and send SIGHUP again)",
			"file", d.configFile, "err", err)
		return err
	}
	nc, err := CheckConfig(d.configFile, d.drvs...)
	if err != nil {
		return reject(err)
	}
	for _, w := range nc.Warnings {
		d.log.Warn(w)
	}
	old := d.cfg
	changed := changedKeys(old, nc)

	// TLS material is loaded before anything applies. While the listener
	// serves and listen_tls stays 1 the files are re-read even if no key
	// changed: renewed certificates keep their file names.
	listening := d.tls.Load() != nil
	d.listenMu.Lock()
	inherited := d.tlsInherited
	d.listenMu.Unlock()
	var st *tlsState
	if listening && (nc.TLS.Listen || inherited) {
		if st, err = d.prepareTLS(nc.TLS); err != nil {
			return reject(nc.withLine(err))
		}
	}
	tlsApplies := st != nil || !listening

	var applied, restart []string
	for _, k := range changed {
		switch {
		case !reloadable[k], slices.Contains(tlsKeys, k) && !tlsApplies:
			restart = append(restart, k)
		default:
			applied = append(applied, k)
		}
	}

	run := *old
	run.MaxClients, run.MaxROClients = nc.MaxClients, nc.MaxROClients
	run.MaxClientRequests = nc.MaxClientRequests
	run.MaxClientQueue, run.MaxClientQueueBytes = nc.MaxClientQueue, nc.MaxClientQueueBytes
	run.ClientStuckTimeout = nc.ClientStuckTimeout
	run.LogLevel = nc.LogLevel
	run.LogFilters = nc.LogFilters
	run.AdminMaxClients, run.AdminMaxClientRequests = nc.AdminMaxClients, nc.AdminMaxClientRequests
	run.source, run.lines, run.Warnings = nc.source, nc.lines, nc.Warnings
	if tlsApplies {
		listen, addr, port := run.TLS.Listen, run.TLS.ListenAddr, run.TLS.Port
		run.TLS = nc.TLS
		run.TLS.Listen, run.TLS.ListenAddr, run.TLS.Port = listen, addr, port
	}

	d.srv.SetLimits(rpc.Limits{
		MaxClients:        run.MaxClients,
		MaxClientRequests: run.MaxClientRequests,
		MaxQueue:          run.MaxClientQueue,
		MaxQueueBytes:     int64(run.MaxClientQueueBytes),
		StuckTimeout:      time.Duration(run.ClientStuckTimeout) * time.Second,
	})
	if d.roName != "" {
		d.srv.SetListenerMaxClients(d.roName, run.ROClientLimit())
	}
	adminClients, adminRequests := run.adminLimits()
	al := d.adminSrv.Limits()
	al.MaxClients, al.MaxClientRequests = adminClients, adminRequests
	d.adminSrv.SetLimits(al)
	if old.LogFilters != run.LogFilters {
		d.setLogFilters(nil, run.LogFilters)
	}
	if old.LogLevel != run.LogLevel {
		switch {
		case d.logLevel == nil:
		case d.logFixed:
			d.log.Warn("log_level changed, but --verbose keeps the debug level", "log_level", run.LogLevel)
		default:
			d.logLevel.Set(LogLevel(run.LogLevel))
		}
	}
	if st != nil {
		d.tls.Store(st)
		d.log.Info("TLS material re-read: new TLS clients are checked against it; connected clients keep their sessions",
			"server_cert", st.desc, "ca_file", run.TLS.CA(), "crl_file", run.TLS.CRLFile, "tls_allowed_dn_list", run.settings()["tls_allowed_dn_list"])
	}
	d.cfg = &run

	if len(restart) > 0 {
		d.log.Warn("SIGHUP: changed in the configuration file but applied only by a restart; the running values stay in effect",
			"file", d.configFile, "keys", strings.Join(restart, ", "))
	}
	what := strings.Join(applied, ", ")
	if what == "" {
		what = "(no key that applies at run time changed)"
	}
	d.log.Info("SIGHUP: configuration reloaded", "file", d.configFile, "applied", what)
	return nil
}

// withLine prefixes a TLS error, which begins with the key at fault
// ("cert_file /etc/…: …"), with the file and the line that set the key.
func (c *Config) withLine(err error) error {
	key, _, _ := strings.Cut(err.Error(), " ")
	if line, ok := c.lines[key]; ok {
		return fmt.Errorf("%s:%d: %w", c.source, line, err)
	}
	return fmt.Errorf("%s: %w", c.source, err)
}
