package qemu

import (
	"fmt"
	"strconv"
	"strings"

	"libvirt.org/go/libvirtxml"
)

// controllers accepts the controllers the machine has built in (libvirt
// lists them in every definition it writes) and refuses any other.
func (b *builder) controllers() error {
	ctrls := b.devices().Controllers
	// The PCI buses first (root ports, then the bridges on them), so
	// that every device's bus exists when qemu creates the device; then
	// the USB controllers, masters before their companions.
	for _, model := range []string{"pcie-root-port", "pcie-to-pci-bridge"} {
		for i, c := range ctrls {
			if c.Type != "pci" || c.Model != model {
				continue
			}
			idx := uint(0)
			if c.Index != nil {
				idx = *c.Index
			}
			if err := b.pciController(c, idx, i); err != nil {
				return err
			}
		}
	}
	var usb []libvirtxml.DomainController
	for i, c := range ctrls {
		if c.Type == "usb" && c.Model != "none" {
			if c.Index != nil && *c.Index != 0 {
				return unsupported("<controller type='usb' index='%d'> (/domain/devices/controller[%d]): only one USB bus (index 0) is supported", *c.Index, i+1)
			}
			usb = append(usb, c)
		}
	}
	if err := b.usbControllers(usb); err != nil {
		return err
	}
	for i, c := range ctrls {
		idx := uint(0)
		if c.Index != nil {
			idx = *c.Index
		}
		if c.Type == "usb" && c.Model != "none" {
			continue
		}
		switch {
		case c.Type == "pci" && (c.Model == "pcie-root-port" || c.Model == "pcie-to-pci-bridge"):
			continue // added first
		case c.Type == "scsi":
			dev, ok := scsiControllers[c.Model]
			if !ok {
				return unsupported("<controller type='scsi' model='%s'> (/domain/devices/controller[%d]): supported models are virtio-scsi and lsilogic", c.Model, i+1)
			}
			if idx != 0 {
				return unsupported("<controller type='scsi' index='%d'> (/domain/devices/controller[%d]): only one SCSI controller (index 0) is supported", idx, i+1)
			}
			b.scsi, b.scsiModel = true, c.Model
			b.c.add("-device", opts(dev, append([]string{"id", "scsi0"}, b.pciOpts(c.Address)...)...))
			continue
		case c.Type == "sata" && c.Model == "" && idx == 0 && !b.m.q35:
			// An i440fx machine has no AHCI of its own.
			b.ahci = true
			b.c.add("-device", opts("ahci", append([]string{"id", "sata0"}, b.pciOpts(c.Address)...)...))
			continue
		case c.Type == "virtio-serial":
			if idx != 0 {
				return unsupported("<controller type='virtio-serial' index='%d'> (/domain/devices/controller[%d]): only one virtio-serial controller (index 0) is supported", idx, i+1)
			}
			b.c.add("-device", opts("virtio-serial-pci", append([]string{"id", "virtio-serial0"}, b.pciOpts(c.Address)...)...))
			continue
		}
		builtin := idx == 0 &&
			(c.Type == "pci" && (c.Model == "pci-root" && !b.m.q35 || c.Model == "pcie-root" && b.m.q35) ||
				c.Type == "usb" && c.Model == "none" ||
				c.Type == "ide" && c.Model == "" && !b.m.q35 ||
				c.Type == "sata" && c.Model == "" && b.m.q35)
		if !builtin {
			return unsupported("<controller type='%s' index='%d' model='%s'> (/domain/devices/controller[%d]): only the machine's built-in controllers are supported", c.Type, idx, c.Model, i+1)
		}
	}
	return nil
}

// scsiControllers are qemu's SCSI host adapters by <controller
// type='scsi' model>; lsilogic is what libvirt gives a SCSI disk
// without a controller on x86.
var scsiControllers = map[string]string{"virtio-scsi": "virtio-scsi-pci", "lsilogic": "lsi"}

// usbMasters are the USB controllers that make a bus of their own, with
// qemu's device; usbCompanions the UHCI companions of an EHCI master.
var (
	usbMasters    = map[string]string{"ich9-ehci1": "ich9-usb-ehci1", "qemu-xhci": "qemu-xhci", "nec-xhci": "nec-usb-xhci", "piix3-uhci": "piix3-usb-uhci", "piix4-uhci": "piix4-usb-uhci", "": "piix3-usb-uhci"}
	usbCompanions = map[string]string{"ich9-uhci1": "ich9-usb-uhci1", "ich9-uhci2": "ich9-usb-uhci2", "ich9-uhci3": "ich9-usb-uhci3"}
)

