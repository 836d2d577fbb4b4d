package qemu

import (
	"fmt"
	"net"
	"regexp"
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

// nicModels maps <model type> to qemu's device; no model is rtl8139, as
// libvirt has it for x86.
var nicModels = map[string]string{"": "rtl8139", "virtio": "virtio-net-pci", "e1000": "e1000", "rtl8139": "rtl8139"}

func (b *builder) interfaces() error {
	for i, n := range b.devices().Interfaces {
		xpath := fmt.Sprintf("/domain/devices/interface[%d]", i+1)
		if n.Source == nil || (n.Source.User == nil && !tapInterface(&n)) {
			return unsupported("<interface> (%s): supported types are network, bridge and user", xpath)
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
		if tapInterface(&n) {
			fd := -1 // a definition checked, not started
			if i < len(b.tapFDs) && b.tapFDs[i] > 0 {
				fd = b.tapFDs[i]
			}
			b.c.add("-netdev", opts("tap", "fd", strconv.Itoa(fd), "id", fmt.Sprintf("hostnet%d", i)))
		} else {
			b.c.add("-netdev", opts("user", "id", fmt.Sprintf("hostnet%d", i)))
		}
		dev := []string{"netdev", fmt.Sprintf("hostnet%d", i), "id", fmt.Sprintf("net%d", i), "mac", n.MAC.Address}
		if n.Boot != nil {
			dev = append(dev, "bootindex", strconv.FormatUint(uint64(n.Boot.Order), 10))
		}
		b.c.add("-device", opts(qdev, append(dev, b.pciOpts(n.Address)...)...))
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
var videoDevices = map[string]string{"vga": "VGA", "cirrus": "cirrus-vga", "virtio": "virtio-vga", "qxl": "qxl-vga", "bochs": "bochs-display", "none": ""}

// graphics adds the display: none, or one VNC or SPICE server, and the
// video card.
func (b *builder) graphics() error {
	devs := b.devices()
	b.c.add("-display", "none")
	if len(devs.Graphics) > 1 {
		return unsupported("/domain/devices/graphics[2]: only one <graphics> is supported")
	}
	for i, g := range devs.Graphics {
		switch {
		case g.VNC != nil:
			v, err := vncValue(g.VNC)
			if err != nil {
				return err
			}
			b.c.add("-vnc", v)
		case g.Spice != nil:
			v, err := spiceValue(g.Spice)
			if err != nil {
				return err
			}
			b.c.add("-spice", v)
		default:
			return unsupported("<graphics> (/domain/devices/graphics[%d]): only type='vnc' and type='spice' are supported", i+1)
		}
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
			return unsupported("<video><model type='%s'>: supported models are vga, cirrus, virtio, qxl, bochs and none", v.Model.Type)
		}
		if v.Model.Primary == "no" {
			return unsupported("<video><model primary='no'>: the one video card is the primary one")
		}
		m := v.Model
		kv := []string{"id", "video0"}
		switch m.Type {
		case "qxl":
			// Sizes in KiB, as libvirt's defaults for a QXL card.
			kv = append(kv, "ram_size", strconv.FormatUint(uint64(orDefault(m.Ram, 65536))*1024, 10),
				"vram_size", strconv.FormatUint(uint64(orDefault(m.VRam, 65536))*1024, 10),
				"vgamem_mb", strconv.FormatUint(uint64(orDefault(m.VGAMem, 16384))/1024, 10),
				"max_outputs", strconv.FormatUint(uint64(orDefault(m.Heads, 1)), 10))
		case "virtio":
			if m.Ram != 0 || m.VRam != 0 || m.VGAMem != 0 {
				return unsupported("<video><model type='virtio'>: ram, vram and vgamem apply only to qxl (and vram to vga)")
			}
			kv = append(kv, "max_outputs", strconv.FormatUint(uint64(orDefault(m.Heads, 1)), 10))
		default:
			if m.Ram != 0 || m.VGAMem != 0 {
				return unsupported("<video><model type='%s'>: ram and vgamem apply only to qxl", m.Type)
			}
			if m.Heads > 1 {
				return unsupported("<video><model type='%s' heads='%d'>: only qxl and virtio have more than one head", m.Type, m.Heads)
			}
			switch {
			case m.VRam == 0:
			case m.Type == "vga" || m.Type == "cirrus":
				kv = append(kv, "vgamem_mb", strconv.FormatUint(uint64(m.VRam)/1024, 10))
			case m.Type == "bochs":
				kv = append(kv, "vgamem", strconv.FormatUint(uint64(m.VRam)*1024, 10))
			}
		}
		if qdev != "" {
			b.c.add("-device", opts(qdev, append(kv, b.pciOpts(v.Address)...)...))
		}
	}
	return b.inputs()
}

func orDefault(v, def uint) uint {
	if v == 0 {
		return def
	}
	return v
}

// hostName matches a DNS host name, the other form a listen address
// may take.
var hostName = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$`)

// vncValue is -vnc's value: the listen address and display, or a range
// of displays from 0 when the port is chosen automatically.
func vncValue(v *libvirtxml.DomainGraphicVNC) (string, error) {
	addr := v.Listen
	for _, l := range v.Listeners {
		if l.Address == nil && l.Network == nil && l.Socket == nil {
			// <listen type='none'/>: a VNC server with no socket of its
			// own, reached only through DOMAIN_OPEN_GRAPHICS_FD.
			return "none", nil
		}
		if l.Address == nil {
			return "", unsupported("<graphics><listen>: only type='address' and type='none' are supported")
		}
		if l.Address.Address != "" {
			addr = l.Address.Address
		}
	}
	if addr == "" {
		addr = "127.0.0.1"
	}
	ip := net.ParseIP(addr)
	if ip == nil && !hostName.MatchString(addr) {
		// Anything else could carry qemu options after a comma.
		return "", unsupported("<graphics><listen address='%s'>: not an IP address or host name", addr)
	}
	if ip != nil && ip.To4() == nil {
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
// inputDevices are qemu's input devices by libvirt's bus and type.
var inputDevices = map[[2]string]string{
	{"usb", "tablet"}: "usb-tablet", {"usb", "mouse"}: "usb-mouse", {"usb", "keyboard"}: "usb-kbd",
	{"virtio", "tablet"}: "virtio-tablet-pci", {"virtio", "mouse"}: "virtio-mouse-pci", {"virtio", "keyboard"}: "virtio-keyboard-pci",
}

// inputs adds the USB and virtio input devices (ids input0…, as
// libvirt names them); the PS/2 mouse and keyboard are the machine's.
func (b *builder) inputs() error {
	for i, in := range b.devices().Inputs {
		xpath := fmt.Sprintf("/domain/devices/input[%d]", i+1)
		if (in.Type == "mouse" || in.Type == "keyboard") && (in.Bus == "" || in.Bus == "ps2") {
			continue
		}
		dev, ok := inputDevices[[2]string{in.Bus, in.Type}]
		if !ok {
			return unsupported("<input type='%s' bus='%s'> (%s): supported inputs are the PS/2 mouse and keyboard, and tablet, mouse and keyboard on usb or virtio", in.Type, in.Bus, xpath)
		}
		args := []string{"id", fmt.Sprintf("input%d", i)}
		if in.Bus == "usb" {
			if !b.usbBus {
				return unsupported("<input type='%s' bus='usb'> (%s) needs a USB controller: add <controller type='usb' model='qemu-xhci'/>", in.Type, xpath)
			}
			args = append(args, "bus", "usb.0")
			port, err := usbPort(in.Address, xpath)
			if err != nil {
				return err
			}
			if port != "" {
				args = append(args, "port", port)
			}
		} else if in.Address != nil && in.Bus != "virtio" {
			return unsupported("<input><address> (%s): only USB and virtio inputs take an address", xpath)
		}
		if in.Bus == "virtio" {
			args = append(args, b.pciOpts(in.Address)...)
		}
		b.c.add("-device", opts(dev, args...))
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
			b.c.add("-device", opts("virtio-balloon-pci", append([]string{"id", "balloon0"}, b.pciOpts(mb.Address)...)...))
			// A stats period is set over QMP once qemu runs (prepareGuest).
		case "none":
			if mb.Stats != nil {
				return unsupported("<memballoon model='none'><stats>: statistics need model='virtio'")
			}
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
