package qemu

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"libvirt.org/go/libvirtxml"
)

func (b *builder) devices() *libvirtxml.DomainDeviceList {
	if b.x.Devices == nil {
		return &libvirtxml.DomainDeviceList{}
	}
	return b.x.Devices
}

// controllers accepts the controllers the machine has built in (libvirt
// lists them in every definition it writes) and refuses any other.
func (b *builder) controllers() error {
	for i, c := range b.devices().Controllers {
		idx := uint(0)
		if c.Index != nil {
			idx = *c.Index
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
	needAHCI := false
	for i, d := range b.devices().Disks {
		xpath := fmt.Sprintf("/domain/devices/disk[%d]", i+1)
		dd, err := b.disk(d, xpath)
		if err != nil {
			return err
		}
		if dd.ahci && !needAHCI {
			needAHCI = true
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
	out.ahci = d.Target.Bus == "sata" && !b.m.q35
	drive := []string{}
	if d.Source != nil && d.Source.File.File != "" {
		drive = append(drive, "file", d.Source.File.File, "format", format)
	}
	drive = append(drive, "if", "none", "id", "drive-"+alias)
	if d.ReadOnly != nil || device == "cdrom" {
		drive = append(drive, "readonly", "on")
	}
	out.drive = opts(drive[0]+"="+escapeComma(drive[1]), drive[2:]...)
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
	case "":
		return "", nil, unsupported("<target> (%s) has no bus", xpath)
	}
	return "", nil, unsupported("<target bus='%s'> (%s): supported buses are virtio, ide and sata", bus, xpath)
}

// nicModels maps <model type> to qemu's device; no model is rtl8139, as
// libvirt has it for x86.
var nicModels = map[string]string{"": "rtl8139", "virtio": "virtio-net-pci", "e1000": "e1000", "rtl8139": "rtl8139"}

func (b *builder) interfaces() error {
	for i, n := range b.devices().Interfaces {
		xpath := fmt.Sprintf("/domain/devices/interface[%d]", i+1)
		if n.Source == nil || n.Source.User == nil {
			return unsupported("<interface> (%s): only user-mode networking (type='user') is supported", xpath)
		}
		model := ""
		if n.Model != nil {
			model = n.Model.Type
		}
		qdev, ok := nicModels[model]
		if !ok {
			return unsupported("<model type='%s'> (%s): supported models are virtio, e1000 and rtl8139", model, xpath)
		}
		if n.MAC == nil || n.MAC.Address == "" {
			return unsupported("<interface> (%s) has no <mac address>", xpath)
		}
		if _, err := net.ParseMAC(n.MAC.Address); err != nil {
			return unsupported("<mac address='%s'> (%s): %v", n.MAC.Address, xpath, err)
		}
		b.c.add("-netdev", opts("user", "id", fmt.Sprintf("hostnet%d", i)))
		dev := []string{"netdev", fmt.Sprintf("hostnet%d", i), "id", fmt.Sprintf("net%d", i), "mac", n.MAC.Address}
		if n.Boot != nil {
			dev = append(dev, "bootindex", strconv.FormatUint(uint64(n.Boot.Order), 10))
		}
		b.c.add("-device", opts(qdev, dev...))
	}
	return nil
}

// chardevs adds the serial ports. A <console> of target type serial is
// the first serial port seen from another side (libvirt lists it twice);
// it adds a port only when no <serial> exists.
func (b *builder) chardevs() error {
	devs := b.devices()
	type port struct {
		src   *libvirtxml.DomainChardevSource
		xpath string
	}
	var ports []port
	for i, s := range devs.Serials {
		xpath := fmt.Sprintf("/domain/devices/serial[%d]", i+1)
		if t := s.Target; t != nil {
			if t.Type != "" && t.Type != "isa-serial" {
				return unsupported("<target type='%s'> (%s): only isa-serial ports are supported", t.Type, xpath)
			}
			if t.Model != nil && t.Model.Name != "" && t.Model.Name != "isa-serial" {
				return unsupported("<model name='%s'> (%s): only isa-serial is supported", t.Model.Name, xpath)
			}
			if t.Port != nil && int(*t.Port) != i {
				return unsupported("<target port='%d'> (%s): serial ports must be numbered in order from 0", *t.Port, xpath)
			}
		}
		ports = append(ports, port{s.Source, xpath})
	}
	for i, c := range devs.Consoles {
		xpath := fmt.Sprintf("/domain/devices/console[%d]", i+1)
		if t := c.Target; t != nil && t.Type != "" && t.Type != "serial" {
			return unsupported("<console><target type='%s'> (%s): only a serial console is supported", t.Type, xpath)
		}
		if i > 0 {
			return unsupported("<console> (%s): only one console is supported", xpath)
		}
		if len(ports) == 0 {
			ports = append(ports, port{c.Source, xpath})
		}
	}
	if len(ports) > 4 {
		return unsupported("%s: at most 4 serial ports are supported", ports[4].xpath)
	}
	for i, p := range ports {
		backend, err := chardevBackend(p.src, fmt.Sprintf("charserial%d", i), p.xpath)
		if err != nil {
			return err
		}
		b.c.add("-chardev", backend)
		b.c.add("-device", opts("isa-serial", "chardev", fmt.Sprintf("charserial%d", i), "id", fmt.Sprintf("serial%d", i), "index", strconv.Itoa(i)))
	}
	return nil
}

func chardevBackend(src *libvirtxml.DomainChardevSource, id, xpath string) (string, error) {
	switch {
	case src == nil || src.Pty != nil:
		return opts("pty", "id", id), nil
	case src.File != nil:
		if src.File.Path == "" {
			return "", unsupported("<source> (%s) of a file chardev has no path", xpath)
		}
		kv := []string{"id", id, "path", src.File.Path}
		switch src.File.Append {
		case "", "off":
		case "on":
			kv = append(kv, "append", "on")
		default:
			return "", unsupported("<source append='%s'> (%s): use on or off", src.File.Append, xpath)
		}
		return opts("file", kv...), nil
	}
	return "", unsupported("%s: only pty and file serial ports are supported", xpath)
}

// videoDevices maps <video><model type> to qemu's device.
var videoDevices = map[string]string{"vga": "VGA", "cirrus": "cirrus-vga", "virtio": "virtio-vga", "none": ""}

// graphics adds the display: none, or one VNC server, and the video card.
func (b *builder) graphics() error {
	devs := b.devices()
	b.c.add("-display", "none")
	if len(devs.Graphics) > 1 {
		return unsupported("/domain/devices/graphics[2]: only one <graphics> is supported")
	}
	for i, g := range devs.Graphics {
		if g.VNC == nil {
			return unsupported("<graphics> (/domain/devices/graphics[%d]): only type='vnc' is supported", i+1)
		}
		v, err := vncValue(g.VNC)
		if err != nil {
			return err
		}
		b.c.add("-vnc", v)
	}
	videos := devs.Videos
	if len(videos) == 0 && len(devs.Graphics) > 0 {
		videos = []libvirtxml.DomainVideo{{Model: libvirtxml.DomainVideoModel{Type: "vga"}}}
	}
	if len(videos) > 1 {
		return unsupported("/domain/devices/video[2]: only one <video> is supported")
	}
	for _, v := range videos {
		qdev, ok := videoDevices[v.Model.Type]
		if !ok {
			return unsupported("<video><model type='%s'>: supported models are vga, cirrus, virtio and none", v.Model.Type)
		}
		if qdev != "" {
			b.c.add("-device", opts(qdev, "id", "video0"))
		}
	}
	return b.inputs()
}

// vncValue is -vnc's value: the listen address and display, or a range
// of displays from 0 when the port is chosen automatically.
func vncValue(v *libvirtxml.DomainGraphicVNC) (string, error) {
	addr := v.Listen
	for _, l := range v.Listeners {
		if l.Address == nil {
			return "", unsupported("<graphics><listen>: only type='address' is supported")
		}
		if l.Address.Address != "" {
			addr = l.Address.Address
		}
	}
	if addr == "" {
		addr = "127.0.0.1"
	}
	if ip := net.ParseIP(addr); ip != nil && ip.To4() == nil {
		addr = "[" + addr + "]"
	}
	auto := v.AutoPort == "yes" || v.Port <= 0
	if !auto && v.Port < 5900 {
		return "", unsupported("<graphics type='vnc' port='%d'>: the port must be 5900 or above", v.Port)
	}
	if auto {
		return addr + ":0,to=99", nil
	}
	return fmt.Sprintf("%s:%d", addr, v.Port-5900), nil
}

// inputs accepts the PS/2 mouse and keyboard the machine has built in.
func (b *builder) inputs() error {
	for i, in := range b.devices().Inputs {
		if (in.Type != "mouse" && in.Type != "keyboard") || (in.Bus != "" && in.Bus != "ps2") {
			return unsupported("<input type='%s' bus='%s'> (/domain/devices/input[%d]): only the built-in PS/2 mouse and keyboard are supported", in.Type, in.Bus, i+1)
		}
	}
	return nil
}

// balloon adds the virtio balloon when asked for; without one the guest
// always has its full <memory>.
func (b *builder) balloon() error {
	devs := b.devices()
	cur, max := b.def.CurMemKiB(), b.def.MaxMemKiB()
	hasBalloon := false
	if mb := devs.MemBalloon; mb != nil {
		switch mb.Model {
		case "virtio":
			hasBalloon = true
			b.c.add("-device", opts("virtio-balloon-pci", "id", "balloon0"))
		case "none":
		default:
			return unsupported("<memballoon model='%s'>: use virtio or none", mb.Model)
		}
	}
	if cur > max {
		return unsupported("<currentMemory> (%d KiB) is larger than <memory> (%d KiB)", cur, max)
	}
	if cur < max && !hasBalloon {
		return unsupported("<currentMemory> (%d KiB) below <memory> (%d KiB) needs <memballoon model='virtio'>", cur, max)
	}
	return nil
}

// shellQuote quotes an argument for the golden files and the log, where
// argv is shown as a shell command line.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_=+,.:/@[]%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
