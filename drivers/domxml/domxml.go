// Package domxml parses, checks and formats domain XML for the drivers,
// with libvirt.org/go/libvirtxml, so every driver reports a bad
// definition the same way: VIR_ERR_XML_ERROR naming what is wrong.
package domxml

import (
	"crypto/rand"
	"fmt"
	"regexp"
	"strings"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/vir"
)

// Def is a parsed domain definition with the facts every driver needs
// already checked and extracted.
type Def struct {
	XML  *libvirtxml.Domain
	UUID drivers.UUID
}

func xmlErr(format string, args ...any) error {
	return drivers.Errorf(vir.ErrXMLError, vir.FromDomain, format, args...)
}

var validName = regexp.MustCompile(`^[^/\n]+$`)

// Parse parses a domain definition and checks what libvirt checks before
// any driver looks at it: well-formed XML with a <domain> root, a name, a
// valid uuid (one is generated when absent), a memory size. Errors are
// VIR_ERR_XML_ERROR and say what is wrong.
func Parse(doc string) (*Def, error) {
	if strings.TrimSpace(doc) == "" {
		return nil, xmlErr("empty domain definition")
	}
	var x libvirtxml.Domain
	if err := x.Unmarshal(doc); err != nil {
		return nil, xmlErr("cannot parse domain definition: %v", err)
	}
	if x.Name == "" {
		return nil, xmlErr("missing domain name: add <name>")
	}
	if !validName.MatchString(x.Name) {
		return nil, xmlErr("domain name %q must not contain '/' or a newline", x.Name)
	}
	d := &Def{XML: &x}
	if x.UUID == "" {
		d.UUID = NewUUID()
		x.UUID = d.UUID.String()
	} else {
		u, err := drivers.ParseUUID(x.UUID)
		if err != nil {
			return nil, xmlErr("<uuid>: %v", err)
		}
		d.UUID = u
		x.UUID = u.String()
	}
	if x.Memory == nil || x.Memory.Value == 0 {
		return nil, xmlErr("missing memory size: add <memory unit='KiB'>N</memory>")
	}
	if _, err := ScaleKiB(x.Memory.Value, x.Memory.Unit); err != nil {
		return nil, xmlErr("<memory>: %v", err)
	}
	if x.CurrentMemory != nil {
		if _, err := ScaleKiB(x.CurrentMemory.Value, x.CurrentMemory.Unit); err != nil {
			return nil, xmlErr("<currentMemory>: %v", err)
		}
	}
	// What is accepted must survive being written and read back (status
	// files, copies): libvirtxml reads some definitions it cannot write
	// back, such as <interface type=''>, and writes some it reads back
	// otherwise (<serial type=''> comes back a pty). The definition kept
	// is the one read back, so that it no longer changes when stored.
	out, err := x.Marshal()
	var back libvirtxml.Domain
	if err == nil {
		err = back.Unmarshal(out)
	}
	if err != nil {
		return nil, xmlErr("invalid domain definition: %v", err)
	}
	d.XML = &back
	return d, nil
}

