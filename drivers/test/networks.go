package test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// The test driver's network concern, in the image of libvirt's test
// driver: a table of networks starting with "default" (active,
// persistent, not autostarted, from libvirt's defaultConnXML), define,
// create, start, destroy, undefine, autostart, XML and update with
// libvirt's semantics, and the NETWORK lifecycle events where libvirt's
// test driver raises them. libvirt's test driver serves no DHCP leases
// and no network ports: those stay VIR_ERR_NO_SUPPORT here too.

// defaultNetworkXML is the network test:///default starts with.
const defaultNetworkXML = `<network>
  <name>default</name>
  <uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>
  <bridge name='virbr0'/>
  <forward/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
    </dhcp>
  </ip>
</network>`

// netObj is one network, as libvirt's virNetworkObj keeps it: def is the
// live definition while the network is active and the persistent one
// otherwise; newDef, when not nil, is the persistent definition saved
// while def is live. libvirt's test driver never puts newDef back on
// destroy (its network driver does), so neither does this one: what was
// live stays what dumpxml shows.
type netObj struct {
	def        *libvirtxml.Network
	newDef     *libvirtxml.Network
	uuid       drivers.UUID
	active     bool
	persistent bool
	autostart  bool
}

func (o *netObj) ref() drivers.Network { return drivers.Network{Name: o.def.Name, UUID: o.uuid} }

// persistentDef is the definition a config change works on.
func (o *netObj) persistentDef() *libvirtxml.Network {
	if o.newDef != nil {
		return o.newDef
	}
	return o.def
}

// networks is the test driver's network table.
type networks struct {
	// mu guards objs, and is held while events are emitted so that they
	// leave in the order of the changes.
	mu     sync.Mutex
	objs   []*netObj // in definition order
	events drivers.NetworkCallbackList
}

func newNetworks() *networks {
	def, uuid, err := parseNetwork(defaultNetworkXML)
	if err != nil {
		panic("test driver: default network: " + err.Error())
	}
	return &networks{objs: []*netObj{{def: def, uuid: uuid, active: true, persistent: true}}}
}

// networkProcs are the network procedures: all answered in memory under
// the table's lock.
var networkProcs = []protocol.Procedure{
	protocol.ProcConnectListAllNetworks, protocol.ProcConnectNumOfNetworks, protocol.ProcConnectListNetworks,
	protocol.ProcConnectNumOfDefinedNetworks, protocol.ProcConnectListDefinedNetworks,
	protocol.ProcNetworkLookupByName, protocol.ProcNetworkLookupByUUID,
	protocol.ProcNetworkDefineXML, protocol.ProcNetworkDefineXMLFlags,
	protocol.ProcNetworkCreateXML, protocol.ProcNetworkCreateXMLFlags,
	protocol.ProcNetworkCreate, protocol.ProcNetworkDestroy, protocol.ProcNetworkUndefine,
	protocol.ProcNetworkUpdate, protocol.ProcNetworkGetXMLDesc, protocol.ProcNetworkGetBridgeName,
	protocol.ProcNetworkGetAutostart, protocol.ProcNetworkSetAutostart,
	protocol.ProcNetworkIsActive, protocol.ProcNetworkIsPersistent,
}

func (t *networks) byName(name string) (*netObj, error) {
	for _, o := range t.objs {
		if o.def.Name == name {
			return o, nil
		}
	}
	return nil, drivers.Errorf(vir.ErrNoNetwork, vir.FromTest, "no network with matching name '%s'", name)
}

func (t *networks) byUUID(uuid drivers.UUID) (*netObj, error) {
	if o := t.findUUID(uuid); o != nil {
		return o, nil
	}
	return nil, drivers.Errorf(vir.ErrNoNetwork, vir.FromTest, "no network with matching uuid '%s'", uuid)
}

func (t *networks) findUUID(uuid drivers.UUID) *netObj {
	for _, o := range t.objs {
		if o.uuid == uuid {
			return o
		}
	}
	return nil
}

