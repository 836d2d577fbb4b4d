package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/govirt/govirtd/remote"
)

// More flags, numbered as libvirt 9.0's virDomainDefineFlags,
// virDomainXMLFlags and virDomainSaveRestoreFlags.
const (
	defineValidate = 1 << 0

	xmlSecure     = 1 << 0
	xmlInactive   = 1 << 1
	xmlUpdateCPU  = 1 << 2
	xmlMigratable = 1 << 3

	saveBypassCache = 1 << 0
	saveRunning     = 1 << 1
	savePaused      = 1 << 2
)

// saveFlags are the options save and restore share.
func saveFlags(cmd *cobra.Command) func() uint32 {
	return addBoolFlags(cmd,
		boolFlag{"bypass-cache", "avoid file system cache when saving or restoring", saveBypassCache},
		boolFlag{"running", "the domain runs once restored", saveRunning},
		boolFlag{"paused", "the domain is paused once restored", savePaused})
}

func defineCommand(sh *shell) *cobra.Command {
	cmd := &cobra.Command{Use: "define <file>", Short: "define (but don't start) a domain from an XML file"}
	d := addData(cmd, xmlFile)
	flags := addBoolFlags(cmd, boolFlag{"validate", "validate the XML against the schema", defineValidate})
	cmd.RunE = sh.action(func(ctx context.Context, cmd *cobra.Command, args []string) error {
		from := d.get("file")
		xml, err := readXMLFile(from)
		if err != nil {
			return err
		}
		dom, err := sh.conn.DomainDefineXML(ctx, xml, flags())
		if err != nil {
			return failed(err, "Failed to define domain from %s", from)
		}
		sh.extra("Domain '%s' defined from %s\n", dom.Name, from)
		return nil
	})
	return cmd
}

func createCommand(sh *shell) *cobra.Command {
	cmd := &cobra.Command{Use: "create <file> [--paused]", Short: "create a domain from an XML file"}
	d := addData(cmd, xmlFile)
	flags := addBoolFlags(cmd,
		boolFlag{"paused", "leave the guest paused after creation", startPaused},
		boolFlag{"autodestroy", "automatically destroy the guest when virsh disconnects", startAutodestroy},
		boolFlag{"validate", "validate the XML against the schema", startValidate},
		boolFlag{"reset-nvram", "re-initialize NVRAM from its pristine template", startResetNVRAM})
	cmd.RunE = sh.action(func(ctx context.Context, cmd *cobra.Command, args []string) error {
		from := d.get("file")
		xml, err := readXMLFile(from)
		if err != nil {
			return err
		}
		dom, err := sh.conn.DomainCreateXML(ctx, xml, flags())
		if err != nil {
			return failed(err, "Failed to create domain from %s", from)
		}
		sh.extra("Domain '%s' created from %s\n", dom.Name, from)
		return nil
	})
	return cmd
}

func dumpxmlCommand(sh *shell) *cobra.Command {
	var flags func() uint32
	cmd := domainCommand(sh, "dumpxml", "domain information in XML", byAny,
		func(ctx context.Context, cmd *cobra.Command, dom remote.Domain, _ string) error {
			xml, err := sh.conn.DomainGetXMLDesc(ctx, dom, flags())
			if err != nil {
				return err
			}
			sh.printf("%s", xml)
			return nil
		})
	flags = addBoolFlags(cmd,
		boolFlag{"inactive", "show inactive defined XML", xmlInactive},
		boolFlag{"security-info", "include security sensitive information in XML dump", xmlSecure},
		boolFlag{"update-cpu", "update guest CPU according to host CPU", xmlUpdateCPU},
		boolFlag{"migratable", "provide XML suitable for migrations", xmlMigratable})
	return cmd
}

func saveCommand(sh *shell) *cobra.Command {
	cmd := &cobra.Command{Use: "save <domain> <file>", Short: "save a domain state to a file"}
	d := addData(cmd, domainOpt, dataOpt{"file", "where to save the data"})
	flags := saveFlags(cmd)
	cmd.RunE = sh.action(func(ctx context.Context, cmd *cobra.Command, args []string) error {
		arg, to := d.get("domain"), d.get("file")
		dom, err := sh.lookupDomain(ctx, arg, byAny)
		if err != nil {
			return err
		}
		if err := sh.conn.DomainSave(ctx, dom, to, "", flags()); err != nil {
			return failed(err, "Failed to save domain '%s' to %s", arg, to)
		}
		sh.extra("\nDomain '%s' saved to %s\n", arg, to)
		return nil
	})
	return cmd
}

func restoreCommand(sh *shell) *cobra.Command {
	cmd := &cobra.Command{Use: "restore <file>", Short: "restore a domain from a saved state in a file"}
	d := addData(cmd, dataOpt{"file", "the state to restore"})
	flags := saveFlags(cmd)
	cmd.RunE = sh.action(func(ctx context.Context, cmd *cobra.Command, args []string) error {
		from := d.get("file")
		if err := sh.conn.DomainRestore(ctx, from, "", flags()); err != nil {
			return failed(err, "Failed to restore domain from %s", from)
		}
		sh.extra("Domain restored from %s\n", from)
		return nil
	})
	return cmd
}
