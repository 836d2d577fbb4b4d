package network

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/netxml"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// conn is one connection's view of the driver.
type conn struct {
	drv *Driver
	cb  drivers.ConnCallbacks
}

func (c *conn) Close() error {
	var none drivers.CallbackList
	c.cb.Close(&none, c)
	c.drv.events.RemoveConn(c)
	return nil
}

// immediateProcs only read the table under mu: the daemon may run them
// on the client's reader goroutine.
var immediateProcs = drivers.ProcSet([]protocol.Procedure{
	protocol.ProcConnectListAllNetworks, protocol.ProcConnectNumOfNetworks, protocol.ProcConnectListNetworks,
	protocol.ProcConnectNumOfDefinedNetworks, protocol.ProcConnectListDefinedNetworks,
	protocol.ProcNetworkLookupByName, protocol.ProcNetworkLookupByUUID,
	protocol.ProcNetworkGetXMLDesc, protocol.ProcNetworkGetBridgeName, protocol.ProcNetworkGetAutostart,
	protocol.ProcNetworkIsActive, protocol.ProcNetworkIsPersistent,
	protocol.ProcConnectNetworkEventRegisterAny, protocol.ProcConnectNetworkEventDeregisterAny,
})

// Immediate reports the calls that never wait (drivers.Immediate):
// everything that changes a network, and the leases (a file read), is
// left out.
func (c *conn) Immediate(proc protocol.Procedure) bool { return immediateProcs[proc] }

func badFlags(flags uint32, fn string) error {
	return drivers.Errorf(vir.ErrInvalidArg, vir.FromNetwork, "unsupported flags (0x%x) in function %s", flags, fn)
}

func (d *Driver) emit(o *netxml.Obj, ev vir.NetworkEventLifecycleType) {
	d.events.Emit(drivers.NetworkLifecycleEvent{Net: o.Ref(), Event: ev})
}

// read runs f on ref's network under the read lock.
func (d *Driver) read(ref protocol.Network, f func(o *netxml.Obj) error) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	o, err := d.nets.ByUUID(ref.UUID)
	if err != nil {
		return err
	}
	return f(o)
}

// change runs f on ref's network holding the job lock (not mu: f takes
// it to publish).
func (d *Driver) change(ref protocol.Network, f func(o *netxml.Obj) error) error {
	d.job.Lock()
	defer d.job.Unlock()
	d.mu.RLock()
	o, err := d.nets.ByUUID(ref.UUID)
	d.mu.RUnlock()
	if err != nil {
		return err
	}
	return f(o)
}

func (c *conn) ConnectListAllNetworks(ctx context.Context, flags vir.ConnectListAllNetworksFlags) ([]drivers.Network, error) {
	const all = vir.ConnectListNetworksActive | vir.ConnectListNetworksInactive |
		vir.ConnectListNetworksPersistent | vir.ConnectListNetworksTransient |
		vir.ConnectListNetworksAutostart | vir.ConnectListNetworksNoAutostart
	if flags&^all != 0 {
		return nil, badFlags(uint32(flags&^all), "networkConnectListAllNetworks")
	}
	d := c.drv
	d.mu.RLock()
	defer d.mu.RUnlock()
	nets := []drivers.Network{}
	for _, o := range d.nets.Objs {
		if drivers.ListedBy(flags, o.Active, o.Persistent, o.Autostart) {
			nets = append(nets, o.Ref())
		}
	}
	return nets, nil
}

func (c *conn) NetworkLookupByName(ctx context.Context, name string) (protocol.Network, error) {
	d := c.drv
	d.mu.RLock()
	defer d.mu.RUnlock()
	o, err := d.nets.ByName(name)
	if err != nil {
		return protocol.Network{}, err
	}
	return o.Ref(), nil
}

func (c *conn) NetworkLookupByUUID(ctx context.Context, uuid protocol.UUID) (protocol.Network, error) {
	d := c.drv
	d.mu.RLock()
	defer d.mu.RUnlock()
	o, err := d.nets.ByUUID(uuid)
	if err != nil {
		return protocol.Network{}, err
	}
	return o.Ref(), nil
}

