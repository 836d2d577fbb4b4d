package test

import (
	"context"
	"encoding/binary"
	"net"
	"os"
	"strings"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// What libvirt's test driver makes up about the guest inside a running
// domain: two filesystems on its first disk ("/" and "/boot", ext4),
// which freeze and thaw; one address per interface; a guest clock; and
// calls (NMI, keys, signals, passwords) that do nothing once the
// domain is found running.

// running runs f on ref's running domain, refusing an inactive one.
func (c *conn) running(ref protocol.Domain, f func(dom *domain) error) error {
	return c.drv.withDomain(ref, func(dom *domain) error {
		if !dom.active() {
			return notRunning()
		}
		return f(dom)
	})
}

func noMountPoint(m string) error {
	return drivers.Errorf(vir.ErrOperationInvalid, vir.FromTest, "mount point not found: %s", m)
}

// mountIndex is the frozen slot of mount point m, -1 for none.
func mountIndex(m string) int {
	switch m {
	case "/":
		return 0
	case "/boot":
		return 1
	}
	return -1
}

// DomainFsfreeze freezes the given mount points, all when none is
// given, answering how many were frozen by this call
// (drivers.OpDomainFsfreeze).
func (c *conn) DomainFsfreeze(ctx context.Context, ref protocol.Domain, mountpoints []string, flags uint32) (n int32, err error) {
	if flags != 0 {
		return 0, badFlags(flags, "testDomainFSFreeze")
	}
	err = c.running(ref, func(dom *domain) error {
		n, err = setFrozen(&c.drv.ext(dom).run.frozen, mountpoints, true)
		return err
	})
	return n, err
}

// DomainFsthaw thaws them, answering how many were thawed
// (drivers.OpDomainFsthaw).
func (c *conn) DomainFsthaw(ctx context.Context, ref protocol.Domain, mountpoints []string, flags uint32) (n int32, err error) {
	if flags != 0 {
		return 0, badFlags(flags, "testDomainFSThaw")
	}
	err = c.running(ref, func(dom *domain) error {
		n, err = setFrozen(&c.drv.ext(dom).run.frozen, mountpoints, false)
		return err
	})
	return n, err
}

// setFrozen sets the mount points' frozen state to to, all of them when
// none is named, and counts those that changed; an unknown mount point
// changes nothing.
func setFrozen(frozen *[2]bool, mountpoints []string, to bool) (int32, error) {
	next := *frozen
	var n int32
	if len(mountpoints) == 0 {
		mountpoints = []string{"/", "/boot"}
	}
	for _, m := range mountpoints {
		i := mountIndex(m)
		if i < 0 {
			return 0, noMountPoint(m)
		}
		if next[i] != to {
			next[i] = to
			n++
		}
	}
	*frozen = next
	return n, nil
}

// DomainFstrim accepts "/", "/boot" or every mount point
// (drivers.OpDomainFstrim).
func (c *conn) DomainFstrim(ctx context.Context, ref protocol.Domain, mountPoint *string, minimum uint64, flags uint32) error {
	if flags != 0 {
		return badFlags(flags, "testDomainFSTrim")
	}
	return c.running(ref, func(*domain) error {
		if mountPoint != nil && mountIndex(*mountPoint) < 0 {
			return noMountPoint(*mountPoint)
		}
		return nil
	})
}

// DomainGetFsinfo answers the two filesystems on the first disk
// (device disk) of the running domain, none without one
// (drivers.OpDomainGetFsinfo).
func (c *conn) DomainGetFsinfo(ctx context.Context, ref protocol.Domain, flags uint32) (*protocol.DomainGetFsinfoRet, error) {
	if flags != 0 {
		return nil, badFlags(flags, "testDomainGetFSInfo")
	}
	ret := &protocol.DomainGetFsinfoRet{Info: []protocol.DomainFsinfo{}}
	err := c.running(ref, func(dom *domain) error {
		if dom.live.XML.Devices == nil {
			return nil
		}
		for _, d := range dom.live.XML.Devices.Disks {
			if (d.Device == "" || d.Device == "disk") && d.Target != nil {
				name := d.Target.Dev
				ret.Info = []protocol.DomainFsinfo{
					{Mountpoint: "/", Name: name + "1", Fstype: "ext4", DevAliases: []string{name}},
					{Mountpoint: "/boot", Name: name + "2", Fstype: "ext4", DevAliases: []string{name}},
				}
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	ret.Ret = uint32(len(ret.Info))
	return ret, nil
}

// DomainGetBlockInfo answers libvirt's test driver's fixed sizes for a
// disk with a source (drivers.OpDomainGetBlockInfo).
func (c *conn) DomainGetBlockInfo(ctx context.Context, ref protocol.Domain, path string, flags uint32) (*protocol.DomainGetBlockInfoRet, error) {
	if flags != 0 {
		return nil, badFlags(flags, "testDomainGetBlockInfo")
	}
	err := c.drv.withDomain(ref, func(dom *domain) error {
		d := findDisk(dom.def(), path)
		if d == nil {
			return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "invalid path %s not assigned to domain", path)
		}
		if d.Source == nil || (d.Source.File != nil && d.Source.File.File == "") {
			return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "disk '%s' does not currently have a source assigned", path)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &protocol.DomainGetBlockInfoRet{Capacity: 1099506450432, Allocation: 1099511627776, Physical: 1099511627776}, nil
}

// diskErrorCodes is VIR_DOMAIN_DISK_ERROR_LAST - 1: the error codes
// other than none, which libvirt's test driver gives its disks in turn.
const diskErrorCodes = 2

// DomainGetDiskErrors answers an error for each disk of the running
// domain, up to maxerrors; maxerrors 0 asks how many disks there are
// (drivers.OpDomainGetDiskErrors).
func (c *conn) DomainGetDiskErrors(ctx context.Context, ref protocol.Domain, maxerrors uint32, flags uint32) (*protocol.DomainGetDiskErrorsRet, error) {
	if flags != 0 {
		return nil, badFlags(flags, "testDomainGetDiskErrors")
	}
	if maxerrors > protocol.RemoteDomainDiskErrorsMax {
		return nil, drivers.Errorf(vir.ErrInternalError, vir.FromRemote, "maxerrors too large: at most %d", protocol.RemoteDomainDiskErrorsMax)
	}
	ret := &protocol.DomainGetDiskErrorsRet{Errors: []protocol.DomainDiskError{}}
	err := c.running(ref, func(dom *domain) error {
		var disks []libvirtxml.DomainDisk
		if dom.live.XML.Devices != nil {
			disks = dom.live.XML.Devices.Disks
		}
		if maxerrors == 0 {
			ret.Nerrors = int32(len(disks))
			return nil
		}
		for i, d := range disks {
			if uint32(i) >= maxerrors {
				break
			}
			dev := ""
			if d.Target != nil {
				dev = d.Target.Dev
			}
			ret.Errors = append(ret.Errors, protocol.DomainDiskError{Disk: dev, Error: int32(i%diskErrorCodes + 1)})
		}
		ret.Nerrors = int32(len(ret.Errors))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ret, nil
}

// domainIfaces is what DomainInterfaceAddresses needs of one interface.
type domainIface struct {
	name, mac, network string
}

// DomainInterfaceAddresses answers one IPv4 address per interface of
// the running domain, as libvirt's test driver makes them up: for an
// interface on a network, the network's first DHCP address (its own
// address without a range) plus 20 × (domain id − 1) + the interface's
// position + 1, with the network's prefix; for any other interface
// 192.168.0.(position + 1)/24 (drivers.OpDomainInterfaceAddresses).
func (c *conn) DomainInterfaceAddresses(ctx context.Context, ref protocol.Domain, source uint32, flags uint32) ([]protocol.DomainInterface, error) {
	if flags != 0 {
		return nil, badFlags(flags, "testDomainInterfaceAddresses")
	}
	if source > uint32(vir.DomainInterfaceAddressesSrcArp) {
		return nil, drivers.Errorf(vir.ErrArgumentUnsupported, vir.FromTest, "Unknown IP address data source %d", source)
	}
	var ifaces []domainIface
	var id int32
	err := c.running(ref, func(dom *domain) error {
		id = dom.id
		if dom.live.XML.Devices == nil {
			return nil
		}
		for _, n := range dom.live.XML.Devices.Interfaces {
			var f domainIface
			if n.Target != nil {
				f.name = n.Target.Dev
			}
			if n.MAC != nil {
				f.mac = n.MAC.Address
			}
			if n.Source != nil && n.Source.Network != nil {
				f.network = n.Source.Network.Network
			}
			ifaces = append(ifaces, f)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The networks are read without the domain lock: they are another
	// concern's state.
	out := []protocol.DomainInterface{}
	for i, f := range ifaces {
		mac := f.mac
		di := protocol.DomainInterface{Name: f.name, Hwaddr: &mac}
		offset := uint32(20*(int(id)-1) + i + 1)
		if f.network == "" {
			di.Addrs = []protocol.DomainIPAddr{{Type: int32(vir.IPAddrTypeIpv4), Addr: "192.168.0." + uitoa(uint32(i)+1), Prefix: 24}}
		} else {
			a, err := c.networkAddress(ctx, f.network, offset)
			if err != nil {
				return nil, err
			}
			di.Addrs = []protocol.DomainIPAddr{a}
		}
		out = append(out, di)
	}
	return out, nil
}

// networkAddress is the address offset past the first DHCP address of
// the named network's first IP range, read from the test driver's own
// network concern.
func (c *conn) networkAddress(ctx context.Context, name string, offset uint32) (protocol.DomainIPAddr, error) {
	start, prefix, ipv6 := "", uint32(0), false
	{
		ref, err := c.NetworkLookupByName(ctx, name)
		if err != nil {
			return protocol.DomainIPAddr{}, err
		}
		doc, err := c.NetworkGetXMLDesc(ctx, ref, 0)
		if err != nil {
			return protocol.DomainIPAddr{}, err
		}
		var x libvirtxml.Network
		if err := x.Unmarshal(doc); err != nil {
			return protocol.DomainIPAddr{}, drivers.Errorf(vir.ErrInternalError, vir.FromTest, "network %s: cannot read its XML: %v", name, err)
		}
		if len(x.IPs) == 0 {
			return protocol.DomainIPAddr{}, drivers.Errorf(vir.ErrOperationInvalid, vir.FromTest, "network %s has no IP address to hand out", name)
		}
		ip := x.IPs[0]
		ipv6 = ip.Family == "ipv6"
		start = ip.Address
		if ip.DHCP != nil && len(ip.DHCP.Ranges) > 0 {
			start = ip.DHCP.Ranges[0].Start
		}
		prefix = uint32(ip.Prefix)
		if prefix == 0 && ip.Netmask != "" {
			ones, _ := net.IPMask(net.ParseIP(ip.Netmask).To4()).Size()
			prefix = uint32(ones)
		}
	}
	addr := net.ParseIP(start)
	if addr == nil {
		return protocol.DomainIPAddr{}, drivers.Errorf(vir.ErrInternalError, vir.FromTest, "network %s: bad address %q", name, start)
	}
	if ipv6 {
		a := addr.To16()
		a[15] += byte(offset)
		return protocol.DomainIPAddr{Type: int32(vir.IPAddrTypeIpv6), Addr: a.String(), Prefix: prefix}, nil
	}
	a := addr.To4()
	v := binary.BigEndian.Uint32(a) + offset
	out := make(net.IP, 4)
	binary.BigEndian.PutUint32(out, v)
	return protocol.DomainIPAddr{Type: int32(vir.IPAddrTypeIpv4), Addr: out.String(), Prefix: prefix}, nil
}

// DomainInjectNmi does nothing to a running domain (drivers.OpDomainInjectNmi).
func (c *conn) DomainInjectNmi(ctx context.Context, ref protocol.Domain, flags uint32) error {
	if flags != 0 {
		return badFlags(flags, "testDomainInjectNMI")
	}
	return c.running(ref, func(*domain) error { return nil })
}

// DomainSendKey accepts keys of a known codeset for a running domain
// (drivers.OpDomainSendKey). libvirt checks each key code against the
// codeset's key map; govirtd checks the codeset only.
func (c *conn) DomainSendKey(ctx context.Context, ref protocol.Domain, codeset, holdtime uint32, keycodes []uint32, flags uint32) error {
	if flags != 0 {
		return badFlags(flags, "testDomainSendKey")
	}
	if codeset > 9 { // VIR_KEYCODE_SET_QNUM, the last
		return drivers.Errorf(vir.ErrInternalError, vir.FromTest, "invalid keycode set %d", codeset)
	}
	return c.running(ref, func(*domain) error { return nil })
}

// DomainSendProcessSignal accepts a known signal for pid 1 of any
// domain (drivers.OpDomainSendProcessSignal).
func (c *conn) DomainSendProcessSignal(ctx context.Context, ref protocol.Domain, pid int64, signum uint32, flags uint32) error {
	if flags != 0 {
		return badFlags(flags, "testDomainSendProcessSignal")
	}
	if pid != 1 {
		return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "only sending a signal to pid 1 is supported")
	}
	if signum >= uint32(vir.DomainProcessSignalRt32)+1 {
		return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "signum value %d is out of range", signum)
	}
	return c.drv.withDomain(ref, func(*domain) error { return nil })
}

// DomainSetUserPassword accepts any user and password for a running
// domain (drivers.OpDomainSetUserPassword).
func (c *conn) DomainSetUserPassword(ctx context.Context, ref protocol.Domain, user, password *string, flags uint32) error {
	if flags&^uint32(vir.DomainPasswordEncrypted) != 0 {
		return badFlags(flags, "testDomainSetUserPassword")
	}
	return c.running(ref, func(*domain) error { return nil })
}

// DomainSetTime sets the running domain's guest clock, which
// DomainGetTime then answers (drivers.OpDomainSetTime).
func (c *conn) DomainSetTime(ctx context.Context, ref protocol.Domain, seconds int64, nseconds uint32, flags uint32) error {
	if flags&^uint32(vir.DomainTimeSync) != 0 {
		return badFlags(flags, "testDomainSetTime")
	}
	return c.running(ref, func(dom *domain) error {
		r := &c.drv.ext(dom).run
		r.clockSet, r.clockSec, r.clockNsec = true, seconds, nseconds
		return nil
	})
}

// DomainIsUpdated answers no, as libvirt's test driver always does
// (drivers.OpDomainIsUpdated).
func (c *conn) DomainIsUpdated(ctx context.Context, ref protocol.Domain) (int32, error) {
	return 0, c.drv.withDomain(ref, func(*domain) error { return nil })
}

// DomainGetMessages answers no message: a test domain is never tainted
// nor uses deprecated features (drivers.OpDomainGetMessages).
func (c *conn) DomainGetMessages(ctx context.Context, ref protocol.Domain, flags uint32) ([]string, error) {
	if flags&^uint32(vir.DomainMessageDeprecation|vir.DomainMessageTainting) != 0 {
		return nil, badFlags(flags, "virDomainObjGetMessages")
	}
	return []string{}, c.drv.withDomain(ref, func(*domain) error { return nil })
}

// ConnectIsSecure answers yes, as libvirt's test driver does
// (drivers.OpConnectIsSecure).
func (c *conn) ConnectIsSecure(ctx context.Context) (int32, error) { return 1, nil }

// coreDumpMagic is what a test core dump holds: libvirt's test driver
// writes its save magic with its terminating NUL.
const coreDumpMagic = "TestGuestMagic\x00"

// DomainCoreDump writes a raw dump of a running domain
// (drivers.OpDomainCoreDump).
func (c *conn) DomainCoreDump(ctx context.Context, ref protocol.Domain, to string, flags uint32) error {
	return c.DomainCoreDumpWithFormat(ctx, ref, to, uint32(vir.DomainCoreDumpFormatRaw), flags)
}

// DomainCoreDumpWithFormat writes the test dump to the file to (mode
// 0600), then refuses any format but raw as libvirt's test driver does,
// the file written; with VIR_DUMP_CRASH the domain then stops as
// crashed, raising Stopped Crashed. The file is written without the
// driver's lock (drivers.OpDomainCoreDumpWithFormat).
func (c *conn) DomainCoreDumpWithFormat(ctx context.Context, ref protocol.Domain, to string, format uint32, flags uint32) error {
	if flags&^uint32(vir.DumpCrash) != 0 {
		return badFlags(flags, "testDomainCoreDumpWithFormat")
	}
	var id int32
	if err := c.running(ref, func(dom *domain) error { id = dom.id; return nil }); err != nil {
		return err
	}
	if err := writeDump(ref.Name, to); err != nil {
		return err
	}
	if format != uint32(vir.DomainCoreDumpFormatRaw) {
		return drivers.Errorf(vir.ErrOperationUnsupported, vir.FromTest, "kdump-compressed format is not supported here")
	}
	if flags&uint32(vir.DumpCrash) == 0 {
		return nil
	}
	d := c.drv
	return d.withDomain(ref, func(dom *domain) error {
		if !dom.active() || dom.id != id {
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromTest, "domain '%s' stopped or restarted while its core was dumped", ref.Name)
		}
		d.stop(dom, vir.DomainShutoffCrashed)
		d.emit(dom, vir.DomainEventStopped, int32(vir.DomainEventStoppedCrashed))
		return nil
	})
}

func writeDump(name, to string) error {
	f, err := os.OpenFile(to, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return drivers.Errorf(vir.ErrSystemError, vir.FromTest, "domain '%s' coredump: failed to open %s: %s", name, to, sysMsg(err))
	}
	if _, err := f.WriteString(coreDumpMagic); err != nil {
		f.Close()
		return drivers.Errorf(vir.ErrSystemError, vir.FromTest, "domain '%s' coredump: failed to write header to %s: %s", name, to, sysMsg(err))
	}
	if err := f.Close(); err != nil {
		return drivers.Errorf(vir.ErrSystemError, vir.FromTest, "domain '%s' coredump: write failed: %s: %s", name, to, sysMsg(err))
	}
	return nil
}

// sysMsg is err's system message, capitalised as strerror's.
func sysMsg(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		err = pe.Err
	}
	s := err.Error()
	if s != "" {
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	return s
}

// ConnectSupportsFeature answers the driver features of libvirt's test
// driver: typed string parameters and the corrected order of
// virNetworkUpdate's arguments (drivers.OpConnectSupportsFeature).
// The daemon answers the transport features itself.
func (c *conn) ConnectSupportsFeature(ctx context.Context, feature int32) (int32, error) {
	switch protocol.DrvFeature(feature) {
	case protocol.DrvFeatureTypedParamString, protocol.DrvFeatureNetworkUpdateHasCorrectOrder:
		return 1, nil
	}
	return 0, nil
}

// DomainSetMemoryStatsPeriod sets how often the balloon of the
// definition flags designate collects statistics; a definition without
// a balloon refuses (drivers.OpDomainSetMemoryStatsPeriod).
func (c *conn) DomainSetMemoryStatsPeriod(ctx context.Context, ref protocol.Domain, period int32, flags uint32) error {
	if flags&^(affectLive|affectConfig) != 0 {
		return badFlags(flags, "testDomainSetMemoryStatsPeriod")
	}
	return c.drv.withDomain(ref, func(dom *domain) error {
		def, _, err := oneDef(dom, flags)
		if err != nil {
			return err
		}
		var b *libvirtxml.DomainMemBalloon
		if def.XML.Devices != nil {
			b = def.XML.Devices.MemBalloon
		}
		if b == nil || b.Model == "none" {
			return drivers.Errorf(vir.ErrInternalError, vir.FromTest, "No memory balloon device configured, can not set the collection period")
		}
		if period <= 0 {
			b.Stats = nil
		} else {
			b.Stats = &libvirtxml.DomainMemBalloonStats{Period: uint(period)}
		}
		return nil
	})
}
