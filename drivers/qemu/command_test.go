package qemu

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/vir"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/qemuxml2argv")

const goldenDir = "../../testdata/qemuxml2argv"

// TestXML2Argv turns each testdata/qemuxml2argv/NAME.xml into a qemu
// command line and compares it with NAME.args, or, for a definition the
// driver refuses, the error with NAME.err. A case named restore-* is
// built as a restore (with an incoming migration stream).
// `go test ./drivers/qemu -run XML2Argv -update` rewrites the expected
// files; review their diff.
func TestXML2Argv(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join(goldenDir, "*.xml"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no cases in %s: %v", goldenDir, err)
	}
	for _, path := range cases {
		name := strings.TrimSuffix(filepath.Base(path), ".xml")
		t.Run(name, func(t *testing.T) {
			got, ext := xml2argv(t, path, strings.HasPrefix(name, "restore-"))
			golden := filepath.Join(goldenDir, name+ext)
			if *update {
				for _, old := range []string{".args", ".err"} {
					os.Remove(filepath.Join(goldenDir, name+old))
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)\ngot:\n%s", err, got)
			}
			if got != string(want) {
				t.Errorf("%s differs (run with -update and review the diff)\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}

// xml2argv returns the command line for the definition at path and
// ".args", or the error and ".err".
func xml2argv(t *testing.T, path string, restore bool) (string, string) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	fakeMAC := func() string { n++; return fmt.Sprintf("52:54:00:00:00:%02x", n) }
	l := launch{emulator: "/usr/bin/qemu-system-x86_64", monitorFD: 3}
	def, err := domxml.Parse(string(data))
	if err == nil {
		prepareDefinition(def, fakeMAC)
		// The channel sockets a start places in the state directory.
		err = Config{StateDir: "/var/lib/govirtd/qemu"}.channelPaths(def, def.Name(), false)
		// The taps a start makes, laid out as a start passes them.
		var taps []*os.File
		for _, n := range devices(def.XML).Interfaces {
			var f *os.File
			if tapInterface(&n) {
				f = os.Stdin // stands for the tap: only its position counts
			}
			taps = append(taps, f)
		}
		var incoming *os.File
		if restore {
			incoming = os.Stdin
		}
		_, fds := fdsFor(incoming, taps)
		l.incomingFD, l.tapFDs = fds.incomingFD, fds.tapFDs
		var cmd *cmdline
		if err == nil {
			cmd, err = buildCommand(def, l)
		}
		if err == nil {
			return cmd.String(), ".args"
		}
	}
	var e *drivers.Error
	if !errors.As(err, &e) {
		t.Fatalf("error is not a *drivers.Error: %T %v", err, err)
	}
	return fmt.Sprintf("code %d domain %d: %s\n", e.Code, e.Domain, e.Message), ".err"
}

// TestUnsupportedNamesElement checks that every refusal of an unknown
// element is VIR_ERR_CONFIG_UNSUPPORTED and names it.
func TestUnsupportedNamesElement(t *testing.T) {
	for elem, snippet := range map[string]string{
		"cpu":           `<cpu mode='host-passthrough'/>`,
		"hostdev":       `<devices><hostdev mode='subsystem' type='pci'/></devices>`,
		"@copy_on_read": `<devices><disk type='file'><driver name='qemu' copy_on_read='on'/><source file='/x'/><target dev='vda' bus='virtio'/></disk></devices>`,
		"numatune":      `<numatune><memory mode='strict' nodeset='0'/></numatune>`,
		"panic":         `<devices><panic model='isa'/></devices>`,
		"iothreads":     `<iothreads>2</iothreads>`,
		"seclabel":      `<seclabel type='none'/>`,
		"memballoon":    `<devices><memballoon model='xen'/></devices>`,
	} {
		doc := "<domain type='qemu'><name>x</name><memory unit='MiB'>64</memory>" + snippet + "</domain>"
		def, err := domxml.Parse(doc)
		if err != nil {
			t.Fatalf("%s: parse: %v", elem, err)
		}
		err = validate(def)
		if drivers.CodeOf(err) != vir.ErrConfigUnsupported || !strings.Contains(err.Error(), elem) {
			t.Errorf("%s: got %v, want VIR_ERR_CONFIG_UNSUPPORTED naming %s", elem, err, elem)
		}
	}
}
