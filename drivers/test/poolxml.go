package test

import (
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/vir"
)

// The storage pool and volume definitions of the test driver, read with
// libvirtxml and written back in the element order libvirt 9.0 writes
// them (libvirtxml's own order differs, and the compat test compares
// element order). Only dir pools are served: libvirt's other pool types
// each have their own source rules, and a pool govirtd could not describe
// as libvirt does is refused rather than answered wrongly.

// perms is a pool target's or a volume target's <permissions>; a field
// that is absent is -1 (mode) or nil.
type perms struct {
	mode         int // -1: absent
	owner, group int64
	hasOwner     bool
	hasGroup     bool
	label        *string
}

func (p perms) set() bool {
	return p.mode != -1 || p.hasOwner || p.hasGroup || p.label != nil
}

// parsePerms reads <permissions> as libvirt does: the mode in octal
// within 0777, owner and group decimal (-1 meaning unset).
func parsePerms(mode, owner, group, label string, present bool, hasLabel bool) (perms, error) {
	p := perms{mode: -1}
	if !present {
		return p, nil
	}
	if mode != "" {
		m, err := strconv.ParseInt(strings.TrimSpace(mode), 8, 32)
		if err != nil || m&^0o777 != 0 {
			return p, drivers.Errorf(vir.ErrXMLError, vir.FromStorage, "malformed octal mode")
		}
		p.mode = int(m)
	}
	for _, f := range []struct {
		s    string
		v    *int64
		has  *bool
		what string
	}{{owner, &p.owner, &p.hasOwner, "owner"}, {group, &p.group, &p.hasGroup, "group"}} {
		if f.s == "" {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSpace(f.s), 10, 64)
		if err != nil || v < -1 || v > 1<<32-1 {
			return p, drivers.Errorf(vir.ErrXMLError, vir.FromStorage, "malformed %s element", f.what)
		}
		if v != -1 && v != 1<<32-1 {
			*f.v, *f.has = v, true
		}
	}
	if hasLabel {
		p.label = &label
	}
	return p, nil
}

// permsXML is <permissions> in libvirt's order.
type permsXML struct {
	Mode  string  `xml:"mode,omitempty"`
	Owner string  `xml:"owner,omitempty"`
	Group string  `xml:"group,omitempty"`
	Label *string `xml:"label"`
}

func (p perms) xml() *permsXML {
	if !p.set() {
		return nil
	}
	x := &permsXML{Label: p.label}
	if p.mode != -1 {
		x.Mode = fmt.Sprintf("0%o", p.mode)
	}
	if p.hasOwner {
		x.Owner = strconv.FormatInt(int64(int32(p.owner)), 10)
	}
	if p.hasGroup {
		x.Group = strconv.FormatInt(int64(int32(p.group)), 10)
	}
	return x
}

// poolDef is one storage pool definition (virStoragePoolDef) of a dir
// pool.
type poolDef struct {
	name  string
	uuid  drivers.UUID
	path  string // target path, sanitised
	perms perms
	// The <source> children a dir pool keeps (libvirt drops the others).
	protocolVer, vendor, product *string
}

// parsePoolXML reads a pool definition as virStoragePoolDefParse does,
// for dir pools.
func parsePoolXML(doc string) (*poolDef, error) {
	var x libvirtxml.StoragePool
	if err := x.Unmarshal(doc); err != nil {
		return nil, drivers.Errorf(vir.ErrXMLError, vir.FromStorage, "(storage_pool_definition): %v", err)
	}
	switch x.Type {
	case "":
		return nil, drivers.Errorf(vir.ErrXMLError, vir.FromXML, "Missing required attribute 'type' in element 'pool'")
	case "dir":
	case "fs", "netfs", "logical", "disk", "iscsi", "iscsi-direct", "scsi", "mpath", "rbd", "sheepdog", "gluster", "zfs", "vstorage":
		return nil, drivers.Errorf(vir.ErrConfigUnsupported, vir.FromStorage,
			"pool type '%s' is not served by govirtd's test driver (only dir pools are); use a dir pool", x.Type)
	default:
		return nil, drivers.Errorf(vir.ErrXMLError, vir.FromXML, "Invalid value for attribute 'type' in element 'pool': '%s'.", x.Type)
	}
	if x.Features != nil || x.Refresh != nil || x.FSCommandline != nil || x.RBDCommandline != nil ||
		(x.Source != nil && x.Source.Auth != nil) || (x.Target != nil && (x.Target.Encryption != nil || x.Target.Timestamps != nil)) {
		return nil, drivers.Errorf(vir.ErrConfigUnsupported, vir.FromStorage,
			"pool '%s': <features>, <refresh>, <auth>, <encryption> and namespaces are not served by govirtd's test driver; leave them out", x.Name)
	}
	def := &poolDef{name: x.Name}
	if def.name == "" {
		return nil, drivers.Errorf(vir.ErrXMLError, vir.FromStorage, "missing pool source name element")
	}
	if strings.Contains(def.name, "/") {
		return nil, drivers.Errorf(vir.ErrXMLError, vir.FromStorage, "name %s cannot contain '/'", def.name)
	}
	if x.UUID == "" {
		def.uuid = domxml.NewUUID()
	} else {
		u, err := drivers.ParseUUID(strings.TrimSpace(x.UUID))
		if err != nil {
			return nil, drivers.Errorf(vir.ErrXMLError, vir.FromStorage, "malformed uuid element")
		}
		def.uuid = u
	}
	if x.Target == nil || x.Target.Path == "" {
		return nil, drivers.Errorf(vir.ErrXMLError, vir.FromStorage, "missing storage pool target path")
	}
	def.path = sanitizePath(x.Target.Path)
	if p := x.Target.Permissions; p != nil {
		var err error
		// libvirtxml drops an empty <label/>; a label is kept when given.
		def.perms, err = parsePerms(p.Mode, p.Owner, p.Group, p.Label, true, p.Label != "")
		if err != nil {
			return nil, err
		}
	} else {
		def.perms = perms{mode: -1}
	}
	if s := x.Source; s != nil {
		if s.Protocol != nil {
			def.protocolVer = &s.Protocol.Version
		}
		if s.Vendor != nil {
			def.vendor = &s.Vendor.Name
		}
		if s.Product != nil {
			def.product = &s.Product.Name
		}
	}
	return def, nil
}

