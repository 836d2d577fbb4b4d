package qemu

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// Guest interfaces on a bridge: <interface type='network'> (the bridge
// of a virtual network, from the network driver) and type='bridge' (a
// host bridge). For each the driver makes a tap device, plugs it into
// the bridge and hands qemu its file descriptor (-netdev tap,fd=N), as
// libvirt does: qemu needs no privilege, and since qemu holds the only
// descriptor of a tap that is not persistent, the tap goes away with
// qemu, however qemu ends, daemon restarts included.

// SetNetworkResolver gives the driver the network driver that resolves
// <interface type='network'>; without one such interfaces are refused.
func (d *Driver) SetNetworkResolver(r drivers.NetworkResolver) { d.networks = r }

// tapInterface says whether n is plugged through a tap device.
func tapInterface(n *libvirtxml.DomainInterface) bool {
	return n.Source != nil && (n.Source.Network != nil || n.Source.Bridge != nil)
}

// plugInterfaces makes the tap of each bridged interface of live,
// recording its name in <target dev> (and a network's bridge in its
// <source>); it returns the taps' files in interface order, nil for the
// others. On error nothing is left: the taps made so far are closed,
// and so gone.
func (d *Driver) plugInterfaces(ctx context.Context, live *domxml.Def) (taps []*os.File, err error) {
	devs := live.XML.Devices
	if devs == nil {
		return nil, nil
	}
	defer func() {
		if err != nil {
			closeFiles(taps)
			taps = nil
		}
	}()
	for i := range devs.Interfaces {
		n := &devs.Interfaces[i]
		if !tapInterface(n) {
			taps = append(taps, nil)
			continue
		}
		tap, err := d.plugInterface(ctx, n, fmt.Sprintf("/domain/devices/interface[%d]", i+1))
		if err != nil {
			return taps, err
		}
		taps = append(taps, tap)
	}
	return taps, nil
}

// plugInterface makes and plugs the tap of the bridged interface n.
func (d *Driver) plugInterface(ctx context.Context, n *libvirtxml.DomainInterface, xpath string) (*os.File, error) {
	bridge, mtu := "", 0
	switch {
	case n.Source.Network != nil:
		if d.networks == nil {
			return nil, unsupported("<interface type='network'> (%s): this daemon has no network driver", xpath)
		}
		a, err := d.networks.AttachNetwork(ctx, n.Source.Network.Network)
		if err != nil {
			return nil, err
		}
		bridge, mtu = a.Bridge, a.MTU
		n.Source.Network.Bridge = a.Bridge
	default:
		bridge = n.Source.Bridge.Bridge
	}
	if n.MTU != nil && n.MTU.Size > 0 {
		mtu = int(n.MTU.Size)
	}
	want := "vnet%d"
	if n.Target != nil && n.Target.Dev != "" && !strings.HasPrefix(n.Target.Dev, "vnet") {
		want = n.Target.Dev // libvirt keeps a name of the user's, not one of its own pattern
	}
	tap, name, err := openTap(want)
	if err != nil {
		return nil, drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "cannot create tap device for %s: %v (/dev/net/tun, root needed)", xpath, err)
	}
	if err := attachTap(name, bridge, n.MAC.Address, mtu); err != nil {
		tap.Close()
		return nil, drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "cannot plug tap %s of %s into bridge '%s': %v", name, xpath, bridge, err)
	}
	n.Target = &libvirtxml.DomainInterfaceTarget{Dev: name}
	return tap, nil
}

// openTap creates a tap device named name (a %d in it lets the kernel
// pick the number), as libvirt's: no packet information header, with
// the virtio net header qemu uses when the guest's NIC is virtio.
func openTap(name string) (*os.File, string, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, "", err
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, "", err
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, "", fmt.Errorf("TUNSETIFF %s: %w", name, err)
	}
	return os.NewFile(uintptr(fd), "/dev/net/tun:"+ifr.Name()), ifr.Name(), nil
}

// attachTap gives the tap the guest's MAC with the first byte 0xfe (the
// bridge must not take the guest's own address as its), the MTU (the
// bridge's when 0), puts it in the bridge and sets it up.
func attachTap(name, bridge, mac string, mtu int) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return err
	}
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		return fmt.Errorf("no bridge %s: %w", bridge, err)
	}
	if hw, err := net.ParseMAC(mac); err == nil {
		hw[0] = 0xfe
		if err := netlink.LinkSetHardwareAddr(link, hw); err != nil {
			return err
		}
	}
	if mtu == 0 {
		mtu = br.Attrs().MTU
	}
	if mtu > 0 {
		if err := netlink.LinkSetMTU(link, mtu); err != nil {
			return fmt.Errorf("MTU %d: %w", mtu, err)
		}
	}
	if err := netlink.LinkSetMaster(link, br); err != nil {
		return err
	}
	return netlink.LinkSetUp(link)
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}

// tapStats is an interface's counters as the guest sees them: the tap's
// transmit counters are what the guest received, and the other way
// round, as libvirt reports them.
func tapStats(dev string) (protocol.DomainInterfaceStatsRet, error) {
	link, err := netlink.LinkByName(dev)
	if err != nil {
		return protocol.DomainInterfaceStatsRet{}, err
	}
	s := link.Attrs().Statistics
	if s == nil {
		return protocol.DomainInterfaceStatsRet{}, fmt.Errorf("no statistics for %s", dev)
	}
	return protocol.DomainInterfaceStatsRet{
		RxBytes: int64(s.TxBytes), RxPackets: int64(s.TxPackets), RxErrs: int64(s.TxErrors), RxDrop: int64(s.TxDropped),
		TxBytes: int64(s.RxBytes), TxPackets: int64(s.RxPackets), TxErrs: int64(s.RxErrors), TxDrop: int64(s.RxDropped),
	}, nil
}
