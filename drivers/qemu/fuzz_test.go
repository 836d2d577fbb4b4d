package qemu

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/vir"
)

// FuzzXML2Argv turns arbitrary domain XML into a qemu command line the
// way DOMAIN_DEFINE_XML and a start do: domxml.Parse, prepareDefinition,
// buildCommand. It must never panic, and must refuse only with a
// *drivers.Error whose code is an XML or configuration error. A command
// line it builds starts with the emulator, holds no empty option name
// and no NUL (exec would refuse it), and its -name option, split as
// qemu's option parser splits it, gives back the domain's name: a name
// with commas cannot inject options. What define validated, a start
// builds again from a copy (def.Copy, as start.go does) to the same
// command line.
//
// Seeds: testdata/fuzz/FuzzXML2Argv, the definitions of
// testdata/qemuxml2argv and testdata/domains.
//
//	go test ./drivers/qemu -run '^$' -fuzz '^FuzzXML2Argv$' -fuzztime 30s
func FuzzXML2Argv(f *testing.F) {
	f.Add(`<domain type='qemu'><name>a,b=c</name><memory unit='MiB'>64</memory></domain>`)
	f.Fuzz(func(t *testing.T, xml string) {
		l := launch{emulator: "/usr/bin/qemu-system-x86_64", monitorFD: 3}
		// Define: parse, prepare, validate (which builds the command line).
		def, err := domxml.Parse(xml)
		var cmd *cmdline
		if err == nil {
			n := 0
			prepareDefinition(def, func() string { n++; return fmt.Sprintf("52:54:00:00:00:%02x", n) })
			cmd, err = buildCommand(def, l)
		}
		if err != nil {
			var e *drivers.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not a *drivers.Error", err, err)
			}
			switch e.Code {
			case vir.ErrXMLError, vir.ErrConfigUnsupported, vir.ErrInvalidArg, vir.ErrXMLDetail, vir.ErrOperationInvalid:
			default:
				t.Fatalf("error code %d (%v) for a bad definition", e.Code, err)
			}
			return
		}
		args := cmd.Args()
		if len(args) == 0 || args[0] == "" {
			t.Fatalf("no emulator: %q", args)
		}
		for i, a := range args {
			if strings.ContainsRune(a, 0) {
				t.Fatalf("argument %d holds a NUL: %q", i, a)
			}
			if a == "-" {
				t.Fatalf("argument %d is an empty option name: %q", i, args)
			}
		}
		if got := qemuOpt(args, "-name", "guest"); got != def.Name() {
			t.Fatalf("-name gives guest=%q to qemu, the domain is %q: %q", got, def.Name(), args)
		}
		// Start: the live definition is a copy of the persistent one, and
		// its command line is the one define validated.
		again, err := buildCommand(def.Copy(), l)
		if err != nil {
			t.Fatalf("a definition that validated does not build at start: %v", err)
		}
		if !slices.Equal(args, again.Args()) {
			t.Fatalf("the start builds another command line than define validated:\n%q\n%q", args, again.Args())
		}
	})
}

// qemuOpt is the value of key in the value of option opt, split as
// qemu's QemuOpts parser splits it: ',' separates, ",," is a comma.
func qemuOpt(args []string, opt, key string) string {
	i := slices.Index(args, opt)
	if i < 0 || i+1 >= len(args) {
		return "\x00missing " + opt
	}
	v := args[i+1]
	var parts []string
	var cur strings.Builder
	for j := 0; j < len(v); j++ {
		if v[j] == ',' {
			if j+1 < len(v) && v[j+1] == ',' {
				cur.WriteByte(',')
				j++
				continue
			}
			parts = append(parts, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(v[j])
	}
	parts = append(parts, cur.String())
	for _, p := range parts {
		if k, val, ok := strings.Cut(p, "="); ok && k == key {
			return val
		}
	}
	return "\x00no " + key
}
