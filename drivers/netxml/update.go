package netxml

import (
	"encoding/xml"
	"errors"
	"io"
	"net"
	"strings"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/vir"
)

// The sections of virNetworkUpdate, as libvirt's network XML code changes
// them: DHCP hosts (add first or last, modify, delete) and DHCP ranges
// (add, delete) are changed; bridge, domain, ip, forward and forward pf
// are refused as libvirt refuses them; forward interfaces, port groups
// and DNS entries are not served yet (VIR_ERR_NO_SUPPORT).

// UpdateSection applies one virNetworkUpdate command to def.
func UpdateSection(def *libvirtxml.Network, cmd vir.NetworkUpdateCommand, section vir.NetworkUpdateSection, parentIndex int, doc string) error {
	root, err := rootElement(doc)
	if err != nil {
		return err
	}
	unsupported := func(name string) error {
		return drivers.Errorf(vir.ErrOperationUnsupported, vir.FromNetwork, "can't update '%s' section of network '%s'", name, def.Name)
	}
	switch section {
	case vir.NetworkSectionBridge:
		return unsupported("bridge")
	case vir.NetworkSectionDomain:
		return unsupported("domain")
	case vir.NetworkSectionIP:
		return unsupported("ip")
	case vir.NetworkSectionForward:
		return unsupported("forward")
	case vir.NetworkSectionForwardPf:
		return unsupported("forward pf")
	case vir.NetworkSectionIPDhcpHost:
		return updateDHCPHost(def, cmd, parentIndex, root, doc)
	case vir.NetworkSectionIPDhcpRange:
		return updateDHCPRange(def, cmd, parentIndex, root, doc)
	case vir.NetworkSectionForwardInterface, vir.NetworkSectionPortgroup,
		vir.NetworkSectionDnsHost, vir.NetworkSectionDnsTxt, vir.NetworkSectionDnsSrv:
		return drivers.Errorf(vir.ErrNoSupport, vir.FromNetwork, "virNetworkUpdate of section %d", section)
	}
	return drivers.Errorf(vir.ErrOperationUnsupported, vir.FromNetwork, "can't update unrecognized section of network")
}

// rootElement is the name of doc's root element, or the XML error.
func rootElement(doc string) (string, error) {
	dec := xml.NewDecoder(strings.NewReader(doc))
	root := ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", drivers.Errorf(vir.ErrXMLDetail, vir.FromNetwork, "(network_update_xml): %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
			if err := dec.Skip(); err != nil {
				return "", drivers.Errorf(vir.ErrXMLDetail, vir.FromNetwork, "(network_update_xml): %v", err)
			}
		}
	}
	if root == "" {
		return "", drivers.Errorf(vir.ErrXMLDetail, vir.FromNetwork, "(network_update_xml): no root element")
	}
	return root, nil
}

func checkElement(def *libvirtxml.Network, root, want string) error {
	if root != want {
		return drivers.Errorf(vir.ErrXMLError, vir.FromNetwork,
			"unexpected element <%s>, expecting <%s>, while updating network '%s'", root, want, def.Name)
	}
	return nil
}

// ipByIndex is the <ip> element a DHCP change works on: the one at
// parentIndex, or for -1 the first with DHCP ranges or hosts, else the
// first IPv4 one, else the first IPv6 one.
func ipByIndex(def *libvirtxml.Network, parentIndex int) (*libvirtxml.NetworkIP, error) {
	if parentIndex >= 0 {
		if parentIndex < len(def.IPs) {
			return &def.IPs[parentIndex], nil
		}
		return nil, drivers.Errorf(vir.ErrOperationInvalid, vir.FromNetwork,
			"couldn't update dhcp host entry - no <ip> element found at index %d in network '%s'", parentIndex, def.Name)
	}
	for i := range def.IPs {
		if d := def.IPs[i].DHCP; d != nil && (len(d.Ranges) > 0 || len(d.Hosts) > 0) {
			return &def.IPs[i], nil
		}
	}
	for _, v4 := range []bool{true, false} {
		for i := range def.IPs {
			if IsV4(def.IPs[i].Address) == v4 {
				return &def.IPs[i], nil
			}
		}
	}
	return nil, drivers.Errorf(vir.ErrOperationInvalid, vir.FromNetwork,
		"couldn't update dhcp host entry - no <ip> element found in network '%s'", def.Name)
}