func (t *networks) remove(o *netObj) {
	for i, x := range t.objs {
		if x == o {
			t.objs = append(t.objs[:i], t.objs[i+1:]...)
			return
		}
	}
}

func (t *networks) emit(o *netObj, event vir.NetworkEventLifecycleType) {
	t.events.Emit(drivers.NetworkLifecycleEvent{Net: o.ref(), Event: event})
}

// assign adds def as a new network, or gives an existing one of the same
// UUID and name its new definition, as libvirt's virNetworkObjAssignDef
// does: live says def is a running configuration (create), checkLive
// refuses a network already active.
func (t *networks) assign(def *libvirtxml.Network, uuid drivers.UUID, live, checkLive bool) (*netObj, error) {
	if o := t.findUUID(uuid); o != nil {
		if o.def.Name != def.Name {
			return nil, drivers.Errorf(vir.ErrOperationFailed, vir.FromNetwork,
				"network '%s' is already defined with uuid %s", o.def.Name, o.uuid)
		}
		if checkLive && o.active {
			return nil, drivers.Errorf(vir.ErrOperationInvalid, vir.FromNetwork,
				"network is already active as '%s'", o.def.Name)
		}
		switch {
		case live:
			if o.persistent && o.newDef == nil {
				o.newDef = o.def
			}
			o.def = def
		case o.active:
			o.newDef = def
		default:
			o.newDef = nil
			o.def = def
		}
		if !live {
			o.persistent = true
		}
		return o, nil
	}
	for _, o := range t.objs {
		if o.def.Name == def.Name {
			return nil, drivers.Errorf(vir.ErrOperationFailed, vir.FromNetwork,
				"network '%s' already exists with uuid %s", def.Name, o.uuid)
		}
	}
	o := &netObj{def: def, uuid: uuid, persistent: !live}
	t.objs = append(t.objs, o)
	return o, nil
}

// ConnectListAllNetworks lists the networks passing flags, in definition
// order.
func (c *conn) ConnectListAllNetworks(ctx context.Context, flags vir.ConnectListAllNetworksFlags) ([]drivers.Network, error) {
	const all = vir.ConnectListNetworksActive | vir.ConnectListNetworksInactive |
		vir.ConnectListNetworksPersistent | vir.ConnectListNetworksTransient |
		vir.ConnectListNetworksAutostart | vir.ConnectListNetworksNoAutostart
	if flags&^all != 0 {
		return nil, badFlags(uint32(flags&^all), "testConnectListAllNetworks")
	}
	t := c.drv.nets
	t.mu.Lock()
	defer t.mu.Unlock()
	nets := []drivers.Network{}
	for _, o := range t.objs {
		if listed(flags, o.active, o.persistent, o.autostart) {
			nets = append(nets, o.ref())
		}
	}
	return nets, nil
}

func (c *conn) NetworkLookupByName(ctx context.Context, name string) (protocol.Network, error) {
	t := c.drv.nets
	t.mu.Lock()
	defer t.mu.Unlock()
	o, err := t.byName(name)
	if err != nil {
		return protocol.Network{}, err
	}
	return o.ref(), nil
}

func (c *conn) NetworkLookupByUUID(ctx context.Context, uuid protocol.UUID) (protocol.Network, error) {
	t := c.drv.nets
	t.mu.Lock()
	defer t.mu.Unlock()
	o, err := t.byUUID(uuid)
	if err != nil {
		return protocol.Network{}, err
	}
	return o.ref(), nil
}

// withNetwork runs f on the network named as net under the table's lock.
func (c *conn) withNetwork(net protocol.Network, f func(t *networks, o *netObj) error) error {
	t := c.drv.nets
	t.mu.Lock()
	defer t.mu.Unlock()
	o, err := t.byName(net.Name)
	if err != nil {
		return err
	}
	return f(t, o)
}

