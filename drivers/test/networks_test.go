package test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

const scratchNetXML = `<network>
  <name>scratchnet</name>
  <uuid>3d4f3e4a-5c6b-4c7d-8e8f-9a0b1c2d3e4f</uuid>
  <bridge name='virbr9'/>
  <ip address='192.168.99.1' netmask='255.255.255.0'>
    <dhcp><range start='192.168.99.2' end='192.168.99.254'/></dhcp>
  </ip>
</network>`

var netEventNames = map[vir.NetworkEventLifecycleType]string{
	vir.NetworkEventDefined: "Defined", vir.NetworkEventUndefined: "Undefined",
	vir.NetworkEventStarted: "Started", vir.NetworkEventStopped: "Stopped",
}

// openNet returns a connection registered for every network's lifecycle
// events through drivers.NetworkEvents, and a function returning those
// delivered since the last call as "name Event" strings.
func openNet(t *testing.T, d *Driver) (*conn, func() []string) {
	t.Helper()
	c, _ := open(t, d)
	var reg drivers.NetworkEvents = c
	var evs []string
	_, err := reg.ConnectNetworkEventRegisterAny(context.Background(), nil, vir.NetworkEventIDLifecycle, func(_ int, ev drivers.NetworkEvent) {
		e := ev.(drivers.NetworkLifecycleEvent)
		evs = append(evs, fmt.Sprintf("%s %s", e.Net.Name, netEventNames[e.Event]))
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, func() []string { out := evs; evs = nil; return out }
}

// netState is "active persistent autostart" of the network, or its error.
func netState(c *conn, net protocol.Network) string {
	ctx := context.Background()
	a, err := c.NetworkIsActive(ctx, net)
	if err != nil {
		return err.Error()
	}
	p, _ := c.NetworkIsPersistent(ctx, net)
	s, _ := c.NetworkGetAutostart(ctx, net)
	return fmt.Sprintf("%d %d %d", a, p, s)
}

func TestDefaultNetworkAsLibvirt(t *testing.T) {
	c, _ := openNet(t, New())
	ctx := context.Background()
	net := must[protocol.Network](t)(c.NetworkLookupByName(ctx, "default"))
	if net.UUID.String() != "dd8fe884-6c02-601e-7551-cca97df1c5df" {
		t.Errorf("default network uuid %s", net.UUID)
	}
	if got := netState(c, net); got != "1 1 0" {
		t.Errorf("default network state %q, want active, persistent, no autostart", got)
	}
	doc := must[string](t)(c.NetworkGetXMLDesc(ctx, net, 0))
	for _, want := range []string{`<forward mode="nat">`, `<bridge name="virbr0" stp="on" delay="0">`, `<range start="192.168.122.2" end="192.168.122.254">`} {
		if !strings.Contains(doc, want) {
			t.Errorf("default network XML lacks %s:\n%s", want, doc)
		}
	}
	_, err := c.NetworkGetXMLDesc(ctx, net, uint32(vir.NetworkXMLInactive))
	wantCode(t, err, vir.ErrInvalidArg)
	if br := must[string](t)(c.NetworkGetBridgeName(ctx, net)); br != "virbr0" {
		t.Errorf("bridge %q", br)
	}
}

func TestNetworkLifecycleAndEvents(t *testing.T) {
	d := New()
	c, events := openNet(t, d)
	ctx := context.Background()

	net := must[protocol.Network](t)(c.NetworkDefineXML(ctx, scratchNetXML))
	expect(t, events, "scratchnet Defined")
	if got := netState(c, net); got != "0 1 0" {
		t.Fatalf("defined network state %q", got)
	}
	// Destroying an inactive network succeeds in libvirt's test driver.
	if err := c.NetworkDestroy(ctx, net); err != nil {
		t.Fatal(err)
	}
	expect(t, events, "scratchnet Stopped")

	if err := c.NetworkCreate(ctx, net); err != nil {
		t.Fatal(err)
	}
	expect(t, events, "scratchnet Started")
	wantCode(t, c.NetworkCreate(ctx, net), vir.ErrOperationInvalid)
	wantCode(t, c.NetworkUndefine(ctx, net), vir.ErrOperationInvalid) // still running
	expect(t, events)

	if err := c.NetworkSetAutostart(ctx, net, 1); err != nil {
		t.Fatal(err)
	}
	auto := must[[]drivers.Network](t)(c.ConnectListAllNetworks(ctx, vir.ConnectListNetworksAutostart))
	if len(auto) != 1 || auto[0].Name != "scratchnet" {
		t.Errorf("autostarted networks %v", auto)
	}

	if err := c.NetworkDestroy(ctx, net); err != nil {
		t.Fatal(err)
	}
	if err := c.NetworkUndefine(ctx, net); err != nil {
		t.Fatal(err)
	}
	expect(t, events, "scratchnet Stopped", "scratchnet Undefined")
	_, err := c.NetworkLookupByName(ctx, "scratchnet")
	wantCode(t, err, vir.ErrNoNetwork)

	// A transient network is gone once destroyed.
	net = must[protocol.Network](t)(c.NetworkCreateXML(ctx, scratchNetXML))
	expect(t, events, "scratchnet Started")
	if got := netState(c, net); got != "1 0 0" {
		t.Fatalf("transient network state %q", got)
	}
	trans := must[[]drivers.Network](t)(c.ConnectListAllNetworks(ctx, vir.ConnectListNetworksTransient))
	if len(trans) != 1 {
		t.Errorf("transient networks %v", trans)
	}
	_, err = c.NetworkCreateXML(ctx, scratchNetXML)
	wantCode(t, err, vir.ErrOperationInvalid) // already active
	wantCode(t, c.NetworkUndefine(ctx, net), vir.ErrOperationInvalid)
	if err := c.NetworkDestroy(ctx, net); err != nil {
		t.Fatal(err)
	}
	expect(t, events, "scratchnet Stopped")
	if got := netState(c, net); !strings.Contains(got, "no network with matching uuid") {
		t.Errorf("destroyed transient network still there: %q", got)
	}
	all := must[[]drivers.Network](t)(c.ConnectListAllNetworks(ctx, 0))
	if len(all) != 1 || all[0].Name != "default" {
		t.Errorf("networks left %v, want default only", all)
	}
}

func TestNetworkDefineConflicts(t *testing.T) {
	c, events := openNet(t, New())
	ctx := context.Background()
	_, err := c.NetworkDefineXML(ctx, strings.Replace(scratchNetXML, "scratchnet", "default", 1))
	wantCode(t, err, vir.ErrOperationFailed) // name of another uuid
	_, err = c.NetworkDefineXML(ctx, strings.Replace(scratchNetXML, "3d4f3e4a-5c6b-4c7d-8e8f-9a0b1c2d3e4f", "dd8fe884-6c02-601e-7551-cca97df1c5df", 1))
	wantCode(t, err, vir.ErrOperationFailed) // uuid of another name
	_, err = c.NetworkDefineXML(ctx, "<network><uuid>3d4f3e4a-5c6b-4c7d-8e8f-9a0b1c2d3e4f</uuid></network>")
	wantCode(t, err, vir.ErrNoName)
	_, err = c.NetworkDefineXML(ctx, "<network><name>x")
	wantCode(t, err, vir.ErrXMLError)
	expect(t, events)

	// Without a uuid one is made up; a bridge-less network has no bridge name.
	net := must[protocol.Network](t)(c.NetworkDefineXML(ctx, "<network><name>bare</name></network>"))
	if net.UUID == (protocol.UUID{}) {
		t.Error("no uuid generated")
	}
	_, err = c.NetworkGetBridgeName(ctx, net)
	wantCode(t, err, vir.ErrInternalError)
	expect(t, events, "bare Defined")
}

func TestNetworkEventFilterAndClose(t *testing.T) {
	d := New()
	c, _ := open(t, d)
	ctx := context.Background()
	other := drivers.Network{Name: "scratchnet", UUID: must[protocol.UUID](t)(protocol.ParseUUID("3d4f3e4a-5c6b-4c7d-8e8f-9a0b1c2d3e4f"))}
	var got []string
	cb := func(_ int, ev drivers.NetworkEvent) { got = append(got, ev.EventNetwork().Name) }
	def := must[protocol.Network](t)(c.NetworkLookupByName(ctx, "default"))
	id := must[int](t)(c.ConnectNetworkEventRegisterAny(ctx, &def, vir.NetworkEventIDLifecycle, cb))
	if _, err := c.ConnectNetworkEventRegisterAny(ctx, &def, vir.NetworkEventIDLifecycle, cb); err == nil {
		t.Error("the same registration twice was accepted")
	}
	must[protocol.Network](t)(c.NetworkDefineXML(ctx, scratchNetXML))
	if err := c.NetworkDestroy(ctx, def); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "default" {
		t.Errorf("filtered callback got %v, want default's event only", got)
	}
	if err := c.ConnectNetworkEventDeregisterAny(ctx, id); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.ConnectNetworkEventDeregisterAny(ctx, id), vir.ErrInvalidArg)
	if _, err := c.ConnectNetworkEventRegisterAny(ctx, &other, vir.NetworkEventIDLifecycle, cb); err != nil {
		t.Fatal(err)
	}
	_, err := c.ConnectNetworkEventRegisterAny(ctx, nil, vir.NetworkEventID(7), cb)
	wantCode(t, err, vir.ErrInvalidArg)
	if n := d.NetworkCallbacks(); n != 1 {
		t.Fatalf("%d network callbacks registered, want 1", n)
	}
	c.Close()
	if n := d.NetworkCallbacks(); n != 0 {
		t.Errorf("%d network callbacks left after Close", n)
	}
}

func hostLines(t *testing.T, c *conn, net protocol.Network) string {
	t.Helper()
	doc := must[string](t)(c.NetworkGetXMLDesc(context.Background(), net, 0))
	var hosts []string
	for _, l := range strings.Split(doc, "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "<host ") || strings.HasPrefix(l, "<range ") {
			hosts = append(hosts, l)
		}
	}
	return strings.Join(hosts, "\n")
}

