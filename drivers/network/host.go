package network

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"

	"github.com/vishvananda/netlink"
	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/netxml"
	"github.com/govirt/govirtd/vir"
)

// The host side of a network: its bridge and addresses (netlink, through
// vishvananda/netlink: typed link and address calls, no ip(8) to fork
// and parse), forwarding, and its nftables table (nft -f, one atomic
// transaction per change; the same nft an operator inspects it with).

// mode is the network's forward mode, "" for an isolated network.
func mode(def *libvirtxml.Network) string {
	if def.Forward == nil {
		return ""
	}
	return def.Forward.Mode
}

// ownBridge says whether the driver makes the network's bridge: isolated,
// nat, route and open networks have one of their own.
func ownBridge(def *libvirtxml.Network) bool { return netxml.ForwardModes[mode(def)] }

func bridgeName(def *libvirtxml.Network) string {
	if def.Bridge == nil {
		return ""
	}
	return def.Bridge.Name
}

func failed(format string, args ...any) error {
	return drivers.Errorf(vir.ErrOperationFailed, vir.FromNetwork, format, args...)
}

// subnet is one <ip> of the network as an address on the bridge.
type subnet struct {
	ip  *libvirtxml.NetworkIP
	net *net.IPNet // the address with its prefix
}

func (s subnet) v4() bool { return s.net.IP.To4() != nil }

// network is the masked network, as nft and routes write it.
func (s subnet) network() *net.IPNet {
	return &net.IPNet{IP: s.net.IP.Mask(s.net.Mask), Mask: s.net.Mask}
}

func subnets(def *libvirtxml.Network) ([]subnet, error) {
	var out []subnet
	for i := range def.IPs {
		ip := &def.IPs[i]
		addr := net.ParseIP(ip.Address)
		if addr == nil {
			return nil, drivers.Errorf(vir.ErrConfigUnsupported, vir.FromNetwork,
				"<ip> %d of network '%s' has no address: the driver needs the bridge's own address", i+1, def.Name)
		}
		bits := 128
		if v4 := addr.To4(); v4 != nil {
			addr, bits = v4, 32
		}
		prefix := netxml.Prefix(ip)
		if prefix < 0 || prefix > bits {
			return nil, drivers.Errorf(vir.ErrConfigUnsupported, vir.FromNetwork,
				"<ip address='%s'> of network '%s' has no usable prefix or netmask", ip.Address, def.Name)
		}
		out = append(out, subnet{ip: ip, net: &net.IPNet{IP: addr, Mask: net.CIDRMask(prefix, bits)}})
	}
	return out, nil
}

// checkFree refuses a network whose bridge exists already or whose
// subnets are routed through another interface, before anything is made.
func checkFree(def *libvirtxml.Network, subs []subnet) error {
	br := bridgeName(def)
	if _, err := netlink.LinkByName(br); err == nil {
		return failed("cannot start network '%s': bridge name '%s' is already in use by another interface: choose another <bridge name>, or remove that interface", def.Name, br)
	}
	for _, s := range subs {
		family := netlink.FAMILY_V6
		if s.v4() {
			family = netlink.FAMILY_V4
		}
		routes, err := netlink.RouteList(nil, family)
		if err != nil {
			return failed("cannot start network '%s': cannot list the host's routes: %v", def.Name, err)
		}
		want := s.network()
		for _, r := range routes {
			if r.Dst == nil || r.Dst.IP.IsUnspecified() {
				continue // the default route overlaps everything
			}
			if r.Dst.Contains(want.IP) || want.Contains(r.Dst.IP) {
				dev := fmt.Sprintf("index %d", r.LinkIndex)
				if l, err := netlink.LinkByIndex(r.LinkIndex); err == nil {
					dev = l.Attrs().Name
				}
				return failed("cannot start network '%s': its network %s is already in use by interface %s (route %s): choose another <ip> address",
					def.Name, want, dev, r.Dst)
			}
		}
	}
	return nil
}