// withNetworkUUID is withNetwork for the calls libvirt's test driver
// looks up by UUID.
func (c *conn) withNetworkUUID(net protocol.Network, f func(t *networks, o *netObj) error) error {
	t := c.drv.nets
	t.mu.Lock()
	defer t.mu.Unlock()
	o, err := t.byUUID(net.UUID)
	if err != nil {
		return err
	}
	return f(t, o)
}

func boolInt(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

func (c *conn) NetworkIsActive(ctx context.Context, net protocol.Network) (int32, error) {
	var v int32
	err := c.withNetworkUUID(net, func(_ *networks, o *netObj) error { v = boolInt(o.active); return nil })
	return v, err
}

func (c *conn) NetworkIsPersistent(ctx context.Context, net protocol.Network) (int32, error) {
	var v int32
	err := c.withNetworkUUID(net, func(_ *networks, o *netObj) error { v = boolInt(o.persistent); return nil })
	return v, err
}

func (c *conn) NetworkGetAutostart(ctx context.Context, net protocol.Network) (int32, error) {
	var v int32
	err := c.withNetwork(net, func(_ *networks, o *netObj) error { v = boolInt(o.autostart); return nil })
	return v, err
}

// NetworkSetAutostart sets the flag of any network, transient ones too,
// as libvirt's test driver does.
func (c *conn) NetworkSetAutostart(ctx context.Context, net protocol.Network, autostart int32) error {
	return c.withNetwork(net, func(_ *networks, o *netObj) error { o.autostart = autostart != 0; return nil })
}

func (c *conn) NetworkGetBridgeName(ctx context.Context, net protocol.Network) (string, error) {
	var name string
	err := c.withNetwork(net, func(_ *networks, o *netObj) error {
		if o.def.Bridge == nil || o.def.Bridge.Name == "" {
			return drivers.Errorf(vir.ErrInternalError, vir.FromTest, "network '%s' does not have a bridge name.", o.def.Name)
		}
		name = o.def.Bridge.Name
		return nil
	})
	return name, err
}

// NetworkGetXMLDesc formats the current definition. libvirt's test driver
// accepts no flag, VIR_NETWORK_XML_INACTIVE included.
func (c *conn) NetworkGetXMLDesc(ctx context.Context, net protocol.Network, flags uint32) (string, error) {
	if flags != 0 {
		return "", badFlags(flags, "testNetworkGetXMLDesc")
	}
	var doc string
	err := c.withNetwork(net, func(_ *networks, o *netObj) error {
		s, err := o.def.Marshal()
		if err != nil {
			return drivers.Errorf(vir.ErrInternalError, vir.FromNetwork, "cannot format network '%s': %v", o.def.Name, err)
		}
		doc = s + "\n"
		return nil
	})
	return doc, err
}

func (c *conn) NetworkDefineXML(ctx context.Context, xml string) (protocol.Network, error) {
	return c.defineNetwork(xml, 0, "testNetworkDefineXMLFlags")
}

func (c *conn) NetworkDefineXMLFlags(ctx context.Context, xml string, flags uint32) (protocol.Network, error) {
	return c.defineNetwork(xml, flags, "testNetworkDefineXMLFlags")
}

func (c *conn) NetworkCreateXML(ctx context.Context, xml string) (protocol.Network, error) {
	return c.createNetwork(xml, 0)
}

func (c *conn) NetworkCreateXMLFlags(ctx context.Context, xml string, flags uint32) (protocol.Network, error) {
	return c.createNetwork(xml, flags)
}

// checkValidateFlag refuses flags other than the VALIDATE bit (1 for both
// define and create), and VALIDATE itself: it asks for a check against
// libvirt's RNG schema, which govirtd does not carry.
func checkValidateFlag(flags uint32, fn string) error {
	if flags&^1 != 0 {
		return badFlags(flags&^1, fn)
	}
	if flags != 0 {
		return drivers.Errorf(vir.ErrNoSupport, vir.FromTest, "%s: validation against libvirt's schema", fn)
	}
	return nil
}

func (c *conn) defineNetwork(xml string, flags uint32, fn string) (protocol.Network, error) {
	if err := checkValidateFlag(flags, fn); err != nil {
		return protocol.Network{}, err
	}
	def, uuid, err := parseNetwork(xml)
	if err != nil {
		return protocol.Network{}, err
	}
	t := c.drv.nets
	t.mu.Lock()
	defer t.mu.Unlock()
	o, err := t.assign(def, uuid, false, false)
	if err != nil {
		return protocol.Network{}, err
	}
	t.emit(o, vir.NetworkEventDefined)
	return o.ref(), nil
}

// createNetwork starts a transient network, or a defined inactive one of
// the same name and UUID with this definition as its live one.
func (c *conn) createNetwork(xml string, flags uint32) (protocol.Network, error) {
	if err := checkValidateFlag(flags, "testNetworkCreateXMLFlags"); err != nil {
		return protocol.Network{}, err
	}
	def, uuid, err := parseNetwork(xml)
	if err != nil {
		return protocol.Network{}, err
	}
	t := c.drv.nets
	t.mu.Lock()
	defer t.mu.Unlock()
	o, err := t.assign(def, uuid, true, true)
	if err != nil {
		return protocol.Network{}, err
	}
	o.active = true
	t.emit(o, vir.NetworkEventStarted)
	return o.ref(), nil
}

func (c *conn) NetworkCreate(ctx context.Context, net protocol.Network) error {
	return c.withNetwork(net, func(t *networks, o *netObj) error {
		if o.active {
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromTest, "Network '%s' is already running", net.Name)
		}
		o.active = true
		t.emit(o, vir.NetworkEventStarted)
		return nil
	})
}

