package qemu

import (
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers/domxml"
)

// prepareDefinition fills in what a definition leaves to the driver, as
// libvirt does when it accepts one, so that the stored definition says
// what the guest gets: memory in KiB, a MAC address for each interface (newMAC), and
// each disk's bus when its target name implies one (vd → virtio, hd →
// ide, sd → scsi).
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
	clearDeviceAliases(devs)
	for i := range devs.Disks {
		defaultDiskBus(devs.Disks[i].Target)
	}
	assignControllerIndexes(devs)
	addImplicitUSB(def.XML)
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
	for i := range devs.Interfaces {
		if n := &devs.Interfaces[i]; n.Model == nil || n.Model.Type == "" {
			n.Model = &libvirtxml.DomainInterfaceModel{Type: "rtl8139"} // libvirt's x86 default, written out
		}
	}
	for i := range devs.Disks {
		d := &devs.Disks[i]
		if d.Driver == nil {
			d.Driver = &libvirtxml.DomainDiskDriver{}
		}
		if d.Driver.Name == "" {
			d.Driver.Name = "qemu"
		}
		if d.Driver.Type == "" && (d.Source == nil || d.Source.Volume == nil) {
			d.Driver.Type = "raw" // a pool volume's format is the volume's, read at start
		}
		if d.Device == "cdrom" && d.ReadOnly == nil {
			d.ReadOnly = &libvirtxml.DomainDiskReadOnly{}
		}
	}
	addDefaults(def.XML)
	addImplicitControllers(def.XML)
	assignDriveAddresses(devs)
	fillDeviceDefaults(devs)
	addConsoleSerial(devs)
	assignDeviceAddresses(devs)
	assignPCIAddresses(def.XML) // a layout that does not fit leaves qemu to choose, and qemu's refusal is the error
	for _, a := range []struct {
		v   *string
		def string
	}{{&def.XML.OnPoweroff, "destroy"}, {&def.XML.OnReboot, "restart"}, {&def.XML.OnCrash, "destroy"}} {
		if *a.v == "" {
			*a.v = a.def
		}
	}
}

// addConsoleSerial lists the serial port a serial console is on, as
// libvirt lists it: a <console> alone is the first serial port.
func addConsoleSerial(devs *libvirtxml.DomainDeviceList) {
	if len(devs.Consoles) == 0 {
		return
	}
	c := &devs.Consoles[0]
	if c.Target != nil && c.Target.Type != "" && c.Target.Type != "serial" {
		return // refused when checked
	}
	zero := uint(0)
	c.Target = &libvirtxml.DomainConsoleTarget{Type: "serial", Port: &zero}
	if len(devs.Serials) > 0 {
		return
	}
	devs.Serials = append(devs.Serials, libvirtxml.DomainSerial{
		Source: c.Source,
		Target: &libvirtxml.DomainSerialTarget{Type: "isa-serial", Port: &zero, Model: &libvirtxml.DomainSerialTargetModel{Name: "isa-serial"}},
	})
}

// assignDeviceAddresses gives the devices on the virtio-serial and USB
// buses the addresses libvirt writes for them, so they keep their place
// across restarts: virtio channels the next free port of virtio-serial
// controller 0 from 1, USB inputs and redirected devices the next free
// port of USB bus 0 from 1.
func assignDeviceAddresses(devs *libvirtxml.DomainDeviceList) {
	zero := uint(0)
	serial := map[uint]bool{}
	for _, ch := range devs.Channels {
		if a := ch.Address; a != nil && a.VirtioSerial != nil && a.VirtioSerial.Port != nil {
			serial[*a.VirtioSerial.Port] = true
		}
	}
	next := uint(1)
	for i := range devs.Channels {
		ch := &devs.Channels[i]
		if ch.Target == nil || ch.Target.VirtIO == nil || ch.Address != nil {
			continue
		}
		for serial[next] {
			next++
		}
		serial[next] = true
		port := next
		ch.Address = &libvirtxml.DomainAddress{VirtioSerial: &libvirtxml.DomainAddressVirtioSerial{Controller: &zero, Bus: &zero, Port: &port}}
	}
	usb := map[string]bool{}
	var unplaced []**libvirtxml.DomainAddress
	for i := range devs.Inputs {
		if devs.Inputs[i].Bus == "usb" {
			unplaced = append(unplaced, &devs.Inputs[i].Address)
		}
	}
	for i := range devs.RedirDevs {
		if devs.RedirDevs[i].Bus == "" || devs.RedirDevs[i].Bus == "usb" {
			unplaced = append(unplaced, &devs.RedirDevs[i].Address)
		}
	}
	for _, a := range unplaced {
		if *a != nil && (*a).USB != nil {
			usb[(*a).USB.Port] = true
		}
	}
	n := 1
	for _, a := range unplaced {
		if *a != nil {
			continue
		}
		for usb[strconv.Itoa(n)] {
			n++
		}
		usb[strconv.Itoa(n)] = true
		*a = &libvirtxml.DomainAddress{USB: &libvirtxml.DomainAddressUSB{Bus: &zero, Port: strconv.Itoa(n)}}
	}
}

