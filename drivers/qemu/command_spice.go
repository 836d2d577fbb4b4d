package qemu

import (
	"fmt"
	"net"
	"strconv"

	"libvirt.org/go/libvirtxml"
)

// SPICE graphics and what rides on it (the vdagent channel, USB
// redirection, audio), and sound cards: what virt-install and
// virt-manager give a guest by default when qemu has SPICE built in.

// spiceValue is -spice's value for g, whose port the start has chosen
// (assignGraphicsPorts); a definition only checked shows 5900.
func spiceValue(g *libvirtxml.DomainGraphicSpice) (string, error) {
	if g.TLSPort > 0 {
		return "", unsupported("<graphics type='spice' tlsPort='%d'>: SPICE over TLS is not supported; leave tlsPort out or -1", g.TLSPort)
	}
	addr, err := spiceListen(g)
	if err != nil {
		return "", err
	}
	port := g.Port
	if port <= 0 {
		if g.AutoPort == "no" {
			return "", unsupported("<graphics type='spice' autoport='no'> needs a port")
		}
		port = 5900
	}
	if port < 5900 || port > 65535 {
		return "", unsupported("<graphics type='spice' port='%d'>: the port must be from 5900 to 65535", port)
	}
	kv := []string{"port", strconv.Itoa(port), "addr", addr, "disable-ticketing", "on"}
	if img := g.Image; img != nil {
		switch img.Compression {
		case "auto_glz", "auto_lz", "quic", "glz", "lz", "off":
			kv = append(kv, "image-compression", img.Compression)
		default:
			return "", unsupported("<graphics type='spice'><image compression='%s'>: use auto_glz, auto_lz, quic, glz, lz or off", img.Compression)
		}
	}
	kv = append(kv, "seamless-migration", "on")
	return opts(kv[0]+"="+kv[1], kv[2:]...), nil
}

// spiceListen is the address the SPICE server listens on: the listen
// attribute or <listen type='address'>, else 127.0.0.1 as libvirt's
// default spice_listen.
func spiceListen(g *libvirtxml.DomainGraphicSpice) (string, error) {
	addr := g.Listen
	for _, l := range g.Listeners {
		if l.Address == nil {
			return "", unsupported("<graphics type='spice'><listen>: only type='address' is supported")
		}
		if l.Address.Address != "" {
			addr = l.Address.Address
		}
	}
	if addr == "" {
		addr = "127.0.0.1"
	}
	if net.ParseIP(addr) == nil && !hostName.MatchString(addr) {
		return "", unsupported("<graphics type='spice'><listen address='%s'>: not an IP address or host name", addr)
	}
	return addr, nil
}

// hasSpice says whether the definition has SPICE graphics, which the
// spicevmc channels, USB redirection and SPICE audio need.
func (b *builder) hasSpice() bool {
	for _, g := range b.devices().Graphics {
		if g.Spice != nil {
			return true
		}
	}
	return false
}

// spiceChannel adds a <channel type='spicevmc'>: the SPICE agent's port
// (com.redhat.spice.0) on the virtio-serial bus.
func (b *builder) spiceChannel(i int, ch libvirtxml.DomainChannel, xpath string) error {
	if !b.hasSpice() {
		return unsupported("<channel type='spicevmc'> (%s) needs <graphics type='spice'>", xpath)
	}
	name := ch.Target.VirtIO.Name
	if name == "" {
		name = "com.redhat.spice.0"
	}
	if name != "com.redhat.spice.0" {
		return unsupported("<channel type='spicevmc'><target name='%s'> (%s): only com.redhat.spice.0 is supported", name, xpath)
	}
	nr, err := virtioSerialPort(ch, i, xpath)
	if err != nil {
		return err
	}
	id := fmt.Sprintf("charchannel%d", i)
	b.c.add("-chardev", opts("spicevmc", "id", id, "name", "vdagent"))
	b.c.add("-device", opts("virtserialport", "bus", "virtio-serial0.0", "nr", nr, "chardev", id, "id", fmt.Sprintf("channel%d", i), "name", name))
	return nil
}

