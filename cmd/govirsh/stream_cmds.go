package main

import (
	"context"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// screenshotCommand saves a domain's screenshot to a file, over the
// stream DOMAIN_SCREENSHOT opens, as virsh screenshot does.
func screenshotCommand(sh *shell) *cobra.Command {
	cmd := &cobra.Command{Use: "screenshot <domain> <file> [--screen N]", Short: "take a screenshot of a current domain console and store it into a file"}
	d := addData(cmd, domainOpt, dataOpt{"file", "where to store the screenshot"})
	screen := cmd.Flags().Uint32("screen", 0, "ID of a screen to take screenshot of")
	cmd.RunE = sh.action(func(ctx context.Context, cmd *cobra.Command, args []string) error {
		arg, file := d.get("domain"), d.get("file")
		dom, err := sh.lookupDomain(ctx, arg, byAny)
		if err != nil {
			return err
		}
		mime, st, err := sh.conn.DomainScreenshot(ctx, dom, *screen, 0)
		if err != nil {
			return failed(err, "could not take a screenshot of %s", arg)
		}
		f, err := os.Create(file)
		if err != nil {
			st.Abort(ctx)
			return failed(err, "cannot create file %s", file)
		}
		if _, err := io.Copy(f, st); err != nil {
			f.Close()
			os.Remove(file)
			st.Abort(ctx)
			return failed(err, "could not receive data from domain '%s'", arg)
		}
		if err := f.Close(); err != nil {
			st.Abort(ctx)
			return failed(err, "cannot close file %s", file)
		}
		if err := st.Finish(ctx); err != nil {
			return failed(err, "cannot close stream on domain '%s'", arg)
		}
		sh.extra("Screenshot saved to %s, with type of %s", file, mime)
		return nil
	})
	return cmd
}
