package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/govirt/govirtd/remote"
	"github.com/govirt/govirtd/vir"
)

// saveFlags are the options save and restore share.
func saveFlags(cmd *cobra.Command) func() uint32 {
	return addBoolFlags(cmd,
		boolFlag{"bypass-cache", "avoid file system cache when saving or restoring", uint32(vir.DomainSaveBypassCache)},
		boolFlag{"running", "the domain runs once restored", uint32(vir.DomainSaveRunning)},
		boolFlag{"paused", "the domain is paused once restored", uint32(vir.DomainSavePaused)})
}

func defineCommand(sh *shell) *cobra.Command {
	cmd := &cobra.Command{Use: "define <file>", Short: "define (but don't start) a domain from an XML file"}
	d := addData(cmd, xmlFile)
	flags := addBoolFlags(cmd, boolFlag{"validate", "validate the XML against the schema", uint32(vir.DomainDefineValidate)})
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
		boolFlag{"paused", "leave the guest paused after creation", uint32(vir.DomainStartPaused)},
		boolFlag{"autodestroy", "automatically destroy the guest when virsh disconnects", uint32(vir.DomainStartAutodestroy)},
		boolFlag{"validate", "validate the XML against the schema", uint32(vir.DomainStartValidate)},
		boolFlag{"reset-nvram", "re-initialize NVRAM from its pristine template", uint32(vir.DomainStartResetNvram)})
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
		boolFlag{"inactive", "show inactive defined XML", uint32(vir.DomainXMLInactive)},
		boolFlag{"security-info", "include security sensitive information in XML dump", uint32(vir.DomainXMLSecure)},
		boolFlag{"update-cpu", "update guest CPU according to host CPU", uint32(vir.DomainXMLUpdateCPU)},
		boolFlag{"migratable", "provide XML suitable for migrations", uint32(vir.DomainXMLMigratable)})
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
