package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/govirt/govirtd/remote"
	"github.com/govirt/govirtd/vir"
)

// shutdownModes and rebootModes are the --mode words of shutdown and
// reboot, with their virDomainShutdownFlagValues and
// virDomainRebootFlagValues.
var (
	shutdownModes = map[string]uint32{
		"acpi":     uint32(vir.DomainShutdownAcpiPowerBtn),
		"agent":    uint32(vir.DomainShutdownGuestAgent),
		"initctl":  uint32(vir.DomainShutdownInitctl),
		"signal":   uint32(vir.DomainShutdownSignal),
		"paravirt": uint32(vir.DomainShutdownParavirt),
	}
	rebootModes = map[string]uint32{
		"acpi":     uint32(vir.DomainRebootAcpiPowerBtn),
		"agent":    uint32(vir.DomainRebootGuestAgent),
		"initctl":  uint32(vir.DomainRebootInitctl),
		"signal":   uint32(vir.DomainRebootSignal),
		"paravirt": uint32(vir.DomainRebootParavirt),
	}
)

// boolFlags declares boolean options and returns the sum of the flag
// values of those set on cmd.
type boolFlag struct {
	name, help string
	value      uint32
}

func addBoolFlags(cmd *cobra.Command, flags ...boolFlag) func() uint32 {
	for _, f := range flags {
		cmd.Flags().Bool(f.name, false, f.help)
	}
	return func() uint32 {
		var sum uint32
		for _, f := range flags {
			if on, _ := cmd.Flags().GetBool(f.name); on {
				sum |= f.value
			}
		}
		return sum
	}
}

func startCommand(sh *shell) *cobra.Command {
	var flags func() uint32
	cmd := domainCommand(sh, "start", "start a (previously defined) inactive domain", byName|byUUID,
		func(ctx context.Context, cmd *cobra.Command, dom remote.Domain, _ string) error {
			if dom.ID != -1 {
				return fmt.Errorf("Domain is already active")
			}
			if _, err := sh.conn.DomainCreate(ctx, dom, flags()); err != nil {
				return failed(err, "Failed to start domain '%s'", dom.Name)
			}
			sh.extra("Domain '%s' started\n", dom.Name)
			return nil
		})
	flags = addBoolFlags(cmd,
		boolFlag{"paused", "leave the guest paused after start", uint32(vir.DomainStartPaused)},
		boolFlag{"autodestroy", "automatically destroy the guest when virsh disconnects", uint32(vir.DomainStartAutodestroy)},
		boolFlag{"bypass-cache", "avoid file system cache when loading", uint32(vir.DomainStartBypassCache)},
		boolFlag{"force-boot", "force fresh boot by discarding any managed save", uint32(vir.DomainStartForceBoot)},
		boolFlag{"reset-nvram", "re-initialize NVRAM from its pristine template", uint32(vir.DomainStartResetNvram)})
	return cmd
}

// simpleCommand is a command that runs op on a domain and reports it in
// virsh's words: "Domain 'x' <done>" or "Failed to <verb> domain 'x'".
// Messages name the domain as the user wrote it, as virsh's do.
func simpleCommand(sh *shell, use, short, verb, done string,
	op func(ctx context.Context, cmd *cobra.Command, dom remote.Domain) error) *cobra.Command {
	return domainCommand(sh, use, short, byAny,
		func(ctx context.Context, cmd *cobra.Command, dom remote.Domain, arg string) error {
			if err := op(ctx, cmd, dom); err != nil {
				return failed(err, "Failed to %s domain '%s'", verb, arg)
			}
			sh.extra("Domain '%s' %s\n", arg, done)
			return nil
		})
}

func destroyCommand(sh *shell) *cobra.Command {
	var graceful bool
	cmd := simpleCommand(sh, "destroy", "destroy (stop) a domain", "destroy", "destroyed",
		func(ctx context.Context, cmd *cobra.Command, dom remote.Domain) error {
			var flags uint32
			if graceful {
				flags = uint32(vir.DomainDestroyGraceful)
			}
			return sh.conn.DomainDestroy(ctx, dom, flags)
		})
	cmd.Flags().BoolVar(&graceful, "graceful", false, "terminate gracefully")
	return cmd
}

func suspendCommand(sh *shell) *cobra.Command {
	return simpleCommand(sh, "suspend", "suspend a domain", "suspend", "suspended",
		func(ctx context.Context, cmd *cobra.Command, dom remote.Domain) error {
			return sh.conn.DomainSuspend(ctx, dom)
		})
}

func resumeCommand(sh *shell) *cobra.Command {
	return simpleCommand(sh, "resume", "resume a domain", "resume", "resumed",
		func(ctx context.Context, cmd *cobra.Command, dom remote.Domain) error {
			return sh.conn.DomainResume(ctx, dom)
		})
}

