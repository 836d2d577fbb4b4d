package test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

const eth9XML = `<interface type='ethernet' name='eth9'><mac address='52:54:00:aa:bb:cc'/></interface>`

// ifaceStates is every interface as "name:active|inactive", sorted.
func ifaceStates(t *testing.T, c *conn) []string {
	t.Helper()
	ret := must[*protocol.ConnectListAllInterfacesRet](t)(c.ConnectListAllInterfaces(context.Background(), 1, 0))
	var out []string
	for _, i := range ret.Ifaces {
		state := "inactive"
		if must[int32](t)(c.InterfaceIsActive(context.Background(), i)) == 1 {
			state = "active"
		}
		out = append(out, i.Name+":"+state)
	}
	slices.Sort(out)
	return out
}

func wantStates(t *testing.T, c *conn, want ...string) {
	t.Helper()
	if got := ifaceStates(t, c); !slices.Equal(got, want) {
		t.Fatalf("interfaces %v, want %v", got, want)
	}
}

// wantErr checks that err is a driver error of code whose message
// contains text.
func wantErr(t *testing.T, err error, code vir.ErrorNumber, text string) {
	t.Helper()
	if err == nil {
		t.Fatalf("succeeded, want error %d %q", code, text)
	}
	if drivers.CodeOf(err) != code || !strings.Contains(err.Error(), text) {
		t.Fatalf("error %d %q, want %d containing %q", drivers.CodeOf(err), err, code, text)
	}
}

func TestInterfaceDefaultEth1(t *testing.T) {
	c, _ := open(t, New())
	ctx := context.Background()
	wantStates(t, c, "eth1:active")
	i := must[protocol.Interface](t)(c.InterfaceLookupByName(ctx, "eth1"))
	if i.MAC != "aa:bb:cc:dd:ee:ff" {
		t.Errorf("eth1 MAC %q", i.MAC)
	}
	// By MAC without regard to case; the reference keeps the MAC asked.
	i = must[protocol.Interface](t)(c.InterfaceLookupByMACString(ctx, "AA:BB:CC:DD:EE:FF"))
	if i.Name != "eth1" || i.MAC != "AA:BB:CC:DD:EE:FF" {
		t.Errorf("lookup by upper-case MAC: %+v", i)
	}
	_, err := c.InterfaceLookupByMACString(ctx, "00:11:22:33:44:55")
	wantErr(t, err, vir.ErrNoInterface, "Interface not found: no interface with matching mac '00:11:22:33:44:55'")
	_, err = c.InterfaceLookupByName(ctx, "nosuch")
	wantErr(t, err, vir.ErrNoInterface, "no interface with matching name 'nosuch'")

	// libvirt's XML for eth1: its elements in libvirt's order.
	doc := must[string](t)(c.InterfaceGetXMLDesc(ctx, i, 0))
	want := []string{"<interface", `type="ethernet"`, `name="eth1"`, `<start mode="onboot">`, `<mtu size="1492">`,
		`<protocol family="ipv4">`, `<ip address="192.168.0.5" prefix="24">`, `<route gateway="192.168.0.1">`, `<mac address="aa:bb:cc:dd:ee:ff">`}
	at := 0
	for _, w := range want {
		n := strings.Index(doc[at:], w)
		if n < 0 {
			t.Fatalf("eth1 XML lacks %s after offset %d:\n%s", w, at, doc)
		}
		at += n
	}
	_, err = c.InterfaceGetXMLDesc(ctx, i, uint32(vir.InterfaceXMLInactive))
	wantErr(t, err, vir.ErrInvalidArg, "unsupported flags (0x1) in function testInterfaceGetXMLDesc")
}