// NewUUID returns a random (version 4) UUID.
func NewUUID() drivers.UUID {
	var u drivers.UUID
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

// unitBytes gives the bytes of one of each unit libvirt accepts for a
// memory size ("KB" is 1000 bytes, "KiB" and "k" are 1024).
var unitBytes = map[string]uint64{
	"b": 1, "bytes": 1,
	"k": 1 << 10, "kib": 1 << 10, "kb": 1e3,
	"m": 1 << 20, "mib": 1 << 20, "mb": 1e6,
	"g": 1 << 30, "gib": 1 << 30, "gb": 1e9,
	"t": 1 << 40, "tib": 1 << 40, "tb": 1e12,
}

// ScaleKiB converts a memory size in a libvirt unit (KiB when unit is
// empty) to KiB, rounding up as libvirt does.
func ScaleKiB(v uint, unit string) (uint64, error) {
	if unit == "" {
		return uint64(v), nil
	}
	m, ok := unitBytes[strings.ToLower(unit)]
	if !ok {
		return 0, fmt.Errorf("unknown unit %q", unit)
	}
	bytes := uint64(v) * m
	if m != 0 && bytes/m != uint64(v) {
		return 0, fmt.Errorf("%d %s is too large", v, unit)
	}
	return (bytes + 1023) / 1024, nil
}

// MaxMemKiB is the definition's <memory> in KiB.
func (d *Def) MaxMemKiB() uint64 {
	kib, _ := ScaleKiB(d.XML.Memory.Value, d.XML.Memory.Unit)
	return kib
}

// CurMemKiB is <currentMemory> in KiB, or <memory> when absent.
func (d *Def) CurMemKiB() uint64 {
	if c := d.XML.CurrentMemory; c != nil {
		kib, _ := ScaleKiB(c.Value, c.Unit)
		return kib
	}
	return d.MaxMemKiB()
}

// VCPUs is the number of virtual CPUs: <vcpu current>, <vcpu>, or 1.
func (d *Def) VCPUs() uint16 {
	v := d.XML.VCPU
	switch {
	case v == nil:
		return 1
	case v.Current > 0:
		return uint16(v.Current)
	case v.Value > 0:
		return uint16(v.Value)
	}
	return 1
}

// OSType is <os><type>, "hvm" when absent.
func (d *Def) OSType() string {
	if d.XML.OS != nil && d.XML.OS.Type != nil && d.XML.OS.Type.Type != "" {
		return d.XML.OS.Type.Type
	}
	return "hvm"
}

// Name is the domain's name.
func (d *Def) Name() string { return d.XML.Name }

// Format returns the definition as XML, with id set when the domain runs
// (id ≥ 0) and left out otherwise.
func (d *Def) Format(id int32) (string, error) {
	x := *d.XML
	x.ID = nil
	if id >= 0 {
		i := int(id)
		x.ID = &i
	}
	s, err := x.Marshal()
	if err != nil {
		return "", drivers.Errorf(vir.ErrInternalError, vir.FromDomain, "cannot format domain %s: %v", d.Name(), err)
	}
	return s + "\n", nil
}

// Describe is the definition as a client gets it from virDomainGetXMLDesc:
// as Format writes it, but without its secrets — graphics passwords and
// the cookies of network disks — unless secure (VIR_DOMAIN_XML_SECURE,
// which the daemon refuses to read-only clients).
func (d *Def) Describe(id int32, secure bool) (string, error) {
	if secure {
		return d.Format(id)
	}
	x := *d.XML
	if x.Devices != nil {
		devs := *x.Devices
		devs.Graphics = append([]libvirtxml.DomainGraphic(nil), devs.Graphics...)
		for i := range devs.Graphics {
			g := &devs.Graphics[i]
			if g.VNC != nil {
				v := *g.VNC
				v.Passwd = ""
				g.VNC = &v
			}
			if g.Spice != nil {
				v := *g.Spice
				v.Passwd = ""
				g.Spice = &v
			}
			if g.RDP != nil {
				v := *g.RDP
				v.Passwd = ""
				g.RDP = &v
			}
		}
		devs.Disks = append([]libvirtxml.DomainDisk(nil), devs.Disks...)
		for i := range devs.Disks {
			if src := devs.Disks[i].Source; src != nil && src.Cookies != nil {
				c := *src
				c.Cookies = nil
				devs.Disks[i].Source = &c
			}
		}
		x.Devices = &devs
	}
	return (&Def{XML: &x, UUID: d.UUID}).Format(id)
}

// Copy returns a deep copy of d.
func (d *Def) Copy() *Def {
	s, err := d.XML.Marshal()
	if err != nil {
		panic(fmt.Sprintf("domxml: re-marshal of a parsed domain failed: %v", err))
	}
	var x libvirtxml.Domain
	if err := x.Unmarshal(s); err != nil {
		panic(fmt.Sprintf("domxml: re-parse of a marshalled domain failed: %v", err))
	}
	return &Def{XML: &x, UUID: d.UUID}
}
