// Command govirtd is the virtualization management daemon: it serves
// libvirt's remote protocol on unix sockets, so virsh, libvirt-python and
// go-libvirt drive it unchanged.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/govirt/govirtd/daemon"
	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/network"
	"github.com/govirt/govirtd/drivers/qemu"
	"github.com/govirt/govirtd/drivers/storage"
	testdriver "github.com/govirt/govirtd/drivers/test"
	"github.com/govirt/govirtd/drivers/xen"
	"github.com/govirt/govirtd/internal/ratelog"
	"github.com/govirt/govirtd/systemd"
)

func main() {
	if err := newCommand().Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "govirtd: %v\n", err)
		os.Exit(1)
	}
}

func newCommand() *cobra.Command {
	var (
		configPath string
		verbose    bool
		timeout    int
	)
	cmd := &cobra.Command{
		Use:   "govirtd",
		Short: "Virtualization management daemon speaking libvirt's remote protocol",
		Long: `govirtd serves libvirt's remote RPC protocol on a read-write and a
read-only unix socket, and on TLS when configured. Started by systemd's
socket units (govirtd.socket, govirtd-ro.socket, govirtd-admin.socket,
govirtd-tls.socket) it serves the sockets systemd passes. Without
--config it runs on an embedded default configuration (see
daemon/govirtd.conf), with its sockets in /run/govirtd as root, else in
$XDG_RUNTIME_DIR/govirtd.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			// Sockets systemd passed (govirtd.socket, …), taken first
			// so that no child sees LISTEN_FDS.
			if timeout < 0 {
				return fmt.Errorf("--timeout %d: must be 0 (never exit when idle) or a number of seconds", timeout)
			}
			inherited, err := systemd.Inherit(systemd.ListenFDsStart)
			if err != nil {
				return err
			}
			// The drivers exist before the configuration is read: each
			// declares and keeps its own keys (qemu_binary, …).
			testDriver, qemuDriver := testdriver.New(), qemu.New(qemu.Config{}, nil)
			storageDriver := storage.New(storage.Config{}, nil)
			xenDriver := xen.New(xen.Config{}, nil)     // skips without xenstored
			qemuDriver.SetVolumeResolver(storageDriver) // <disk type='volume'>
			networkDriver := network.New(network.Config{}, nil)
			qemuDriver.SetNetworkResolver(networkDriver) // <interface type='network'>
			cfg := daemon.Defaults()
			if configPath != "" {
				if cfg, err = daemon.LoadConfig(configPath, testDriver, qemuDriver, storageDriver, networkDriver, xenDriver); err != nil {
					return err
				}
			}
			// A LevelVar: SIGHUP applies a changed log_level.
			level := &slog.LevelVar{}
			level.Set(daemon.LogLevel(cfg.LogLevel))
			if verbose {
				level.Set(slog.LevelDebug)
			}
			// At most 20 records of one message a minute: a loop of bad
			// clients cannot flood the log (each minute says how many
			// were suppressed).
			// The level is decided by the filter in front, which lets
			// a driver's debug lines through when virt-admin
			// daemon-log-filters asks ("1:qemu").
			text := slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})
			filter := daemon.NewLogFilter(ratelog.New(text, 20, time.Minute), level)
			log := slog.New(filter)
			for _, w := range cfg.Warnings {
				log.Warn(w)
			}
			qemuDriver.SetLogger(log)
			storageDriver.SetLogger(log)
			networkDriver.SetLogger(log)
			xenDriver.SetLogger(log)
			d := daemon.New(cfg, log, testDriver, qemuDriver, xenDriver)
			d.SetConfigFile(configPath) // what SIGHUP re-reads
			d.SetInherited(inherited)
			d.SetIdleTimeout(time.Duration(timeout) * time.Second)
			d.SetLogLevel(level, verbose)
			d.SetLogFilter(filter)
			// The storage concern of qemu:///system and session, as
			// libvirt's storage driver serves its QEMU driver's.
			d.RegisterShared(drivers.ConcernStorage, storageDriver)
			d.RegisterShared(drivers.ConcernNetwork, networkDriver)
			d.OnListening = func(rw, ro string) {
				fmt.Printf("govirtd: listening on %s (read-write) and %s (read-only)\n", rw, ro)
			}
			stop, err := startCPUProfile()
			if err != nil {
				return err
			}
			defer stop()
			return d.Run(context.Background())
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "f", "", "configuration file in libvirtd.conf syntax (default: the embedded configuration)")
	cmd.Flags().IntVarP(&timeout, "timeout", "t", 0, "exit after `N` seconds without a client or a running guest (0: never), as when systemd's sockets start the daemon again on demand")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log at debug level")
	return cmd
}

// startCPUProfile writes a CPU profile of the daemon to the file
// $GOVIRTD_CPUPROFILE, when set, until the daemon exits (SIGTERM ends it
// cleanly), for `go tool pprof`; $GOVIRTD_CPUPROFILE_HZ sets the
// sampling rate (Go's default is 100 Hz). A measuring aid, hidden from
// --help: the README's Performance section says how it is used.
func startCPUProfile() (func(), error) {
	path := os.Getenv("GOVIRTD_CPUPROFILE")
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("GOVIRTD_CPUPROFILE: %w (unset it, or name a writable file)", err)
	}
	if hz, _ := strconv.Atoi(os.Getenv("GOVIRTD_CPUPROFILE_HZ")); hz > 0 {
		runtime.SetCPUProfileRate(hz) // pprof then warns that the rate is set: harmless
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("GOVIRTD_CPUPROFILE %s: %w", path, err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