// usbControllers adds the USB bus (id usb, as libvirt names it): one
// master controller, and UHCI companions on an EHCI master with their
// <master startport>. Companions alone make the bus with the first of
// them, as libvirt does.
func (b *builder) usbControllers(ctrls []libvirtxml.DomainController) error {
	var master string
	for _, c := range ctrls {
		if dev, ok := usbMasters[c.Model]; ok {
			if master != "" {
				return unsupported("<controller type='usb' model='%s'>: a second USB master controller (%s is one) is not supported", c.Model, master)
			}
			if c.USB != nil && c.USB.Master != nil {
				return unsupported("<controller type='usb' model='%s'><master>: only UHCI companions have a master", c.Model)
			}
			master = c.Model
			b.usbBus = true
			kv := []string{"id", "usb"}
			if c.USB != nil && c.USB.Port != nil {
				if !strings.HasSuffix(c.Model, "xhci") {
					return unsupported("<controller type='usb' model='%s' ports='%d'>: only XHCI controllers take a number of ports", c.Model, *c.USB.Port)
				}
				// An XHCI controller has as many USB 2 as USB 3 ports.
				n := strconv.FormatUint(uint64(*c.USB.Port), 10)
				kv = append(kv, "p2", n, "p3", n)
			}
			b.c.add("-device", opts(dev, append(kv, b.pciOpts(c.Address)...)...))
		} else if _, ok := usbCompanions[c.Model]; !ok {
			return unsupported("<controller type='usb' model='%s'>: supported models are ich9-ehci1 with ich9-uhci1…3 companions, qemu-xhci, nec-xhci, piix3-uhci and piix4-uhci", c.Model)
		}
	}
	for i, c := range ctrls {
		dev, ok := usbCompanions[c.Model]
		if !ok {
			continue
		}
		switch {
		case master == "ich9-ehci1" && c.USB != nil && c.USB.Master != nil:
			b.c.add("-device", opts(dev, append([]string{"masterbus", "usb.0", "firstport", strconv.FormatUint(uint64(c.USB.Master.StartPort), 10), "id", fmt.Sprintf("usb-companion%d", i)}, b.pciOpts(c.Address)...)...))
		case master == "" && (c.USB == nil || c.USB.Master == nil):
			master = c.Model
			b.usbBus = true
			b.c.add("-device", opts(dev, append([]string{"id", "usb"}, b.pciOpts(c.Address)...)...))
		default:
			return unsupported("<controller type='usb' model='%s'>: a UHCI companion needs an ich9-ehci1 master and a <master startport>", c.Model)
		}
	}
	return nil
}

// diskIndex reads the index a target name gives: vda → 0, sdb → 1, hdaa → 26.
func diskIndex(dev string) (int, error) {
	if len(dev) < 3 {
		return 0, fmt.Errorf("malformed disk target %q", dev)
	}
	idx := 0
	for _, r := range dev[2:] {
		if r < 'a' || r > 'z' {
			return 0, fmt.Errorf("malformed disk target %q", dev)
		}
		idx = idx*26 + int(r-'a') + 1
	}
	return idx - 1, nil
}

func (b *builder) disks() error {
	for i, d := range b.devices().Disks {
		xpath := fmt.Sprintf("/domain/devices/disk[%d]", i+1)
		dd, err := b.disk(d, xpath)
		if err != nil {
			return err
		}
		if dd.ahci && !b.ahci {
			// A definition stored before the SATA controller was listed.
			b.ahci = true
			b.c.add("-device", opts("ahci", "id", "sata0"))
		}
		b.c.add("-drive", dd.drive)
		b.c.add("-device", dd.device)
	}
	return nil
}

// diskArgs is one disk's -drive and -device values.
type diskArgs struct {
	drive, device string
	ahci          bool // needs the AHCI controller added on an i440fx machine
}

