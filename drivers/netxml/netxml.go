// Package netxml is libvirt's network XML as govirtd's network-serving
// drivers (the test driver's network concern, the network driver) read,
// check, normalise and update it: libvirtxml's types with libvirt's
// defaults, its validation messages, and virNetworkUpdate's section
// edits.
package netxml

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/vir"
)

// Copy is a deep copy of def, through its XML.
func Copy(def *libvirtxml.Network) *libvirtxml.Network {
	s, err := def.Marshal()
	if err != nil {
		panic("netxml: network definition does not format: " + err.Error())
	}
	var cp libvirtxml.Network
	if err := cp.Unmarshal(s); err != nil {
		panic("netxml: network definition does not parse back: " + err.Error())
	}
	return &cp
}

// xmlErr is VIR_ERR_XML_ERROR in the network domain, as libvirt's
// network XML parser reports it.
func xmlErr(format string, args ...any) error {
	return drivers.Errorf(vir.ErrXMLError, vir.FromNetwork, format, args...)
}

// ForwardModes are the forward modes libvirt 9.0 knows; hasBridge says
// whether networks of the mode have a bridge of their own (and so always
// show <bridge> with its stp and delay).
var ForwardModes = map[string]bool{
	"": true, "nat": true, "route": true, "open": true,
	"bridge": false, "private": false, "vepa": false, "passthrough": false, "hostdev": false,
}

// Parse reads network XML as libvirt's parser does, with its
// defaults filled in so that the XML formatted back is libvirt's: a UUID
// when none is given, forward mode nat for a bare <forward/>, stp and
// delay on the bridge of a network that has one, addresses in their
// canonical form.
func Parse(doc string) (*libvirtxml.Network, drivers.UUID, error) {
	var def libvirtxml.Network
	if err := def.Unmarshal(doc); err != nil {
		return nil, drivers.UUID{}, drivers.Errorf(vir.ErrXMLError, vir.FromNetwork, "(network_definition): %v", err)
	}
	if def.Name == "" {
		return nil, drivers.UUID{}, &drivers.Error{Code: vir.ErrNoName, Domain: vir.FromNetwork,
			Message: "missing name information", Template: "missing name information"}
	}
	if strings.Contains(def.Name, "/") {
		return nil, drivers.UUID{}, drivers.Errorf(vir.ErrXMLDetail, vir.FromNetwork, "invalid char in name: /")
	}
	var uuid drivers.UUID
	if def.UUID == "" {
		uuid = domxml.NewUUID()
	} else {
		u, err := drivers.ParseUUID(def.UUID)
		if err != nil {
			return nil, drivers.UUID{}, drivers.Errorf(vir.ErrInternalError, vir.FromNetwork, "malformed uuid element")
		}
		uuid = u
	}
	def.UUID = uuid.String()

	mode := ""
	if def.Forward != nil {
		mode = def.Forward.Mode
		if mode == "" {
			mode = "nat"
		}
		if _, ok := ForwardModes[mode]; !ok {
			return nil, drivers.UUID{}, xmlErr("unknown forwarding type '%s'", mode)
		}
		def.Forward.Mode = mode
		if n := def.Forward.NAT; n != nil && n.IPv6 == "" && len(n.Addresses) == 0 && len(n.Ports) == 0 {
			def.Forward.NAT = nil
		}
	}
	if ForwardModes[mode] {
		if def.Bridge == nil {
			def.Bridge = &libvirtxml.NetworkBridge{}
		}
		if def.Bridge.STP == "off" {
			def.Bridge.STP = "off"
		} else {
			def.Bridge.STP = "on"
		}
		if def.Bridge.Delay == "" {
			def.Bridge.Delay = "0"
		} else if d, err := strconv.ParseUint(def.Bridge.Delay, 10, 64); err != nil {
			return nil, drivers.UUID{}, xmlErr("Invalid delay value in network '%s'", def.Name)
		} else {
			def.Bridge.Delay = strconv.FormatUint(d, 10)
		}
	} else if def.Bridge != nil {
		def.Bridge.STP, def.Bridge.Delay = "", ""
		if *def.Bridge == (libvirtxml.NetworkBridge{}) {
			def.Bridge = nil
		}
	}
	if def.MAC != nil && def.MAC.Address != "" {
		hw, err := ParseMAC(def.MAC.Address)
		if err != nil {
			return nil, drivers.UUID{}, xmlErr("Invalid bridge mac address '%s' in network '%s'", def.MAC.Address, def.Name)
		}
		if hw[0]&1 != 0 {
			return nil, drivers.UUID{}, xmlErr("Invalid multicast bridge mac address '%s' in network '%s'", def.MAC.Address, def.Name)
		}
		def.MAC.Address = hw.String()
	}
	for i := range def.IPs {
		if err := normalizeIP(def.Name, &def.IPs[i]); err != nil {
			return nil, drivers.UUID{}, err
		}
	}
	return &def, uuid, nil
}

