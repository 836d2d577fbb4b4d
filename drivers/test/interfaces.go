package test

import (
	"context"
	"encoding/xml"
	"strings"
	"sync"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// The test driver's host interfaces (virInterface*), in the image of
// libvirt's: one active interface eth1 at start, definitions that can be
// started and destroyed (a flag, nothing on the host changes), and the
// network-config transaction of virInterfaceChangeBegin/Commit/Rollback.

// defaultInterfaceXML is the interface test:///default starts with,
// active, as libvirt's test driver has it.
const defaultInterfaceXML = `<interface type="ethernet" name="eth1">
  <start mode="onboot"/>
  <mac address="aa:bb:cc:dd:ee:ff"/>
  <mtu size="1492"/>
  <protocol family="ipv4">
    <ip address="192.168.0.5" prefix="24"/>
    <route gateway="192.168.0.1"/>
  </protocol>
</interface>`

// iface is one defined host interface.
type iface struct {
	def    *libvirtxml.Interface // normalised as libvirt's parser leaves it
	active bool
}

// mac is the interface's MAC as virInterfaceGetMACString reports it:
// only an ethernet interface keeps one, the others answer "".
func (i *iface) mac() string {
	if i.def.MAC == nil {
		return ""
	}
	return i.def.MAC.Address
}

// interfaces is the interface table of the test driver.
type interfaces struct {
	mu sync.Mutex // guards everything below; no call waits while holding it
	// list is in definition order; libvirt's is a hash table, and virsh
	// sorts what it prints.
	list []*iface
	// backup is the table virInterfaceChangeBegin saved, restored by
	// rollback; inTxn says a transaction is running.
	backup []*iface
	inTxn  bool
}

func newInterfaces() *interfaces {
	def, err := parseInterface(defaultInterfaceXML)
	if err != nil {
		panic("test driver: default interface: " + err.Error())
	}
	return &interfaces{list: []*iface{{def: def, active: true}}}
}

// ifaceProcs are the interface procedures; all answer from memory under
// interfaces.mu without waiting.
var ifaceProcs = []protocol.Procedure{
	protocol.ProcConnectNumOfInterfaces, protocol.ProcConnectListInterfaces,
	protocol.ProcConnectNumOfDefinedInterfaces, protocol.ProcConnectListDefinedInterfaces,
	protocol.ProcConnectListAllInterfaces, protocol.ProcInterfaceLookupByName,
	protocol.ProcInterfaceLookupByMACString, protocol.ProcInterfaceGetXMLDesc,
	protocol.ProcInterfaceDefineXML, protocol.ProcInterfaceUndefine,
	protocol.ProcInterfaceCreate, protocol.ProcInterfaceDestroy, protocol.ProcInterfaceIsActive,
	protocol.ProcInterfaceChangeBegin, protocol.ProcInterfaceChangeCommit, protocol.ProcInterfaceChangeRollback,
}

// hostError is an Error with libvirt's message template for codes the
// shared message table does not carry.
func hostError(code vir.ErrorNumber, domain vir.ErrorDomain, template, detail string) *drivers.Error {
	msg := template
	if detail != "" {
		msg = strings.Replace(template, "%s", detail, 1)
	} else if i := strings.Index(template, ": %s"); i >= 0 {
		msg = template[:i]
	}
	return &drivers.Error{Code: code, Domain: domain, Message: msg, Template: template, Detail: detail}
}

func noInterface(what, value string) *drivers.Error {
	return hostError(vir.ErrNoInterface, vir.FromTest, "Interface not found: %s",
		"no interface with matching "+what+" '"+value+"'")
}

func checkNames(maxnames int32, limit int) error {
	if maxnames < 0 || int(maxnames) > limit {
		return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "maxnames %d is outside 0-%d", maxnames, limit)
	}
	return nil
}

// find returns the interface named name, or libvirt's NO_INTERFACE.
// t.mu must be held.
func (t *interfaces) find(name string) (*iface, int, error) {
	for i, f := range t.list {
		if f.def.Name == name {
			return f, i, nil
		}
	}
	return nil, -1, noInterface("name", name)
}