// sanitizePath is virFileSanitizePath: repeated slashes become one
// (a leading "//" stays), and a trailing slash goes.
func sanitizePath(p string) string {
	if i := strings.Index(p, "://"); i >= 0 && strings.Index(p, "/") > i {
		return p
	}
	var b strings.Builder
	rest := p
	if strings.HasPrefix(p, "//") && !strings.HasPrefix(p, "///") {
		b.WriteString("//")
		rest = p[2:]
	}
	for i := 0; i < len(rest); i++ {
		if rest[i] != '/' {
			b.WriteByte(rest[i])
			continue
		}
		for i+1 < len(rest) && rest[i+1] == '/' {
			i++
		}
		if b.Len() != 0 && i+1 == len(rest) {
			break
		}
		b.WriteByte('/')
	}
	return b.String()
}

type sizeXML struct {
	Unit  string `xml:"unit,attr"`
	Value uint64 `xml:",chardata"`
}

type nameAttr struct {
	Name string `xml:"name,attr"`
}

type poolSourceXML struct {
	Protocol *libvirtxml.StoragePoolSourceProtocol `xml:"protocol"`
	Vendor   *nameAttr                             `xml:"vendor"`
	Product  *nameAttr                             `xml:"product"`
}

type poolTargetXML struct {
	Path        string    `xml:"path"`
	Permissions *permsXML `xml:"permissions"`
}

type poolXML struct {
	XMLName    xml.Name      `xml:"pool"`
	Type       string        `xml:"type,attr"`
	Name       string        `xml:"name"`
	UUID       string        `xml:"uuid"`
	Capacity   sizeXML       `xml:"capacity"`
	Allocation sizeXML       `xml:"allocation"`
	Available  sizeXML       `xml:"available"`
	Source     poolSourceXML `xml:"source"`
	Target     poolTargetXML `xml:"target"`
}

// formatPool is virStoragePoolDefFormat of def with the pool's sizes.
func formatPool(def *poolDef, capacity, allocation, available uint64) (string, error) {
	x := poolXML{
		Type: "dir", Name: def.name, UUID: def.uuid.String(),
		Capacity:   sizeXML{"bytes", capacity},
		Allocation: sizeXML{"bytes", allocation},
		Available:  sizeXML{"bytes", available},
		Target:     poolTargetXML{Path: def.path, Permissions: def.perms.xml()},
	}
	if def.protocolVer != nil {
		x.Source.Protocol = &libvirtxml.StoragePoolSourceProtocol{Version: *def.protocolVer}
	}
	if def.vendor != nil {
		x.Source.Vendor = &nameAttr{*def.vendor}
	}
	if def.product != nil {
		x.Source.Product = &nameAttr{*def.product}
	}
	out, err := xml.MarshalIndent(x, "", "  ")
	if err != nil {
		return "", drivers.Errorf(vir.ErrInternalError, vir.FromStorage, "cannot write pool '%s' XML: %v", def.name, err)
	}
	return string(out) + "\n", nil
}

// volume is one storage volume (virStorageVolDef) of a dir pool.
type volume struct {
	name, key, path      string
	typ                  string // the <volume type=…>; "file" unless given
	capacity, allocation uint64
	format               string
	perms                perms
}

// volTypes are virStorageVolType's names.
var volTypes = map[string]bool{"file": true, "block": true, "dir": true, "network": true, "netdir": true, "ploop": true}

// fileFormats are the volume formats a dir pool takes
// (virStorageFileFormat, "none" excepted).
var fileFormats = map[string]bool{
	"raw": true, "dir": true, "bochs": true, "cloop": true, "dmg": true, "iso": true, "vpc": true, "vdi": true,
	"fat": true, "vhd": true, "ploop": true, "cow": true, "qcow": true, "qcow2": true, "qed": true, "vmdk": true,
}

