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
	for _, slot := range indexedAliases(devs) {
		*slot.alias = alias(fmt.Sprintf("%s%d", slot.prefix, slot.n))
	}
	if len(devs.Consoles) > 0 {
		devs.Consoles[0].Alias = alias("serial0") // the first serial port, seen as the console
	}
	if mb := devs.MemBalloon; mb != nil && mb.Model == "virtio" {
		mb.Alias = alias("balloon0")
	}
}

// aliasSlot is a device whose alias is a prefix and its position.
type aliasSlot struct {
	alias  **libvirtxml.DomainAlias
	prefix string
	n      int
}

// indexedAliases lists the devices named by their position: serial0,
// channel0, input0, ... as buildCommand names them.
func indexedAliases(devs *libvirtxml.DomainDeviceList) []aliasSlot {
	var out []aliasSlot
	add := func(prefix string, n int, a **libvirtxml.DomainAlias) {
		out = append(out, aliasSlot{a, prefix, n})
	}
	for i := range devs.Serials {
		add("serial", i, &devs.Serials[i].Alias)
	}
	for i := range devs.Channels {
		add("channel", i, &devs.Channels[i].Alias)
	}
	for i := range devs.Inputs {
		add("input", i, &devs.Inputs[i].Alias)
	}
	for i := range devs.Sounds {
		add("sound", i, &devs.Sounds[i].Alias)
	}
	for i := range devs.Videos {
		add("video", i, &devs.Videos[i].Alias)
	}
	for i := range devs.RedirDevs {
		add("redir", i, &devs.RedirDevs[i].Alias)
	}
	for i := range devs.Watchdogs {
		add("watchdog", i, &devs.Watchdogs[i].Alias)
	}
	for i := range devs.RNGs {
		add("rng", i, &devs.RNGs[i].Alias)
	}
	return out
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
	for i := range devs.Consoles {
		devs.Consoles[i].Alias = nil
	}
	for _, slot := range indexedAliases(devs) {
		*slot.alias = nil
	}
	if devs.MemBalloon != nil {
		devs.MemBalloon.Alias = nil
	}
}