func (b *builder) disk(d libvirtxml.DomainDisk, xpath string) (diskArgs, error) {
	var out diskArgs
	device := d.Device
	if device == "" {
		device = "disk"
	}
	if device != "disk" && device != "cdrom" {
		return out, unsupported("<disk device='%s'> (%s): only disk and cdrom are supported", device, xpath)
	}
	if d.Source != nil && d.Source.File == nil {
		return out, unsupported("<disk> (%s): only file-backed disks (type='file') are supported", xpath)
	}
	if d.Target == nil || d.Target.Dev == "" {
		return out, unsupported("<disk> (%s) has no <target dev>", xpath)
	}
	idx, err := diskIndex(d.Target.Dev)
	if err != nil {
		return out, unsupported("<target dev='%s'> (%s): %v", d.Target.Dev, xpath, err)
	}
	format := "raw"
	if drv := d.Driver; drv != nil {
		if drv.Name != "" && drv.Name != "qemu" {
			return out, unsupported("<driver name='%s'> (%s): only qemu is supported", drv.Name, xpath)
		}
		switch drv.Type {
		case "", "raw":
		case "qcow2":
			format = "qcow2"
		default:
			return out, unsupported("<driver type='%s'> (%s): only raw and qcow2 images are supported", drv.Type, xpath)
		}
	}
	alias, devArgs, err := b.diskDevice(d.Target.Bus, device, idx, xpath)
	if err != nil {
		return out, err
	}
	if a := d.Address; a != nil {
		switch {
		case a.Drive != nil:
			w := libvirtxml.DomainDeviceList{Disks: []libvirtxml.DomainDisk{{Target: d.Target}}}
			assignDriveAddresses(&w)
			if g := w.Disks[0].Address; g == nil || g.Drive == nil || *g.Drive.Bus != deref(a.Drive.Bus) || *g.Drive.Unit != deref(a.Drive.Unit) || deref(a.Drive.Controller) != 0 || deref(a.Drive.Target) != 0 {
				return out, unsupported("<address type='drive'> (%s): a disk's drive address must be the one its target %s gives", xpath, d.Target.Dev)
			}
		case a.PCI != nil:
			if d.Target.Bus != "virtio" {
				return out, unsupported("<address type='pci'> (%s): only a virtio disk sits on a PCI bus", xpath)
			}
		default:
			return out, unsupported("<address> (%s): a disk's address is type='pci' (virtio) or 'drive'", xpath)
		}
	}
	out.ahci = d.Target.Bus == "sata" && !b.m.q35
	drive := []string{}
	if d.Source != nil && d.Source.File.File != "" {
		drive = append(drive, "file", d.Source.File.File, "format", format)
	}
	drive = append(drive, "if", "none", "id", "drive-"+alias)
	if drv := d.Driver; drv != nil && drv.Discard != "" {
		if drv.Discard != "unmap" && drv.Discard != "ignore" {
			return out, unsupported("<driver discard='%s'> (%s): use unmap or ignore", drv.Discard, xpath)
		}
		drive = append(drive, "discard", drv.Discard)
	}
	if drv := d.Driver; drv != nil {
		direct := false
		switch drv.Cache {
		case "", "default":
		case "none", "directsync":
			direct = true
			fallthrough
		case "writeback", "writethrough", "unsafe":
			drive = append(drive, "cache", drv.Cache)
		default:
			return out, unsupported("<driver cache='%s'> (%s): use none, writeback, writethrough, directsync or unsafe", drv.Cache, xpath)
		}
		switch drv.IO {
		case "":
		case "native":
			if !direct {
				return out, unsupported("<driver io='native'> (%s) needs cache='none' or 'directsync' (native AIO bypasses the host's page cache)", xpath)
			}
			fallthrough
		case "threads", "io_uring":
			drive = append(drive, "aio", drv.IO)
		default:
			return out, unsupported("<driver io='%s'> (%s): use threads, native or io_uring", drv.IO, xpath)
		}
	}
	if d.ReadOnly != nil || device == "cdrom" {
		drive = append(drive, "readonly", "on")
	}
	out.drive = opts(drive[0]+"="+escapeComma(drive[1]), drive[2:]...)
	if d.Target.Bus == "virtio" {
		devArgs = append(devArgs, b.pciOpts(d.Address)...)
	}
	devArgs = append(devArgs, "drive", "drive-"+alias, "id", alias)
	if d.Boot != nil {
		devArgs = append(devArgs, "bootindex", strconv.FormatUint(uint64(d.Boot.Order), 10))
	}
	out.device = opts(devArgs[0], devArgs[1:]...)
	return out, nil
}