// parseVolXML reads a volume definition as virStorageVolDefParse does for
// a dir pool. Path and key are the pool's to set.
func parseVolXML(doc string) (*volume, error) {
	var x libvirtxml.StorageVolume
	if err := x.Unmarshal(doc); err != nil {
		return nil, drivers.Errorf(vir.ErrXMLError, vir.FromStorage, "(storage_volume_definition): %v", err)
	}
	v := &volume{name: x.Name, typ: "file", format: "raw", perms: perms{mode: -1}}
	if v.name == "" {
		return nil, drivers.Errorf(vir.ErrXMLError, vir.FromStorage, "missing volume name element")
	}
	if x.Type != "" {
		if !volTypes[x.Type] {
			return nil, drivers.Errorf(vir.ErrConfigUnsupported, vir.FromStorage, "unknown volume type '%s'", x.Type)
		}
		v.typ = x.Type
	}
	if x.BackingStore != nil || x.Physical != nil {
		return nil, drivers.Errorf(vir.ErrConfigUnsupported, vir.FromStorage,
			"volume '%s': <backingStore> is not served by govirtd's test driver; leave it out", v.name)
	}
	if x.Capacity == nil {
		return nil, drivers.Errorf(vir.ErrXMLError, vir.FromStorage, "missing capacity element")
	}
	var err error
	if v.capacity, err = scaleSize(x.Capacity.Value, x.Capacity.Unit); err != nil {
		return nil, err
	}
	v.allocation = v.capacity
	if x.Allocation != nil {
		if v.allocation, err = scaleSize(x.Allocation.Value, x.Allocation.Unit); err != nil {
			return nil, err
		}
	}
	if t := x.Target; t != nil {
		if t.Encryption != nil || t.Compat != "" || t.NoCOW != nil || t.ClusterSize != nil || t.Features != nil || t.Timestamps != nil {
			return nil, drivers.Errorf(vir.ErrConfigUnsupported, vir.FromStorage,
				"volume '%s': <encryption>, <compat>, <nocow>, <clusterSize>, <features> and <timestamps> are not served by govirtd's test driver; leave them out", v.name)
		}
		if t.Format != nil {
			if !fileFormats[t.Format.Type] {
				return nil, drivers.Errorf(vir.ErrConfigUnsupported, vir.FromStorage, "unknown volume format type %s", t.Format.Type)
			}
			v.format = t.Format.Type
		}
		if p := t.Permissions; p != nil {
			if v.perms, err = parsePerms(p.Mode, p.Owner, p.Group, p.Label, true, p.Label != ""); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

// scaleSize is virScaleInteger for a volume size: units as libvirt
// takes them (b/bytes, k/KiB = 1024, KB = 1000, … up to E), at most
// 2^63-1 bytes.
func scaleSize(v uint64, unit string) (uint64, error) {
	scale := uint64(1)
	switch u := strings.ToLower(unit); {
	case u == "" || u == "b" || u == "byte" || u == "bytes":
	default:
		var base uint64
		switch {
		case len(u) == 1 || u[1:] == "ib":
			base = 1024
		case u[1:] == "b":
			base = 1000
		default:
			return 0, drivers.Errorf(vir.ErrInvalidArg, vir.FromNone, "unknown suffix '%s'", unit)
		}
		exp := strings.IndexByte("kmgtpe", u[0]) + 1
		if exp == 0 {
			return 0, drivers.Errorf(vir.ErrInvalidArg, vir.FromNone, "unknown suffix '%s'", unit)
		}
		for range exp {
			scale *= base
		}
	}
	const limit = 1<<63 - 1
	if v != 0 && v > limit/scale {
		return 0, drivers.Errorf(vir.ErrOverflow, vir.FromNone, "value too large: %d%s", v, unit)
	}
	return v * scale, nil
}

type volTargetXML struct {
	Path        string                               `xml:"path"`
	Format      libvirtxml.StorageVolumeTargetFormat `xml:"format"`
	Permissions *permsXML                            `xml:"permissions"`
}

type volXML struct {
	XMLName    xml.Name     `xml:"volume"`
	Type       string       `xml:"type,attr"`
	Name       string       `xml:"name"`
	Key        string       `xml:"key"`
	Capacity   sizeXML      `xml:"capacity"`
	Allocation sizeXML      `xml:"allocation"`
	Target     volTargetXML `xml:"target"`
}

// formatVol is virStorageVolDefFormat for a volume of a dir pool.
func formatVol(v *volume) (string, error) {
	x := volXML{
		Type: v.typ, Name: v.name, Key: v.key,
		Capacity:   sizeXML{"bytes", v.capacity},
		Allocation: sizeXML{"bytes", v.allocation},
		Target: volTargetXML{Path: v.path, Format: libvirtxml.StorageVolumeTargetFormat{Type: v.format},
			Permissions: v.perms.xml()},
	}
	out, err := xml.MarshalIndent(x, "", "  ")
	if err != nil {
		return "", drivers.Errorf(vir.ErrInternalError, vir.FromStorage, "cannot write volume '%s' XML: %v", v.name, err)
	}
	return string(out) + "\n", nil
}