func ParseMAC(s string) (net.HardwareAddr, error) {
	hw, err := net.ParseMAC(s)
	if err == nil && len(hw) != 6 {
		err = fmt.Errorf("not a 48-bit MAC address")
	}
	return hw, err
}

// canonicalIP is s in libvirt's format of an address, or false when s is
// not one.
func canonicalIP(s string) (string, bool) {
	ip := net.ParseIP(s)
	if ip == nil {
		return "", false
	}
	return ip.String(), true
}

func normalizeIP(network string, ip *libvirtxml.NetworkIP) error {
	if ip.Address != "" {
		a, ok := canonicalIP(ip.Address)
		if !ok {
			return xmlErr("Invalid address '%s' in network '%s'", ip.Address, network)
		}
		ip.Address = a
	}
	if ip.Netmask != "" {
		m, ok := canonicalIP(ip.Netmask)
		if !ok {
			return xmlErr("Invalid netmask '%s' in network '%s'", ip.Netmask, network)
		}
		ip.Netmask = m
	}
	if ip.DHCP == nil {
		return nil
	}
	for i := range ip.DHCP.Ranges {
		r := &ip.DHCP.Ranges[i]
		if err := checkRange(network, ip, r); err != nil {
			return err
		}
	}
	for i := range ip.DHCP.Hosts {
		if err := checkHost(network, ip, &ip.DHCP.Hosts[i], false); err != nil {
			return err
		}
	}
	pruneDHCP(ip)
	return nil
}

// pruneDHCP drops a <dhcp> with neither range nor host, which libvirt
// does not format.
func pruneDHCP(ip *libvirtxml.NetworkIP) {
	if ip.DHCP != nil && len(ip.DHCP.Ranges) == 0 && len(ip.DHCP.Hosts) == 0 {
		ip.DHCP = nil
	}
}

// normalizeLease gives a lease libvirt's unit: none for expiry 0 (never
// expires), minutes when not given.
func normalizeLease(l *libvirtxml.NetworkDHCPLease) error {
	switch {
	case l == nil:
	case l.Expiry == 0:
		l.Unit = ""
	case l.Unit == "":
		l.Unit = "minutes"
	case l.Unit != "seconds" && l.Unit != "minutes" && l.Unit != "hours":
		return xmlErr("Invalid value for attribute 'unit' in element 'lease': '%s'", l.Unit)
	}
	return nil
}

// Prefix is the prefix length of the <ip> element: its prefix, else
// its netmask's, else the address class's default (as libvirt's
// virNetworkIPDefPrefix).
func Prefix(ip *libvirtxml.NetworkIP) int {
	if ip.Prefix > 0 {
		return int(ip.Prefix)
	}
	addr := net.ParseIP(ip.Address)
	if ip.Netmask != "" {
		if m := net.ParseIP(ip.Netmask); m != nil {
			if v4 := m.To4(); v4 != nil {
				m = v4
			}
			ones, bits := net.IPMask(m).Size()
			if bits > 0 {
				return ones
			}
		}
		return -1
	}
	if v4 := addr.To4(); v4 != nil {
		switch {
		case v4[0] < 128:
			return 8
		case v4[0] < 192:
			return 16
		case v4[0] < 224:
			return 24
		}
		return -1
	}
	return 64
}

func IsV4(s string) bool {
	ip := net.ParseIP(s)
	return ip != nil && ip.To4() != nil
}

