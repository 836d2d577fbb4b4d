package qemu

import (
	"fmt"
	"os"
	"path/filepath"

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
		if ch.Source == nil || ch.Source.UNIX == nil {
			return unsupported("<channel> (%s): only unix socket channels are supported", xpath)
		}
		u := ch.Source.UNIX
		if u.Mode != "" && u.Mode != "bind" {
			return unsupported("<source mode='%s'> (%s): only bind (qemu listens) is supported", u.Mode, xpath)
		}
		if u.Path == "" {
			// The driver chooses it when the guest starts (channelPaths).
			return unsupported("<channel> (%s) has no socket path", xpath)
		}
		id := fmt.Sprintf("charchannel%d", i)
		b.c.add("-chardev", opts("socket", "id", id, "path", u.Path, "server", "on", "wait", "off"))
		dev := []string{"bus", "virtio-serial0.0", "nr", fmt.Sprint(i + 1), "chardev", id, "id", fmt.Sprintf("channel%d", i)}
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
		b.c.add("-device", opts("virtio-rng-pci", "rng", obj, "id", fmt.Sprintf("rng%d", i)))
	}
	return nil
}
