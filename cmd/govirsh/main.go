// Command govirsh is govirtd's command line client. It offers virsh's
// verbs, options and output formats, byte for byte where virsh 9.0 prints
// the same thing (tests compare it with the real virsh), so that a libvirt
// user feels at home; it talks to the daemon only through the remote
// package.
//
// The connection URI is --connect, else $GOVIRT_DEFAULT_URI, else
// test:///default on govirtd's default socket (the driver every govirtd
// serves; virsh's default, qemu:///system, is one -c away).
//
// Where govirsh differs from virsh, on purpose:
//   - it runs one command per invocation: no interactive shell;
//   - version reports libvirt 9.0.0 for the library lines: the release
//     whose protocol and virsh govirsh follows;
//   - event knows the lifecycle and reboot events, the ones the remote
//     library decodes; --all waits for those;
//   - event also stops on SIGTERM like on SIGINT, and when the daemon
//     closes the connection it says so and exits 1 instead of waiting;
//   - net-list reports the daemon's own error when it has no network
//     driver, instead of retrying the pre-0.10 list calls.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// defaultURI is the URI used without --connect and $GOVIRT_DEFAULT_URI:
// the test driver that every govirtd serves, on the daemon's default
// socket.
const defaultURI = "test:///default"

// run executes one govirsh command line and returns its exit status: 0
// on success, 1 on any failure, which has then been reported on stderr.
func run(args []string, stdout, stderr io.Writer) int {
	sh := &shell{out: stdout, errOut: stderr}
	defer sh.close()
	root := newRootCommand(sh)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var done *reported
	if !errors.As(err, &done) {
		sh.report(usageError(err))
	}
	return 1
}

func newRootCommand(sh *shell) *cobra.Command {
	root := &cobra.Command{
		Use:   "govirsh [options] <command> [args...]",
		Short: "Manage govirtd domains with virsh's commands",
		Long: `govirsh is the command line client of govirtd. It offers virsh's
commands, options and output, so scripts written for virsh work with it.

The connection URI is, in order: --connect URI, else $GOVIRT_DEFAULT_URI,
else ` + defaultURI + ` (virsh's own default is qemu:///system as root).
A URI without ?socket= uses govirtd's default socket: /run/govirtd/govirtd-sock
as root, else $XDG_RUNTIME_DIR/govirtd/govirtd-sock. For example:

  govirsh -c 'test+unix:///default?socket=/tmp/gv/govirtd-sock' list --all`,
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	pf := root.PersistentFlags()
	pf.StringVarP(&sh.uri, "connect", "c", "", "hypervisor connection URI (default $GOVIRT_DEFAULT_URI, else "+defaultURI+")")
	pf.BoolVarP(&sh.readOnly, "readonly", "r", false, "connect read-only")
	pf.BoolVarP(&sh.quiet, "quiet", "q", false, "quiet mode: no informational messages, no table headers")
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(
		listCommand(sh),
		dominfoCommand(sh), domstateCommand(sh), domidCommand(sh), domuuidCommand(sh), domnameCommand(sh),
		startCommand(sh), destroyCommand(sh), shutdownCommand(sh), rebootCommand(sh),
		suspendCommand(sh), resumeCommand(sh), autostartCommand(sh), undefineCommand(sh),
		defineCommand(sh), createCommand(sh), dumpxmlCommand(sh), saveCommand(sh), restoreCommand(sh), screenshotCommand(sh),
		versionCommand(sh), hostnameCommand(sh), uriCommand(sh), nodeinfoCommand(sh), capabilitiesCommand(sh),
		netListCommand(sh),
		eventCommand(sh),
		tlsCommand(sh),
	)
	return root
}

// flagError words option errors as virsh does.
func flagError(cmd *cobra.Command, err error) error {
	var notExist *pflag.NotExistError
	var noValue *pflag.ValueRequiredError
	switch {
	case errors.As(err, &notExist):
		opt := "--" + notExist.GetSpecifiedName()
		if s := notExist.GetSpecifiedShortnames(); s != "" {
			opt = "-" + notExist.GetSpecifiedName()
		}
		return fmt.Errorf("command '%s' doesn't support option %s", cmd.Name(), opt)
	case errors.As(err, &noValue):
		kind := "string"
		if noValue.GetFlag().Value.Type() != "string" {
			kind = "number"
		}
		return fmt.Errorf("expected syntax: --%s <%s>", noValue.GetFlag().Name, kind)
	}
	return err
}

var unknownCommand = regexp.MustCompile(`^unknown command "(.*)" for`)

// usageError words cobra's own errors as virsh does.
func usageError(err error) error {
	if m := unknownCommand.FindStringSubmatch(err.Error()); m != nil {
		return fmt.Errorf("unknown command: '%s'", m[1])
	}
	return err
}
