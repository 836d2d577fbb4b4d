package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/remote"
	"github.com/govirt/govirtd/vir"
)

// shell is one govirsh invocation: the global options, where output goes,
// and the connection, opened once by the first command that needs it.
type shell struct {
	uri      string // --connect; empty: $GOVIRT_DEFAULT_URI, else defaultURI
	readOnly bool   // --readonly
	quiet    bool   // --quiet: what virsh prints with vshPrintExtra is dropped

	out, errOut io.Writer
	conn        *remote.Conn
}

// connectURI is the URI to dial, from the option, the environment or the
// default.
func (sh *shell) connectURI() string {
	if sh.uri != "" {
		return sh.uri
	}
	if u := os.Getenv("GOVIRT_DEFAULT_URI"); u != "" {
		return u
	}
	return defaultURI
}

func (sh *shell) connect(ctx context.Context) error {
	if sh.conn != nil {
		return nil
	}
	c, err := remote.DialOptions(ctx, sh.connectURI(), remote.Options{ReadOnly: sh.readOnly})
	if err != nil {
		return &failure{msg: "failed to connect to the hypervisor", err: err}
	}
	sh.conn = c
	return nil
}

func (sh *shell) close() {
	if sh.conn != nil {
		sh.conn.Close()
		sh.conn = nil
	}
}

// action adapts a command's body to cobra as virsh runs a command: connect
// first (a failure there ends govirsh at once), run the body, report its
// failure on stderr, then print the blank line virsh ends every command
// with (unless --quiet).
func (sh *shell) action(body func(ctx context.Context, cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		ctx := cmd.Context()
		if err := sh.connect(ctx); err != nil {
			sh.report(err)
			return &reported{err}
		}
		err := body(ctx, cmd, args)
		if err != nil {
			sh.report(err)
		}
		sh.extra("\n")
		if err != nil {
			return &reported{err}
		}
		return nil
	}
}

// printf writes to stdout (virsh's vshPrint).
func (sh *shell) printf(format string, args ...any) {
	fmt.Fprintf(sh.out, format, args...)
}

// extra writes to stdout unless --quiet (virsh's vshPrintExtra).
func (sh *shell) extra(format string, args ...any) {
	if !sh.quiet {
		fmt.Fprintf(sh.out, format, args...)
	}
}

// failure is a command's failure as virsh reports it: a line in the
// command's own words ("Failed to suspend domain 'x'"), then the line of
// the error that caused it, if any (the daemon's message).
type failure struct {
	msg string
	err error
}

func (f *failure) Error() string {
	switch {
	case f.err == nil:
		return f.msg
	case f.msg == "":
		return f.err.Error()
	}
	return f.msg + ": " + f.err.Error()
}

func (f *failure) Unwrap() error { return f.err }

// failed wraps err with a line of the command's own words.
func failed(err error, format string, args ...any) error {
	return &failure{msg: fmt.Sprintf(format, args...), err: err}
}

// errSilent fails a command without a message, as virsh's event command
// does when no event arrived.
var errSilent = errors.New("failed without a message")

// reported is an error that has been printed already.
type reported struct{ err error }

func (r *reported) Error() string { return r.err.Error() }
func (r *reported) Unwrap() error { return r.err }

// report prints err on stderr, one "error: " line per part, as virsh does.
func (sh *shell) report(err error) {
	if err == nil || errors.Is(err, errSilent) {
		return
	}
	if f, ok := err.(*failure); ok {
		if f.msg != "" {
			fmt.Fprintf(sh.errOut, "error: %s\n", f.msg)
		}
		sh.report(f.err)
		return
	}
	fmt.Fprintf(sh.errOut, "error: %s\n", err.Error())
}

// unsupported reports whether err says the daemon lacks an operation (the
// remote library reports an unknown procedure as NO_SUPPORT too).
func unsupported(err error) bool { return drivers.CodeOf(err) == vir.ErrNoSupport }

// lookupBy says which forms of a <domain> argument a command tries, in
// virsh's order: id, then uuid, then name.
type lookupBy uint8

const (
	byID lookupBy = 1 << iota
	byUUID
	byName
	byAny = byID | byUUID | byName
)

// lookupDomain finds the domain arg names as virsh does: an integer ≥ 0
// is tried as an id, a 36-character string as a uuid, and anything (or
// what missed) as a name.
func (sh *shell) lookupDomain(ctx context.Context, arg string, by lookupBy) (remote.Domain, error) {
	c := sh.conn
	if by&byID != 0 {
		if id, ok := parseID(arg); ok {
			if d, err := c.DomainLookupByID(ctx, id); err == nil {
				return d, nil
			}
		}
	}
	if by&byUUID != 0 && len(arg) == 36 {
		if u, err := drivers.ParseUUID(arg); err == nil {
			if d, err := c.DomainLookupByUUID(ctx, u); err == nil {
				return d, nil
			}
		}
	}
	if by&byName != 0 {
		if d, err := c.DomainLookupByName(ctx, arg); err == nil {
			return d, nil
		}
	}
	return remote.Domain{}, &failure{msg: fmt.Sprintf("failed to get domain '%s'", arg)}
}

// parseID reads arg as virsh reads an id: a whole base-10 int, leading
// blanks and a sign allowed, and not negative.
func parseID(arg string) (int32, bool) {
	n, err := strconv.ParseInt(strings.TrimLeft(arg, " \t\n\v\f\r"), 10, 32)
	if err != nil || n < 0 {
		return 0, false
	}
	return int32(n), true
}