func boolInt(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

func (c *conn) NetworkIsActive(ctx context.Context, net protocol.Network) (int32, error) {
	var v int32
	err := c.drv.read(net, func(o *netxml.Obj) error { v = boolInt(o.Active); return nil })
	return v, err
}

func (c *conn) NetworkIsPersistent(ctx context.Context, net protocol.Network) (int32, error) {
	var v int32
	err := c.drv.read(net, func(o *netxml.Obj) error { v = boolInt(o.Persistent); return nil })
	return v, err
}

func (c *conn) NetworkGetAutostart(ctx context.Context, net protocol.Network) (int32, error) {
	var v int32
	err := c.drv.read(net, func(o *netxml.Obj) error { v = boolInt(o.Autostart); return nil })
	return v, err
}

// NetworkGetBridgeName is the network's bridge: its own, or the host
// bridge a forward mode bridge network names.
func (c *conn) NetworkGetBridgeName(ctx context.Context, net protocol.Network) (string, error) {
	var name string
	err := c.drv.read(net, func(o *netxml.Obj) error {
		name = bridgeName(o.Def)
		if name == "" {
			return drivers.Errorf(vir.ErrInternalError, vir.FromNetwork, "network '%s' does not have a bridge name.", o.Def.Name)
		}
		return nil
	})
	return name, err
}

// NetworkGetXMLDesc formats the live definition of an active network,
// or with VIR_NETWORK_XML_INACTIVE its persistent one.
func (c *conn) NetworkGetXMLDesc(ctx context.Context, net protocol.Network, flags uint32) (string, error) {
	const inactive = uint32(vir.NetworkXMLInactive)
	if flags&^inactive != 0 {
		return "", badFlags(flags&^inactive, "networkGetXMLDesc")
	}
	var doc string
	err := c.drv.read(net, func(o *netxml.Obj) error {
		def := o.Def
		if flags&inactive != 0 && o.NewDef != nil {
			def = o.NewDef
		}
		s, err := def.Marshal()
		if err != nil {
			return drivers.Errorf(vir.ErrInternalError, vir.FromNetwork, "cannot format network '%s': %v", def.Name, err)
		}
		doc = s + "\n"
		return nil
	})
	return doc, err
}

// parseNew reads a definition to define or create: a network of its
// own bridge gets a bridge name (virbrN, the first free) and a MAC when
// it has none, as libvirt's bridge driver assigns them.
func (d *Driver) parseNew(doc string) (*libvirtxml.Network, drivers.UUID, error) {
	def, uuid, err := netxml.Parse(doc)
	if err != nil {
		return nil, uuid, err
	}
	switch m := mode(def); {
	case m == "bridge" && bridgeName(def) == "":
		return nil, uuid, drivers.Errorf(vir.ErrXMLError, vir.FromNetwork,
			"network '%s' has forward mode 'bridge' but no <bridge name>: name the host bridge its guests join", def.Name)
	case m != "bridge" && !netxml.ForwardModes[m]:
		return nil, uuid, drivers.Errorf(vir.ErrConfigUnsupported, vir.FromNetwork,
			"forward mode '%s' of network '%s' is not supported: use nat, route, open, bridge or none (isolated)", m, def.Name)
	}
	if err := checkImplemented(def); err != nil {
		return nil, uuid, err
	}
	if ownBridge(def) {
		if err := d.assignBridge(def, uuid); err != nil {
			return nil, uuid, err
		}
		addMAC(def)
	}
	return def, uuid, nil
}

// checkImplemented refuses what the driver would otherwise accept and
// not do: a network that claims routes, QoS or VLANs it does not get is
// worse than a clear refusal.
func checkImplemented(def *libvirtxml.Network) error {
	refuse := func(what string) error {
		return drivers.Errorf(vir.ErrConfigUnsupported, vir.FromNetwork,
			"%s of network '%s' is not supported by govirtd's network driver", what, def.Name)
	}
	switch {
	case len(def.Routes) > 0:
		return refuse("<route>")
	case def.Bandwidth != nil:
		return refuse("<bandwidth>")
	case def.VLAN != nil:
		return refuse("<vlan>")
	case def.VirtualPort != nil:
		return refuse("<virtualport>")
	case len(def.PortGroups) > 0:
		return refuse("<portgroup>")
	case def.DNS != nil && len(def.DNS.SRVs) > 0:
		return refuse("<dns><srv>")
	case def.Forward != nil && (len(def.Forward.Interfaces) > 0 || len(def.Forward.PFs) > 0 || len(def.Forward.Addresses) > 0):
		return refuse("a <forward> pool of interfaces")
	}
	return nil
}

// assignBridge gives def a free virbrN when it names no bridge, and
// refuses a bridge another network uses. The table is read under mu;
// the host's links are looked at after it is released.
func (d *Driver) assignBridge(def *libvirtxml.Network, uuid drivers.UUID) error {
	used := map[string]bool{}
	d.mu.RLock()
	for _, o := range d.nets.Objs {
		if o.UUID == uuid {
			continue
		}
		for _, x := range []*libvirtxml.Network{o.Def, o.NewDef} {
			if x != nil && bridgeName(x) != "" {
				used[bridgeName(x)] = true
			}
		}
	}
	d.mu.RUnlock()
	if name := bridgeName(def); name != "" {
		if used[name] {
			return drivers.Errorf(vir.ErrInternalError, vir.FromNetwork, "bridge name '%s' already in use.", name)
		}
		return nil
	}
	for i := 0; i < 256; i++ {
		name := fmt.Sprintf("virbr%d", i)
		if !used[name] && !linkExists(name) {
			def.Bridge.Name = name
			return nil
		}
	}
	return drivers.Errorf(vir.ErrInternalError, vir.FromNetwork, "Bridge generation exceeded max id 256")
}

// addMAC gives a network of its own bridge a MAC address (libvirt's
// QEMU prefix 52:54:00) when it has none.
func addMAC(def *libvirtxml.Network) {
	if def.MAC != nil && def.MAC.Address != "" {
		return
	}
	b := make([]byte, 3)
	rand.Read(b)
	def.MAC = &libvirtxml.NetworkMAC{Address: net.HardwareAddr{0x52, 0x54, 0x00, b[0], b[1], b[2]}.String()}
}

// checkValidateFlag refuses flags other than VALIDATE (1 for define and
// create alike), and VALIDATE itself: it asks for a check against
// libvirt's RNG schema, which govirtd does not carry.
func checkValidateFlag(flags uint32, fn string) error {
	if flags&^1 != 0 {
		return badFlags(flags&^1, fn)
	}
	if flags != 0 {
		return drivers.Errorf(vir.ErrNoSupport, vir.FromNetwork, "%s: validation against libvirt's schema", fn)
	}
	return nil
}

func (c *conn) NetworkDefineXML(ctx context.Context, xml string) (protocol.Network, error) {
	return c.NetworkDefineXMLFlags(ctx, xml, 0)
}

// NetworkDefineXMLFlags defines a network, or gives a defined one its
// next definition (used when it next starts).
func (c *conn) NetworkDefineXMLFlags(ctx context.Context, xml string, flags uint32) (protocol.Network, error) {
	if err := checkValidateFlag(flags, "networkDefineXMLFlags"); err != nil {
		return protocol.Network{}, err
	}
	d := c.drv
	d.job.Lock()
	defer d.job.Unlock()
	def, uuid, err := d.parseNew(xml)
	if err != nil {
		return protocol.Network{}, err
	}
	d.mu.Lock()
	o, err := d.nets.Assign(def, uuid, false, false)
	d.mu.Unlock()
	if err != nil {
		return protocol.Network{}, err
	}
	if err := d.saveConfig(def); err != nil {
		return protocol.Network{}, err
	}
	d.emit(o, vir.NetworkEventDefined)
	return o.Ref(), nil
}

func (c *conn) NetworkCreateXML(ctx context.Context, xml string) (protocol.Network, error) {
	return c.NetworkCreateXMLFlags(ctx, xml, 0)
}

// NetworkCreateXMLFlags starts a transient network.
func (c *conn) NetworkCreateXMLFlags(ctx context.Context, xml string, flags uint32) (protocol.Network, error) {
	if err := checkValidateFlag(flags, "networkCreateXMLFlags"); err != nil {
		return protocol.Network{}, err
	}
	d := c.drv
	d.job.Lock()
	defer d.job.Unlock()
	def, uuid, err := d.parseNew(xml)
	if err != nil {
		return protocol.Network{}, err
	}
	// An inactive defined network of the same name and UUID starts with
	// this definition as its live one, as libvirt's does.
	d.mu.Lock()
	existed := d.nets.FindUUID(uuid) != nil
	o, err := d.nets.Assign(def, uuid, true, true)
	d.mu.Unlock()
	if err != nil {
		return protocol.Network{}, err
	}
	if err := d.start(ctx, o); err != nil {
		d.mu.Lock()
		if existed {
			o.Def, o.NewDef = o.NewDef, nil
		} else {
			d.nets.Remove(o)
		}
		d.mu.Unlock()
		return protocol.Network{}, err
	}
	return o.Ref(), nil
}

// NetworkCreate starts a defined network.
func (c *conn) NetworkCreate(ctx context.Context, net protocol.Network) error {
	return c.drv.change(net, func(o *netxml.Obj) error {
		if o.Active {
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromNetwork, "network is already active")
		}
		return c.drv.start(ctx, o)
	})
}