// NetworkDestroy stops the network; a transient one is gone. As in
// libvirt's test driver, an inactive network may be destroyed too.
func (c *conn) NetworkDestroy(ctx context.Context, net protocol.Network) error {
	return c.withNetwork(net, func(t *networks, o *netObj) error {
		o.active = false
		t.emit(o, vir.NetworkEventStopped)
		if !o.persistent {
			t.remove(o)
		}
		return nil
	})
}

// NetworkUndefine removes an inactive network; a running one is refused.
func (c *conn) NetworkUndefine(ctx context.Context, net protocol.Network) error {
	return c.withNetwork(net, func(t *networks, o *netObj) error {
		if o.active {
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromTest, "Network '%s' is still running", net.Name)
		}
		t.events.Emit(drivers.NetworkLifecycleEvent{Net: net, Event: vir.NetworkEventUndefined})
		t.remove(o)
		return nil
	})
}

// NetworkUpdate changes one section of the live definition, the
// persistent one or both (virsh net-update). AFFECT_CURRENT means the
// live definition when the network is active, else the persistent one.
func (c *conn) NetworkUpdate(ctx context.Context, net protocol.Network, command uint32, section uint32, parentIndex int32, xml string, flags uint32) error {
	const live, config = uint32(vir.NetworkUpdateAffectLive), uint32(vir.NetworkUpdateAffectConfig)
	if flags&^(live|config) != 0 {
		return badFlags(flags&^(live|config), "testNetworkUpdate")
	}
	return c.withNetworkUUID(net, func(t *networks, o *netObj) error {
		if flags == 0 {
			if o.active {
				flags = live
			} else {
				flags = config
			}
		}
		if !o.active && flags&live != 0 {
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromNetwork, "network is not running")
		}
		if flags&config != 0 {
			if !o.persistent {
				return drivers.Errorf(vir.ErrOperationInvalid, vir.FromNetwork, "cannot change persistent config of a transient network")
			}
			if o.active && o.newDef == nil {
				o.newDef = copyNetwork(o.def)
			}
		}
		var liveDef, configDef *libvirtxml.Network
		if flags&live != 0 {
			liveDef = copyNetwork(o.def)
			if err := updateSection(liveDef, vir.NetworkUpdateCommand(command), vir.NetworkUpdateSection(section), int(parentIndex), xml); err != nil {
				return err
			}
		}
		if flags&config != 0 {
			configDef = copyNetwork(o.persistentDef())
			if err := updateSection(configDef, vir.NetworkUpdateCommand(command), vir.NetworkUpdateSection(section), int(parentIndex), xml); err != nil {
				return err
			}
		}
		if configDef != nil {
			if o.active {
				o.newDef = configDef
			} else {
				o.def = configDef
			}
		}
		if liveDef != nil {
			o.def = liveDef
		}
		return nil
	})
}

