package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// dataOpt is one of a command's required arguments, virsh's VSH_OT_DATA
// options: given in order as positional arguments, or as --NAME VALUE.
type dataOpt struct {
	name string // "domain", "file"
	help string
}

// data holds the values of a command's data options once cobra has
// checked its arguments.
type data struct {
	opts  []dataOpt
	flags []*string
	vals  map[string]string
}

// addData declares cmd's data options and installs the argument check
// that fills them, with virsh's words for a missing or surplus argument.
func addData(cmd *cobra.Command, opts ...dataOpt) *data {
	d := &data{opts: opts, vals: map[string]string{}}
	for _, o := range opts {
		d.flags = append(d.flags, cmd.Flags().String(o.name, "", o.help))
	}
	cmd.Args = func(cmd *cobra.Command, args []string) error {
		for i, o := range d.opts {
			if cmd.Flags().Changed(o.name) {
				d.vals[o.name] = *d.flags[i]
			}
		}
		for _, a := range args {
			slot := ""
			for _, o := range d.opts {
				if _, set := d.vals[o.name]; !set {
					slot = o.name
					break
				}
			}
			if slot == "" {
				return fmt.Errorf("unexpected data '%s'", a)
			}
			d.vals[slot] = a
		}
		for _, o := range d.opts {
			if d.vals[o.name] == "" {
				return fmt.Errorf("command '%s' requires <%s> option", cmd.Name(), o.name)
			}
		}
		return nil
	}
	return d
}

// get is the value of data option name.
func (d *data) get(name string) string { return d.vals[name] }

// Common data options.
var (
	domainOpt = dataOpt{"domain", "domain name, id or uuid"}
	xmlFile   = dataOpt{"file", "file containing an XML domain description"}
)

// noArgs is cobra.NoArgs in virsh's words.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected data '%s'", args[0])
	}
	return nil
}

// exclusive fails when two options that exclude each other are both set.
func exclusive(cmd *cobra.Command, a, b string) error {
	if cmd.Flags().Changed(a) && cmd.Flags().Changed(b) {
		return fmt.Errorf("Options --%s and --%s are mutually exclusive", a, b)
	}
	return nil
}

// maxXMLFile is the largest XML file virsh reads (VSH_MAX_XML_FILE).
const maxXMLFile = 10 << 20

// readXMLFile reads an XML description with virsh's error messages.
func readXMLFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("Failed to open file '%s': %s", path, strerror(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxXMLFile+1))
	switch {
	case err != nil:
		return "", fmt.Errorf("Failed to read file '%s': %s", path, strerror(err))
	case len(b) > maxXMLFile:
		return "", fmt.Errorf("Failed to read file '%s': Value too large for defined data type", path)
	}
	return string(b), nil
}

// strerror words a system error as C's strerror does: Go's text of the
// errno with a capital letter ("No such file or directory").
func strerror(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	s := err.Error()
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// parseTimeout reads --timeout as virsh does: whole seconds, 1 or more.
func parseTimeout(s string) (int, error) {
	n, err := strconv.ParseUint(strings.TrimLeft(s, " \t\n\v\f\r"), 10, 32)
	if err != nil || n == 0 || n > (1<<31-1)/1000 {
		return 0, fmt.Errorf("Numeric value '%s' for <timeout> option is malformed or out of range", s)
	}
	return int(n), nil
}