func TestInterfaceLifecycle(t *testing.T) {
	c, _ := open(t, New())
	ctx := context.Background()
	eth9 := must[protocol.Interface](t)(c.InterfaceDefineXML(ctx, eth9XML, 0))
	if eth9 != (protocol.Interface{Name: "eth9", MAC: "52:54:00:aa:bb:cc"}) {
		t.Fatalf("define returned %+v", eth9)
	}
	wantStates(t, c, "eth1:active", "eth9:inactive")
	if n := must[int32](t)(c.ConnectNumOfDefinedInterfaces(ctx)); n != 1 {
		t.Errorf("%d defined interfaces, want 1", n)
	}
	if err := c.InterfaceCreate(ctx, eth9, 0); err != nil {
		t.Fatal(err)
	}
	wantErr(t, c.InterfaceCreate(ctx, eth9, 0), vir.ErrOperationInvalid, "Requested operation is not valid")
	// A redefinition keeps the state.
	must[protocol.Interface](t)(c.InterfaceDefineXML(ctx, eth9XML, 0))
	wantStates(t, c, "eth1:active", "eth9:active")
	if names := must[[]string](t)(c.ConnectListInterfaces(ctx, 10)); !slices.Equal(names, []string{"eth1", "eth9"}) {
		t.Errorf("active names %v", names)
	}
	if err := c.InterfaceDestroy(ctx, eth9, 0); err != nil {
		t.Fatal(err)
	}
	wantErr(t, c.InterfaceDestroy(ctx, eth9, 0), vir.ErrOperationInvalid, "Requested operation is not valid")
	ret := must[*protocol.ConnectListAllInterfacesRet](t)(c.ConnectListAllInterfaces(ctx, 1, uint32(vir.ConnectListInterfacesInactive)))
	if ret.Ret != 1 || ret.Ifaces[0].Name != "eth9" {
		t.Errorf("inactive list %+v", ret)
	}
	_, err := c.ConnectListAllInterfaces(ctx, 1, 4)
	wantErr(t, err, vir.ErrInvalidArg, "unsupported flags (0x4) in function testConnectListAllInterfaces")
	if err := c.InterfaceUndefine(ctx, eth9); err != nil {
		t.Fatal(err)
	}
	wantErr(t, c.InterfaceUndefine(ctx, eth9), vir.ErrNoInterface, "eth9")
	wantStates(t, c, "eth1:active")
}