func (c *conn) ConnectNetworkEventRegisterAny(ctx context.Context, net *drivers.Network, eventID vir.NetworkEventID, cb func(callbackID int, ev drivers.NetworkEvent)) (int, error) {
	var filter *drivers.UUID
	if net != nil {
		filter = &net.UUID
	}
	return drivers.RegisterIn(&c.callbacks, &c.drv.nets.events, c, eventID, filter, cb)
}

func (c *conn) ConnectNetworkEventDeregisterAny(ctx context.Context, callbackID int) error {
	return c.drv.nets.events.Deregister(c, callbackID)
}

// NetworkCallbacks is the number of network event callbacks registered,
// for tests.
func (d *Driver) NetworkCallbacks() int { return d.nets.events.Len() }

// copyNetwork is a deep copy of def, through its XML.
func copyNetwork(def *libvirtxml.Network) *libvirtxml.Network {
	s, err := def.Marshal()
	if err != nil {
		panic("test driver: network definition does not format: " + err.Error())
	}
	var cp libvirtxml.Network
	if err := cp.Unmarshal(s); err != nil {
		panic("test driver: network definition does not parse back: " + err.Error())
	}
	return &cp
}

// xmlErr is VIR_ERR_XML_ERROR in the network domain, as libvirt's
// network XML parser reports it.
func xmlErr(format string, args ...any) error {
	return drivers.Errorf(vir.ErrXMLError, vir.FromNetwork, format, args...)
}

// forwardModes are the forward modes libvirt 9.0 knows; hasBridge says
// whether networks of the mode have a bridge of their own (and so always
// show <bridge> with its stp and delay).
var forwardModes = map[string]bool{
	"": true, "nat": true, "route": true, "open": true,
	"bridge": false, "private": false, "vepa": false, "passthrough": false, "hostdev": false,
}

// parseNetwork reads network XML as libvirt's parser does, with its
// defaults filled in so that the XML formatted back is libvirt's: a UUID
// when none is given, forward mode nat for a bare <forward/>, stp and
// delay on the bridge of a network that has one, addresses in their
// canonical form.
func parseNetwork(doc string) (*libvirtxml.Network, drivers.UUID, error) {
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
		if _, ok := forwardModes[mode]; !ok {
			return nil, drivers.UUID{}, xmlErr("unknown forwarding type '%s'", mode)
		}
		def.Forward.Mode = mode
		if n := def.Forward.NAT; n != nil && n.IPv6 == "" && len(n.Addresses) == 0 && len(n.Ports) == 0 {
			def.Forward.NAT = nil
		}
	}
	if forwardModes[mode] {
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
		hw, err := parseMAC(def.MAC.Address)
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

func parseMAC(s string) (net.HardwareAddr, error) {
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

// ipPrefix is the prefix length of the <ip> element: its prefix, else
// its netmask's, else the address class's default (as libvirt's
// virNetworkIPDefPrefix).
func ipPrefix(ip *libvirtxml.NetworkIP) int {
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

func isV4(s string) bool {
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
		prefix := ipPrefix(ip)
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
	v6 := ip.Address != "" && !isV4(ip.Address)
	if h.MAC != "" {
		if v6 {
			return xmlErr("Invalid to specify MAC address '%s' in network '%s' IPv6 static host definition", h.MAC, network)
		}
		hw, err := parseMAC(h.MAC)
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
