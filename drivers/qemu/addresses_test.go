package qemu_test

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestDeviceAddressesDifferential defines the same guests (testdata/
// addresses: pc and q35 machines with virtio and conventional PCI
// devices, EHCI companions, SCSI, SATA and IDE disks, and what
// virt-install writes by default for SPICE) on govirtd and on a private
// libvirtd 9.0, and compares what each stored: the machine type (the
// canonical name of an alias), every device with its
// PCI, drive, USB or virtio-serial address, and the controllers
// (root ports, bridges) added for them. Then each guest is started on
// govirtd, so qemu itself accepts the layout, and its live XML keeps
// the addresses and names each device's alias.
func TestDeviceAddressesDifferential(t *testing.T) {
	d := newTestDaemon(t)
	d.start()
	lvURI := startPrivLibvirtd(t, d.path("libvirtd"), "").uri()
	cases, err := filepath.Glob("../../testdata/addresses/*.xml")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no definitions in testdata/addresses: %v", err)
	}
	for _, path := range cases {
		name := strings.TrimSuffix(filepath.Base(path), ".xml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// Each DISK is an image of its own: qemu locks them.
			parts := strings.Split(string(data), "DISK")
			doc := parts[0]
			for i, p := range parts[1:] {
				disk := d.path(fmt.Sprintf("%s-%d.img", name, i))
				if err := os.WriteFile(disk, make([]byte, 1<<20), 0o644); err != nil {
					t.Fatal(err)
				}
				doc += disk + p
			}
			file := d.path(name + ".xml")
			writeFile(t, file, doc)
			dom := domainName(t, doc)
			var layouts [2]string
			for i, uri := range []string{d.uri(), lvURI} {
				if out := virshOn(uri, "define", file); !strings.HasPrefix(out, "ok") {
					t.Fatalf("define on %s: %s", uri, out)
				}
				out := virshOn(uri, "dumpxml", "--inactive", dom)
				if !strings.HasPrefix(out, "ok") {
					t.Fatalf("dumpxml on %s: %s", uri, out)
				}
				layouts[i] = deviceLayout(t, strings.TrimPrefix(out, "ok\n"))
				virshOn(uri, "undefine", dom)
			}
			if layouts[0] != layouts[1] {
				t.Errorf("devices and addresses differ from libvirtd's\ngovirtd:\n%s\nlibvirtd:\n%s", layouts[0], layouts[1])
			}
			must := func(args ...string) string {
				t.Helper()
				out := virshOn(d.uri(), args...)
				if !strings.HasPrefix(out, "ok\n") {
					t.Fatalf("virsh %s: %s", strings.Join(args, " "), out)
				}
				return strings.TrimPrefix(out, "ok\n")
			}
			must("define", file)
			must("start", dom)
			defer func() {
				must("destroy", dom)
				must("undefine", dom)
			}()
			live := must("dumpxml", dom)
			if got := deviceLayout(t, live); got != layouts[0] {
				t.Errorf("the running guest's devices and addresses differ from its definition's\nlive:\n%s\ndefinition:\n%s", got, layouts[0])
			}
			for _, alias := range []string{`<alias name="pci.0"`, `<alias name="pcie.0"`} {
				if strings.Contains(live, alias) {
					return // the root bus's alias: the live XML names aliases
				}
			}
			t.Errorf("the live XML names no alias of the PCI root:\n%s", live)
		})
	}
}

func domainName(t *testing.T, doc string) string {
	var v struct {
		Name string `xml:"name"`
	}
	if err := xml.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatal(err)
	}
	return v.Name
}

// node is an XML element, generically.
type node struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Children []node     `xml:",any"`
}

func (n node) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (n node) child(name string) *node {
	for i := range n.Children {
		if n.Children[i].XMLName.Local == name {
			return &n.Children[i]
		}
	}
	return nil
}

// deviceLayout is one line per device of a domain's XML: what it is
// (element, type, model, bus, target) and its address, sorted.
func deviceLayout(t *testing.T, doc string) string {
	t.Helper()
	var dom node
	if err := xml.Unmarshal([]byte(doc), &dom); err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	devs := dom.child("devices")
	if devs == nil {
		t.Fatalf("no <devices>:\n%s", doc)
	}
	var lines []string
	for _, dev := range devs.Children {
		what := []string{dev.XMLName.Local}
		for _, a := range []string{"type", "device", "model", "bus", "index"} {
			if v := dev.attr(a); v != "" {
				what = append(what, a+"="+v)
			}
		}
		if tg := dev.child("target"); tg != nil && tg.attr("dev") != "" {
			what = append(what, "dev="+tg.attr("dev"))
		}
		if tg := dev.child("target"); tg != nil && tg.attr("chassis") != "" {
			what = append(what, "chassis="+tg.attr("chassis"))
		}
		if m := dev.child("model"); m != nil && m.attr("type") != "" {
			what = append(what, "model="+m.attr("type"))
		}
		if a := dev.child("address"); a != nil {
			attrs := make([]string, 0, len(a.Attrs))
			for _, at := range a.Attrs {
				attrs = append(attrs, fmt.Sprintf("%s=%s", at.Name.Local, at.Value))
			}
			sort.Strings(attrs)
			what = append(what, "@", strings.Join(attrs, " "))
		}
		lines = append(lines, strings.Join(what, " "))
	}
	if os := dom.child("os"); os != nil {
		if typ := os.child("type"); typ != nil {
			lines = append(lines, "machine "+typ.attr("machine"))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
