package main

import (
	"context"
	"sort"

	"github.com/spf13/cobra"

	"github.com/govirt/govirtd/remote"
	"github.com/govirt/govirtd/vir"
)

// libVersion is the libvirt release whose protocol and virsh govirsh
// follows; version prints it where virsh prints the library it was
// built with and runs on.
const libVersion = 9_000_000

// hostCommand is a command without arguments.
func hostCommand(sh *shell, use, short string, body func(ctx context.Context, cmd *cobra.Command) error) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, Args: noArgs}
	cmd.RunE = sh.action(func(ctx context.Context, cmd *cobra.Command, _ []string) error {
		return body(ctx, cmd)
	})
	return cmd
}

func versionCommand(sh *shell) *cobra.Command {
	var daemon bool
	cmd := hostCommand(sh, "version [--daemon]", "show version", func(ctx context.Context, cmd *cobra.Command) error {
		c := sh.conn
		hvType, err := c.ConnectGetType(ctx)
		if err != nil {
			return failed(err, "failed to get hypervisor type")
		}
		sh.printf("Compiled against library: libvirt %s\n", versionString(libVersion))
		sh.printf("Using library: libvirt %s\n", versionString(libVersion))
		sh.printf("Using API: %s %s\n", hvType, versionString(libVersion))
		hv, err := c.ConnectGetVersion(ctx)
		switch {
		case err != nil:
			return failed(err, "failed to get the hypervisor version")
		case hv == 0:
			sh.printf("Cannot extract running %s hypervisor version\n", hvType)
		default:
			sh.printf("Running hypervisor: %s %s\n", hvType, versionString(hv))
		}
		if daemon {
			v, err := c.ConnectGetLibVersion(ctx)
			if err != nil {
				// virsh reports this one and still succeeds.
				sh.report(failed(err, "failed to get the daemon version"))
				return nil
			}
			sh.printf("Running against daemon: %s\n", versionString(v))
		}
		return nil
	})
	cmd.Flags().BoolVar(&daemon, "daemon", false, "report daemon version too")
	return cmd
}

func hostnameCommand(sh *shell) *cobra.Command {
	return hostCommand(sh, "hostname", "print the hypervisor hostname", func(ctx context.Context, cmd *cobra.Command) error {
		h, err := sh.conn.ConnectGetHostname(ctx)
		if err != nil {
			return failed(err, "failed to get hostname")
		}
		sh.printf("%s\n", h)
		return nil
	})
}

func uriCommand(sh *shell) *cobra.Command {
	return hostCommand(sh, "uri", "print the hypervisor canonical URI", func(ctx context.Context, cmd *cobra.Command) error {
		sh.printf("%s\n", sh.conn.URI())
		return nil
	})
}

func nodeinfoCommand(sh *shell) *cobra.Command {
	return hostCommand(sh, "nodeinfo", "node information", func(ctx context.Context, cmd *cobra.Command) error {
		n, err := sh.conn.NodeGetInfo(ctx)
		if err != nil {
			return failed(err, "failed to get node information")
		}
		line := func(label string, v any) { sh.printf("%-20s %v\n", label, v) }
		line("CPU model:", n.Model)
		line("CPU(s):", n.CPUs)
		if n.MHz != 0 {
			sh.printf("%-20s %d MHz\n", "CPU frequency:", n.MHz)
		}
		line("CPU socket(s):", n.Sockets)
		line("Core(s) per socket:", n.Cores)
		line("Thread(s) per core:", n.Threads)
		line("NUMA cell(s):", n.Nodes)
		sh.printf("%-20s %d KiB\n", "Memory size:", n.Memory)
		return nil
	})
}

func capabilitiesCommand(sh *shell) *cobra.Command {
	return hostCommand(sh, "capabilities", "capabilities", func(ctx context.Context, cmd *cobra.Command) error {
		caps, err := sh.conn.ConnectGetCapabilities(ctx)
		if err != nil {
			return failed(err, "failed to get capabilities")
		}
		sh.printf("%s\n", caps)
		return nil
	})
}

func netListCommand(sh *shell) *cobra.Command {
	var inactive, all, name, uuid, tbl bool
	var filters func() uint32
	cmd := hostCommand(sh, "net-list", "list networks", func(ctx context.Context, cmd *cobra.Command) error {
		flags := vir.ConnectListNetworksActive
		if inactive {
			flags = vir.ConnectListNetworksInactive
		}
		if all {
			flags = vir.ConnectListNetworksActive | vir.ConnectListNetworksInactive
		}
		flags |= vir.ConnectListAllNetworksFlags(filters())
		if n := btoi(tbl) + btoi(name) + btoi(uuid); n > 1 {
			return failed(nil, "Only one argument from --table, --name and --uuid may be specified.")
		}
		nets, err := sh.conn.ConnectListAllNetworks(ctx, flags)
		if err != nil {
			return failed(err, "Failed to list networks")
		}
		sort.SliceStable(nets, func(i, j int) bool { return strcasecmp(nets[i].Name, nets[j].Name) < 0 })
		switch {
		case uuid:
			for _, n := range nets {
				sh.printf("%s\n", n.UUID)
			}
		case name:
			for _, n := range nets {
				sh.printf("%s\n", n.Name)
			}
		default:
			sh.networkTable(ctx, nets)
		}
		return nil
	})
	f := cmd.Flags()
	f.BoolVar(&inactive, "inactive", false, "list inactive networks")
	f.BoolVar(&all, "all", false, "list inactive & active networks")
	filters = addBoolFlags(cmd,
		boolFlag{"persistent", "list persistent networks", uint32(vir.ConnectListNetworksPersistent)},
		boolFlag{"transient", "list transient networks", uint32(vir.ConnectListNetworksTransient)},
		boolFlag{"autostart", "list networks with autostart enabled", uint32(vir.ConnectListNetworksAutostart)},
		boolFlag{"no-autostart", "list networks with autostart disabled", uint32(vir.ConnectListNetworksNoAutostart)})
	f.BoolVar(&uuid, "uuid", false, "list uuid's only")
	f.BoolVar(&name, "name", false, "list network names only")
	f.BoolVar(&tbl, "table", false, "list table (default)")
	return cmd
}

// networkTable prints net-list's Name, State, Autostart, Persistent table.
// As in virsh, a network whose state cannot be read shows as active.
func (sh *shell) networkTable(ctx context.Context, nets []remote.Network) {
	t := newTable("Name", "State", "Autostart", "Persistent")
	for _, n := range nets {
		autostart := "no autostart"
		if a, err := sh.conn.NetworkGetAutostart(ctx, n); err == nil {
			autostart = yesNo(a)
		}
		state := "active"
		if active, err := sh.conn.NetworkIsActive(ctx, n); err == nil && !active {
			state = "inactive"
		}
		persistent, err := sh.conn.NetworkIsPersistent(ctx, n)
		t.add(n.Name, state, autostart, yesNo(persistent || err != nil))
	}
	t.write(sh.out, !sh.quiet)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
