package qemu

import (
	"context"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/vir"
)

// Disks of type 'volume' name a volume of a storage pool; qemu gets
// the volume's file. The definition and the live XML keep the pool and
// volume, as libvirt's do; only the command line sees the file.

// SetVolumeResolver gives the driver the storage driver that resolves
// <disk type='volume'> at start. Call it before Startup.
func (d *Driver) SetVolumeResolver(r drivers.VolumeResolver) { d.volumes = r }

// withVolumeFiles returns def, or a copy of it whose volume disks are
// file disks: resolve gives each volume's path and format.
func withVolumeFiles(def *domxml.Def, resolve func(pool, vol string) (string, string, error)) (*domxml.Def, error) {
	if !hasVolumeDisk(def.XML) {
		return def, nil
	}
	out := def.Copy()
	for i := range out.XML.Devices.Disks {
		disk := &out.XML.Devices.Disks[i]
		if disk.Source == nil || disk.Source.Volume == nil {
			continue
		}
		v := disk.Source.Volume
		if v.Pool == "" || v.Volume == "" {
			return nil, unsupported("<disk type='volume'> (/domain/devices/disk[%d]) needs <source pool='…' volume='…'/>", i+1)
		}
		path, format, err := resolve(v.Pool, v.Volume)
		if err != nil {
			return nil, err
		}
		disk.Source = &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{File: path}, Index: disk.Source.Index}
		if disk.Driver == nil {
			disk.Driver = &libvirtxml.DomainDiskDriver{Name: "qemu"}
		}
		if disk.Driver.Type == "" {
			disk.Driver.Type = format
		}
	}
	return out, nil
}

func hasVolumeDisk(x *libvirtxml.Domain) bool {
	if x.Devices == nil {
		return false
	}
	for _, d := range x.Devices.Disks {
		if d.Source != nil && d.Source.Volume != nil {
			return true
		}
	}
	return false
}

// resolveVolumes is withVolumeFiles through the storage driver, for a
// start.
func (d *Driver) resolveVolumes(ctx context.Context, def *domxml.Def) (*domxml.Def, error) {
	return withVolumeFiles(def, func(pool, vol string) (string, string, error) {
		if d.volumes == nil {
			return "", "", drivers.Errorf(vir.ErrConfigUnsupported, vir.FromQEMU,
				"<disk type='volume'> (pool '%s', volume '%s') needs the storage driver, which this daemon does not run", pool, vol)
		}
		return d.volumes.ResolveVolume(ctx, pool, vol)
	})
}

// placeholderVolumes is withVolumeFiles for checking a definition: the
// volume need not exist until the domain starts.
func placeholderVolumes(def *domxml.Def) *domxml.Def {
	out, err := withVolumeFiles(def, func(pool, vol string) (string, string, error) {
		return "/" + pool + "/" + vol, "raw", nil
	})
	if err != nil {
		return def // buildCommand reports the bad source
	}
	return out
}