// redirdevs adds <redirdev bus='usb' type='spicevmc'>: USB devices of
// the SPICE client redirected into the guest.
func (b *builder) redirdevs() error {
	for i, r := range b.devices().RedirDevs {
		xpath := fmt.Sprintf("/domain/devices/redirdev[%d]", i+1)
		if r.Bus != "" && r.Bus != "usb" {
			return unsupported("<redirdev bus='%s'> (%s): only usb is supported", r.Bus, xpath)
		}
		if r.Source == nil || r.Source.SpiceVMC == nil {
			return unsupported("<redirdev> (%s): only type='spicevmc' is supported", xpath)
		}
		if !b.hasSpice() {
			return unsupported("<redirdev type='spicevmc'> (%s) needs <graphics type='spice'>", xpath)
		}
		if !b.usbBus {
			return unsupported("<redirdev bus='usb'> (%s) needs a USB controller", xpath)
		}
		port, err := usbPort(r.Address, xpath)
		if err != nil {
			return err
		}
		id := fmt.Sprintf("charredir%d", i)
		b.c.add("-chardev", opts("spicevmc", "id", id, "name", "usbredir"))
		kv := []string{"chardev", id, "id", fmt.Sprintf("redir%d", i), "bus", "usb.0"}
		if port != "" {
			kv = append(kv, "port", port)
		}
		b.c.add("-device", opts("usb-redir", kv...))
	}
	return nil
}

// soundDevices are qemu's devices by <sound model>; the HDA controllers
// get a duplex codec, as libvirt gives them.
var soundDevices = map[string]struct {
	dev string
	hda bool
}{"ich6": {"intel-hda", true}, "ich9": {"ich9-intel-hda", true}, "ac97": {"AC97", false}}

// sounds adds the <audio> backends and the sound cards that play into
// them (a card without <audio id> uses the first backend).
func (b *builder) sounds() error {
	devs := b.devices()
	ids := map[int]bool{}
	for i, a := range devs.Audios {
		xpath := fmt.Sprintf("/domain/devices/audio[%d]", i+1)
		if a.ID <= 0 || ids[a.ID] {
			return unsupported("<audio id='%d'> (%s): ids are unique and from 1", a.ID, xpath)
		}
		ids[a.ID] = true
		driver := "none"
		switch {
		case a.SPICE != nil:
			if !b.hasSpice() {
				return unsupported("<audio type='spice'> (%s) needs <graphics type='spice'>", xpath)
			}
			driver = "spice"
		case a.None != nil && a.None.Input == nil && a.None.Output == nil:
		default:
			return unsupported("<audio> (%s): supported types are none and spice", xpath)
		}
		b.c.add("-audiodev", opts("id=audio"+strconv.Itoa(a.ID), "driver", driver))
	}
	for i, s := range devs.Sounds {
		xpath := fmt.Sprintf("/domain/devices/sound[%d]", i+1)
		sd, ok := soundDevices[s.Model]
		if !ok {
			return unsupported("<sound model='%s'> (%s): supported models are ich6, ich9 and ac97", s.Model, xpath)
		}
		audio := 0
		if len(devs.Audios) > 0 {
			audio = devs.Audios[0].ID
		}
		if s.Audio != nil {
			audio = int(s.Audio.ID)
		}
		if !ids[audio] {
			return unsupported("<sound> (%s) plays into <audio id='%d'>, which the definition lacks", xpath, audio)
		}
		id, backend := fmt.Sprintf("sound%d", i), "audio"+strconv.Itoa(audio)
		if !sd.hda {
			b.c.add("-device", opts(sd.dev, append([]string{"id", id, "audiodev", backend}, b.pciOpts(s.Address)...)...))
			continue
		}
		b.c.add("-device", opts(sd.dev, append([]string{"id", id}, b.pciOpts(s.Address)...)...))
		b.c.add("-device", opts("hda-duplex", "id", id+"-codec0", "bus", id+".0", "cad", "0", "audiodev", backend))
	}
	return nil
}
