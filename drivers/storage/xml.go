package storage

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

// Pool and volume XML, read with libvirtxml and written in the element
// order libvirt 9.0's storage driver writes.

// defaultPoolMode is the mode pool-build gives a directory whose pool
// names none (libvirt's VIR_STORAGE_DEFAULT_POOL_PERM_MODE), and
// defaultVolMode a new volume's (VIR_STORAGE_DEFAULT_VOL_PERM_MODE).
const (
	defaultPoolMode = 0o711
	defaultVolMode  = 0o600
)

// perms is a <permissions>; -1 is an absent field.
type perms struct {
	mode         int
	owner, group int64
	label        string
}

func noPerms() perms { return perms{mode: -1, owner: -1, group: -1} }

func parsePerms(p *libvirtxml.StoragePoolTargetPermissions) (perms, error) {
	out := noPerms()
	if p == nil {
		return out, nil
	}
	if s := strings.TrimSpace(p.Mode); s != "" {
		m, err := strconv.ParseInt(s, 8, 32)
		if err != nil || m&^0o777 != 0 {
			return out, drivers.Errorf(vir.ErrXMLError, vir.FromStorage, "malformed octal mode")
		}
		out.mode = int(m)
	}
	for _, f := range []struct {
		s    string
		v    *int64
		what string
	}{{p.Owner, &out.owner, "owner"}, {p.Group, &out.group, "group"}} {
		if s := strings.TrimSpace(f.s); s != "" {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil || v < -1 || v > 1<<32-1 {
				return out, drivers.Errorf(vir.ErrXMLError, vir.FromStorage, "malformed %s element", f.what)
			}
			*f.v = v
		}
	}
	out.label = p.Label
	return out, nil
}

// poolDef is a dir pool's definition.
type poolDef struct {
	name  string
	uuid  drivers.UUID
	path  string
	perms perms
}

// parsePoolXML reads a pool definition as virStoragePoolDefParse does,
// for dir pools; every other type is NO_SUPPORT naming it.
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
		return nil, drivers.Errorf(vir.ErrNoSupport, vir.FromStorage,
			"pool type '%s' is not served by govirtd's storage driver (dir pools are)", x.Type)
	default:
		return nil, drivers.Errorf(vir.ErrXMLError, vir.FromXML, "Invalid value for attribute 'type' in element 'pool': '%s'.", x.Type)
	}
	def := &poolDef{name: strings.TrimSpace(x.Name)}
	if def.name == "" {
		return nil, drivers.Errorf(vir.ErrXMLError, vir.FromStorage, "missing pool source name element")
	}
	if strings.ContainsAny(def.name, "/\n") {
		return nil, drivers.Errorf(vir.ErrXMLError, vir.FromStorage, "name %s cannot contain '/' or a newline", def.name)
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
	if !strings.HasPrefix(def.path, "/") {
		return nil, drivers.Errorf(vir.ErrXMLError, vir.FromStorage, "storage pool target path '%s' must be absolute", x.Target.Path)
	}
	var err error
	if def.perms, err = parsePerms(x.Target.Permissions); err != nil {
		return nil, err
	}
	return def, nil
}

// sanitizePath collapses repeated slashes and drops a trailing one, as
// virFileSanitizePath.
func sanitizePath(p string) string {
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	if len(p) > 1 {
		p = strings.TrimSuffix(p, "/")
	}
	return p
}

type sizeXML struct {
	Unit  string `xml:"unit,attr"`
	Value uint64 `xml:",chardata"`
}

func bytesXML(v uint64) sizeXML { return sizeXML{"bytes", v} }

type permsXML struct {
	Mode  string `xml:"mode,omitempty"`
	Owner string `xml:"owner,omitempty"`
	Group string `xml:"group,omitempty"`
	Label string `xml:"label,omitempty"`
}

func (p perms) xml() *permsXML {
	if p.mode == -1 && p.owner == -1 && p.group == -1 && p.label == "" {
		return nil
	}
	x := &permsXML{Label: p.label}
	if p.mode != -1 {
		x.Mode = fmt.Sprintf("%04o", p.mode)
	}
	if p.owner != -1 {
		x.Owner = strconv.FormatInt(p.owner, 10)
	}
	if p.group != -1 {
		x.Group = strconv.FormatInt(p.group, 10)
	}
	return x
}

type poolXML struct {
	XMLName    xml.Name `xml:"pool"`
	Type       string   `xml:"type,attr"`
	Name       string   `xml:"name"`
	UUID       string   `xml:"uuid"`
	Capacity   sizeXML  `xml:"capacity"`
	Allocation sizeXML  `xml:"allocation"`
	Available  sizeXML  `xml:"available"`
	Source     struct{} `xml:"source"`
	Target     struct {
		Path        string    `xml:"path"`
		Permissions *permsXML `xml:"permissions"`
	} `xml:"target"`
}

// formatPool is virStoragePoolDefFormat of a dir pool with its sizes.
func formatPool(def *poolDef, capacity, allocation, available uint64) string {
	x := poolXML{Type: "dir", Name: def.name, UUID: def.uuid.String(),
		Capacity: bytesXML(capacity), Allocation: bytesXML(allocation), Available: bytesXML(available)}
	x.Target.Path = def.path
	x.Target.Permissions = def.perms.xml()
	out, err := xml.MarshalIndent(x, "", "  ")
	if err != nil {
		panic("storage: pool XML: " + err.Error()) // plain structs always marshal
	}
	return string(out) + "\n"
}