// NetworkDestroy stops the network; a transient one is gone.
func (c *conn) NetworkDestroy(ctx context.Context, net protocol.Network) error {
	return c.drv.change(net, func(o *netxml.Obj) error {
		if !o.Active {
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromNetwork, "network '%s' is not active", o.Def.Name)
		}
		c.drv.stop(o)
		return nil
	})
}

// NetworkUndefine removes the network's persistent definition; an
// active network goes on as a transient one, as libvirt's does.
func (c *conn) NetworkUndefine(ctx context.Context, net protocol.Network) error {
	d := c.drv
	return d.change(net, func(o *netxml.Obj) error {
		if !o.Persistent {
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromNetwork, "can't undefine transient network")
		}
		name := o.Def.Name
		if err := os.Remove(d.cfg.configPath(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return failed("cannot remove config file '%s': %v", d.cfg.configPath(name), err)
		}
		os.Remove(d.cfg.autostartPath(name))
		d.mu.Lock()
		o.Persistent, o.Autostart, o.NewDef = false, false, nil
		if !o.Active {
			d.nets.Remove(o)
		}
		d.mu.Unlock()
		d.emit(o, vir.NetworkEventUndefined)
		return nil
	})
}

// NetworkSetAutostart links or unlinks the definition in the autostart
// directory.
func (c *conn) NetworkSetAutostart(ctx context.Context, net protocol.Network, autostart int32) error {
	d := c.drv
	return d.change(net, func(o *netxml.Obj) error {
		if !o.Persistent {
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromNetwork, "cannot set autostart for transient network")
		}
		on := autostart != 0
		if on == o.Autostart {
			return nil
		}
		if err := d.setAutostartLink(o.Def.Name, on); err != nil {
			return err
		}
		d.mu.Lock()
		o.Autostart = on
		d.mu.Unlock()
		return nil
	})
}

