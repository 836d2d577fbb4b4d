// Command govirtd is the virtualization management daemon: it serves
// libvirt's remote protocol on unix sockets, so virsh, libvirt-python and
// go-libvirt drive it unchanged.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/govirt/govirtd/daemon"
	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/qemu"
	"github.com/govirt/govirtd/drivers/storage"
	testdriver "github.com/govirt/govirtd/drivers/test"
	"github.com/govirt/govirtd/drivers/xen"
	"github.com/govirt/govirtd/internal/ratelog"
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
	)
	cmd := &cobra.Command{
		Use:   "govirtd",
		Short: "Virtualization management daemon speaking libvirt's remote protocol",
		Long: `govirtd serves libvirt's remote RPC protocol on a read-write and a
read-only unix socket. Without --config it runs on an embedded default
configuration (see daemon/govirtd.conf), with its sockets in /run/govirtd
as root, else in $XDG_RUNTIME_DIR/govirtd.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			// The drivers exist before the configuration is read: each
			// declares and keeps its own keys (qemu_binary, …).
			testDriver, qemuDriver := testdriver.New(), qemu.New(qemu.Config{}, nil)
			storageDriver := storage.New(storage.Config{}, nil)
			xenDriver := xen.New(xen.Config{}, nil)     // skips without xenstored
			qemuDriver.SetVolumeResolver(storageDriver) // <disk type='volume'>
			cfg := daemon.Defaults()
			if configPath != "" {
				var err error
				if cfg, err = daemon.LoadConfig(configPath, testDriver, qemuDriver, storageDriver, xenDriver); err != nil {
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
			log := slog.New(ratelog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}), 20, time.Minute))
			for _, w := range cfg.Warnings {
				log.Warn(w)
			}
			qemuDriver.SetLogger(log)
			storageDriver.SetLogger(log)
			xenDriver.SetLogger(log)
			d := daemon.New(cfg, log, testDriver, qemuDriver, xenDriver)
			d.SetConfigFile(configPath) // what SIGHUP re-reads
			d.SetLogLevel(level, verbose)
			// The storage concern of qemu:///system and session, as
			// libvirt's storage driver serves its QEMU driver's.
			d.RegisterShared(drivers.ConcernStorage, storageDriver)
			d.OnListening = func(rw, ro string) {
				fmt.Printf("govirtd: listening on %s (read-write) and %s (read-only)\n", rw, ro)
			}
			return d.Run(context.Background())
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "f", "", "configuration file in libvirtd.conf syntax (default: the embedded configuration)")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log at debug level")
	return cmd
}
