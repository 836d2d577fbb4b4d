package qemu

import (
	"fmt"
	"strconv"

	"libvirt.org/go/libvirtxml"
)

// setDeviceAliases records in a live definition the id each device has
// in qemu (its -device id, which QMP events and commands name), as
// libvirt shows them as <alias name>: tools match DEVICE_REMOVED and
// their own device lists by them. The ids are the ones buildCommand
// gives; interfaces have theirs from setInterfaceAliases.
func setDeviceAliases(x *libvirtxml.Domain) {
	devs := x.Devices
	if devs == nil {
		return
	}
	m, err := machineOf(x)
	if err != nil {
		return
	}
	alias := func(name string) *libvirtxml.DomainAlias { return &libvirtxml.DomainAlias{Name: name} }
	b := &builder{x: x, m: m, scsi: true, c: &cmdline{}}
	for _, c := range devs.Controllers {
		if c.Type == "scsi" {
			b.scsiModel = c.Model
		}
	}
	for i := range devs.Disks {
		if a, err := b.diskAlias(devs.Disks[i]); err == nil {
			devs.Disks[i].Alias = alias(a)
		}
	}
	usb := -1 // the position among the USB controllers, which names a companion
	for i := range devs.Controllers {
		c := &devs.Controllers[i]
		if c.Type == "usb" && c.Model != "none" {
			usb++
		}
		idx := uint(0)
		if c.Index != nil {
			idx = *c.Index
		}
		switch {
		case c.Type == "pci" && c.Model == "pcie-root":
			c.Alias = alias("pcie.0")
		case c.Type == "pci" && c.Model == "pci-root":
			c.Alias = alias("pci.0")
		case c.Type == "pci":
			c.Alias = alias("pci." + strconv.FormatUint(uint64(idx), 10))
		case c.Type == "usb" && c.Model == "none":
		case c.Type == "usb" && c.USB != nil && c.USB.Master != nil:
			c.Alias = alias(fmt.Sprintf("usb-companion%d", usb))
		case c.Type == "usb":
			c.Alias = alias("usb")
		case c.Type == "ide" || c.Type == "sata" && m.q35:
			c.Alias = alias("ide")
		case c.Type == "sata":
			c.Alias = alias("sata0")
		case c.Type == "virtio-serial" || c.Type == "scsi":
			c.Alias = alias(c.Type + strconv.FormatUint(uint64(idx), 10))
		}
	}
	for i := range devs.Serials {
		devs.Serials[i].Alias = alias(fmt.Sprintf("serial%d", i))
	}
	if len(devs.Consoles) > 0 {
		devs.Consoles[0].Alias = alias("serial0")
	}
	for i := range devs.Channels {
		devs.Channels[i].Alias = alias(fmt.Sprintf("channel%d", i))
	}
	for i := range devs.Inputs {
		devs.Inputs[i].Alias = alias(fmt.Sprintf("input%d", i))
	}
	for i := range devs.Sounds {
		devs.Sounds[i].Alias = alias(fmt.Sprintf("sound%d", i))
	}
	for i := range devs.Videos {
		devs.Videos[i].Alias = alias(fmt.Sprintf("video%d", i))
	}
	for i := range devs.RedirDevs {
		devs.RedirDevs[i].Alias = alias(fmt.Sprintf("redir%d", i))
	}
	for i := range devs.Watchdogs {
		devs.Watchdogs[i].Alias = alias(fmt.Sprintf("watchdog%d", i))
	}
	for i := range devs.RNGs {
		devs.RNGs[i].Alias = alias(fmt.Sprintf("rng%d", i))
	}
	if mb := devs.MemBalloon; mb != nil && mb.Model == "virtio" {
		mb.Alias = alias("balloon0")
	}
}

// clearDeviceAliases removes what setDeviceAliases recorded, for a
// definition made from a live one (aliases are not part of a
// definition; libvirt drops them from inactive XML).
func clearDeviceAliases(devs *libvirtxml.DomainDeviceList) {
	for i := range devs.Disks {
		devs.Disks[i].Alias = nil
	}
	for i := range devs.Controllers {
		devs.Controllers[i].Alias = nil
	}
	for i := range devs.Serials {
		devs.Serials[i].Alias = nil
	}
	for i := range devs.Consoles {
		devs.Consoles[i].Alias = nil
	}
	for i := range devs.Channels {
		devs.Channels[i].Alias = nil
	}
	for i := range devs.Inputs {
		devs.Inputs[i].Alias = nil
	}
	for i := range devs.Sounds {
		devs.Sounds[i].Alias = nil
	}
	for i := range devs.Videos {
		devs.Videos[i].Alias = nil
	}
	for i := range devs.RedirDevs {
		devs.RedirDevs[i].Alias = nil
	}
	for i := range devs.Watchdogs {
		devs.Watchdogs[i].Alias = nil
	}
	for i := range devs.RNGs {
		devs.RNGs[i].Alias = nil
	}
	if devs.MemBalloon != nil {
		devs.MemBalloon.Alias = nil
	}
}