func (d *Driver) setAutostartLink(name string, on bool) error {
	link := d.cfg.autostartPath(name)
	if !on {
		if err := os.Remove(link); err != nil && !errors.Is(err, os.ErrNotExist) {
			return failed("Failed to delete symlink '%s': %v", link, err)
		}
		return nil
	}
	if err := os.MkdirAll(d.cfg.AutostartDir, 0o755); err != nil {
		return failed("cannot create autostart directory '%s': %v (check network_autostart_dir)", d.cfg.AutostartDir, err)
	}
	os.Remove(link)
	if err := os.Symlink(d.cfg.configPath(name), link); err != nil {
		return failed("Failed to create symlink '%s' to '%s': %v", link, d.cfg.configPath(name), err)
	}
	return nil
}

// NetworkUpdate changes a section of the live definition, the
// persistent one or both (virsh net-update). A live change of the DHCP
// hosts, ranges or DNS hosts is applied to the running dnsmasq: the
// hosts files are rewritten and dnsmasq re-reads them, or for a range
// dnsmasq is restarted.
func (c *conn) NetworkUpdate(ctx context.Context, net protocol.Network, command uint32, section uint32, parentIndex int32, xml string, flags uint32) error {
	const live, config = uint32(vir.NetworkUpdateAffectLive), uint32(vir.NetworkUpdateAffectConfig)
	if flags&^(live|config) != 0 {
		return badFlags(flags&^(live|config), "networkUpdate")
	}
	d := c.drv
	return d.change(net, func(o *netxml.Obj) error {
		d.mu.Lock()
		before := netxml.Copy(o.Def)
		applied, err := o.Update(command, section, parentIndex, xml, flags)
		after := o.Def
		persistent := o.PersistentDef()
		d.mu.Unlock()
		if err != nil {
			return err
		}
		if applied&config != 0 {
			if err := d.saveConfig(persistent); err != nil {
				return err
			}
		}
		if applied&live == 0 {
			return nil
		}
		if err := d.saveState(after); err != nil {
			return err
		}
		if vir.NetworkUpdateSection(section) == vir.NetworkSectionIPDhcpRange {
			d.stopDnsmasq(after.Name, true) // the new range needs a new dnsmasq; the leases stay
		}
		if err := d.refreshDnsmasq(after); err != nil {
			d.mu.Lock()
			o.Def = before
			d.mu.Unlock()
			d.saveState(before)
			d.refreshDnsmasq(before)
			return err
		}
		return nil
	})
}