func TestNetworkUpdateLiveConfigCurrent(t *testing.T) {
	c, events := openNet(t, New())
	ctx := context.Background()
	const (
		live    = uint32(vir.NetworkUpdateAffectLive)
		config  = uint32(vir.NetworkUpdateAffectConfig)
		host    = uint32(vir.NetworkSectionIPDhcpHost)
		rng     = uint32(vir.NetworkSectionIPDhcpRange)
		add     = uint32(vir.NetworkUpdateCommandAddLast)
		first   = uint32(vir.NetworkUpdateCommandAddFirst)
		del     = uint32(vir.NetworkUpdateCommandDelete)
		modify  = uint32(vir.NetworkUpdateCommandModify)
		h1      = `<host mac='52:54:00:00:00:01' ip='192.168.99.5'/>`
		h2      = `<host mac='52:54:00:00:00:02' name='foo' ip='192.168.99.6'/>`
		rangeEl = `<range start="192.168.99.2" end="192.168.99.254"></range>`
	)
	net := must[protocol.Network](t)(c.NetworkDefineXML(ctx, scratchNetXML))
	// Inactive: --live is refused, current means the config.
	wantCode(t, c.NetworkUpdate(ctx, net, add, host, -1, h1, live), vir.ErrOperationInvalid)
	if err := c.NetworkUpdate(ctx, net, add, host, -1, h1, 0); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.NetworkUpdate(ctx, net, add, host, -1, h1, 0), vir.ErrOperationInvalid) // duplicate
	if err := c.NetworkCreate(ctx, net); err != nil {
		t.Fatal(err)
	}
	// Active: current means live; a live-only change with no separate
	// config yet changes the one definition.
	if err := c.NetworkUpdate(ctx, net, first, host, -1, h2, 0); err != nil {
		t.Fatal(err)
	}
	want := rangeEl + "\n" + `<host mac="52:54:00:00:00:02" name="foo" ip="192.168.99.6"></host>` + "\n" + `<host mac="52:54:00:00:00:01" ip="192.168.99.5"></host>`
	if got := hostLines(t, c, net); got != want {
		t.Fatalf("after add-first:\n%s\nwant\n%s", got, want)
	}
	// --config on a running network changes only the saved config, which
	// dumpxml (live) does not show.
	if err := c.NetworkUpdate(ctx, net, del, host, -1, `<host mac='52:54:00:00:00:01'/>`, config); err != nil {
		t.Fatal(err)
	}
	if got := hostLines(t, c, net); got != want {
		t.Fatalf("a config change showed in the live XML:\n%s", got)
	}
	if err := c.NetworkUpdate(ctx, net, modify, host, -1, `<host mac='52:54:00:00:00:02' name='bar' ip='192.168.99.7'/>`, live|config); err != nil {
		t.Fatal(err)
	}
	if err := c.NetworkUpdate(ctx, net, del, rng, -1, `<range start='192.168.99.2' end='192.168.99.254'/>`, live); err != nil {
		t.Fatal(err)
	}
	want = `<host mac="52:54:00:00:00:02" name="bar" ip="192.168.99.7"></host>` + "\n" + `<host mac="52:54:00:00:00:01" ip="192.168.99.5"></host>`
	if got := hostLines(t, c, net); got != want {
		t.Fatalf("after modify and range delete:\n%s\nwant\n%s", got, want)
	}
	// Errors as libvirt's: unknown host, modify of a range, wrong element,
	// a section libvirt refuses, unknown flags, a transient's config.
	wantCode(t, c.NetworkUpdate(ctx, net, del, host, -1, `<host mac='52:54:00:00:00:09'/>`, live), vir.ErrOperationInvalid)
	wantCode(t, c.NetworkUpdate(ctx, net, modify, rng, -1, `<range start='192.168.99.2' end='192.168.99.3'/>`, live), vir.ErrOperationUnsupported)
	wantCode(t, c.NetworkUpdate(ctx, net, add, host, -1, `<range start='192.168.99.2' end='192.168.99.3'/>`, live), vir.ErrXMLError)
	wantCode(t, c.NetworkUpdate(ctx, net, add, uint32(vir.NetworkSectionBridge), -1, `<bridge/>`, live), vir.ErrOperationUnsupported)
	wantCode(t, c.NetworkUpdate(ctx, net, add, rng, -1, `<range start='10.0.0.2' end='10.0.0.3'/>`, live), vir.ErrInternalError)
	wantCode(t, c.NetworkUpdate(ctx, net, add, host, -1, h1, 8), vir.ErrInvalidArg)
	tr := must[protocol.Network](t)(c.NetworkCreateXML(ctx, strings.NewReplacer("scratchnet", "tr", "3d4f3e4a", "4d4f3e4a").Replace(scratchNetXML)))
	wantCode(t, c.NetworkUpdate(ctx, tr, add, host, -1, h1, config), vir.ErrOperationInvalid)
	expect(t, events, "scratchnet Defined", "scratchnet Started", "tr Started")
}
