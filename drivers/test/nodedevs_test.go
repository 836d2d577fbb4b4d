package test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

const vhbaXML = `<device><parent>scsi_host1</parent><capability type='scsi_host'><capability type='fc_host'>
<wwnn>2000000011112222</wwnn><wwpn>1000000011112222</wwpn></capability></capability></device>`

// devEvents registers a node device lifecycle callback through the
// registration interface the daemon uses and returns what it delivered
// since the last call, as "name Event" strings.
func devEvents(t *testing.T, c drivers.NodeDeviceEvents, dev *drivers.NodeDevice) func() []string {
	t.Helper()
	var evs []string
	if _, err := c.ConnectNodeDeviceEventRegisterAny(context.Background(), dev, vir.NodeDeviceEventIDLifecycle, func(_ int, ev drivers.NodeDeviceEvent) {
		e := ev.(drivers.NodeDeviceLifecycleEvent)
		evs = append(evs, fmt.Sprintf("%s %s/%d", e.Dev.Name, e.Event, e.Detail))
	}); err != nil {
		t.Fatal(err)
	}
	return func() []string { out := evs; evs = nil; return out }
}

func devNames(t *testing.T, c *conn, flags uint32) []string {
	t.Helper()
	ret := must[*protocol.ConnectListAllNodeDevicesRet](t)(c.ConnectListAllNodeDevices(context.Background(), 1, flags))
	var out []string
	for _, d := range ret.Devices {
		out = append(out, d.Name)
	}
	slices.Sort(out)
	if int(ret.Ret) != len(out) {
		t.Errorf("list answers %d devices and counts %d", len(out), ret.Ret)
	}
	return out
}

func TestNodeDeviceDefaults(t *testing.T) {
	c, _ := open(t, New())
	ctx := context.Background()
	if got := devNames(t, c, 0); !slices.Equal(got, []string{"computer", "scsi_host1", "scsi_host11", "scsi_host2"}) {
		t.Errorf("devices %v", got)
	}
	if got := devNames(t, c, uint32(vir.ConnectListNodeDevicesCapVports)); !slices.Equal(got, []string{"scsi_host1", "scsi_host2"}) {
		t.Errorf("vport-capable devices %v", got)
	}
	if got := devNames(t, c, uint32(vir.ConnectListNodeDevicesCapSystem|vir.ConnectListNodeDevicesCapFcHost)); len(got) != 4 {
		t.Errorf("system or fc_host devices %v", got)
	}
	// virsh nodedev-list always passes ACTIVE, which libvirt 9.0's test
	// driver refuses.
	_, err := c.ConnectListAllNodeDevices(ctx, 1, uint32(vir.ConnectListNodeDevicesActive))
	wantErr(t, err, vir.ErrInvalidArg, "unsupported flags (0x80000000) in function testConnectListAllNodeDevices")

	scsi := "scsi_host"
	if n := must[int32](t)(c.NodeNumOfDevices(ctx, &scsi, 0)); n != 3 {
		t.Errorf("%d scsi_host devices, want 3", n)
	}
	if caps := must[[]string](t)(c.NodeDeviceListCaps(ctx, "scsi_host1", 10)); !slices.Equal(caps, []string{"scsi_host"}) {
		t.Errorf("scsi_host1 caps %v", caps)
	}
	if p := must[*string](t)(c.NodeDeviceGetParent(ctx, "scsi_host11")); p == nil || *p != "scsi_host1" {
		t.Errorf("scsi_host11's parent %v", p)
	}
	_, err = c.NodeDeviceGetParent(ctx, "computer")
	wantErr(t, err, vir.ErrInternalError, "no parent for this device")
	_, err = c.NodeDeviceLookupByName(ctx, "nosuch")
	wantErr(t, err, vir.ErrNoNodeDevice, "Node device not found: no node device with matching name 'nosuch'")

	// libvirt reads no vport counts from XML and writes max_vports
	// before vports.
	doc := must[string](t)(c.NodeDeviceGetXMLDesc(ctx, "scsi_host1", 0))
	if !strings.Contains(doc, "<max_vports>0</max_vports>\n      <vports>0</vports>") {
		t.Errorf("scsi_host1's vport_ops not as libvirt writes it:\n%s", doc)
	}
}