func (c *conn) ConnectNetworkEventRegisterAny(ctx context.Context, net *drivers.Network, eventID vir.NetworkEventID, cb func(callbackID int, ev drivers.NetworkEvent)) (int, error) {
	var filter *drivers.UUID
	if net != nil {
		filter = &net.UUID
	}
	return drivers.RegisterIn(&c.cb, &c.drv.events, c, eventID, filter, cb)
}

func (c *conn) ConnectNetworkEventDeregisterAny(ctx context.Context, callbackID int) error {
	return c.drv.events.Deregister(c, callbackID)
}

// NetworkGetDhcpLeases lists the leases dnsmasq gave on the network,
// only mac's when mac is given.
func (c *conn) NetworkGetDhcpLeases(ctx context.Context, net protocol.Network, mac *string, needResults int32, flags uint32) (*protocol.NetworkGetDhcpLeasesRet, error) {
	if flags != 0 {
		return nil, badFlags(flags, "networkGetDHCPLeases")
	}
	var def *libvirtxml.Network
	err := c.drv.read(net, func(o *netxml.Obj) error {
		if o.Active {
			def = o.Def
		}
		return nil
	})
	if err != nil || def == nil {
		return &protocol.NetworkGetDhcpLeasesRet{}, err
	}
	m := ""
	if mac != nil {
		m = *mac
	}
	leases, err := c.drv.leases(def, m)
	if err != nil {
		return nil, err
	}
	if len(leases) > protocol.RemoteNetworkDhcpLeasesMax {
		return nil, drivers.Errorf(vir.ErrInternalError, vir.FromNetwork,
			"network '%s' has %d leases, more than a reply carries (%d)", def.Name, len(leases), protocol.RemoteNetworkDhcpLeasesMax)
	}
	// need_results says whether the leases are wanted or only their
	// number: a flag, not a count.
	ret := &protocol.NetworkGetDhcpLeasesRet{Ret: uint32(len(leases))}
	if needResults != 0 {
		ret.Leases = leases
	}
	return ret, nil
}

// AttachNetwork is the bridge guests of the active network name join
// (drivers.NetworkResolver).
func (d *Driver) AttachNetwork(ctx context.Context, name string) (drivers.NetworkAttachment, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	o, err := d.nets.ByName(name)
	if err != nil {
		return drivers.NetworkAttachment{}, drivers.Errorf(vir.ErrNoNetwork, vir.FromNetwork,
			"network '%s' not found: define it, or name another in <source network>", name)
	}
	if !o.Active {
		return drivers.NetworkAttachment{}, drivers.Errorf(vir.ErrOperationInvalid, vir.FromNetwork,
			"network '%s' is not active: start it (virsh net-start %s)", name, name)
	}
	a := drivers.NetworkAttachment{Bridge: bridgeName(o.Def)}
	if o.Def.MTU != nil {
		a.MTU = int(o.Def.MTU.Size)
	}
	return a, nil
}

// NetworkLeases is the active network's leases, mac's only when given
// (drivers.NetworkResolver).
func (d *Driver) NetworkLeases(ctx context.Context, name, mac string) ([]protocol.NetworkDhcpLease, error) {
	d.mu.RLock()
	o, err := d.nets.ByName(name)
	var def *libvirtxml.Network
	if err == nil && o.Active {
		def = o.Def
	}
	d.mu.RUnlock()
	if err != nil || def == nil {
		return nil, err
	}
	return d.leases(def, mac)
}

// NetworkCallbacks is the number of network event callbacks registered,
// for tests.
func (d *Driver) NetworkCallbacks() int { return d.events.Len() }

// saveConfig writes def to the configuration directory.
func (d *Driver) saveConfig(def *libvirtxml.Network) error {
	return d.writeDef(d.cfg.configPath(def.Name), def)
}

// saveState writes an active network's live definition to the state
// directory.
func (d *Driver) saveState(def *libvirtxml.Network) error {
	return d.writeDef(d.cfg.statePath(def.Name), def)
}

func (d *Driver) writeDef(path string, def *libvirtxml.Network) error {
	s, err := def.Marshal()
	if err != nil {
		return drivers.Errorf(vir.ErrInternalError, vir.FromNetwork, "cannot format network '%s': %v", def.Name, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return failed("cannot create directory '%s': %v", filepath.Dir(path), err)
	}
	if err := writeFileAtomic(path, []byte(s+"\n")); err != nil {
		return failed("cannot save network '%s' to %s: %v", def.Name, path, err)
	}
	return nil
}
