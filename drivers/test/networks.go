package test

import (
	"context"
	"sync"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/netxml"
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

// networks is the test driver's network table.
type networks struct {
	// mu guards objs, and is held while events are emitted so that they
	// leave in the order of the changes.
	mu sync.Mutex
	netxml.Table
	events drivers.NetworkCallbackList
}

func newNetworks() *networks {
	def, uuid, err := netxml.Parse(defaultNetworkXML)
	if err != nil {
		panic("test driver: default network: " + err.Error())
	}
	return &networks{Table: netxml.Table{From: vir.FromTest, Objs: []*netxml.Obj{{Def: def, UUID: uuid, Active: true, Persistent: true}}}}
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

func (t *networks) emit(o *netxml.Obj, event vir.NetworkEventLifecycleType) {
	t.events.Emit(drivers.NetworkLifecycleEvent{Net: o.Ref(), Event: event})
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
	for _, o := range t.Objs {
		if drivers.ListedBy(flags, o.Active, o.Persistent, o.Autostart) {
			nets = append(nets, o.Ref())
		}
	}
	return nets, nil
}

func (c *conn) NetworkLookupByName(ctx context.Context, name string) (protocol.Network, error) {
	t := c.drv.nets
	t.mu.Lock()
	defer t.mu.Unlock()
	o, err := t.ByName(name)
	if err != nil {
		return protocol.Network{}, err
	}
	return o.Ref(), nil
}

func (c *conn) NetworkLookupByUUID(ctx context.Context, uuid protocol.UUID) (protocol.Network, error) {
	t := c.drv.nets
	t.mu.Lock()
	defer t.mu.Unlock()
	o, err := t.ByUUID(uuid)
	if err != nil {
		return protocol.Network{}, err
	}
	return o.Ref(), nil
}

// withNetwork runs f on the network named as net under the table's lock.
func (c *conn) withNetwork(net protocol.Network, f func(t *networks, o *netxml.Obj) error) error {
	t := c.drv.nets
	t.mu.Lock()
	defer t.mu.Unlock()
	o, err := t.ByName(net.Name)
	if err != nil {
		return err
	}
	return f(t, o)
}

// withNetworkUUID is withNetwork for the calls libvirt's test driver
// looks up by UUID.
func (c *conn) withNetworkUUID(net protocol.Network, f func(t *networks, o *netxml.Obj) error) error {
	t := c.drv.nets
	t.mu.Lock()
	defer t.mu.Unlock()
	o, err := t.ByUUID(net.UUID)
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
	err := c.withNetworkUUID(net, func(_ *networks, o *netxml.Obj) error { v = boolInt(o.Active); return nil })
	return v, err
}

func (c *conn) NetworkIsPersistent(ctx context.Context, net protocol.Network) (int32, error) {
	var v int32
	err := c.withNetworkUUID(net, func(_ *networks, o *netxml.Obj) error { v = boolInt(o.Persistent); return nil })
	return v, err
}

func (c *conn) NetworkGetAutostart(ctx context.Context, net protocol.Network) (int32, error) {
	var v int32
	err := c.withNetwork(net, func(_ *networks, o *netxml.Obj) error { v = boolInt(o.Autostart); return nil })
	return v, err
}

// NetworkSetAutostart sets the flag of any network, transient ones too,
// as libvirt's test driver does.
func (c *conn) NetworkSetAutostart(ctx context.Context, net protocol.Network, autostart int32) error {
	return c.withNetwork(net, func(_ *networks, o *netxml.Obj) error { o.Autostart = autostart != 0; return nil })
}

func (c *conn) NetworkGetBridgeName(ctx context.Context, net protocol.Network) (string, error) {
	var name string
	err := c.withNetwork(net, func(_ *networks, o *netxml.Obj) error {
		if o.Def.Bridge == nil || o.Def.Bridge.Name == "" {
			return drivers.Errorf(vir.ErrInternalError, vir.FromTest, "network '%s' does not have a bridge name.", o.Def.Name)
		}
		name = o.Def.Bridge.Name
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
	err := c.withNetwork(net, func(_ *networks, o *netxml.Obj) error {
		s, err := o.Def.Marshal()
		if err != nil {
			return drivers.Errorf(vir.ErrInternalError, vir.FromNetwork, "cannot format network '%s': %v", o.Def.Name, err)
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
	def, uuid, err := netxml.Parse(xml)
	if err != nil {
		return protocol.Network{}, err
	}
	t := c.drv.nets
	t.mu.Lock()
	defer t.mu.Unlock()
	o, err := t.Assign(def, uuid, false, false)
	if err != nil {
		return protocol.Network{}, err
	}
	t.emit(o, vir.NetworkEventDefined)
	return o.Ref(), nil
}

// createNetwork starts a transient network, or a defined inactive one of
// the same name and UUID with this definition as its live one.
func (c *conn) createNetwork(xml string, flags uint32) (protocol.Network, error) {
	if err := checkValidateFlag(flags, "testNetworkCreateXMLFlags"); err != nil {
		return protocol.Network{}, err
	}
	def, uuid, err := netxml.Parse(xml)
	if err != nil {
		return protocol.Network{}, err
	}
	t := c.drv.nets
	t.mu.Lock()
	defer t.mu.Unlock()
	o, err := t.Assign(def, uuid, true, true)
	if err != nil {
		return protocol.Network{}, err
	}
	o.Active = true
	t.emit(o, vir.NetworkEventStarted)
	return o.Ref(), nil
}

func (c *conn) NetworkCreate(ctx context.Context, net protocol.Network) error {
	return c.withNetwork(net, func(t *networks, o *netxml.Obj) error {
		if o.Active {
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromTest, "Network '%s' is already running", net.Name)
		}
		o.Active = true
		t.emit(o, vir.NetworkEventStarted)
		return nil
	})
}

// NetworkDestroy stops the network; a transient one is gone. As in
// libvirt's test driver, an inactive network may be destroyed too.
func (c *conn) NetworkDestroy(ctx context.Context, net protocol.Network) error {
	return c.withNetwork(net, func(t *networks, o *netxml.Obj) error {
		o.Active = false
		t.emit(o, vir.NetworkEventStopped)
		if !o.Persistent {
			t.Remove(o)
		}
		return nil
	})
}

// NetworkUndefine removes an inactive network; a running one is refused.
func (c *conn) NetworkUndefine(ctx context.Context, net protocol.Network) error {
	return c.withNetwork(net, func(t *networks, o *netxml.Obj) error {
		if o.Active {
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromTest, "Network '%s' is still running", net.Name)
		}
		t.events.Emit(drivers.NetworkLifecycleEvent{Net: net, Event: vir.NetworkEventUndefined})
		t.Remove(o)
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
	return c.withNetworkUUID(net, func(_ *networks, o *netxml.Obj) error {
		_, err := o.Update(command, section, parentIndex, xml, flags)
		return err
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