func (t *interfaces) names(active bool, maxnames int32) []string {
	names := []string{}
	for _, f := range t.list {
		if f.active == active && len(names) < int(maxnames) {
			names = append(names, f.def.Name)
		}
	}
	return names
}

func (t *interfaces) count(active bool) int32 {
	n := int32(0)
	for _, f := range t.list {
		if f.active == active {
			n++
		}
	}
	return n
}

func (c *conn) ConnectNumOfInterfaces(ctx context.Context) (int32, error) {
	t := c.drv.ifaces
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.count(true), nil
}

func (c *conn) ConnectNumOfDefinedInterfaces(ctx context.Context) (int32, error) {
	t := c.drv.ifaces
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.count(false), nil
}

func (c *conn) ConnectListInterfaces(ctx context.Context, maxnames int32) ([]string, error) {
	if err := checkNames(maxnames, protocol.RemoteInterfaceListMax); err != nil {
		return nil, err
	}
	t := c.drv.ifaces
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.names(true, maxnames), nil
}

func (c *conn) ConnectListDefinedInterfaces(ctx context.Context, maxnames int32) ([]string, error) {
	if err := checkNames(maxnames, protocol.RemoteInterfaceListMax); err != nil {
		return nil, err
	}
	t := c.drv.ifaces
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.names(false, maxnames), nil
}

// ConnectListAllInterfaces lists the interfaces that pass the active
// filter (virConnectListAllInterfaces); the test driver accepts no
// other flag.
func (c *conn) ConnectListAllInterfaces(ctx context.Context, needResults int32, flags uint32) (*protocol.ConnectListAllInterfacesRet, error) {
	const activeFlags = uint32(vir.ConnectListInterfacesActive | vir.ConnectListInterfacesInactive)
	if err := checkFlags(flags, activeFlags, "testConnectListAllInterfaces"); err != nil {
		return nil, err
	}
	t := c.drv.ifaces
	t.mu.Lock()
	defer t.mu.Unlock()
	ret := &protocol.ConnectListAllInterfacesRet{Ifaces: []protocol.Interface{}}
	for _, f := range t.list {
		if flags&activeFlags != 0 &&
			!(f.active && flags&uint32(vir.ConnectListInterfacesActive) != 0) &&
			!(!f.active && flags&uint32(vir.ConnectListInterfacesInactive) != 0) {
			continue
		}
		ret.Ret++
		if needResults != 0 {
			ret.Ifaces = append(ret.Ifaces, protocol.Interface{Name: f.def.Name, MAC: f.mac()})
		}
	}
	return ret, nil
}

func (c *conn) InterfaceLookupByName(ctx context.Context, name string) (protocol.Interface, error) {
	t := c.drv.ifaces
	t.mu.Lock()
	defer t.mu.Unlock()
	f, _, err := t.find(name)
	if err != nil {
		return protocol.Interface{}, err
	}
	return protocol.Interface{Name: f.def.Name, MAC: f.mac()}, nil
}

// InterfaceLookupByMACString finds the one interface with MAC mac,
// compared without case; the reference carries mac as given, as
// libvirt's does. An interface without a MAC (bridge, bond, vlan)
// matches any MAC in libvirt 9.0's test driver (its comparison treats
// the missing MAC as equal), and so it does here.
func (c *conn) InterfaceLookupByMACString(ctx context.Context, mac string) (protocol.Interface, error) {
	t := c.drv.ifaces
	t.mu.Lock()
	defer t.mu.Unlock()
	var found []string
	for _, f := range t.list {
		if f.def.MAC == nil || strings.EqualFold(f.def.MAC.Address, mac) {
			found = append(found, f.def.Name)
		}
	}
	switch len(found) {
	case 0:
		return protocol.Interface{}, noInterface("mac", mac)
	case 1:
		return protocol.Interface{Name: found[0], MAC: mac}, nil
	}
	return protocol.Interface{}, hostError(vir.ErrMultipleInterfaces, vir.FromTest, "multiple matching interfaces found: %s", "")
}