// checkMultiDHCP refuses DHCP on a second <ip> of the same family.
func checkMultiDHCP(def *libvirtxml.Network, ip *libvirtxml.NetworkIP) error {
	v4 := IsV4(ip.Address)
	for i := range def.IPs {
		other := &def.IPs[i]
		if other == ip || IsV4(other.Address) != v4 {
			continue
		}
		if d := other.DHCP; d != nil && (len(d.Ranges) > 0 || len(d.Hosts) > 0) {
			family := "IPv6"
			if v4 {
				family = "IPv4"
			}
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromNetwork,
				"dhcp is supported only for a single %s address on each network", family)
		}
	}
	return nil
}

func sameMAC(a, b string) bool {
	x, err1 := net.ParseMAC(a)
	y, err2 := net.ParseMAC(b)
	return err1 == nil && err2 == nil && x.String() == y.String()
}

func sameIP(a, b string) bool {
	x, y := net.ParseIP(a), net.ParseIP(b)
	return x != nil && y != nil && x.Equal(y)
}

// orUnknown and orNull are how libvirt prints a host entry's missing mac
// and name in its messages.
func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func orNull(s string) string {
	if s == "" {
		return "(null)"
	}
	return s
}

func updateDHCPHost(def *libvirtxml.Network, cmd vir.NetworkUpdateCommand, parentIndex int, root, doc string) error {
	if err := checkElement(def, root, "host"); err != nil {
		return err
	}
	ip, err := ipByIndex(def, parentIndex)
	if err != nil {
		return err
	}
	var host libvirtxml.NetworkDHCPHost
	if err := xml.Unmarshal([]byte(doc), &host); err != nil {
		return drivers.Errorf(vir.ErrXMLError, vir.FromNetwork, "cannot read the host entry for network '%s': %v", def.Name, err)
	}
	partial := cmd == vir.NetworkUpdateCommandDelete
	if err := checkHost(def.Name, ip, &host, partial); err != nil {
		return err
	}
	if !partial && IsV4(ip.Address) != IsV4(host.IP) {
		return drivers.Errorf(vir.ErrOperationInvalid, vir.FromNetwork,
			"the address family of a host entry IP must match the address family of the dhcp element's parent")
	}
	if ip.DHCP == nil {
		ip.DHCP = &libvirtxml.NetworkDHCP{}
	}
	hosts := ip.DHCP.Hosts
	switch cmd {
	case vir.NetworkUpdateCommandModify:
		for i, h := range hosts {
			if (host.MAC != "" && h.MAC != "" && sameMAC(host.MAC, h.MAC)) ||
				(host.IP != "" && sameIP(host.IP, h.IP)) ||
				(host.Name != "" && host.Name == h.Name) {
				hosts[i] = host
				return nil
			}
		}
		return drivers.Errorf(vir.ErrOperationInvalid, vir.FromNetwork,
			`couldn't locate an existing dhcp host entry with "mac='%s'" "name='%s'" "ip='%s'" in network '%s'`,
			orUnknown(host.MAC), orNull(host.Name), orUnknown(host.IP), def.Name)
	case vir.NetworkUpdateCommandAddFirst, vir.NetworkUpdateCommandAddLast:
		if err := checkMultiDHCP(def, ip); err != nil {
			return err
		}
		for _, h := range hosts {
			if (host.MAC != "" && h.MAC != "" && sameMAC(host.MAC, h.MAC)) ||
				(host.Name != "" && host.Name == h.Name) ||
				(host.IP != "" && sameIP(host.IP, h.IP)) {
				return drivers.Errorf(vir.ErrOperationInvalid, vir.FromNetwork,
					`there is an existing dhcp host entry in network '%s' that matches "<host mac='%s' name='%s' ip='%s'/>"`,
					def.Name, orUnknown(host.MAC), orNull(host.Name), orUnknown(host.IP))
			}
		}
		if cmd == vir.NetworkUpdateCommandAddFirst {
			ip.DHCP.Hosts = append([]libvirtxml.NetworkDHCPHost{host}, hosts...)
		} else {
			ip.DHCP.Hosts = append(hosts, host)
		}
		return nil
	case vir.NetworkUpdateCommandDelete:
		for i, h := range hosts {
			if (host.MAC == "" || h.MAC == "" || sameMAC(host.MAC, h.MAC)) &&
				(host.Name == "" || host.Name == h.Name) &&
				(host.IP == "" || sameIP(host.IP, h.IP)) {
				ip.DHCP.Hosts = append(hosts[:i:i], hosts[i+1:]...)
				pruneDHCP(ip)
				return nil
			}
		}
		return drivers.Errorf(vir.ErrOperationInvalid, vir.FromNetwork,
			"couldn't locate a matching dhcp host entry in network '%s'", def.Name)
	}
	return unknownCommand(cmd)
}