// volSpec is what a volume definition asks for.
type volSpec struct {
	name                 string
	capacity, allocation uint64
	hasCapacity          bool
	format               string // "" when not given
	perms                perms
	backingPath          string
	backingFormat        string
}

// volFormats are the formats qemu-img makes and reads that a dir
// pool's volumes may have.
var volFormats = map[string]bool{"raw": true, "qcow2": true}

// parseVolXML reads a volume definition as virStorageVolDefParse does
// for a dir pool.
func parseVolXML(doc string) (*volSpec, error) {
	var x libvirtxml.StorageVolume
	if err := x.Unmarshal(doc); err != nil {
		return nil, drivers.Errorf(vir.ErrXMLError, vir.FromStorage, "(storage_volume_definition): %v", err)
	}
	v := &volSpec{name: strings.TrimSpace(x.Name), perms: noPerms()}
	if v.name == "" {
		return nil, drivers.Errorf(vir.ErrXMLError, vir.FromStorage, "missing volume name element")
	}
	if strings.Contains(v.name, "/") || v.name == "." || v.name == ".." {
		return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromStorage, "volume name '%s' cannot contain '/'", v.name)
	}
	if x.Type != "" && x.Type != "file" {
		return nil, drivers.Errorf(vir.ErrNoSupport, vir.FromStorage, "volume type '%s' is not served in a dir pool (file volumes are)", x.Type)
	}
	var err error
	if x.Capacity != nil {
		if v.capacity, err = scaleSize(x.Capacity.Value, x.Capacity.Unit); err != nil {
			return nil, err
		}
		v.hasCapacity = true
	}
	if x.Allocation != nil {
		if v.allocation, err = scaleSize(x.Allocation.Value, x.Allocation.Unit); err != nil {
			return nil, err
		}
	} else {
		v.allocation = v.capacity
	}
	if t := x.Target; t != nil {
		if t.Encryption != nil {
			return nil, drivers.Errorf(vir.ErrNoSupport, vir.FromStorage, "volume '%s': <encryption> is not served by govirtd's storage driver", v.name)
		}
		if t.Format != nil && t.Format.Type != "" {
			v.format = t.Format.Type
		}
		if p := t.Permissions; p != nil {
			if v.perms, err = parsePerms((*libvirtxml.StoragePoolTargetPermissions)(p)); err != nil {
				return nil, err
			}
		}
	}
	if v.format != "" && !volFormats[v.format] {
		return nil, drivers.Errorf(vir.ErrNoSupport, vir.FromStorage, "volume format '%s' is not served by govirtd's storage driver (raw and qcow2 are)", v.format)
	}
	if b := x.BackingStore; b != nil {
		v.backingPath = b.Path
		if b.Format != nil {
			v.backingFormat = b.Format.Type
		}
	}
	return v, nil
}

// scaleSize is drivers.ScaleBytes (libvirt's virScaleInteger for sizes).
var scaleSize = drivers.ScaleBytes

type fmtXML struct {
	Type string `xml:"type,attr"`
}

type volXML struct {
	XMLName    xml.Name `xml:"volume"`
	Type       string   `xml:"type,attr"`
	Name       string   `xml:"name"`
	Key        string   `xml:"key"`
	Capacity   sizeXML  `xml:"capacity"`
	Allocation sizeXML  `xml:"allocation"`
	Physical   sizeXML  `xml:"physical"`
	Target     struct {
		Path        string    `xml:"path"`
		Format      fmtXML    `xml:"format"`
		Permissions *permsXML `xml:"permissions"`
		Timestamps  *struct {
			Atime string `xml:"atime"`
			Mtime string `xml:"mtime"`
			Ctime string `xml:"ctime"`
		} `xml:"timestamps"`
	} `xml:"target"`
	BackingStore *struct {
		Path   string  `xml:"path"`
		Format *fmtXML `xml:"format"`
	} `xml:"backingStore"`
}

// formatVol is virStorageVolDefFormat for a file volume.
func formatVol(v *volume) string {
	x := volXML{Type: "file", Name: v.name, Key: v.path,
		Capacity: bytesXML(v.capacity), Allocation: bytesXML(v.allocation), Physical: bytesXML(v.physical)}
	x.Target.Path = v.path
	x.Target.Format = fmtXML{v.format}
	x.Target.Permissions = v.perms.xml()
	if v.mtime != "" {
		x.Target.Timestamps = &struct {
			Atime string `xml:"atime"`
			Mtime string `xml:"mtime"`
			Ctime string `xml:"ctime"`
		}{v.atime, v.mtime, v.ctime}
	}
	if v.backingPath != "" {
		x.BackingStore = &struct {
			Path   string  `xml:"path"`
			Format *fmtXML `xml:"format"`
		}{Path: v.backingPath}
		if v.backingFormat != "" {
			x.BackingStore.Format = &fmtXML{v.backingFormat}
		}
	}
	out, err := xml.MarshalIndent(x, "", "  ")
	if err != nil {
		panic("storage: volume XML: " + err.Error())
	}
	return string(out) + "\n"
}