func TestInterfaceTransaction(t *testing.T) {
	c, _ := open(t, New())
	ctx := context.Background()
	wantErr(t, c.InterfaceChangeCommit(ctx, 0), vir.ErrOperationInvalid, "no transaction running, nothing to be committed.")
	wantErr(t, c.InterfaceChangeRollback(ctx, 0), vir.ErrOperationInvalid, "no transaction running, nothing to rollback.")
	wantErr(t, c.InterfaceChangeBegin(ctx, 1), vir.ErrInvalidArg, "unsupported flags (0x1)")

	if err := c.InterfaceChangeBegin(ctx, 0); err != nil {
		t.Fatal(err)
	}
	wantErr(t, c.InterfaceChangeBegin(ctx, 0), vir.ErrOperationInvalid, "there is another transaction running.")
	must[protocol.Interface](t)(c.InterfaceDefineXML(ctx, eth9XML, 0))
	if err := c.InterfaceDestroy(ctx, protocol.Interface{Name: "eth1"}, 0); err != nil {
		t.Fatal(err)
	}
	wantStates(t, c, "eth1:inactive", "eth9:inactive")
	// Another connection of the same driver sees the same transaction.
	other, _ := open(t, c.drv)
	if err := other.InterfaceChangeRollback(ctx, 0); err != nil {
		t.Fatal(err)
	}
	// The saved definitions come back, all inactive, as libvirt's do.
	wantStates(t, c, "eth1:inactive")
	wantErr(t, c.InterfaceChangeRollback(ctx, 0), vir.ErrOperationInvalid, "nothing to rollback")

	if err := c.InterfaceCreate(ctx, protocol.Interface{Name: "eth1"}, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.InterfaceChangeBegin(ctx, 0); err != nil {
		t.Fatal(err)
	}
	must[protocol.Interface](t)(c.InterfaceDefineXML(ctx, eth9XML, 0))
	if err := c.InterfaceChangeCommit(ctx, 0); err != nil {
		t.Fatal(err)
	}
	wantStates(t, c, "eth1:active", "eth9:inactive")
	wantErr(t, c.InterfaceChangeCommit(ctx, 0), vir.ErrOperationInvalid, "nothing to be committed")
}

func TestInterfaceXMLNormalised(t *testing.T) {
	c, _ := open(t, New())
	ctx := context.Background()
	br := must[protocol.Interface](t)(c.InterfaceDefineXML(ctx, `<interface type="bridge" name="br0">
  <mac address="11:22:33:44:55:66"/><start mode="none"/>
  <bridge stp="off"><interface type="ethernet" name="eth0"><start mode="onboot"/><mac address="aa:aa:aa:aa:aa:aa"/></interface></bridge>
</interface>`, 0))
	if br.MAC != "" {
		t.Errorf("a bridge keeps no MAC, got %q", br.MAC)
	}
	doc := must[string](t)(c.InterfaceGetXMLDesc(ctx, br, 0))
	if strings.Count(doc, "<start") != 1 || strings.Count(doc, "<mac") != 1 || !strings.Contains(doc, `<bridge stp="off">`) {
		t.Errorf("bridge XML not normalised as libvirt's parser does:\n%s", doc)
	}
	for _, bad := range []struct {
		doc  string
		code vir.ErrorNumber
		text string
	}{
		{`junk`, vir.ErrXMLDetail, "interface_definition"},
		{`<interface/>`, vir.ErrXMLError, "Missing required attribute 'type'"},
		{`<interface type="ethernet"/>`, vir.ErrXMLError, "interface has no name"},
		{`<interface type="foo" name="x"/>`, vir.ErrXMLError, "Invalid value for attribute 'type'"},
		{`<interface type="bridge" name="x"/>`, vir.ErrXMLError, "bridge interface misses the bridge element"},
		{`<interface type="ethernet" name="x"><start mode="sometimes"/></interface>`, vir.ErrXMLError, "unknown interface startmode"},
	} {
		_, err := c.InterfaceDefineXML(ctx, bad.doc, 0)
		wantErr(t, err, bad.code, bad.text)
	}
	// An interface without a MAC matches any MAC in libvirt's test
	// driver; with eth1's lookup that makes two matches.
	_, err := c.InterfaceLookupByMACString(ctx, "aa:bb:cc:dd:ee:ff")
	wantErr(t, err, vir.ErrMultipleInterfaces, "multiple matching interfaces found")
}

// A vlan's device is named without a type, and a bond's members keep
// theirs, as libvirt formats them.
func TestInterfaceVLANAndBondXML(t *testing.T) {
	c, _ := open(t, New())
	ctx := context.Background()
	vlan := must[protocol.Interface](t)(c.InterfaceDefineXML(ctx, `<interface type='vlan' name='eth0.42'><start mode='onboot'/><vlan tag='42'><interface name='eth0'/></vlan></interface>`, 0))
	doc := must[string](t)(c.InterfaceGetXMLDesc(ctx, vlan, 0))
	if !strings.Contains(doc, `<vlan tag="42">`) || !strings.Contains(doc, `<interface name="eth0">`) {
		t.Errorf("vlan XML:\n%s", doc)
	}
	bond := must[protocol.Interface](t)(c.InterfaceDefineXML(ctx, `<interface type='bond' name='bond0'><bond mode='active-backup'><miimon freq='100' updelay='10' carrier='ioctl'/><interface type='ethernet' name='eth3'><mac address='aa:bb:cc:dd:ee:01'/></interface></bond></interface>`, 0))
	doc = must[string](t)(c.InterfaceGetXMLDesc(ctx, bond, 0))
	if !strings.Contains(doc, `<interface type="ethernet" name="eth3">`) || !strings.Contains(doc, `<mac address="aa:bb:cc:dd:ee:01">`) {
		t.Errorf("bond XML:\n%s", doc)
	}
}
