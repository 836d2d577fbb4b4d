package test

import (
	"encoding/xml"
	"fmt"
	"slices"
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
// element order). Only dir, fs and netfs pools are served: libvirt's
// other pool types each have their own source rules, and a pool govirtd
// could not describe as libvirt does is refused rather than answered
// wrongly.

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

// poolDef is one storage pool definition (virStoragePoolDef) of a dir,
// fs or netfs pool.
type poolDef struct {
	typ   string // dir, fs or netfs
	name  string
	uuid  drivers.UUID
	path  string // target path, sanitised
	perms perms
	// The <source>: what libvirt keeps of it for these types (an empty
	// string is absent, as libvirt reads it). format is the fs or netfs
	// format ("" for dir).
	hosts                        []poolHost
	devices                      []poolDevice
	dir, format                  string
	protocolVer, vendor, product string
}

type poolHost struct {
	name string
	port int
}

type poolDevice struct {
	path, partSeparator string
}

// poolFormats are the source formats of the pool types that have them,
// the first the default.
var poolFormats = map[string][]string{
	"fs":    {"auto", "ext2", "ext3", "ext4", "ufs", "iso9660", "udf", "gfs", "gfs2", "vfat", "hfs+", "xfs", "ocfs2", "vmfs"},
	"netfs": {"auto", "nfs", "glusterfs", "cifs"},
}

// parsePoolXML reads a pool definition as virStoragePoolDefParse does,
// for dir, fs and netfs pools.
func parsePoolXML(doc string) (*poolDef, error) {
	var x libvirtxml.StoragePool
	if err := x.Unmarshal(doc); err != nil {
		return nil, drivers.Errorf(vir.ErrXMLError, vir.FromStorage, "(storage_pool_definition): %v", err)
	}
	switch x.Type {
	case "":
		return nil, drivers.Errorf(vir.ErrXMLError, vir.FromXML, "Missing required attribute 'type' in element 'pool'")
	case "dir", "fs", "netfs":
	case "logical", "disk", "iscsi", "iscsi-direct", "scsi", "mpath", "rbd", "sheepdog", "gluster", "zfs", "vstorage":
		return nil, drivers.Errorf(vir.ErrConfigUnsupported, vir.FromStorage,
			"pool type '%s' is not served by govirtd's test driver (dir, fs and netfs pools are)", x.Type)
	default:
		return nil, drivers.Errorf(vir.ErrXMLError, vir.FromXML, "Invalid value for attribute 'type' in element 'pool': '%s'.", x.Type)
	}
	if x.Features != nil || x.Refresh != nil || x.FSCommandline != nil || x.RBDCommandline != nil ||
		(x.Source != nil && (x.Source.Auth != nil || x.Source.Adapter != nil || x.Source.Initiator != nil)) ||
		(x.Target != nil && (x.Target.Encryption != nil || x.Target.Timestamps != nil)) {
		return nil, drivers.Errorf(vir.ErrConfigUnsupported, vir.FromStorage,
			"pool '%s': <features>, <refresh>, <auth>, <adapter>, <initiator>, <encryption> and namespaces are not served by govirtd's test driver; leave them out", x.Name)
	}
	def := &poolDef{typ: x.Type, name: x.Name}
	if fs := poolFormats[def.typ]; fs != nil {
		def.format = fs[0]
	}
	if s := x.Source; s != nil {
		if err := def.parseSource(s); err != nil {
			return nil, err
		}
	}
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
	switch def.typ {
	case "netfs":
		if len(def.hosts) == 0 {
			return nil, drivers.Errorf(vir.ErrXMLError, vir.FromStorage, "missing storage pool source host name")
		}
		if def.dir == "" {
			return nil, drivers.Errorf(vir.ErrXMLError, vir.FromStorage, "missing storage pool source path")
		}
	case "fs":
		if len(def.devices) == 0 {
			return nil, drivers.Errorf(vir.ErrXMLError, vir.FromStorage, "missing storage pool source device name")
		}
	}
	if x.Target == nil || x.Target.Path == "" {
		return nil, drivers.Errorf(vir.ErrXMLError, vir.FromStorage, "missing storage pool target path")
	}
	def.path = sanitizePath(x.Target.Path)
	def.perms = perms{mode: -1}
	if p := x.Target.Permissions; p != nil {
		var err error
		// libvirtxml drops an empty <label/>; a label is kept when given.
		if def.perms, err = parsePerms(p.Mode, p.Owner, p.Group, p.Label, true, p.Label != ""); err != nil {
			return nil, err
		}
	}
	return def, nil
}

// parseSource is virStoragePoolDefParseSource for what these pool types
// keep.
func (def *poolDef) parseSource(s *libvirtxml.StoragePoolSource) error {
	if formats := poolFormats[def.typ]; formats != nil && s.Format != nil {
		if !slices.Contains(formats, s.Format.Type) {
			return drivers.Errorf(vir.ErrConfigUnsupported, vir.FromStorage, "unknown pool format type %s", s.Format.Type)
		}
		def.format = s.Format.Type
	}
	for _, h := range s.Host {
		if h.Name == "" {
			return drivers.Errorf(vir.ErrXMLError, vir.FromStorage, "missing storage pool host name")
		}
		ph := poolHost{name: h.Name}
		if h.Port != "" {
			port, err := strconv.ParseInt(h.Port, 10, 32)
			if err != nil {
				return drivers.Errorf(vir.ErrXMLError, vir.FromXML, "Invalid value for attribute 'port' in element 'host': '%s'. Expected integer value", h.Port)
			}
			ph.port = int(port)
		}
		def.hosts = append(def.hosts, ph)
	}
	for _, d := range s.Device {
		if d.Path == "" {
			return drivers.Errorf(vir.ErrXMLError, vir.FromStorage, "missing storage pool source device path")
		}
		switch d.PartSeparator {
		case "", "yes", "no":
		default:
			return drivers.Errorf(vir.ErrXMLError, vir.FromXML, "Invalid value for attribute 'part_separator' in element 'device': '%s'. Expected 'yes' or 'no'", d.PartSeparator)
		}
		def.devices = append(def.devices, poolDevice{path: d.Path, partSeparator: d.PartSeparator})
	}
	if s.Dir != nil && s.Dir.Path != "" {
		def.dir = sanitizePath(s.Dir.Path)
	}
	if s.Protocol != nil && s.Protocol.Version != "" {
		// libvirt compares the format's number with netfs' auto and nfs.
		if i := slices.Index(poolFormats[def.typ], def.format); i > 1 {
			name := "(null)" // past netfs' formats, as libvirt prints it
			if i < len(poolFormats["netfs"]) {
				name = poolFormats["netfs"][i]
			}
			return drivers.Errorf(vir.ErrConfigUnsupported, vir.FromStorage,
				"storage pool protocol ver unsupported for pool type '%s'", name)
		}
		if strings.Contains(s.Protocol.Version, ",") {
			return drivers.Errorf(vir.ErrXMLDetail, vir.FromStorage, "storage pool protocol ver '%s' must not contain ','", s.Protocol.Version)
		}
		def.protocolVer = s.Protocol.Version
	}
	if s.Vendor != nil {
		def.vendor = s.Vendor.Name
	}
	if s.Product != nil {
		def.product = s.Product.Name
	}
	return nil
}

// conflicts reports whether a pool of definition def holds the source nd
// asks for (virStoragePoolObjSourceFindDuplicate): dir pools by target
// path, netfs pools by single host and exported dir, fs pools by device.
func (def *poolDef) conflicts(nd *poolDef) bool {
	if def.name == nd.name {
		return false
	}
	switch def.typ {
	case "dir":
		return nd.typ == "dir" && def.path == nd.path
	case "netfs":
		if nd.typ != "netfs" || def.dir != nd.dir || (len(def.hosts) != 1 && len(nd.hosts) != 1) {
			return false
		}
		if nd.hosts[0].port != 0 && def.hosts[0].port != nd.hosts[0].port {
			return false
		}
		return def.hosts[0].name == nd.hosts[0].name
	case "fs":
		if nd.typ != "fs" {
			return false
		}
		for _, a := range def.devices {
			for _, b := range nd.devices {
				if a.path == b.path {
					return true
				}
			}
		}
	}
	return false
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

type poolHostXML struct {
	Name string `xml:"name,attr"`
	Port int    `xml:"port,attr,omitempty"`
}

type poolDeviceXML struct {
	Path          string `xml:"path,attr"`
	PartSeparator string `xml:"part_separator,attr,omitempty"`
}

type poolSourceXML struct {
	Host     []poolHostXML                         `xml:"host"`
	Device   []poolDeviceXML                       `xml:"device"`
	Dir      *libvirtxml.StoragePoolSourceDir      `xml:"dir"`
	Format   *libvirtxml.StoragePoolSourceFormat   `xml:"format"`
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
		Type: def.typ, Name: def.name, UUID: def.uuid.String(),
		Capacity:   sizeXML{"bytes", capacity},
		Allocation: sizeXML{"bytes", allocation},
		Available:  sizeXML{"bytes", available},
		Target:     poolTargetXML{Path: def.path, Permissions: def.perms.xml()},
	}
	src := &x.Source
	if def.typ == "netfs" {
		for _, h := range def.hosts {
			src.Host = append(src.Host, poolHostXML{h.name, h.port})
		}
		src.Dir = &libvirtxml.StoragePoolSourceDir{Path: def.dir}
	}
	if def.typ == "fs" {
		for _, d := range def.devices {
			src.Device = append(src.Device, poolDeviceXML{d.path, d.partSeparator})
		}
	}
	if def.format != "" {
		src.Format = &libvirtxml.StoragePoolSourceFormat{Type: def.format}
	}
	if def.protocolVer != "" {
		src.Protocol = &libvirtxml.StoragePoolSourceProtocol{Version: def.protocolVer}
	}
	if def.vendor != "" {
		src.Vendor = &nameAttr{def.vendor}
	}
	if def.product != "" {
		src.Product = &nameAttr{def.product}
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

// scaleSize is drivers.ScaleBytes (libvirt's virScaleInteger for sizes).
var scaleSize = drivers.ScaleBytes

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