func (c *conn) InterfaceIsActive(ctx context.Context, ref protocol.Interface) (int32, error) {
	t := c.drv.ifaces
	t.mu.Lock()
	defer t.mu.Unlock()
	f, _, err := t.find(ref.Name)
	if err != nil {
		return 0, err
	}
	if f.active {
		return 1, nil
	}
	return 0, nil
}

// InterfaceGetXMLDesc formats the definition; libvirt's test driver
// takes no flag, not even VIR_INTERFACE_XML_INACTIVE.
func (c *conn) InterfaceGetXMLDesc(ctx context.Context, ref protocol.Interface, flags uint32) (string, error) {
	if err := checkFlags(flags, 0, "testInterfaceGetXMLDesc"); err != nil {
		return "", err
	}
	t := c.drv.ifaces
	t.mu.Lock()
	defer t.mu.Unlock()
	f, _, err := t.find(ref.Name)
	if err != nil {
		return "", err
	}
	return formatInterface(f.def)
}

// InterfaceDefineXML adds a definition, inactive, or replaces the one
// of the same name, which keeps its state.
func (c *conn) InterfaceDefineXML(ctx context.Context, doc string, flags uint32) (protocol.Interface, error) {
	if err := checkFlags(flags, uint32(vir.InterfaceDefineValidate), "testInterfaceDefineXML"); err != nil {
		return protocol.Interface{}, err
	}
	if flags&uint32(vir.InterfaceDefineValidate) != 0 {
		// libvirt checks the document against its interface.rng schema;
		// govirtd has no RelaxNG validator, and does not pretend to.
		return protocol.Interface{}, drivers.Errorf(vir.ErrNoSupport, vir.FromTest,
			"schema validation of interface XML (VIR_INTERFACE_DEFINE_VALIDATE) is not implemented; define without it")
	}
	def, err := parseInterface(doc)
	if err != nil {
		return protocol.Interface{}, err
	}
	t := c.drv.ifaces
	t.mu.Lock()
	defer t.mu.Unlock()
	f, _, err := t.find(def.Name)
	if err != nil {
		f = &iface{}
		t.list = append(t.list, f)
	}
	f.def = def
	return protocol.Interface{Name: def.Name, MAC: f.mac()}, nil
}

// InterfaceUndefine removes the definition, active or not, as libvirt's
// test driver does.
func (c *conn) InterfaceUndefine(ctx context.Context, ref protocol.Interface) error {
	t := c.drv.ifaces
	t.mu.Lock()
	defer t.mu.Unlock()
	_, i, err := t.find(ref.Name)
	if err != nil {
		return err
	}
	t.list = append(t.list[:i], t.list[i+1:]...)
	return nil
}

func (c *conn) InterfaceCreate(ctx context.Context, ref protocol.Interface, flags uint32) error {
	return c.setInterfaceActive(ref, flags, true, "testInterfaceCreate")
}

func (c *conn) InterfaceDestroy(ctx context.Context, ref protocol.Interface, flags uint32) error {
	return c.setInterfaceActive(ref, flags, false, "testInterfaceDestroy")
}

// setInterfaceActive starts or stops an interface; one already in that
// state is refused with a bare OPERATION_INVALID, as libvirt has it.
func (c *conn) setInterfaceActive(ref protocol.Interface, flags uint32, active bool, fn string) error {
	if err := checkFlags(flags, 0, fn); err != nil {
		return err
	}
	t := c.drv.ifaces
	t.mu.Lock()
	defer t.mu.Unlock()
	f, _, err := t.find(ref.Name)
	if err != nil {
		return err
	}
	if f.active == active {
		return drivers.Errorf(vir.ErrOperationInvalid, vir.FromTest, "")
	}
	f.active = active
	return nil
}

// InterfaceChangeBegin starts the transaction: the table as it is now
// is saved for a rollback. libvirt saves a copy of each definition and
// not their state, so a rollback leaves every interface inactive.
func (c *conn) InterfaceChangeBegin(ctx context.Context, flags uint32) error {
	if err := checkFlags(flags, 0, "testInterfaceChangeBegin"); err != nil {
		return err
	}
	t := c.drv.ifaces
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.inTxn {
		return drivers.Errorf(vir.ErrOperationInvalid, vir.FromTest, "there is another transaction running.")
	}
	backup := make([]*iface, 0, len(t.list))
	for _, f := range t.list {
		def, err := copyInterface(f.def)
		if err != nil {
			return err
		}
		backup = append(backup, &iface{def: def})
	}
	t.inTxn, t.backup = true, backup
	return nil
}