func TestNodeDeviceVHBA(t *testing.T) {
	d := New()
	c, _ := open(t, d)
	other, _ := open(t, d)
	ctx := context.Background()
	all := devEvents(t, other, nil)
	only := devEvents(t, other, &drivers.NodeDevice{Name: "scsi_host12"})
	otherDev := devEvents(t, other, &drivers.NodeDevice{Name: "scsi_host1"})

	dev := must[protocol.NodeDevice](t)(c.NodeDeviceCreateXML(ctx, vhbaXML, 0))
	if dev.Name != "scsi_host12" {
		t.Fatalf("created %q, want scsi_host12", dev.Name)
	}
	expect(t, all, "scsi_host12 VIR_NODE_DEVICE_EVENT_CREATED/0")
	expect(t, only, "scsi_host12 VIR_NODE_DEVICE_EVENT_CREATED/0")
	doc := must[string](t)(c.NodeDeviceGetXMLDesc(ctx, "scsi_host12", 0))
	// A copy of scsi_host11 (its parent, host and fabric) with the WWNs asked.
	for _, w := range []string{"<parent>scsi_host1</parent>", "<host>11</host>", "<unique_id>10</unique_id>",
		"<wwnn>2000000011112222</wwnn>", "<wwpn>1000000011112222</wwpn>", "<fabric_wwn>2000000043214321</fabric_wwn>"} {
		if !strings.Contains(doc, w) {
			t.Errorf("scsi_host12 lacks %s:\n%s", w, doc)
		}
	}

	if err := c.NodeDeviceDestroy(ctx, "scsi_host12"); err != nil {
		t.Fatal(err)
	}
	expect(t, all, "scsi_host12 VIR_NODE_DEVICE_EVENT_DELETED/0")
	expect(t, only, "scsi_host12 VIR_NODE_DEVICE_EVENT_DELETED/0")
	wantErr(t, c.NodeDeviceDestroy(ctx, "scsi_host12"), vir.ErrNoNodeDevice, "scsi_host12")
	// Not an FC HBA: libvirt's test driver reports success and keeps it.
	if err := c.NodeDeviceDestroy(ctx, "computer"); err != nil {
		t.Fatal(err)
	}
	must[protocol.NodeDevice](t)(c.NodeDeviceLookupByName(ctx, "computer"))
	expect(t, all)

	for _, bad := range []struct{ doc, text string }{
		{`junk`, "node_device_definition"},
		{`<device><capability type='system'/></device>`, "Device is not a fibre channel HBA"},
		{strings.Replace(vhbaXML, "scsi_host1<", "scsi_host11<", 1), "Parent device scsi_host11 is not capable of vport operations"},
		{strings.Replace(vhbaXML, "scsi_host1<", "nosuch<", 1), "Could not find parent device for 'new device'"},
		{strings.Replace(vhbaXML, "<wwnn>2000000011112222</wwnn>", "", 1), "no WWNN supplied"},
	} {
		_, err := c.NodeDeviceCreateXML(ctx, bad.doc, 0)
		if err == nil || !strings.Contains(err.Error(), bad.text) {
			t.Errorf("create %s: %v, want an error containing %q", bad.doc, err, bad.text)
		}
	}
	// By the parent's WWNs, and with no parent at all.
	byWWN := `<device><parent wwnn='2000000056785678' wwpn='1000000056785678'/><capability type='scsi_host'><capability type='fc_host'>
<wwnn>2000000011113333</wwnn><wwpn>1000000011113333</wwpn></capability></capability></device>`
	must[protocol.NodeDevice](t)(c.NodeDeviceCreateXML(ctx, byWWN, 0))
	noParent := strings.Replace(vhbaXML, "<parent>scsi_host1</parent>", "", 1)
	must[protocol.NodeDevice](t)(c.NodeDeviceCreateXML(ctx, noParent, 0))
	expect(t, all, "scsi_host12 VIR_NODE_DEVICE_EVENT_CREATED/0", "scsi_host12 VIR_NODE_DEVICE_EVENT_CREATED/0")
	expect(t, otherDev)
	if got := devNames(t, c, 0); len(got) != 5 {
		t.Errorf("a second create replaces scsi_host12; devices %v", got)
	}

	// Closing the connection removes its callbacks.
	if n := d.nodeDevs.callbacks.Len(); n != 3 {
		t.Fatalf("%d callbacks, want 3", n)
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	if n := d.nodeDevs.callbacks.Len(); n != 0 {
		t.Errorf("%d callbacks left after close", n)
	}
	if _, err := other.ConnectNodeDeviceEventRegisterAny(ctx, nil, vir.NodeDeviceEventIDLifecycle, func(int, drivers.NodeDeviceEvent) {}); err == nil {
		t.Error("a closed connection registered a callback")
	}
}