// makeBridge creates the bridge, gives it the network's MAC, MTU and
// addresses and sets it up.
func makeBridge(def *libvirtxml.Network, subs []subnet) error {
	br := &netlink.Bridge{LinkAttrs: netlink.NewLinkAttrs()}
	br.Name = bridgeName(def)
	if def.MTU != nil && def.MTU.Size > 0 {
		br.MTU = int(def.MTU.Size)
	}
	if def.MAC != nil && def.MAC.Address != "" {
		hw, err := net.ParseMAC(def.MAC.Address)
		if err == nil {
			br.HardwareAddr = hw
		}
	}
	if err := netlink.LinkAdd(br); err != nil {
		return failed("cannot create bridge '%s' of network '%s': %v", br.Name, def.Name, err)
	}
	for _, s := range subs {
		addr := &netlink.Addr{IPNet: s.net}
		if s.v4() {
			addr.Broadcast = broadcast(s.net)
		}
		if err := netlink.AddrAdd(br, addr); err != nil {
			return failed("cannot add address %s to bridge '%s' of network '%s': %v", s.net, br.Name, def.Name, err)
		}
	}
	if err := netlink.LinkSetUp(br); err != nil {
		return failed("cannot set bridge '%s' of network '%s' up: %v", br.Name, def.Name, err)
	}
	return nil
}

func broadcast(n *net.IPNet) net.IP {
	ip := n.IP.To4()
	out := make(net.IP, 4)
	for i := range ip {
		out[i] = ip[i] | ^n.Mask[i]
	}
	return out
}

// deleteBridge removes the network's bridge; one already gone is fine.
func deleteBridge(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return err
	}
	return netlink.LinkDel(l)
}

// enableForwarding turns on IPv4 (and for IPv6 subnets IPv6) forwarding
// for a nat or route network. It is never turned off: other networks
// or the host's own configuration may need it.
func enableForwarding(def *libvirtxml.Network, subs []subnet) error {
	if m := mode(def); m != "nat" && m != "route" {
		return nil
	}
	for _, s := range subs {
		path := "/proc/sys/net/ipv6/conf/all/forwarding"
		if s.v4() {
			path = "/proc/sys/net/ipv4/ip_forward"
		}
		if err := os.WriteFile(path, []byte("1\n"), 0o644); err != nil {
			return failed("cannot enable forwarding for network '%s': %v (%s)", def.Name, err, path)
		}
	}
	return nil
}

// tableName is the network's nftables table: one per network, of the
// inet family, named after its bridge.
func tableName(def *libvirtxml.Network) string { return "govirtd-" + bridgeName(def) }