// addImplicitControllers adds what libvirt adds to an x86 definition
// that does not name it: the virtio memory balloon and, for SCSI disks,
// a SCSI controller of libvirt's default model there, lsilogic.
func addImplicitControllers(x *libvirtxml.Domain) {
	devs := x.Devices
	has := func(typ string) bool {
		for _, c := range devs.Controllers {
			if c.Type == typ {
				return true
			}
		}
		return false
	}
	zero := func() *uint { var z uint; return &z }
	if devs.MemBalloon == nil {
		devs.MemBalloon = &libvirtxml.DomainMemBalloon{Model: "virtio"}
	}
	if !has("scsi") {
		for _, d := range devs.Disks {
			if d.Target != nil && d.Target.Bus == "scsi" {
				devs.Controllers = append(devs.Controllers, libvirtxml.DomainController{Type: "scsi", Index: zero(), Model: "lsilogic"})
				break
			}
		}
	}
}

// addDefaults writes what libvirt writes for a guest that leaves it
// out: boot from the first disk (unless a device has a boot order), a
// UTC clock and, for TCG, the CPU model qemu gives it (qemu64).
func addDefaults(x *libvirtxml.Domain) {
	if x.OS != nil && len(x.OS.BootDevices) == 0 && x.OS.Kernel == "" && !hasDeviceBoot(x) {
		x.OS.BootDevices = []libvirtxml.DomainBootDevice{{Dev: "hd"}}
	}
	if x.Clock == nil {
		x.Clock = &libvirtxml.DomainClock{Offset: "utc"}
	}
	if x.CPU == nil && x.Type == "qemu" {
		x.CPU = &libvirtxml.DomainCPU{Mode: "custom", Match: "exact", Check: "none", Model: &libvirtxml.DomainCPUModel{Fallback: "forbid", Value: "qemu64"}}
	}
}

// addImplicitUSB adds the USB controller libvirt adds to an x86
// definition that names none (piix3-uhci on pc, qemu-xhci on q35;
// <controller type='usb' model='none'/> says there is none), listed
// where libvirt lists it, before the PCI root.
func addImplicitUSB(x *libvirtxml.Domain) {
	m, err := machineOf(x)
	if err != nil {
		return
	}
	devs := x.Devices
	for _, c := range devs.Controllers {
		if c.Type == "usb" {
			return
		}
	}
	zero := uint(0)
	model := "piix3-uhci"
	if m.q35 {
		model = "qemu-xhci"
	}
	devs.Controllers = append(devs.Controllers, libvirtxml.DomainController{Type: "usb", Index: &zero, Model: model})
}

// assignDriveAddresses writes the drive address libvirt gives an IDE,
// SATA or SCSI disk, which its target name decides: IDE bus and unit
// (hda 0/0 … hdd 1/1), a SATA port or a SCSI unit as the unit.
func assignDriveAddresses(devs *libvirtxml.DomainDeviceList) {
	for i := range devs.Disks {
		d := &devs.Disks[i]
		if d.Address != nil || d.Target == nil {
			continue
		}
		idx, err := diskIndex(d.Target.Dev)
		if err != nil {
			continue
		}
		var bus, unit uint
		switch d.Target.Bus {
		case "ide":
			bus, unit = uint(idx/2), uint(idx%2)
		case "sata", "scsi":
			unit = uint(idx)
		default:
			continue
		}
		zero := uint(0)
		d.Address = &libvirtxml.DomainAddress{Drive: &libvirtxml.DomainAddressDrive{Controller: &zero, Bus: &bus, Target: &zero, Unit: &unit}}
	}
}