// InterfaceChangeCommit ends the transaction, keeping the table.
func (c *conn) InterfaceChangeCommit(ctx context.Context, flags uint32) error {
	if err := checkFlags(flags, 0, "testInterfaceChangeCommit"); err != nil {
		return err
	}
	t := c.drv.ifaces
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.inTxn {
		return drivers.Errorf(vir.ErrOperationInvalid, vir.FromTest, "no transaction running, nothing to be committed.")
	}
	t.inTxn, t.backup = false, nil
	return nil
}

// InterfaceChangeRollback ends the transaction, restoring the table
// saved by InterfaceChangeBegin.
func (c *conn) InterfaceChangeRollback(ctx context.Context, flags uint32) error {
	if err := checkFlags(flags, 0, "testInterfaceChangeRollback"); err != nil {
		return err
	}
	t := c.drv.ifaces
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.inTxn {
		return drivers.Errorf(vir.ErrOperationInvalid, vir.FromTest, "no transaction running, nothing to rollback.")
	}
	t.list, t.inTxn, t.backup = t.backup, false, nil
	return nil
}

// interfaceType reads the type attribute libvirtxml does not keep (it
// derives the type from the child elements when it formats).
type interfaceType struct {
	Type *string `xml:"type,attr"`
}

// parseInterface parses an interface definition and normalises it as
// libvirt's parser does, so that formatting it gives libvirt's XML:
// errors for what libvirt refuses, and only the elements libvirt keeps
// for the interface's type and level.
func parseInterface(doc string) (*libvirtxml.Interface, error) {
	var typ interfaceType
	if err := xml.Unmarshal([]byte(doc), &typ); err != nil {
		return nil, drivers.Errorf(vir.ErrXMLDetail, vir.FromInterface, "(interface_definition): %v", err)
	}
	def := &libvirtxml.Interface{}
	if err := def.Unmarshal(doc); err != nil {
		return nil, drivers.Errorf(vir.ErrXMLDetail, vir.FromInterface, "(interface_definition): %v", err)
	}
	if typ.Type == nil {
		return nil, drivers.Errorf(vir.ErrXMLError, vir.FromXML, "Missing required attribute 'type' in element 'interface'")
	}
	if err := normaliseInterface(def, *typ.Type, ""); err != nil {
		return nil, err
	}
	return def, nil
}

