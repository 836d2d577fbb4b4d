package qemu

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/vir"
)

// Guest channels (virtio-serial ports on unix sockets, as the qemu guest
// agent's org.qemu.guest_agent.0) and the virtio RNG, which virt-install
// adds to every guest whose OS has drivers for them.

// channels adds each <channel type='unix'> with a virtio target as a
// port of the virtio-serial controller (virtio-serial0, listed in the
// definition by prepareDefinition), on a socket qemu listens on.
func (b *builder) channels() error {
	for i, ch := range b.devices().Channels {
		xpath := fmt.Sprintf("/domain/devices/channel[%d]", i+1)
		if ch.Target == nil || ch.Target.VirtIO == nil {
			return unsupported("<channel> (%s): only virtio channels are supported", xpath)
		}
		if ch.Source != nil && ch.Source.SpiceVMC != nil {
			if err := b.spiceChannel(i, ch, xpath); err != nil {
				return err
			}
			continue
		}
		if ch.Source == nil || ch.Source.UNIX == nil {
			return unsupported("<channel> (%s): only unix socket and spicevmc channels are supported", xpath)
		}
		u := ch.Source.UNIX
		if u.Mode != "" && u.Mode != "bind" {
			return unsupported("<source mode='%s'> (%s): only bind (qemu listens) is supported", u.Mode, xpath)
		}
		if u.Path == "" {
			// The driver chooses it when the guest starts (channelPaths).
			return unsupported("<channel> (%s) has no socket path", xpath)
		}
		nr, err := virtioSerialPort(ch, i, xpath)
		if err != nil {
			return err
		}
		id := fmt.Sprintf("charchannel%d", i)
		b.c.add("-chardev", opts("socket", "id", id, "path", u.Path, "server", "on", "wait", "off"))
		dev := []string{"bus", "virtio-serial0.0", "nr", nr, "chardev", id, "id", fmt.Sprintf("channel%d", i)}
		if n := ch.Target.VirtIO.Name; n != "" {
			dev = append(dev, "name", n)
		}
		b.c.add("-device", opts("virtserialport", dev...))
	}
	return nil
}

// channelPaths gives each unix channel without a path one in the
// driver's state directory, as libvirt does in its own: a guest's live
// definition shows it, its persistent one does not. With mkdir the
// directory is made.
func (c Config) channelPaths(live *domxml.Def, name string, mkdir bool) error {
	if live.XML.Devices == nil {
		return nil
	}
	dir := filepath.Join(c.StateDir, "channel")
	for i := range live.XML.Devices.Channels {
		ch := &live.XML.Devices.Channels[i]
		if ch.Source == nil || ch.Source.UNIX == nil || ch.Source.UNIX.Path != "" {
			continue
		}
		target := fmt.Sprintf("channel%d", i)
		if ch.Target != nil && ch.Target.VirtIO != nil && ch.Target.VirtIO.Name != "" {
			target = ch.Target.VirtIO.Name
		}
		u := *ch.Source.UNIX
		u.Mode = "bind"
		u.Path = filepath.Join(dir, name+"."+target)
		if len(u.Path) > maxSocketPath {
			return drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "the socket path of channel %s, %s, is longer than %d bytes; set a shorter qemu_state_dir", target, u.Path, maxSocketPath)
		}
		ch.Source = &libvirtxml.DomainChardevSource{UNIX: &u}
		if mkdir {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "cannot make the directory of the guests' channel sockets: %v (check qemu_state_dir)", err)
			}
		}
	}
	return nil
}

// rngs adds the virtio RNG fed from a host random device.
func (b *builder) rngs() error {
	for i, r := range b.devices().RNGs {
		xpath := fmt.Sprintf("/domain/devices/rng[%d]", i+1)
		if r.Model != "virtio" {
			return unsupported("<rng model='%s'> (%s): only virtio is supported", r.Model, xpath)
		}
		if r.Backend == nil || r.Backend.Random == nil {
			return unsupported("<rng><backend> (%s): only model='random' is supported", xpath)
		}
		dev := r.Backend.Random.Device
		if dev == "" {
			dev = "/dev/urandom"
		}
		if dev != "/dev/urandom" && dev != "/dev/random" && dev != "/dev/hwrng" {
			return unsupported("<rng><backend model='random'>%s</backend> (%s): use /dev/urandom, /dev/random or /dev/hwrng", dev, xpath)
		}
		obj := fmt.Sprintf("objrng%d", i)
		b.c.add("-object", opts("rng-random", "id", obj, "filename", dev))
		b.c.add("-device", opts("virtio-rng-pci", append([]string{"rng", obj, "id", fmt.Sprintf("rng%d", i)}, b.pciOpts(r.Address)...)...))
	}
	return nil
}

// virtioSerialPort is the port (qemu's nr) of channel i on the
// virtio-serial bus: its address's, else i+1.
func virtioSerialPort(ch libvirtxml.DomainChannel, i int, xpath string) (string, error) {
	a := ch.Address
	if a == nil || a.VirtioSerial == nil {
		if a != nil {
			return "", unsupported("<channel><address> (%s): a virtio channel's address is type='virtio-serial'", xpath)
		}
		return fmt.Sprint(i + 1), nil
	}
	vs := a.VirtioSerial
	if vs.Controller != nil && *vs.Controller != 0 || vs.Bus != nil && *vs.Bus != 0 {
		return "", unsupported("<channel><address type='virtio-serial'> (%s): only controller 0, bus 0 is supported", xpath)
	}
	if vs.Port == nil || *vs.Port == 0 || *vs.Port > 30 {
		return "", unsupported("<channel><address type='virtio-serial'> (%s): the port must be from 1 to 30", xpath)
	}
	return fmt.Sprint(*vs.Port), nil
}

// usbPort is the port a USB device's address gives (usb-*'s port
// property), or "" to let qemu choose.
func usbPort(a *libvirtxml.DomainAddress, xpath string) (string, error) {
	if a == nil {
		return "", nil
	}
	if a.USB == nil {
		return "", unsupported("<address> (%s): a USB device's address is type='usb'", xpath)
	}
	if a.USB.Bus != nil && *a.USB.Bus != 0 {
		return "", unsupported("<address type='usb' bus='%d'> (%s): only bus 0 is supported", *a.USB.Bus, xpath)
	}
	for _, part := range strings.Split(a.USB.Port, ".") {
		if n, err := strconv.Atoi(part); err != nil || n < 1 || n > 15 {
			return "", unsupported("<address type='usb' port='%s'> (%s): not a USB port", a.USB.Port, xpath)
		}
	}
	return a.USB.Port, nil
}
