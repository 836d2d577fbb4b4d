package qemu

import (
	"context"
	"net"
	"strconv"
	"strings"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// tapped is a running guest's interface that has a tap: its device name
// and MAC, from the live definition.
type tapped struct {
	dev, mac string
	iface    *libvirtxml.DomainInterface
}

func tappedInterfaces(x *libvirtxml.Domain) []tapped {
	var out []tapped
	if x.Devices == nil {
		return nil
	}
	for i := range x.Devices.Interfaces {
		n := &x.Devices.Interfaces[i]
		if !tapInterface(n) || n.Target == nil || n.Target.Dev == "" {
			continue
		}
		mac := ""
		if n.MAC != nil {
			mac = n.MAC.Address
		}
		out = append(out, tapped{dev: n.Target.Dev, mac: mac, iface: n})
	}
	return out
}

// liveInterfaces is the tapped interfaces of a running domain.
func (c *conn) liveInterfaces(ref drivers.Domain) ([]tapped, error) {
	dom, err := c.drv.find(ref)
	if err != nil {
		return nil, err
	}
	if _, err := runningInst(dom); err != nil {
		return nil, err
	}
	dom.mu.Lock()
	x := dom.def().XML
	dom.mu.Unlock()
	return tappedInterfaces(x), nil
}

// DomainInterfaceStats answers the counters of the interface device
// names (its tap, "vnet0", or its MAC), seen from the guest
// (drivers.OpDomainInterfaceStats).
func (c *conn) DomainInterfaceStats(ctx context.Context, ref drivers.Domain, device string) (*protocol.DomainInterfaceStatsRet, error) {
	ifs, err := c.liveInterfaces(ref)
	if err != nil {
		return nil, err
	}
	for _, t := range ifs {
		if device == t.dev || sameMAC(device, t.mac) {
			s, err := tapStats(t.dev)
			if err != nil {
				return nil, drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "cannot read the counters of %s: %v", t.dev, err)
			}
			return &s, nil
		}
	}
	return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "invalid path, '%s' is not a known interface", device)
}

func sameMAC(a, b string) bool {
	x, err1 := net.ParseMAC(a)
	y, err2 := net.ParseMAC(b)
	return err1 == nil && err2 == nil && x.String() == y.String()
}

// interfaceGroup is the "net" group of a running domain's stats record:
// as libvirt's, net.count counts every interface and net.N (N the
// interface's place in the definition) is there for those with a host
// device (a tap), so an interface without one (type user) leaves a gap.
func interfaceGroup(x *libvirtxml.Domain) []protocol.TypedParam {
	if x.Devices == nil {
		return []protocol.TypedParam{drivers.ParamUint("net.count", 0)}
	}
	params := []protocol.TypedParam{drivers.ParamUint("net.count", uint32(len(x.Devices.Interfaces)))}
	for i := range x.Devices.Interfaces {
		n := &x.Devices.Interfaces[i]
		if !tapInterface(n) || n.Target == nil || n.Target.Dev == "" {
			continue
		}
		p := "net." + strconv.Itoa(i) + "."
		params = append(params, drivers.ParamString(p+"name", n.Target.Dev))
		s, err := tapStats(n.Target.Dev)
		if err != nil {
			continue
		}
		for _, v := range []struct {
			k string
			v int64
		}{{"rx.bytes", s.RxBytes}, {"rx.pkts", s.RxPackets}, {"rx.errs", s.RxErrs}, {"rx.drop", s.RxDrop},
			{"tx.bytes", s.TxBytes}, {"tx.pkts", s.TxPackets}, {"tx.errs", s.TxErrs}, {"tx.drop", s.TxDrop}} {
			params = append(params, drivers.ParamUllong(p+v.k, uint64(v.v)))
		}
	}
	return params
}

// DomainInterfaceAddresses answers a running guest's addresses from the
// DHCP leases of the networks its interfaces are on (source lease; the
// guest agent and ARP sources are not served), an interface without a
// lease left out, as libvirt does (drivers.OpDomainInterfaceAddresses).
func (c *conn) DomainInterfaceAddresses(ctx context.Context, ref drivers.Domain, source, flags uint32) ([]protocol.DomainInterface, error) {
	if flags != 0 {
		return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "unsupported flags (0x%x) in function qemuDomainInterfaceAddresses", flags)
	}
	if vir.DomainInterfaceAddressesSource(source) != vir.DomainInterfaceAddressesSrcLease {
		return nil, drivers.Errorf(vir.ErrArgumentUnsupported, vir.FromQEMU,
			"address source %d is not served: only the DHCP leases of virtual networks (source lease) are", source)
	}
	ifs, err := c.liveInterfaces(ref)
	if err != nil {
		return nil, err
	}
	out := []protocol.DomainInterface{}
	for _, t := range ifs {
		if t.iface.Source.Network == nil || c.drv.networks == nil {
			continue
		}
		leases, err := c.drv.networks.NetworkLeases(ctx, t.iface.Source.Network.Network, t.mac)
		if err != nil || len(leases) == 0 {
			continue
		}
		mac := strings.ToLower(t.mac)
		di := protocol.DomainInterface{Name: t.dev, Hwaddr: &mac}
		for _, l := range leases {
			di.Addrs = append(di.Addrs, protocol.DomainIPAddr{Type: l.Type, Addr: l.Ipaddr, Prefix: l.Prefix})
		}
		out = append(out, di)
	}
	return out, nil
}