// normaliseInterface checks def, of type typ, under a parent of type
// parent ("" at the top), and drops what libvirt's parser ignores.
func normaliseInterface(def *libvirtxml.Interface, typ, parent string) error {
	switch typ {
	case "ethernet", "bridge", "bond", "vlan":
	default:
		return drivers.Errorf(vir.ErrXMLError, vir.FromXML, "Invalid value for attribute 'type' in element 'interface': '%s'.", typ)
	}
	if (parent == "bond" && typ != "ethernet") || (parent == "bridge" && typ == "bridge") ||
		parent == "ethernet" || parent == "vlan" {
		return drivers.Errorf(vir.ErrXMLError, vir.FromInterface, "interface has unsupported type '%s'", typ)
	}
	if def.Name == "" {
		return drivers.Errorf(vir.ErrXMLError, vir.FromInterface, "interface has no name")
	}
	if parent != "" {
		// Members inherit start mode and MTU and have no addressing.
		def.Start, def.MTU, def.Protocol = nil, nil, nil
	}
	if def.Start != nil {
		switch def.Start.Mode {
		case "":
			def.Start = nil
		case "onboot", "hotplug", "none":
		default:
			return drivers.Errorf(vir.ErrXMLError, vir.FromInterface, "unknown interface startmode %s", def.Start.Mode)
		}
	}
	if def.MTU != nil && def.MTU.Size > 100000 {
		return drivers.Errorf(vir.ErrXMLError, vir.FromInterface, "value of the 'size' attribute of 'mtu' element must be at most 100000")
	}
	if def.MTU != nil && def.MTU.Size == 0 {
		def.MTU = nil
	}
	for _, p := range def.Protocol {
		if p.Family == "" {
			return drivers.Errorf(vir.ErrXMLError, vir.FromInterface, "protocol misses the family attribute")
		}
		if p.Family != "ipv4" && p.Family != "ipv6" {
			return drivers.Errorf(vir.ErrXMLError, vir.FromInterface, "unsupported protocol family '%s'", p.Family)
		}
	}
	if typ == "bridge" {
		def.Link = nil // a bridge has no link state
	}
	// Only the element of its own type counts, and only an ethernet
	// interface keeps its MAC.
	bond, bridge, vlan := def.Bond, def.Bridge, def.VLAN
	def.Bond, def.Bridge, def.VLAN = nil, nil, nil
	if typ != "ethernet" {
		def.MAC = nil
	}
	switch typ {
	case "bridge":
		if bridge == nil {
			return drivers.Errorf(vir.ErrXMLError, vir.FromInterface, "bridge interface misses the bridge element")
		}
		def.Bridge = bridge
		return normaliseMembers(bridge.Interfaces, typ)
	case "bond":
		if bond == nil {
			return drivers.Errorf(vir.ErrXMLError, vir.FromInterface, "bond interface misses the bond element")
		}
		def.Bond = bond
		return normaliseMembers(bond.Interfaces, typ)
	case "vlan":
		if vlan == nil {
			return drivers.Errorf(vir.ErrXMLError, vir.FromInterface, "vlan interface misses the vlan element")
		}
		if vlan.Tag == nil {
			return drivers.Errorf(vir.ErrXMLError, vir.FromInterface, "vlan interface misses the tag attribute")
		}
		if vlan.Interface == nil || vlan.Interface.Name == "" {
			return drivers.Errorf(vir.ErrXMLError, vir.FromInterface, "vlan interface misses name attribute")
		}
		def.VLAN = &libvirtxml.InterfaceVLAN{Tag: vlan.Tag, Interface: &libvirtxml.Interface{Name: vlan.Interface.Name}}
	}
	return nil
}

// normaliseMembers normalises the member interfaces of a bridge or
// bond, whose own types libvirtxml derives from their children.
func normaliseMembers(members []libvirtxml.Interface, parent string) error {
	for i := range members {
		m := &members[i]
		typ := "ethernet"
		switch {
		case m.Bond != nil:
			typ = "bond"
		case m.Bridge != nil:
			typ = "bridge"
		case m.VLAN != nil:
			typ = "vlan"
		}
		if err := normaliseInterface(m, typ, parent); err != nil {
			return err
		}
	}
	return nil
}

func formatInterface(def *libvirtxml.Interface) (string, error) {
	s, err := def.Marshal()
	if err != nil {
		return "", drivers.Errorf(vir.ErrInternalError, vir.FromInterface, "cannot format interface %s: %v", def.Name, err)
	}
	if def.VLAN != nil && def.VLAN.Interface != nil {
		// libvirtxml gives every interface element a type; libvirt names a
		// vlan's device by its name alone.
		var name strings.Builder
		if err := xml.EscapeText(&name, []byte(def.VLAN.Interface.Name)); err != nil {
			return "", drivers.Errorf(vir.ErrInternalError, vir.FromInterface, "cannot format interface %s: %v", def.Name, err)
		}
		s = strings.Replace(s, `<interface type="ethernet" name="`+name.String()+`">`, `<interface name="`+name.String()+`">`, 1)
	}
	return s + "\n", nil
}

// copyInterface is a deep copy of def, through its XML.
func copyInterface(def *libvirtxml.Interface) (*libvirtxml.Interface, error) {
	s, err := formatInterface(def)
	if err != nil {
		return nil, err
	}
	cp := &libvirtxml.Interface{}
	if err := cp.Unmarshal(s); err != nil {
		return nil, drivers.Errorf(vir.ErrInternalError, vir.FromInterface, "cannot copy interface %s: %v", def.Name, err)
	}
	return cp, nil
}