// ruleset is the nft script that replaces the network's table with its
// rules, as libvirt's firewall rules for the mode: a nat network lets
// its guests out (masqueraded) and only replies in, a route network
// forwards both ways, an isolated network forwards only between its own
// guests, and an open network gets no rules at all ("" here).
func ruleset(def *libvirtxml.Network, subs []subnet) string {
	m := mode(def)
	if m == "open" {
		return ""
	}
	br := bridgeName(def)
	t := tableName(def)
	var b strings.Builder
	// Creating, deleting and re-creating the table in one transaction
	// replaces whatever a previous run left.
	fmt.Fprintf(&b, "table inet %s {}\ndelete table inet %s\ntable inet %s {\n", t, t, t)
	out := ""
	if def.Forward != nil && def.Forward.Dev != "" {
		out = fmt.Sprintf(" oifname %q", def.Forward.Dev)
	}
	in := ""
	if out != "" {
		in = fmt.Sprintf("iifname %q ", def.Forward.Dev)
	}
	b.WriteString("\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n")
	fmt.Fprintf(&b, "\t\tiifname %q oifname %q accept\n", br, br)
	for _, s := range subs {
		fam := "ip6"
		if s.v4() {
			fam = "ip"
		}
		n := s.network()
		switch m {
		case "nat":
			if !s.v4() && (def.Forward.NAT == nil || def.Forward.NAT.IPv6 != "yes") {
				// IPv6 of a nat network is routed, as libvirt does.
				fmt.Fprintf(&b, "\t\tiifname %q%s %s saddr %s accept\n", br, out, fam, n)
				fmt.Fprintf(&b, "\t\t%soifname %q %s daddr %s accept\n", in, br, fam, n)
				continue
			}
			fmt.Fprintf(&b, "\t\tiifname %q%s %s saddr %s accept\n", br, out, fam, n)
			fmt.Fprintf(&b, "\t\t%soifname %q %s daddr %s ct state related,established accept\n", in, br, fam, n)
		case "route":
			fmt.Fprintf(&b, "\t\tiifname %q%s %s saddr %s accept\n", br, out, fam, n)
			fmt.Fprintf(&b, "\t\t%soifname %q %s daddr %s accept\n", in, br, fam, n)
		}
	}
	fmt.Fprintf(&b, "\t\tiifname %q reject\n\t\toifname %q reject\n\t}\n", br, br)
	if m == "nat" {
		b.WriteString("\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n")
		for _, s := range subs {
			if !s.v4() && (def.Forward.NAT == nil || def.Forward.NAT.IPv6 != "yes") {
				continue
			}
			fam, mcast, bcast := "ip6", "ff02::/16", ""
			if s.v4() {
				fam, mcast, bcast = "ip", "224.0.0.0/24", "255.255.255.255"
			}
			n := s.network()
			fmt.Fprintf(&b, "\t\t%s saddr %s %s daddr %s return\n", fam, n, fam, mcast)
			if bcast != "" {
				fmt.Fprintf(&b, "\t\t%s saddr %s %s daddr %s return\n", fam, n, fam, bcast)
			}
			to, ports := natTarget(def, s.v4())
			for _, proto := range []string{"tcp", "udp"} {
				fmt.Fprintf(&b, "\t\tmeta l4proto %s %s saddr %s %s daddr != %s%s %s\n", proto, fam, n, fam, n, out, withPorts(to, ports))
			}
			fmt.Fprintf(&b, "\t\t%s saddr %s %s daddr != %s%s %s\n", fam, n, fam, n, out, to)
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// natTarget is the statement NAT uses: masquerade, or snat to the
// <nat><address> range; ports is the <nat><port> range (default
// 1024-65535, which masquerading uses for TCP and UDP as libvirt's).
func natTarget(def *libvirtxml.Network, v4 bool) (stmt, ports string) {
	ports = "1024-65535"
	nat := def.Forward.NAT
	if nat != nil && len(nat.Ports) > 0 {
		ports = fmt.Sprintf("%d-%d", nat.Ports[0].Start, nat.Ports[0].End)
	}
	if nat != nil && len(nat.Addresses) > 0 && v4 {
		a := nat.Addresses[0]
		r := a.Start
		if a.End != "" && a.End != a.Start {
			r += "-" + a.End
		}
		return "snat ip to " + r, ports
	}
	return "masquerade", ports
}

func withPorts(stmt, ports string) string {
	if strings.HasPrefix(stmt, "snat") {
		return stmt + ":" + ports
	}
	return stmt + " to :" + ports
}

// nft runs the nft script.
func (d *Driver) nft(script string) error {
	cmd := exec.Command(d.cfg.Nft, "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return fmt.Errorf("cannot run %s: %w (install nftables, `make deps`, or set network_nft)", d.cfg.Nft, err)
		}
		return fmt.Errorf("%s -f: %s", d.cfg.Nft, strings.TrimSpace(out.String()))
	}
	return nil
}

// addRules installs the network's table.
func (d *Driver) addRules(def *libvirtxml.Network, subs []subnet) error {
	script := ruleset(def, subs)
	if script == "" {
		return nil
	}
	if err := d.nft(script); err != nil {
		return failed("cannot add the firewall rules of network '%s' (nftables table inet %s): %v", def.Name, tableName(def), err)
	}
	return nil
}

// removeRules deletes the network's table; one already gone is fine.
func (d *Driver) removeRules(def *libvirtxml.Network) error {
	t := tableName(def)
	return d.nft(fmt.Sprintf("table inet %s {}\ndelete table inet %s\n", t, t))
}