// fillDeviceDefaults writes the values libvirt writes for what a
// definition leaves out: a video card's memory sizes, heads and primary
// flag; the watchdog's action; an <audio> backend for the sound cards
// (SPICE's with SPICE graphics, else none), which libvirt 9.0 writes
// whether or not a sound card plays into it; a SPICE server's automatic
// port as no port at all, listening on an address the start chooses.
func fillDeviceDefaults(devs *libvirtxml.DomainDeviceList) {
	for i := range devs.Videos {
		m := &devs.Videos[i].Model
		switch m.Type {
		case "qxl":
			m.Ram, m.VRam, m.VGAMem = orDefault(m.Ram, 65536), orDefault(m.VRam, 65536), orDefault(m.VGAMem, 16384)
		case "vga", "cirrus", "bochs":
			m.VRam = orDefault(m.VRam, 16384)
		}
		if m.Type != "none" {
			m.Heads = orDefault(m.Heads, 1)
			if i == 0 && m.Primary == "" {
				m.Primary = "yes"
			}
		}
	}
	for i := range devs.Watchdogs {
		if devs.Watchdogs[i].Action == "" {
			devs.Watchdogs[i].Action = "reset"
		}
	}
	for i := range devs.Graphics {
		if v := devs.Graphics[i].VNC; v != nil {
			if v.Port <= 0 {
				v.Port, v.AutoPort = -1, "yes"
			}
			if len(v.Listeners) == 0 && v.Listen == "" {
				v.Listeners = []libvirtxml.DomainGraphicListener{{Address: &libvirtxml.DomainGraphicListenerAddress{}}}
			}
		}
	}
	spice := false
	for i := range devs.Graphics {
		g := devs.Graphics[i].Spice
		if g == nil {
			continue
		}
		spice = true
		if g.AutoPort == "yes" || g.Port == -1 {
			g.AutoPort, g.Port = "yes", 0
		}
		if g.TLSPort == -1 {
			g.TLSPort = 0
		}
		if len(g.Listeners) == 0 && g.Listen == "" {
			g.Listeners = []libvirtxml.DomainGraphicListener{{Address: &libvirtxml.DomainGraphicListenerAddress{}}}
		}
	}
	if len(devs.Audios) == 0 { // libvirt 9.0 always gives one
		a := libvirtxml.DomainAudio{ID: 1, None: &libvirtxml.DomainAudioNone{}}
		if spice {
			a = libvirtxml.DomainAudio{ID: 1, SPICE: &libvirtxml.DomainAudioSPICE{}}
		}
		devs.Audios = append(devs.Audios, a)
	}
}

// defaultDiskBus gives a disk without a bus the one its target's prefix
// names, as libvirt does: vd virtio, hd ide, sd scsi.
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
		t.Bus = "scsi"
	}
}

// addImplicitDevices lists the devices every guest of the machine has
// whether asked or not, as libvirt lists them: the PCI root, q35's SATA
// controller (on pc the IDE and AHCI controllers when a disk is on
// them), the PS/2 mouse and keyboard, the virtio-serial controller of
// virtio channels. Tools such as virt-manager show them.
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
	root := "pci-root"
	if m.q35 {
		root = "pcie-root"
	}
	if !has("pci") {
		devs.Controllers = append(devs.Controllers, libvirtxml.DomainController{Type: "pci", Index: zero(), Model: root})
	}
	// q35's AHCI is always there; i440fx lists its IDE and an AHCI
	// controller only for disks on them, as libvirt does.
	for _, typ := range []string{"ide", "sata"} {
		need := m.q35 && typ == "sata"
		for _, d := range devs.Disks {
			need = need || !m.q35 && d.Target != nil && d.Target.Bus == typ
		}
		if need && !has(typ) {
			devs.Controllers = append(devs.Controllers, libvirtxml.DomainController{Type: typ, Index: zero()})
		}
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
