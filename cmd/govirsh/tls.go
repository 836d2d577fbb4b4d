package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/govirt/govirtd/daemon"
)

// tlsCommand groups the TLS tools; `tls check` reads the daemon's TLS
// files, locally: it does not connect.
func tlsCommand(sh *shell) *cobra.Command {
	cmd := &cobra.Command{Use: "tls", Short: "check the daemon's TLS setup"}
	check := &cobra.Command{
		Use:   "check [--config FILE] [--host NAME]",
		Short: "load the daemon's TLS files as govirtd does and report every problem",
		Long: `tls check reads the configuration (--config FILE, else the embedded
default) and the files its key_file, cert_file, ca_file and crl_file name,
as govirtd does when listen_tls = 1, and reports every problem in plain
words: a missing or unreadable file, a key others may read, a key not
matching its certificate, a certificate expired or not yet valid, a server
certificate whose SANs do not name the host (--host, else this machine's
name), a certificate not signed by the CA, a CRL not the CA's or revoking
the server. The exit status is 1 when there is any.`,
		Args: cobra.NoArgs,
	}
	config := check.Flags().String("config", "", "the daemon's configuration file (default: the embedded default)")
	host := check.Flags().String("host", "", "the host name clients connect to (default: this machine's)")
	check.RunE = func(cmd *cobra.Command, args []string) error {
		cfg := daemon.Defaults()
		name := "the embedded default configuration"
		if *config != "" {
			var err error
			if cfg, err = daemon.LoadConfig(*config); err != nil {
				return &failure{msg: fmt.Sprintf("cannot read %s: %v", *config, err)}
			}
			name = *config
		}
		h := *host
		if h == "" {
			var err error
			if h, err = os.Hostname(); err != nil {
				return &failure{msg: fmt.Sprintf("cannot read this machine's host name: %v (give --host)", err)}
			}
		}
		set := cfg.TLS
		out := cmd.OutOrStdout()
		fmt.Fprintf(out, "TLS setup of %s, for clients connecting to %s:\n", name, h)
		fmt.Fprintf(out, "  key_file  %s\n  cert_file %s\n  ca_file   %s\n", set.Key(), set.Cert(), set.CA())
		if set.CRLFile != "" {
			fmt.Fprintf(out, "  crl_file  %s\n", set.CRLFile)
		}
		if !set.Listen {
			fmt.Fprintln(out, "note: listen_tls = 0, so the daemon does not listen on TLS; the files were checked all the same")
		}
		probs := daemon.CheckTLS(set, h)
		for _, p := range probs {
			fmt.Fprintf(out, "problem: %s\n", p.Text)
		}
		if len(probs) > 0 {
			return &failure{msg: fmt.Sprintf("%d problem(s) in the TLS setup", len(probs))}
		}
		fmt.Fprintln(out, "no problems found")
		return nil
	}
	cmd.AddCommand(check)
	return cmd
}