// checkRange checks and normalises a DHCP range of ip as libvirt does:
// both ends given, addresses of ip's family within its network, in order.
func checkRange(network string, ip *libvirtxml.NetworkIP, r *libvirtxml.NetworkDHCPRange) error {
	if r.Start == "" {
		return xmlErr("Missing 'start' attribute in dhcp range for network '%s'", network)
	}
	start := net.ParseIP(r.Start)
	if start == nil {
		return xmlErr("Cannot parse address '%s'", r.Start)
	}
	if r.End == "" {
		return xmlErr("Missing 'end' attribute in dhcp range for network '%s'", network)
	}
	end := net.ParseIP(r.End)
	if end == nil {
		return xmlErr("Cannot parse address '%s'", r.End)
	}
	r.Start, r.End = start.String(), end.String()
	if err := normalizeLease(r.Lease); err != nil {
		return err
	}
	if (start.To4() == nil) != (end.To4() == nil) {
		return drivers.Errorf(vir.ErrInternalError, vir.FromNetwork, "mismatch of address family in range %s - %s", r.Start, r.End)
	}
	if addr := net.ParseIP(ip.Address); addr != nil {
		prefix := Prefix(ip)
		bits := 128
		if addr.To4() != nil {
			addr, bits = addr.To4(), 32
		}
		if (start.To4() == nil) != (bits == 128) {
			return drivers.Errorf(vir.ErrInternalError, vir.FromNetwork, "mismatch of address family in range %s - %s for network %s", r.Start, r.End, ip.Address)
		}
		if prefix < 0 || prefix > bits {
			return drivers.Errorf(vir.ErrInternalError, vir.FromNetwork, "bad prefix %d for network %s when  checking range %s - %s", prefix, ip.Address, r.Start, r.End)
		}
		subnet := &net.IPNet{IP: addr.Mask(net.CIDRMask(prefix, bits)), Mask: net.CIDRMask(prefix, bits)}
		if !subnet.Contains(start) || !subnet.Contains(end) {
			return drivers.Errorf(vir.ErrInternalError, vir.FromNetwork, "range %s - %s is not entirely within network %s/%d", r.Start, r.End, ip.Address, prefix)
		}
	}
	a, b := start.To16(), end.To16()
	for i := range a {
		if a[i] != b[i] {
			if a[i] > b[i] {
				return drivers.Errorf(vir.ErrInternalError, vir.FromNetwork, "range %s - %s is reversed ", r.Start, r.End)
			}
			break
		}
	}
	return nil
}

// checkHost checks and normalises a DHCP host entry of ip as libvirt's
// parser does; partial (a delete's pattern) needs only one of mac, name
// and ip.
func checkHost(network string, ip *libvirtxml.NetworkIP, h *libvirtxml.NetworkDHCPHost, partial bool) error {
	v6 := ip.Address != "" && !IsV4(ip.Address)
	if h.MAC != "" {
		if v6 {
			return xmlErr("Invalid to specify MAC address '%s' in network '%s' IPv6 static host definition", h.MAC, network)
		}
		hw, err := ParseMAC(h.MAC)
		if err != nil {
			return xmlErr("Cannot parse MAC address '%s' in network '%s'", h.MAC, network)
		}
		if hw[0]&1 != 0 {
			return xmlErr("expected unicast mac address, found multicast '%s' in network '%s'", h.MAC, network)
		}
	}
	if h.ID != "" {
		if i := strings.IndexFunc(h.ID, func(r rune) bool { return !strings.ContainsRune("0123456789abcdefABCDEF:", r) }); i >= 0 {
			return xmlErr("Invalid character '%c' in id '%s' of network '%s'", h.ID[i], h.ID, network)
		}
	}
	if h.Name != "" {
		if c := h.Name[0]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return xmlErr("Cannot use host name '%s' in network '%s'", h.Name, network)
		}
	}
	if h.IP != "" {
		a, ok := canonicalIP(h.IP)
		if !ok {
			return xmlErr("Invalid IP address in static host definition for network '%s'", network)
		}
		h.IP = a
	}
	if err := normalizeLease(h.Lease); err != nil {
		return err
	}
	switch {
	case partial:
		if h.MAC == "" && h.Name == "" && h.IP == "" {
			return xmlErr("At least one of name, mac, or ip attribute must be specified for static host definition in network '%s' ", network)
		}
	case v6 && h.ID == "" && h.Name == "":
		return xmlErr("Static host definition in IPv6 network '%s' must have id or name attribute", network)
	case !v6 && h.MAC == "" && h.Name == "":
		return xmlErr("Static host definition in IPv4 network '%s' must have mac or name attribute", network)
	case h.IP == "":
		return xmlErr("Missing IP address in static host definition for network '%s'", network)
	}
	return nil
}