func unknownCommand(cmd vir.NetworkUpdateCommand) error {
	return drivers.Errorf(vir.ErrOperationUnsupported, vir.FromNetwork, "unrecognized network update command code %d", cmd)
}

func updateDHCPRange(def *libvirtxml.Network, cmd vir.NetworkUpdateCommand, parentIndex int, root, doc string) error {
	if err := checkElement(def, root, "range"); err != nil {
		return err
	}
	ip, err := ipByIndex(def, parentIndex)
	if err != nil {
		return err
	}
	if cmd == vir.NetworkUpdateCommandModify {
		return drivers.Errorf(vir.ErrOperationUnsupported, vir.FromNetwork, "dhcp ranges cannot be modified, only added or deleted")
	}
	var r libvirtxml.NetworkDHCPRange
	if err := xml.Unmarshal([]byte(doc), &r); err != nil {
		return drivers.Errorf(vir.ErrXMLError, vir.FromNetwork, "cannot read the dhcp range for network '%s': %v", def.Name, err)
	}
	if err := checkRange(def.Name, ip, &r); err != nil {
		return err
	}
	if IsV4(ip.Address) != IsV4(r.Start) {
		return drivers.Errorf(vir.ErrOperationInvalid, vir.FromNetwork,
			"the address family of a dhcp range must match the address family of the dhcp element's parent")
	}
	if ip.DHCP == nil {
		ip.DHCP = &libvirtxml.NetworkDHCP{}
	}
	ranges := ip.DHCP.Ranges
	found := -1
	for i, x := range ranges {
		if sameIP(x.Start, r.Start) && sameIP(x.End, r.End) {
			found = i
			break
		}
	}
	switch cmd {
	case vir.NetworkUpdateCommandAddFirst, vir.NetworkUpdateCommandAddLast:
		if err := checkMultiDHCP(def, ip); err != nil {
			return err
		}
		if found >= 0 {
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromNetwork,
				`there is an existing dhcp range entry in network '%s' that matches "<range start='%s' end='%s'/>"`,
				def.Name, r.Start, r.End)
		}
		if cmd == vir.NetworkUpdateCommandAddFirst {
			ip.DHCP.Ranges = append([]libvirtxml.NetworkDHCPRange{r}, ranges...)
		} else {
			ip.DHCP.Ranges = append(ranges, r)
		}
		return nil
	case vir.NetworkUpdateCommandDelete:
		if found < 0 {
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromNetwork,
				"couldn't locate a matching dhcp range entry in network '%s'", def.Name)
		}
		ip.DHCP.Ranges = append(ranges[:found:found], ranges[found+1:]...)
		pruneDHCP(ip)
		return nil
	}
	return unknownCommand(cmd)
}
