package main

import (
	"context"
	"math"

	"github.com/spf13/cobra"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/remote"
	"github.com/govirt/govirtd/vir"
)

// domainState reads dom's state and reason, from DomainGetInfo when the
// daemon lacks DomainGetState (the reason is then unknown).
func (sh *shell) domainState(ctx context.Context, dom remote.Domain) (vir.DomainState, int32, error) {
	state, reason, err := sh.conn.DomainGetState(ctx, dom, 0)
	if err != nil && unsupported(err) {
		info, err := sh.conn.DomainGetInfo(ctx, dom)
		return info.State, -1, err
	}
	return state, reason, err
}

// domainCommand is a command whose one argument is a domain, looked up in
// the ways by allows before body runs.
func domainCommand(sh *shell, use, short string, by lookupBy,
	body func(ctx context.Context, cmd *cobra.Command, dom remote.Domain, arg string) error) *cobra.Command {
	cmd := &cobra.Command{Use: use + " <domain>", Short: short}
	d := addData(cmd, domainOpt)
	cmd.RunE = sh.action(func(ctx context.Context, cmd *cobra.Command, args []string) error {
		arg := d.get("domain")
		dom, err := sh.lookupDomain(ctx, arg, by)
		if err != nil {
			return err
		}
		return body(ctx, cmd, dom, arg)
	})
	return cmd
}

// field prints one "Label:   value" line of dominfo.
func (sh *shell) field(label, value string) {
	sh.printf("%-15s %s\n", label, value)
}

func dominfoCommand(sh *shell) *cobra.Command {
	return domainCommand(sh, "dominfo", "domain information", byAny,
		func(ctx context.Context, cmd *cobra.Command, dom remote.Domain, _ string) error {
			c := sh.conn
			sh.field("Id:", idString(dom))
			sh.field("Name:", dom.Name)
			sh.field("UUID:", dom.UUID.String())
			if osType, err := c.DomainGetOSType(ctx, dom); err == nil {
				sh.field("OS Type:", osType)
			}
			info, infoErr := c.DomainGetInfo(ctx, dom)
			if infoErr == nil {
				sh.printInfo(info)
			}
			if p, err := c.DomainIsPersistent(ctx, dom); err != nil {
				sh.field("Persistent:", "unknown")
			} else {
				sh.field("Persistent:", yesNo(p))
			}
			if a, err := c.DomainGetAutostart(ctx, dom); err == nil {
				sh.field("Autostart:", map[bool]string{true: "enable", false: "disable"}[a])
			}
			if m, err := c.DomainHasManagedSaveImage(ctx, dom, 0); err != nil {
				sh.field("Managed save:", "unknown")
			} else {
				sh.field("Managed save:", yesNo(m))
			}
			if err := sh.printSecurity(ctx, dom); err != nil {
				return err
			}
			if msgs, err := c.DomainGetMessages(ctx, dom, 0); err == nil {
				for i, m := range msgs {
					sh.field(map[bool]string{true: "Messages:", false: ""}[i == 0], m)
				}
			}
			return infoErr
		})
}

// printInfo prints the lines dominfo takes from DomainGetInfo.
func (sh *shell) printInfo(info remote.DomainInfo) {
	sh.field("State:", drivers.StateString(info.State))
	sh.printf("%-15s %d\n", "CPU(s):", info.NrVirtCPU)
	if info.CPUTime != 0 {
		sh.printf("%-15s %.1fs\n", "CPU time:", float64(info.CPUTime)/1e9)
	}
	if info.MaxMem == math.MaxUint32 {
		sh.field("Max memory:", "no limit")
	} else {
		sh.printf("%-15s %d KiB\n", "Max memory:", info.MaxMem)
	}
	sh.printf("%-15s %d KiB\n", "Used memory:", info.Memory)
}

// printSecurity prints the security model and label when the host has a
// security driver; a daemon without the calls is no failure.
func (sh *shell) printSecurity(ctx context.Context, dom remote.Domain) error {
	model, err := sh.conn.NodeGetSecurityModel(ctx)
	switch {
	case err != nil && unsupported(err):
		return nil
	case err != nil:
		return err
	case model.Model == "":
		return nil
	}
	sh.field("Security model:", model.Model)
	sh.field("Security DOI:", model.DOI)
	label, err := sh.conn.DomainGetSecurityLabel(ctx, dom)
	if err != nil {
		return err
	}
	if label.Label != "" {
		mode := map[bool]string{true: "enforcing", false: "permissive"}[label.Enforcing]
		sh.field("Security label:", label.Label+" ("+mode+")")
	}
	return nil
}

func domstateCommand(sh *shell) *cobra.Command {
	var reason bool
	cmd := domainCommand(sh, "domstate", "domain state", byAny,
		func(ctx context.Context, cmd *cobra.Command, dom remote.Domain, _ string) error {
			state, why, err := sh.domainState(ctx, dom)
			if err != nil {
				return err
			}
			if reason {
				sh.printf("%s (%s)\n", drivers.StateString(state), reasonString(state, why))
			} else {
				sh.printf("%s\n", drivers.StateString(state))
			}
			return nil
		})
	cmd.Flags().BoolVar(&reason, "reason", false, "also print reason for the state")
	return cmd
}

func domidCommand(sh *shell) *cobra.Command {
	return domainCommand(sh, "domid", "convert a domain name or UUID to domain id", byName|byUUID,
		func(ctx context.Context, cmd *cobra.Command, dom remote.Domain, _ string) error {
			sh.printf("%s\n", idString(dom))
			return nil
		})
}

func domuuidCommand(sh *shell) *cobra.Command {
	return domainCommand(sh, "domuuid", "convert a domain name or id to domain UUID", byName|byID,
		func(ctx context.Context, cmd *cobra.Command, dom remote.Domain, _ string) error {
			sh.printf("%s\n", dom.UUID)
			return nil
		})
}

func domnameCommand(sh *shell) *cobra.Command {
	return domainCommand(sh, "domname", "convert a domain id or UUID to domain name", byID|byUUID,
		func(ctx context.Context, cmd *cobra.Command, dom remote.Domain, _ string) error {
			sh.printf("%s\n", dom.Name)
			return nil
		})
}