// parseMode reads shutdown's and reboot's --mode, a comma-separated list
// of the words of modes.
func parseMode(mode string, modes map[string]uint32) (uint32, error) {
	if mode == "" {
		return 0, nil
	}
	var flags uint32
	for _, m := range strings.Split(mode, ",") {
		f, ok := modes[m]
		if !ok {
			return 0, fmt.Errorf("Unknown mode %s value, expecting 'acpi', 'agent', 'initctl', 'signal', or 'paravirt'", m)
		}
		flags |= f
	}
	return flags, nil
}

// powerCommand is shutdown or reboot: a --mode, checked before the lookup.
func powerCommand(sh *shell, use, short, verb, done string, modes map[string]uint32,
	op func(ctx context.Context, dom remote.Domain, flags uint32) error) *cobra.Command {
	var mode string
	cmd := &cobra.Command{Use: use + " <domain> [--mode acpi|agent|initctl|signal|paravirt]", Short: short}
	d := addData(cmd, domainOpt)
	cmd.Flags().StringVar(&mode, "mode", "", "shutdown mode: acpi|agent|initctl|signal|paravirt")
	cmd.RunE = sh.action(func(ctx context.Context, cmd *cobra.Command, args []string) error {
		flags, err := parseMode(mode, modes)
		if err != nil {
			return err
		}
		arg := d.get("domain")
		dom, err := sh.lookupDomain(ctx, arg, byAny)
		if err != nil {
			return err
		}
		if err := op(ctx, dom, flags); err != nil {
			return failed(err, "Failed to %s domain '%s'", verb, arg)
		}
		sh.extra("Domain '%s' %s\n", arg, done)
		return nil
	})
	return cmd
}

func shutdownCommand(sh *shell) *cobra.Command {
	return powerCommand(sh, "shutdown", "gracefully shutdown a domain", "shutdown", "is being shutdown", shutdownModes,
		func(ctx context.Context, dom remote.Domain, flags uint32) error {
			return sh.conn.DomainShutdown(ctx, dom, flags)
		})
}

func rebootCommand(sh *shell) *cobra.Command {
	return powerCommand(sh, "reboot", "reboot a domain", "reboot", "is being rebooted", rebootModes,
		func(ctx context.Context, dom remote.Domain, flags uint32) error {
			return sh.conn.DomainReboot(ctx, dom, flags)
		})
}

func autostartCommand(sh *shell) *cobra.Command {
	var disable bool
	cmd := domainCommand(sh, "autostart", "autostart a domain", byAny,
		func(ctx context.Context, cmd *cobra.Command, dom remote.Domain, arg string) error {
			if err := sh.conn.DomainSetAutostart(ctx, dom, !disable); err != nil {
				if disable {
					return failed(err, "Failed to unmark domain '%s' as autostarted", arg)
				}
				return failed(err, "Failed to mark domain '%s' as autostarted", arg)
			}
			if disable {
				sh.extra("Domain '%s' unmarked as autostarted\n", arg)
			} else {
				sh.extra("Domain '%s' marked as autostarted\n", arg)
			}
			return nil
		})
	cmd.Flags().BoolVar(&disable, "disable", false, "disable autostarting")
	return cmd
}

func undefineCommand(sh *shell) *cobra.Command {
	cmd := &cobra.Command{Use: "undefine <domain>", Short: "undefine a domain"}
	d := addData(cmd, domainOpt)
	flags := addBoolFlags(cmd,
		boolFlag{"managed-save", "remove domain managed state file", uint32(vir.DomainUndefineManagedSave)},
		boolFlag{"snapshots-metadata", "remove all domain snapshot metadata (vm must be inactive)", uint32(vir.DomainUndefineSnapshotsMetadata)},
		boolFlag{"checkpoints-metadata", "remove all domain checkpoint metadata (vm must be inactive)", uint32(vir.DomainUndefineCheckpointsMetadata)},
		boolFlag{"nvram", "remove nvram file", uint32(vir.DomainUndefineNvram)},
		boolFlag{"keep-nvram", "keep nvram file", uint32(vir.DomainUndefineKeepNvram)})
	cmd.RunE = sh.action(func(ctx context.Context, cmd *cobra.Command, args []string) error {
		if err := exclusive(cmd, "nvram", "keep-nvram"); err != nil {
			return err
		}
		arg := d.get("domain")
		dom, err := sh.lookupDomain(ctx, arg, byAny)
		if err != nil {
			return err
		}
		if err := sh.conn.DomainUndefine(ctx, dom, flags()); err != nil {
			return failed(err, "Failed to undefine domain '%s'", arg)
		}
		sh.extra("Domain '%s' has been undefined\n", arg)
		return nil
	})
	return cmd
}