// diskDevice returns a disk's alias and the start of its -device value:
// the qemu device and where it plugs in.
func (b *builder) diskDevice(bus, device string, idx int, xpath string) (string, []string, error) {
	kind := "ide-hd"
	if device == "cdrom" {
		kind = "ide-cd"
	}
	switch bus {
	case "virtio":
		if device == "cdrom" {
			return "", nil, unsupported("<disk device='cdrom'> (%s) on the virtio bus: use sata or ide", xpath)
		}
		return fmt.Sprintf("virtio-disk%d", idx), []string{"virtio-blk-pci"}, nil
	case "ide":
		if b.m.q35 {
			return "", nil, unsupported("<target bus='ide'> (%s): the q35 machine has no IDE controller; use sata", xpath)
		}
		if idx > 3 {
			return "", nil, unsupported("<target> (%s): the IDE bus holds 4 disks (hda-hdd)", xpath)
		}
		return fmt.Sprintf("ide0-%d-%d", idx/2, idx%2), []string{kind, "bus", fmt.Sprintf("ide.%d", idx/2), "unit", strconv.Itoa(idx % 2)}, nil
	case "sata":
		if idx > 5 {
			return "", nil, unsupported("<target> (%s): the SATA controller has 6 ports (sda-sdf)", xpath)
		}
		ahci := "sata0"
		if b.m.q35 {
			ahci = "ide" // q35's built-in AHCI names its buses ide.0-ide.5
		}
		return fmt.Sprintf("sata0-0-%d", idx), []string{kind, "bus", fmt.Sprintf("%s.%d", ahci, idx)}, nil
	case "scsi":
		if !b.scsi {
			return "", nil, unsupported("<target bus='scsi'> (%s) needs <controller type='scsi' index='0'>", xpath)
		}
		kind = "scsi-hd"
		if device == "cdrom" {
			kind = "scsi-cd"
		}
		// libvirt's drive address: controller 0, bus 0, target 0, the
		// target name's index as the unit (LUN).
		if idx > 255 {
			return "", nil, unsupported("<target> (%s): a SCSI controller holds 256 units here", xpath)
		}
		if b.scsiModel == "lsilogic" {
			// The LSI adapter has LUN 0 only: a unit is a SCSI id.
			if idx > 6 {
				return "", nil, unsupported("<target> (%s): the lsilogic controller holds 7 disks (sda-sdg)", xpath)
			}
			return fmt.Sprintf("scsi0-0-0-%d", idx), []string{kind, "bus", "scsi0.0", "scsi-id", strconv.Itoa(idx)}, nil
		}
		return fmt.Sprintf("scsi0-0-0-%d", idx), []string{kind, "bus", "scsi0.0", "channel", "0", "scsi-id", "0", "lun", strconv.Itoa(idx)}, nil
	case "":
		return "", nil, unsupported("<target> (%s) has no bus", xpath)
	}
	return "", nil, unsupported("<target bus='%s'> (%s): supported buses are virtio, scsi, ide and sata", bus, xpath)
}

// pciController adds a root port or a pcie-to-pci bridge.
func (b *builder) pciController(c libvirtxml.DomainController, idx uint, i int) error {
	if c.Model == "pcie-root-port" {
		return b.rootPort(c, idx, i)
	}
	if !b.m.q35 || c.Address == nil {
		return unsupported("<controller type='pci' model='pcie-to-pci-bridge'> (/domain/devices/controller[%d]) needs a q35 machine and an address on a root port", i+1)
	}
	b.c.add("-device", opts("pcie-pci-bridge", append([]string{"id", fmt.Sprintf("pci.%d", idx)}, b.pciOpts(c.Address)...)...))
	return nil
}

// rootPort adds a PCIe root port (q35), laid out as libvirt lays them
// out: eight functions of one slot from slot 2 on, the first of each
// slot multifunction, chassis its index, port 0x10 on. Devices stay on
// the root bus; the ports take hot-plugged ones.
func (b *builder) rootPort(c libvirtxml.DomainController, idx uint, n int) error {
	if !b.m.q35 {
		return unsupported("<controller type='pci' model='pcie-root-port'> (/domain/devices/controller[%d]): only q35 machines have PCIe root ports", n+1)
	}
	if idx == 0 {
		return unsupported("<controller type='pci' model='pcie-root-port' index='0'> (/domain/devices/controller[%d]): index 0 is the PCIe root", n+1)
	}
	k := b.rootPorts
	b.rootPorts++
	slot, fn := 2+uint(k)/8, uint(k)%8
	if l, ok := locOf(c.Address); ok {
		if l.bus != 0 {
			return unsupported("<controller type='pci' model='pcie-root-port'> (/domain/devices/controller[%d]): a root port sits on the root bus (bus 0)", n+1)
		}
		slot, fn = l.slot, l.fn
	}
	chassis, port := idx, uint(0x10+k)
	if c.PCI != nil && c.PCI.Target != nil {
		if c.PCI.Target.Chassis != nil {
			chassis = *c.PCI.Target.Chassis
		}
		if c.PCI.Target.Port != nil {
			port = *c.PCI.Target.Port
		}
	}
	if slot > 0x1e {
		return unsupported("<controller type='pci' model='pcie-root-port'> (/domain/devices/controller[%d]): more root ports than the root bus has slots", n+1)
	}
	kv := []string{"port", fmt.Sprintf("0x%x", port), "chassis", strconv.FormatUint(uint64(chassis), 10), "id", fmt.Sprintf("pci.%d", idx)}
	if c.Address != nil {
		kv = append(kv, b.pciOpts(c.Address)...)
	} else {
		kv = append(kv, "bus", "pcie.0")
		if fn == 0 {
			kv = append(kv, "multifunction", "on")
		}
		kv = append(kv, "addr", pciAddrValue(slot, fn))
	}
	b.c.add("-device", opts("pcie-root-port", kv...))
	return nil
}

func deref(p *uint) uint {
	if p == nil {
		return 0
	}
	return *p
}
