package test

import (
	"context"
	"encoding/xml"
	"sync"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// The test driver's host devices (virNodeDevice*), in the image of
// libvirt's: the host "computer", two vport-capable fibre channel HBAs
// scsi_host1 and scsi_host2, and a vHBA scsi_host11 on scsi_host1.
// virNodeDeviceCreateXML creates a vHBA as libvirt's test driver mocks
// it: always named scsi_host12, a copy of scsi_host11 with the WWNs
// asked for. Devices have no persistent configuration here, as in
// libvirt 9.0's test driver (no define, undefine, create or autostart).

// defaultNodeDevicesXML are the devices test:///default starts with.
var defaultNodeDevicesXML = []string{`<device>
  <name>computer</name>
  <capability type='system'>
    <hardware>
      <vendor>Libvirt</vendor>
      <version>Test driver</version>
      <serial>123456</serial>
      <uuid>11111111-2222-3333-4444-555555555555</uuid>
    </hardware>
    <firmware>
      <vendor>Libvirt</vendor>
      <version>Test Driver</version>
      <release_date>01/22/2007</release_date>
    </firmware>
  </capability>
</device>`, `<device>
  <name>scsi_host1</name>
  <parent>computer</parent>
  <capability type='scsi_host'>
    <host>1</host>
    <unique_id>0</unique_id>
    <capability type='fc_host'>
      <wwnn>2000000012341234</wwnn>
      <wwpn>1000000012341234</wwpn>
      <fabric_wwn>2000000043214321</fabric_wwn>
    </capability>
    <capability type='vport_ops'>
      <max_vports>127</max_vports>
      <vports>1</vports>
    </capability>
  </capability>
</device>`, `<device>
  <name>scsi_host2</name>
  <parent>computer</parent>
  <capability type='scsi_host'>
    <host>2</host>
    <unique_id>1</unique_id>
    <capability type='fc_host'>
      <wwnn>2000000056785678</wwnn>
      <wwpn>1000000056785678</wwpn>
      <fabric_wwn>2000000087658765</fabric_wwn>
    </capability>
    <capability type='vport_ops'>
      <max_vports>127</max_vports>
      <vports>0</vports>
    </capability>
  </capability>
</device>`, `<device>
  <name>scsi_host11</name>
  <parent>scsi_host1</parent>
  <capability type='scsi_host'>
    <host>11</host>
    <unique_id>10</unique_id>
    <capability type='fc_host'>
      <wwnn>2000000034563456</wwnn>
      <wwpn>1000000034563456</wwpn>
      <fabric_wwn>2000000043214321</fabric_wwn>
    </capability>
  </capability>
</device>`}

// The vHBA libvirt's test driver creates is a copy of vhbaTemplate
// named vhbaName.
const (
	vhbaTemplate = "scsi_host11"
	vhbaName     = "scsi_host12"
)

// nodeDevices is the device table of the test driver.
type nodeDevices struct {
	mu sync.Mutex // guards list; held while events are emitted, so they leave in order
	// list is in definition order; libvirt's is a hash table, and virsh
	// sorts what it prints.
	list []*libvirtxml.NodeDevice

	callbacks drivers.NodeDeviceCallbackList
}

func newNodeDevices() *nodeDevices {
	t := &nodeDevices{}
	for _, doc := range defaultNodeDevicesXML {
		dev := &libvirtxml.NodeDevice{}
		if err := dev.Unmarshal(doc); err != nil {
			panic("test driver: default node device: " + err.Error())
		}
		// libvirt's parser does not read a vport_ops capability's counts
		// (the host reports them), so it formats them as 0.
		if h := dev.Capability.SCSIHost; h != nil {
			for _, sub := range h.Capability {
				if sub.VPortOps != nil {
					*sub.VPortOps = libvirtxml.NodeDeviceSCSIVPortOpsCapability{}
				}
			}
		}
		t.list = append(t.list, dev)
	}
	return t
}

// nodeDevProcs are the node device procedures; all answer from memory
// under nodeDevices.mu without waiting.
var nodeDevProcs = []protocol.Procedure{
	protocol.ProcNodeNumOfDevices, protocol.ProcNodeListDevices, protocol.ProcConnectListAllNodeDevices,
	protocol.ProcNodeDeviceLookupByName, protocol.ProcNodeDeviceGetXMLDesc, protocol.ProcNodeDeviceGetParent,
	protocol.ProcNodeDeviceNumOfCaps, protocol.ProcNodeDeviceListCaps,
	protocol.ProcNodeDeviceCreateXML, protocol.ProcNodeDeviceDestroy,
}

func noNodeDevice(name string) *drivers.Error {
	return hostError(vir.ErrNoNodeDevice, vir.FromTest, "Node device not found: %s",
		"no node device with matching name '"+name+"'")
}

// find returns the device named name and its index. t.mu must be held.
func (t *nodeDevices) find(name string) (*libvirtxml.NodeDevice, int) {
	for i, d := range t.list {
		if d.Name == name {
			return d, i
		}
	}
	return nil, -1
}

func (t *nodeDevices) get(name string) (*libvirtxml.NodeDevice, error) {
	if d, _ := t.find(name); d != nil {
		return d, nil
	}
	return nil, noNodeDevice(name)
}

// capNames are the capabilities of dev, as virNodeDeviceListCaps names
// them: its own, not the fc_host and vports a scsi_host implies.
func capNames(dev *libvirtxml.NodeDevice) []string {
	switch {
	case dev.Capability.System != nil:
		return []string{"system"}
	case dev.Capability.SCSIHost != nil:
		return []string{"scsi_host"}
	}
	return []string{}
}

// fcHost and vportOps are the sub-capabilities of dev's scsi_host
// capability, or nil.
func fcHost(dev *libvirtxml.NodeDevice) *libvirtxml.NodeDeviceSCSIFCHostCapability {
	if h := dev.Capability.SCSIHost; h != nil {
		for _, sub := range h.Capability {
			if sub.FCHost != nil {
				return sub.FCHost
			}
		}
	}
	return nil
}

func vportCapable(dev *libvirtxml.NodeDevice) bool {
	if h := dev.Capability.SCSIHost; h != nil {
		for _, sub := range h.Capability {
			if sub.VPortOps != nil {
				return true
			}
		}
	}
	return false
}

// hasCap reports whether dev has capability cap, counting the fc_host
// and vports capabilities a scsi_host capability carries, as libvirt's
// device filter does.
func hasCap(dev *libvirtxml.NodeDevice, cap string) bool {
	for _, c := range capNames(dev) {
		if c == cap {
			return true
		}
	}
	switch cap {
	case "fc_host":
		return fcHost(dev) != nil
	case "vports":
		return vportCapable(dev)
	}
	return false
}

// capFlags are the capability filters of virConnectListAllNodeDevices,
// in flag-bit order, by capability name.
var capFlags = []string{
	"system", "pci", "usb_device", "usb", "net", "scsi_host", "scsi_target", "scsi",
	"storage", "fc_host", "vports", "scsi_generic", "drm", "mdev_types", "mdev",
	"ccw", "css", "vdpa", "ap_card", "ap_queue", "ap_matrix", "vpd",
}

func (c *conn) NodeNumOfDevices(ctx context.Context, cap_ *string, flags uint32) (int32, error) {
	if err := checkFlags(flags, 0, "testNodeNumOfDevices"); err != nil {
		return 0, err
	}
	t := c.drv.nodeDevs
	t.mu.Lock()
	defer t.mu.Unlock()
	n := int32(0)
	for _, d := range t.list {
		if cap_ == nil || hasCap(d, *cap_) {
			n++
		}
	}
	return n, nil
}

func (c *conn) NodeListDevices(ctx context.Context, cap_ *string, maxnames int32, flags uint32) ([]string, error) {
	if err := checkNames(maxnames, protocol.RemoteNodeDeviceListMax); err != nil {
		return nil, err
	}
	if err := checkFlags(flags, 0, "testNodeListDevices"); err != nil {
		return nil, err
	}
	t := c.drv.nodeDevs
	t.mu.Lock()
	defer t.mu.Unlock()
	names := []string{}
	for _, d := range t.list {
		if len(names) < int(maxnames) && (cap_ == nil || hasCap(d, *cap_)) {
			names = append(names, d.Name)
		}
	}
	return names, nil
}

// ConnectListAllNodeDevices lists the devices with any of the
// capabilities flags asks for (all when none is asked for). libvirt
// 9.0's test driver refuses the active and inactive filters, so virsh
// nodedev-list, which always passes one, fails against it: so it does
// here.
func (c *conn) ConnectListAllNodeDevices(ctx context.Context, needResults int32, flags uint32) (*protocol.ConnectListAllNodeDevicesRet, error) {
	capMask := uint32(1)<<len(capFlags) - 1
	if err := checkFlags(flags, capMask, "testConnectListAllNodeDevices"); err != nil {
		return nil, err
	}
	t := c.drv.nodeDevs
	t.mu.Lock()
	defer t.mu.Unlock()
	ret := &protocol.ConnectListAllNodeDevicesRet{Devices: []protocol.NodeDevice{}}
	for _, d := range t.list {
		if flags != 0 && !hasAnyCap(d, flags) {
			continue
		}
		ret.Ret++
		if needResults != 0 {
			ret.Devices = append(ret.Devices, protocol.NodeDevice{Name: d.Name})
		}
	}
	return ret, nil
}

func hasAnyCap(dev *libvirtxml.NodeDevice, flags uint32) bool {
	for bit, name := range capFlags {
		if flags&(1<<bit) != 0 && hasCap(dev, name) {
			return true
		}
	}
	return false
}

func (c *conn) NodeDeviceLookupByName(ctx context.Context, name string) (protocol.NodeDevice, error) {
	t := c.drv.nodeDevs
	t.mu.Lock()
	defer t.mu.Unlock()
	d, err := t.get(name)
	if err != nil {
		return protocol.NodeDevice{}, err
	}
	return protocol.NodeDevice{Name: d.Name}, nil
}

func (c *conn) NodeDeviceGetXMLDesc(ctx context.Context, name string, flags uint32) (string, error) {
	if err := checkFlags(flags, 0, "testNodeDeviceGetXMLDesc"); err != nil {
		return "", err
	}
	t := c.drv.nodeDevs
	t.mu.Lock()
	defer t.mu.Unlock()
	d, err := t.get(name)
	if err != nil {
		return "", err
	}
	return formatNodeDevice(d)
}

// NodeDeviceGetParent answers the parent's name; a device without one
// (computer) gets libvirt's internal error.
func (c *conn) NodeDeviceGetParent(ctx context.Context, name string) (*string, error) {
	t := c.drv.nodeDevs
	t.mu.Lock()
	defer t.mu.Unlock()
	d, err := t.get(name)
	if err != nil {
		return nil, err
	}
	if d.Parent == "" {
		return nil, drivers.Errorf(vir.ErrInternalError, vir.FromTest, "no parent for this device")
	}
	p := d.Parent
	return &p, nil
}

func (c *conn) NodeDeviceNumOfCaps(ctx context.Context, name string) (int32, error) {
	t := c.drv.nodeDevs
	t.mu.Lock()
	defer t.mu.Unlock()
	d, err := t.get(name)
	if err != nil {
		return 0, err
	}
	return int32(len(capNames(d))), nil
}

func (c *conn) NodeDeviceListCaps(ctx context.Context, name string, maxnames int32) ([]string, error) {
	if err := checkNames(maxnames, protocol.RemoteNodeDeviceCapsListMax); err != nil {
		return nil, err
	}
	t := c.drv.nodeDevs
	t.mu.Lock()
	defer t.mu.Unlock()
	d, err := t.get(name)
	if err != nil {
		return nil, err
	}
	names := capNames(d)
	if len(names) > int(maxnames) {
		names = names[:maxnames]
	}
	return names, nil
}

// vhbaRequest is what virNodeDeviceCreateXML reads of a vHBA request
// beyond libvirtxml's NodeDevice: the parent's WWNs or fabric, which
// are attributes of <parent>.
type vhbaRequest struct {
	Parent *struct {
		WWNN      string `xml:"wwnn,attr"`
		WWPN      string `xml:"wwpn,attr"`
		FabricWWN string `xml:"fabric_wwn,attr"`
	} `xml:"parent"`
}

// NodeDeviceCreateXML creates a vHBA (virNodeDeviceCreateXML) as
// libvirt's test driver mocks it: the request must be a fibre channel
// scsi_host with both WWNs whose parent (by name, by WWNs, by fabric,
// or else any) is vport capable; the device made is scsi_host11's copy
// named scsi_host12 with the requested WWNs, replacing an earlier
// scsi_host12. A lifecycle event CREATED follows.
func (c *conn) NodeDeviceCreateXML(ctx context.Context, doc string, flags uint32) (protocol.NodeDevice, error) {
	if err := checkFlags(flags, uint32(vir.NodeDeviceCreateXMLValidate), "testNodeDeviceCreateXML"); err != nil {
		return protocol.NodeDevice{}, err
	}
	if flags&uint32(vir.NodeDeviceCreateXMLValidate) != 0 {
		// libvirt checks the document against its nodedev.rng schema;
		// govirtd has no RelaxNG validator, and does not pretend to.
		return protocol.NodeDevice{}, drivers.Errorf(vir.ErrNoSupport, vir.FromTest,
			"schema validation of node device XML (VIR_NODE_DEVICE_CREATE_XML_VALIDATE) is not implemented; create without it")
	}
	req := &libvirtxml.NodeDevice{}
	var extra vhbaRequest
	if err := req.Unmarshal(doc); err != nil {
		return protocol.NodeDevice{}, drivers.Errorf(vir.ErrXMLDetail, vir.FromNodedev, "(node_device_definition): %v", err)
	}
	if err := xml.Unmarshal([]byte(doc), &extra); err != nil {
		return protocol.NodeDevice{}, drivers.Errorf(vir.ErrXMLDetail, vir.FromNodedev, "(node_device_definition): %v", err)
	}
	// libvirt names the device of a create request "new device" in its
	// errors, whatever name it gives.
	const reqName = "new device"
	if req.Capability.SCSIHost == nil || fcHost(req) == nil {
		return protocol.NodeDevice{}, drivers.Errorf(vir.ErrInternalError, vir.FromNodedev, "Device is not a fibre channel HBA")
	}
	fc := fcHost(req)
	if fc.WWNN == "" || fc.WWPN == "" {
		which := "WWNN"
		if fc.WWNN != "" {
			which = "WWPN"
		}
		// libvirt would generate one, which fails on the test driver.
		return protocol.NodeDevice{}, drivers.Errorf(vir.ErrInternalError, vir.FromNodedev, "no %s supplied for '%s', and auto-generation failed", which, reqName)
	}
	t := c.drv.nodeDevs
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.checkVportParent(req, extra, reqName); err != nil {
		return protocol.NodeDevice{}, err
	}
	if err := t.createVport(fc.WWNN, fc.WWPN); err != nil {
		return protocol.NodeDevice{}, err
	}
	return protocol.NodeDevice{Name: vhbaName}, nil
}

// createVport adds the vHBA scsi_host12 with WWNs wwnn and wwpn, a copy
// of scsi_host11, replacing an earlier scsi_host12, and emits CREATED:
// libvirt's test driver mocks every vHBA creation so, a storage pool's
// fibre channel adapter too. t.mu must be held.
func (t *nodeDevices) createVport(wwnn, wwpn string) error {
	tmpl, _ := t.find(vhbaTemplate)
	if tmpl == nil {
		return drivers.Errorf(vir.ErrInternalError, vir.FromTest,
			"cannot create a vHBA: the test driver makes it as a copy of %s, which was destroyed", vhbaTemplate)
	}
	dev, err := copyNodeDevice(tmpl)
	if err != nil {
		return err
	}
	dev.Name = vhbaName
	if f := fcHost(dev); f != nil {
		f.WWNN, f.WWPN = wwnn, wwpn
	}
	if old, i := t.find(vhbaName); old != nil {
		t.list[i] = dev
	} else {
		t.list = append(t.list, dev)
	}
	t.callbacks.Emit(drivers.NodeDeviceLifecycleEvent{Dev: drivers.NodeDevice{Name: vhbaName}, Event: vir.NodeDeviceEventCreated})
	return nil
}

// checkVportParent finds the parent a vHBA request names, as libvirt
// does, and checks it can create vports. t.mu must be held.
func (t *nodeDevices) checkVportParent(req *libvirtxml.NodeDevice, extra vhbaRequest, reqName string) error {
	var parent *libvirtxml.NodeDevice
	notFound := drivers.Errorf(vir.ErrInternalError, vir.FromNodedev, "Could not find parent device for '%s'", reqName)
	switch p := extra.Parent; {
	case req.Parent != "":
		if parent, _ = t.find(req.Parent); parent == nil {
			return notFound
		}
	case p != nil && p.WWNN != "" && p.WWPN != "":
		parent = t.findFC(func(f *libvirtxml.NodeDeviceSCSIFCHostCapability) bool { return f.WWNN == p.WWNN && f.WWPN == p.WWPN })
		if parent == nil {
			return notFound
		}
	case p != nil && (p.WWNN != "" || p.WWPN != ""):
		return drivers.Errorf(vir.ErrXMLError, vir.FromNodedev, "when providing parent wwnn or wwpn, both must be given")
	case p != nil && p.FabricWWN != "":
		// libvirt takes the first match of its hash table; scsi_host1 and
		// scsi_host11 share a fabric, and the first defined is taken here.
		parent = t.findFC(func(f *libvirtxml.NodeDeviceSCSIFCHostCapability) bool { return f.FabricWWN == p.FabricWWN })
		if parent == nil {
			return notFound
		}
	default:
		for _, d := range t.list {
			if vportCapable(d) {
				parent = d
				break
			}
		}
		if parent == nil {
			return drivers.Errorf(vir.ErrInternalError, vir.FromNodedev, "Could not find any vport capable device")
		}
	}
	if !vportCapable(parent) {
		return drivers.Errorf(vir.ErrInternalError, vir.FromNodedev, "Parent device %s is not capable of vport operations", parent.Name)
	}
	return nil
}

func (t *nodeDevices) findFC(match func(*libvirtxml.NodeDeviceSCSIFCHostCapability) bool) *libvirtxml.NodeDevice {
	for _, d := range t.list {
		if f := fcHost(d); f != nil && match(f) {
			return d
		}
	}
	return nil
}

// NodeDeviceDestroy removes a vHBA (virNodeDeviceDestroy) and emits
// DELETED. As in libvirt 9.0's test driver, a device that is not a
// fibre channel HBA, or whose parent is gone, is left in place and the
// call still succeeds.
func (c *conn) NodeDeviceDestroy(ctx context.Context, name string) error {
	t := c.drv.nodeDevs
	t.mu.Lock()
	defer t.mu.Unlock()
	d, i := t.find(name)
	if d == nil {
		return noNodeDevice(name)
	}
	if fcHost(d) == nil {
		return nil
	}
	if p, _ := t.find(d.Parent); p == nil {
		return nil
	}
	t.list = append(t.list[:i], t.list[i+1:]...)
	t.callbacks.Emit(drivers.NodeDeviceLifecycleEvent{Dev: drivers.NodeDevice{Name: name}, Event: vir.NodeDeviceEventDeleted})
	return nil
}

func (c *conn) ConnectNodeDeviceEventRegisterAny(ctx context.Context, dev *drivers.NodeDevice, eventID vir.NodeDeviceEventID, cb func(callbackID int, ev drivers.NodeDeviceEvent)) (int, error) {
	var filter *string
	if dev != nil {
		filter = &dev.Name
	}
	return drivers.RegisterIn(&c.callbacks, &c.drv.nodeDevs.callbacks, c, eventID, filter, cb)
}

func (c *conn) ConnectNodeDeviceEventDeregisterAny(ctx context.Context, callbackID int) error {
	return c.drv.nodeDevs.callbacks.Deregister(c, callbackID)
}

var _ drivers.NodeDeviceEvents = (*conn)(nil)

func copyNodeDevice(dev *libvirtxml.NodeDevice) (*libvirtxml.NodeDevice, error) {
	s, err := dev.Marshal()
	if err != nil {
		return nil, drivers.Errorf(vir.ErrInternalError, vir.FromTest, "cannot copy node device %s: %v", dev.Name, err)
	}
	cp := &libvirtxml.NodeDevice{}
	if err := cp.Unmarshal(s); err != nil {
		return nil, drivers.Errorf(vir.ErrInternalError, vir.FromTest, "cannot copy node device %s: %v", dev.Name, err)
	}
	return cp, nil
}

// nodeDeviceOut is a device as libvirt formats it. libvirtxml parses
// devices well but writes a vport_ops capability's children in another
// order than libvirt (vports before max_vports), and the order is part
// of what clients compare; so the test driver's devices, which have a
// system or a scsi_host capability, are written through these types.
type nodeDeviceOut struct {
	XMLName xml.Name `xml:"device"`
	Name    string   `xml:"name"`
	Parent  string   `xml:"parent,omitempty"`
	Cap     capOut   `xml:"capability"`
}

// capOut is one capability; only the fields of its type are set, in
// the order libvirt writes them.
type capOut struct {
	Type     string                               `xml:"type,attr"`
	Product  string                               `xml:"product,omitempty"`
	Hardware *libvirtxml.NodeDeviceSystemHardware `xml:"hardware"`
	Firmware *libvirtxml.NodeDeviceSystemFirmware `xml:"firmware"`
	Host     *uint                                `xml:"host"`
	UniqueID *uint                                `xml:"unique_id"`
	WWNN     string                               `xml:"wwnn,omitempty"`
	WWPN     string                               `xml:"wwpn,omitempty"`
	Fabric   string                               `xml:"fabric_wwn,omitempty"`
	MaxVP    *int                                 `xml:"max_vports"`
	VPorts   *int                                 `xml:"vports"`
	Sub      []capOut                             `xml:"capability"`
}

func formatNodeDevice(dev *libvirtxml.NodeDevice) (string, error) {
	out := nodeDeviceOut{Name: dev.Name, Parent: dev.Parent}
	switch c := dev.Capability; {
	case c.System != nil:
		out.Cap = capOut{Type: "system", Product: c.System.Product, Hardware: c.System.Hardware, Firmware: c.System.Firmware}
	case c.SCSIHost != nil:
		host := c.SCSIHost.Host
		out.Cap = capOut{Type: "scsi_host", Host: &host, UniqueID: c.SCSIHost.UniqueID}
		for _, sub := range c.SCSIHost.Capability {
			switch {
			case sub.FCHost != nil:
				out.Cap.Sub = append(out.Cap.Sub, capOut{Type: "fc_host", WWNN: sub.FCHost.WWNN, WWPN: sub.FCHost.WWPN, Fabric: sub.FCHost.FabricWWN})
			case sub.VPortOps != nil:
				maxVP, vp := sub.VPortOps.MaxVPorts, sub.VPortOps.VPorts
				out.Cap.Sub = append(out.Cap.Sub, capOut{Type: "vport_ops", MaxVP: &maxVP, VPorts: &vp})
			}
		}
	default:
		return "", drivers.Errorf(vir.ErrInternalError, vir.FromTest, "cannot format node device %s: its capability is not one the test driver holds", dev.Name)
	}
	b, err := xml.MarshalIndent(out, "", "  ")
	if err != nil {
		return "", drivers.Errorf(vir.ErrInternalError, vir.FromTest, "cannot format node device %s: %v", dev.Name, err)
	}
	return string(b) + "\n", nil
}
