package qemu

import (
	"crypto/rand"
	"fmt"
	"strings"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers/domxml"
)

// prepareDefinition fills in what a definition leaves to the driver, as
// libvirt does when it accepts one, so that the stored definition says
// what the guest gets: memory in KiB, a MAC address for each interface (newMAC), and
// each disk's bus when its target name implies one (vd → virtio, hd →
// ide, sd → sata).
func prepareDefinition(def *domxml.Def, newMAC func() string) {
	// Sizes in KiB, currentMemory and a static vcpu count always written,
	// as libvirt stores them: tools that edit the XML (virt-xml,
	// virt-manager) read them back so.
	if def.XML.Memory != nil {
		maxKiB, curKiB := def.MaxMemKiB(), def.CurMemKiB()
		def.XML.Memory = &libvirtxml.DomainMemory{Value: uint(maxKiB), Unit: "KiB", DumpCore: def.XML.Memory.DumpCore}
		def.XML.CurrentMemory = &libvirtxml.DomainCurrentMemory{Value: uint(curKiB), Unit: "KiB"}
	}
	if def.XML.VCPU == nil {
		def.XML.VCPU = &libvirtxml.DomainVCPU{Value: 1}
	}
	if def.XML.VCPU.Placement == "" {
		def.XML.VCPU.Placement = "static"
	}
	if def.XML.Devices == nil {
		def.XML.Devices = &libvirtxml.DomainDeviceList{}
	}
	devs := def.XML.Devices
	assignControllerIndexes(devs)
	addImplicitDevices(def.XML)
	for i := range devs.Interfaces {
		n := &devs.Interfaces[i]
		if n.MAC == nil || n.MAC.Address == "" {
			n.MAC = &libvirtxml.DomainInterfaceMAC{Address: newMAC()}
		}
		// What a start records (the alias, a tap name of the driver's
		// vnetN pattern, a network's bridge) is not part of a
		// definition, as libvirt drops it from inactive XML.
		n.Alias = nil
		if n.Target != nil && strings.HasPrefix(n.Target.Dev, "vnet") {
			n.Target = nil
		}
		if n.Source != nil && n.Source.Network != nil {
			n.Source.Network.Bridge = ""
		}
	}
	for i := range devs.Disks {
		defaultDiskBus(devs.Disks[i].Target)
	}
}

// defaultDiskBus gives a disk without a bus the one its target's prefix
// names, as libvirt does: vd virtio, hd ide, sd sata.
func defaultDiskBus(t *libvirtxml.DomainDiskTarget) {
	if t == nil || t.Bus != "" {
		return
	}
	switch {
	case strings.HasPrefix(t.Dev, "vd"):
		t.Bus = "virtio"
	case strings.HasPrefix(t.Dev, "hd"):
		t.Bus = "ide"
	case strings.HasPrefix(t.Dev, "sd"):
		t.Bus = "sata"
	}
}

// addImplicitDevices lists the devices every guest of the machine has
// whether asked or not, as libvirt lists them: the PCI root, the IDE
// (pc) or SATA (q35) controller, the PS/2 mouse and keyboard. They add
// nothing to qemu's command line; tools such as virt-manager show them.
func addImplicitDevices(x *libvirtxml.Domain) {
	m, err := machineOf(x)
	if err != nil {
		return // the definition is refused when checked
	}
	devs := x.Devices
	has := func(typ string) bool {
		for _, c := range devs.Controllers {
			if c.Type == typ && (c.Index == nil || *c.Index == 0) {
				return true
			}
		}
		return false
	}
	zero := func() *uint { var z uint; return &z }
	root, disk := "pci-root", "ide"
	if m.q35 {
		root, disk = "pcie-root", "sata"
	}
	if !has("pci") {
		devs.Controllers = append(devs.Controllers, libvirtxml.DomainController{Type: "pci", Index: zero(), Model: root})
	}
	if !has(disk) {
		devs.Controllers = append(devs.Controllers, libvirtxml.DomainController{Type: disk, Index: zero()})
	}
	hasInput := func(typ string) bool {
		for _, in := range devs.Inputs {
			if in.Type == typ && (in.Bus == "" || in.Bus == "ps2") {
				return true
			}
		}
		return false
	}
	if !has("virtio-serial") {
		for _, ch := range devs.Channels {
			if ch.Target != nil && ch.Target.VirtIO != nil {
				devs.Controllers = append(devs.Controllers, libvirtxml.DomainController{Type: "virtio-serial", Index: zero()})
				break
			}
		}
	}
	for _, typ := range []string{"mouse", "keyboard"} {
		if !hasInput(typ) {
			devs.Inputs = append(devs.Inputs, libvirtxml.DomainInput{Type: typ, Bus: "ps2"})
		}
	}
}

// randomMAC returns a MAC address in qemu's locally administered range
// 52:54:00, as libvirt generates them.
func randomMAC() string {
	var b [3]byte
	rand.Read(b[:])
	return fmt.Sprintf("52:54:00:%02x:%02x:%02x", b[0], b[1], b[2])
}

// validate checks that a prepared definition can be started: that
// everything in it maps to qemu (the command line is built and thrown
// away).
func validate(def *domxml.Def) error {
	check := placeholderVolumes(def)
	if check.XML.Devices != nil && len(check.XML.Devices.Channels) > 0 {
		// The socket paths a start chooses (channelPaths).
		if check == def {
			check = def.Copy()
		}
		Config{StateDir: "/validate"}.channelPaths(check, def.Name(), false)
	}
	_, err := buildCommand(check, launch{emulator: "qemu", monitorFD: 3})
	return err
}

// assignControllerIndexes numbers the controllers a definition gives
// without an index, per type, as libvirt does: the PCI root is 0, a USB
// controller 0 (the one bus), any other the lowest index not taken. A PCIe root port also gets its
// model name, chassis (its index) and port, as libvirt writes them.
func assignControllerIndexes(devs *libvirtxml.DomainDeviceList) {
	used := map[string]map[uint]bool{}
	for _, c := range devs.Controllers {
		if c.Index != nil {
			if used[c.Type] == nil {
				used[c.Type] = map[uint]bool{}
			}
			used[c.Type][*c.Index] = true
		}
	}
	ports := 0
	for i := range devs.Controllers {
		c := &devs.Controllers[i]
		if c.Index == nil {
			if used[c.Type] == nil {
				used[c.Type] = map[uint]bool{}
			}
			var idx uint
			if c.Type == "pci" && c.Model != "pci-root" && c.Model != "pcie-root" {
				idx = 1
			}
			// The controllers of one USB bus (a master and its
			// companions) share its index.
			for used[c.Type][idx] && c.Type != "usb" {
				idx++
			}
			used[c.Type][idx] = true
			c.Index = &idx
		}
		if c.Type == "pci" && c.Model == "pcie-root-port" {
			if c.PCI == nil {
				c.PCI = &libvirtxml.DomainControllerPCI{}
			}
			if c.PCI.Model == nil {
				c.PCI.Model = &libvirtxml.DomainControllerPCIModel{Name: "pcie-root-port"}
			}
			if c.PCI.Target == nil {
				chassis, port := *c.Index, uint(0x10+ports)
				c.PCI.Target = &libvirtxml.DomainControllerPCITarget{Chassis: &chassis, Port: &port}
			}
			ports++
		}
	}
}
