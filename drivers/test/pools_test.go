package test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

const scratchPoolXML = `<pool type='dir'><name>scratch</name>
<uuid>4e5a4f5b-6d7c-4d8e-9f0a-0b1c2d3e4f5a</uuid><target><path>/scratch//pool/</path></target></pool>`

// poolEvents registers for both pool event ids through the
// drivers.StoragePoolEvents interface the daemon uses, and returns a
// function giving the events delivered since its last call.
func poolEvents(t *testing.T, c *conn, filter *drivers.StoragePool) func() []string {
	t.Helper()
	var mu sync.Mutex // callbacks run on the goroutine of the change
	var evs []string
	var reg drivers.StoragePoolEvents = c
	for _, id := range []vir.StoragePoolEventID{vir.StoragePoolEventIDLifecycle, vir.StoragePoolEventIDRefresh} {
		if _, err := reg.ConnectStoragePoolEventRegisterAny(context.Background(), filter, id, func(_ int, ev drivers.StoragePoolEvent) {
			mu.Lock()
			defer mu.Unlock()
			switch e := ev.(type) {
			case drivers.StoragePoolLifecycleEvent:
				evs = append(evs, fmt.Sprintf("%s %s/%d", e.Pool.Name, strings.TrimPrefix(e.Event.String(), "VIR_STORAGE_POOL_EVENT_"), e.Detail))
			case drivers.StoragePoolRefreshEvent:
				evs = append(evs, e.Pool.Name+" refresh")
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := evs
		evs = nil
		return out
	}
}

func poolInfo(t *testing.T, c *conn, p protocol.StoragePool) string {
	t.Helper()
	i, err := c.StoragePoolGetInfo(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("state=%d cap=%d alloc=%d avail=%d", i.State, i.Capacity, i.Allocation, i.Available)
}

func poolFlags(t *testing.T, c *conn, p protocol.StoragePool) string {
	t.Helper()
	ctx := context.Background()
	a := must[int32](t)(c.StoragePoolIsActive(ctx, p))
	per := must[int32](t)(c.StoragePoolIsPersistent(ctx, p))
	auto := must[int32](t)(c.StoragePoolGetAutostart(ctx, p))
	return fmt.Sprintf("active=%d persistent=%d autostart=%d", a, per, auto)
}

func listPools(t *testing.T, c *conn, flags vir.ConnectListAllStoragePoolsFlags) string {
	t.Helper()
	ret := must[*protocol.ConnectListAllStoragePoolsRet](t)(c.ConnectListAllStoragePools(context.Background(), 1, uint32(flags)))
	var names []string
	for _, p := range ret.Pools {
		names = append(names, p.Name)
	}
	if int(ret.Ret) != len(names) {
		t.Fatalf("ListAllStoragePools: count %d, %d pools", ret.Ret, len(names))
	}
	return strings.Join(names, " ")
}

// TestDefaultPool: test:///default's pool is libvirt's: active,
// persistent, not autostarted, 100 GiB free, no volumes, and its XML.
func TestDefaultPool(t *testing.T) {
	c, _ := open(t, New())
	ctx := context.Background()
	p := must[protocol.StoragePool](t)(c.StoragePoolLookupByName(ctx, "default-pool"))
	if p.UUID.String() != "dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566" {
		t.Fatalf("default-pool uuid %s", p.UUID)
	}
	if got, want := poolFlags(t, c, p), "active=1 persistent=1 autostart=0"; got != want {
		t.Errorf("default-pool: %s, want %s", got, want)
	}
	if got, want := poolInfo(t, c, p), "state=2 cap=107374182400 alloc=0 avail=107374182400"; got != want {
		t.Errorf("default-pool info: %s, want %s", got, want)
	}
	if n := must[int32](t)(c.StoragePoolNumOfVolumes(ctx, p)); n != 0 {
		t.Errorf("default-pool has %d volumes, want 0", n)
	}
	want := `<pool type="dir">
  <name>default-pool</name>
  <uuid>dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566</uuid>
  <capacity unit="bytes">107374182400</capacity>
  <allocation unit="bytes">0</allocation>
  <available unit="bytes">107374182400</available>
  <source></source>
  <target>
    <path>/default-pool</path>
  </target>
</pool>
`
	if got := must[string](t)(c.StoragePoolGetXMLDesc(ctx, p, 0)); got != want {
		t.Errorf("default-pool XML:\n%s\nwant:\n%s", got, want)
	}
}

// TestPoolLifecycle: a scratch pool's whole life, with the events
// libvirt's test driver raises at each step and the state after it.
func TestPoolLifecycle(t *testing.T) {
	c, _ := open(t, New())
	ctx := context.Background()
	events := poolEvents(t, c, nil)
	p := must[protocol.StoragePool](t)(c.StoragePoolDefineXML(ctx, scratchPoolXML, 0))
	expect(t, events, "scratch DEFINED/0")
	if got, want := poolFlags(t, c, p), "active=0 persistent=1 autostart=0"; got != want {
		t.Errorf("defined: %s, want %s", got, want)
	}
	if got := listPools(t, c, vir.ConnectListStoragePoolsInactive); got != "scratch" {
		t.Errorf("inactive pools %q, want scratch", got)
	}
	xml := must[string](t)(c.StoragePoolGetXMLDesc(ctx, p, 0))
	if !strings.Contains(xml, "<path>/scratch/pool</path>") {
		t.Errorf("target path not sanitised as libvirt does:\n%s", xml)
	}
	// An inactive pool has no volumes to list, nor refresh.
	_, err := c.StoragePoolNumOfVolumes(ctx, p)
	wantCode(t, err, vir.ErrOperationInvalid)
	wantCode(t, c.StoragePoolRefresh(ctx, p, 0), vir.ErrOperationInvalid)

	must[struct{}](t)(struct{}{}, c.StoragePoolBuild(ctx, p, 0))
	expect(t, events, "scratch CREATED/0")
	must[struct{}](t)(struct{}{}, c.StoragePoolCreate(ctx, p, 0))
	expect(t, events, "scratch STARTED/0")
	wantCode(t, c.StoragePoolCreate(ctx, p, 0), vir.ErrOperationInvalid)
	wantCode(t, c.StoragePoolBuild(ctx, p, 0), vir.ErrOperationInvalid)
	wantCode(t, c.StoragePoolUndefine(ctx, p), vir.ErrOperationInvalid)
	wantCode(t, c.StoragePoolDelete(ctx, p, 0), vir.ErrOperationInvalid)
	must[struct{}](t)(struct{}{}, c.StoragePoolRefresh(ctx, p, 0))
	expect(t, events, "scratch refresh")
	must[struct{}](t)(struct{}{}, c.StoragePoolSetAutostart(ctx, p, 1))
	if got := listPools(t, c, vir.ConnectListStoragePoolsAutostart|vir.ConnectListStoragePoolsDir); got != "scratch" {
		t.Errorf("autostarted dir pools %q, want scratch", got)
	}
	if got := listPools(t, c, vir.ConnectListStoragePoolsLogical); got != "" {
		t.Errorf("logical pools %q, want none", got)
	}

	must[struct{}](t)(struct{}{}, c.StoragePoolDestroy(ctx, p))
	expect(t, events, "scratch STOPPED/0")
	if got, want := poolFlags(t, c, p), "active=0 persistent=1 autostart=1"; got != want {
		t.Errorf("destroyed: %s, want %s", got, want)
	}
	must[struct{}](t)(struct{}{}, c.StoragePoolDelete(ctx, p, 0))
	expect(t, events, "scratch DELETED/0")
	must[struct{}](t)(struct{}{}, c.StoragePoolUndefine(ctx, p))
	expect(t, events, "scratch UNDEFINED/0")
	_, err = c.StoragePoolLookupByUUID(ctx, p.UUID)
	wantCode(t, err, vir.ErrNoStoragePool)
	if got := listPools(t, c, 0); got != "default-pool" {
		t.Errorf("pools after undefine %q, want default-pool", got)
	}
	expect(t, events)
}

// TestTransientPool: a created pool is transient, cannot autostart, and
// goes when destroyed; creating a defined inactive pool makes it
// transient, as libvirt's test driver does.
func TestTransientPool(t *testing.T) {
	c, _ := open(t, New())
	ctx := context.Background()
	events := poolEvents(t, c, nil)
	p := must[protocol.StoragePool](t)(c.StoragePoolCreateXML(ctx, scratchPoolXML, 0))
	expect(t, events, "scratch STARTED/0")
	if got, want := poolFlags(t, c, p), "active=1 persistent=0 autostart=0"; got != want {
		t.Errorf("created: %s, want %s", got, want)
	}
	wantCode(t, c.StoragePoolSetAutostart(ctx, p, 1), vir.ErrInvalidArg)
	_, err := c.StoragePoolCreateXML(ctx, scratchPoolXML, 0)
	wantCode(t, err, vir.ErrOperationInvalid)
	must[struct{}](t)(struct{}{}, c.StoragePoolDestroy(ctx, p))
	expect(t, events, "scratch STOPPED/0")
	_, err = c.StoragePoolLookupByName(ctx, "scratch")
	wantCode(t, err, vir.ErrNoStoragePool)

	must[protocol.StoragePool](t)(c.StoragePoolDefineXML(ctx, scratchPoolXML, 0))
	must[protocol.StoragePool](t)(c.StoragePoolCreateXML(ctx, scratchPoolXML, 0))
	expect(t, events, "scratch DEFINED/0", "scratch STARTED/0")
	if got, want := poolFlags(t, c, p), "active=1 persistent=0 autostart=0"; got != want {
		t.Errorf("defined then created: %s, want %s", got, want)
	}
}

// TestPoolDefinitionRules: names, UUIDs and target paths clash as in
// libvirt; what govirtd cannot describe as libvirt does is refused.
func TestPoolDefinitionRules(t *testing.T) {
	c, _ := open(t, New())
	ctx := context.Background()
	events := poolEvents(t, c, nil)
	for _, tc := range []struct {
		name, xml string
		code      vir.ErrorNumber
	}{
		{"same name, other uuid", `<pool type='dir'><name>default-pool</name><target><path>/x</path></target></pool>`, vir.ErrOperationFailed},
		{"same uuid, other name", `<pool type='dir'><name>other</name><uuid>dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566</uuid><target><path>/x</path></target></pool>`, vir.ErrOperationFailed},
		{"same target path", `<pool type='dir'><name>other</name><target><path>/default-pool/</path></target></pool>`, vir.ErrOperationFailed},
		{"no target", `<pool type='dir'><name>other</name></pool>`, vir.ErrXMLError},
		{"no name", `<pool type='dir'><target><path>/x</path></target></pool>`, vir.ErrXMLError},
		{"slash in name", `<pool type='dir'><name>a/b</name><target><path>/x</path></target></pool>`, vir.ErrXMLError},
		{"no type", `<pool><name>other</name><target><path>/x</path></target></pool>`, vir.ErrXMLError},
		{"unknown type", `<pool type='tape'><name>other</name><target><path>/x</path></target></pool>`, vir.ErrXMLError},
		{"type not served", `<pool type='logical'><name>other</name><source><name>vg</name></source><target><path>/x</path></target></pool>`, vir.ErrConfigUnsupported},
		{"netfs without host", `<pool type='netfs'><name>other</name><source><dir path='/e'/></source><target><path>/x</path></target></pool>`, vir.ErrXMLError},
		{"netfs without dir", `<pool type='netfs'><name>other</name><source><host name='h'/></source><target><path>/x</path></target></pool>`, vir.ErrXMLError},
		{"fs without device", `<pool type='fs'><name>other</name><target><path>/x</path></target></pool>`, vir.ErrXMLError},
		{"unknown fs format", `<pool type='fs'><name>other</name><source><device path='/dev/a'/><format type='ntfs'/></source><target><path>/x</path></target></pool>`, vir.ErrConfigUnsupported},
		{"protocol ver of cifs", `<pool type='netfs'><name>other</name><source><host name='h'/><dir path='/e'/><format type='cifs'/><protocol ver='3'/></source><target><path>/x</path></target></pool>`, vir.ErrConfigUnsupported},
		{"bad mode", `<pool type='dir'><name>other</name><target><path>/x</path><permissions><mode>0999</mode></permissions></target></pool>`, vir.ErrXMLError},
		{"not XML", `<pool`, vir.ErrXMLError},
	} {
		_, err := c.StoragePoolDefineXML(ctx, tc.xml, 0)
		if err == nil {
			t.Errorf("%s: defined", tc.name)
			continue
		}
		wantCode(t, err, tc.code)
	}
	expect(t, events)
	_, err := c.StoragePoolDefineXML(ctx, scratchPoolXML, 1<<5)
	wantCode(t, err, vir.ErrInvalidArg)
	_, err = c.StoragePoolDefineXML(ctx, scratchPoolXML, uint32(vir.StoragePoolDefineValidate))
	wantCode(t, err, vir.ErrNoSupport)

	// Redefining the active default pool keeps its definition; its
	// permissions are written as libvirt writes them.
	p := must[protocol.StoragePool](t)(c.StoragePoolDefineXML(ctx, `<pool type='dir'><name>default-pool</name>
<uuid>dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566</uuid><target><path>/elsewhere</path></target></pool>`, 0))
	expect(t, events, "default-pool DEFINED/0")
	if xml := must[string](t)(c.StoragePoolGetXMLDesc(ctx, p, 0)); !strings.Contains(xml, "<path>/default-pool</path>") {
		t.Errorf("the active pool took its new definition at once:\n%s", xml)
	}
	q := must[protocol.StoragePool](t)(c.StoragePoolDefineXML(ctx, `<pool type='dir'><name>perm</name><target><path>/perm</path>
<permissions><owner>107</owner><mode>755</mode><label>l</label></permissions></target></pool>`, 0))
	// fs and netfs pools keep their sources; the same export or device
	// twice is a conflict.
	nfs := must[protocol.StoragePool](t)(c.StoragePoolDefineXML(ctx, `<pool type='netfs'><name>nfs</name>
<source><host name='h' port='2049'/><dir path='/export//'/><device path='/dropped'/><protocol ver='4'/></source><target><path>/mnt/nfs</path></target></pool>`, 0))
	wantXML := `<source>
    <host name="h" port="2049"></host>
    <dir path="/export"></dir>
    <format type="auto"></format>
    <protocol ver="4"></protocol>
  </source>`
	if xml := must[string](t)(c.StoragePoolGetXMLDesc(ctx, nfs, 0)); !strings.Contains(xml, wantXML) {
		t.Errorf("netfs pool XML:\n%s\nwant its source as\n%s", xml, wantXML)
	}
	_, err = c.StoragePoolDefineXML(ctx, `<pool type='netfs'><name>nfs2</name><source><host name='h'/><dir path='/export'/></source><target><path>/mnt/nfs2</path></target></pool>`, 0)
	wantCode(t, err, vir.ErrOperationFailed)
	fs := must[protocol.StoragePool](t)(c.StoragePoolDefineXML(ctx, `<pool type='fs'><name>fs</name>
<source><device path='/dev/sdb1' part_separator='no'/><format type='ext4'/></source><target><path>/mnt/fs</path></target></pool>`, 0))
	if got := listPools(t, c, vir.ConnectListStoragePoolsFs|vir.ConnectListStoragePoolsNetfs); got != "nfs fs" {
		t.Errorf("fs and netfs pools %q, want nfs fs", got)
	}
	wantXML = `<device path="/dev/sdb1" part_separator="no"></device>
    <format type="ext4"></format>`
	if xml := must[string](t)(c.StoragePoolGetXMLDesc(ctx, fs, 0)); !strings.Contains(xml, wantXML) {
		t.Errorf("fs pool XML:\n%s\nwant its source as\n%s", xml, wantXML)
	}
	_, err = c.StoragePoolDefineXML(ctx, `<pool type='fs'><name>fs2</name><source><device path='/dev/sdb1'/></source><target><path>/mnt/fs2</path></target></pool>`, 0)
	wantCode(t, err, vir.ErrOperationFailed)
	events()

	want := "<permissions>\n      <mode>0755</mode>\n      <owner>107</owner>\n      <label>l</label>\n    </permissions>"
	if xml := must[string](t)(c.StoragePoolGetXMLDesc(ctx, q, 0)); !strings.Contains(xml, want) {
		t.Errorf("permissions:\n%s\nwant them as\n%s", xml, want)
	}
}

// TestVolumes: volumes of an active pool, their sizes counted in the
// pool's allocation, their lookups by name, key and path, clones, and
// the errors for what is absent or does not fit.
func TestVolumes(t *testing.T) {
	c, _ := open(t, New())
	ctx := context.Background()
	events := poolEvents(t, c, nil)
	p := must[protocol.StoragePool](t)(c.StoragePoolDefineXML(ctx, scratchPoolXML, 0))
	_, err := c.StorageVolCreateXML(ctx, p, `<volume><name>v</name><capacity>1</capacity></volume>`, 0)
	wantCode(t, err, vir.ErrOperationInvalid)
	must[struct{}](t)(struct{}{}, c.StoragePoolCreate(ctx, p, 0))
	events()

	v := must[protocol.StorageVol](t)(c.StorageVolCreateXML(ctx, p, `<volume><name>v1</name><capacity unit='M'>1</capacity></volume>`, 0))
	if v.Key != "/scratch/pool/v1" || v.Pool != "scratch" {
		t.Errorf("volume %+v, want key /scratch/pool/v1 in scratch", v)
	}
	must[protocol.StorageVol](t)(c.StorageVolCreateXML(ctx, p, `<volume type='file'><name>sparse</name>
<capacity unit='GiB'>10</capacity><allocation>0</allocation><target><format type='qcow2'/></target></volume>`, 0))
	_, err = c.StorageVolCreateXML(ctx, p, `<volume><name>v1</name><capacity>1</capacity></volume>`, 0)
	wantCode(t, err, vir.ErrOperationFailed)
	_, err = c.StorageVolCreateXML(ctx, p, `<volume><name>big</name><capacity unit='G'>200</capacity></volume>`, 0)
	wantCode(t, err, vir.ErrInternalError)
	_, err = c.StorageVolCreateXML(ctx, p, `<volume><name>huge</name><capacity unit='E'>9</capacity></volume>`, 0)
	wantCode(t, err, vir.ErrOverflow)
	_, err = c.StorageVolCreateXML(ctx, p, `<volume><name>nocap</name></volume>`, 0)
	wantCode(t, err, vir.ErrXMLError)
	_, err = c.StorageVolCreateXML(ctx, p, `<volume><name>odd</name><capacity unit='Q'>1</capacity></volume>`, 0)
	wantCode(t, err, vir.ErrInvalidArg)

	if got, want := poolInfo(t, c, p), fmt.Sprintf("state=2 cap=%d alloc=%d avail=%d", 100<<30, 1<<20, 100<<30-1<<20); got != want {
		t.Errorf("pool info with volumes: %s, want %s", got, want)
	}
	i := must[*protocol.StorageVolGetInfoRet](t)(c.StorageVolGetInfo(ctx, v))
	if i.Type != int8(vir.StorageVolFile) || i.Capacity != 1<<20 || i.Allocation != 1<<20 {
		t.Errorf("v1 info %+v", i)
	}
	want := `<volume type="file">
  <name>v1</name>
  <key>/scratch/pool/v1</key>
  <capacity unit="bytes">1048576</capacity>
  <allocation unit="bytes">1048576</allocation>
  <target>
    <path>/scratch/pool/v1</path>
    <format type="raw"></format>
  </target>
</volume>
`
	if got := must[string](t)(c.StorageVolGetXMLDesc(ctx, v, 0)); got != want {
		t.Errorf("v1 XML:\n%s\nwant:\n%s", got, want)
	}
	if got := must[protocol.StorageVol](t)(c.StorageVolLookupByPath(ctx, "/scratch/pool/sparse")); got.Name != "sparse" {
		t.Errorf("by path: %+v", got)
	}
	if got := must[protocol.StorageVol](t)(c.StorageVolLookupByKey(ctx, "/scratch/pool/v1")); got != v {
		t.Errorf("by key: %+v, want %+v", got, v)
	}
	if got := must[protocol.StoragePool](t)(c.StoragePoolLookupByVolume(ctx, v)); got != p {
		t.Errorf("pool of v1: %+v", got)
	}
	_, err = c.StorageVolLookupByName(ctx, p, "none")
	wantCode(t, err, vir.ErrNoStorageVol)

	// A clone takes its definition from its XML; its source must be in
	// the pool it goes to.
	must[protocol.StorageVol](t)(c.StorageVolCreateXMLFrom(ctx, p, `<volume><name>v2</name><capacity>5</capacity></volume>`, v, 0))
	_, err = c.StorageVolCreateXMLFrom(ctx, p, `<volume><name>v3</name><capacity>5</capacity></volume>`, protocol.StorageVol{Pool: "scratch", Name: "gone"}, 0)
	wantCode(t, err, vir.ErrNoStorageVol)
	all := must[*protocol.StoragePoolListAllVolumesRet](t)(c.StoragePoolListAllVolumes(ctx, p, 1, 0))
	var names []string
	for _, x := range all.Vols {
		names = append(names, x.Name)
	}
	if got := strings.Join(names, " "); got != "v1 sparse v2" || all.Ret != 3 {
		t.Errorf("volumes %q (%d), want v1 sparse v2", got, all.Ret)
	}

	must[struct{}](t)(struct{}{}, c.StorageVolDelete(ctx, v, 0))
	wantCode(t, c.StorageVolDelete(ctx, v, 0), vir.ErrNoStorageVol)
	if got, want := poolInfo(t, c, p), fmt.Sprintf("state=2 cap=%d alloc=5 avail=%d", 100<<30, 100<<30-5); got != want {
		t.Errorf("pool info after delete: %s, want %s", got, want)
	}
	// A stopped pool keeps its volumes but hides them.
	must[struct{}](t)(struct{}{}, c.StoragePoolDestroy(ctx, p))
	_, err = c.StorageVolLookupByPath(ctx, "/scratch/pool/v2")
	wantCode(t, err, vir.ErrNoStorageVol)
	_, err = c.StoragePoolListAllVolumes(ctx, p, 1, 0)
	wantCode(t, err, vir.ErrOperationInvalid)
	must[struct{}](t)(struct{}{}, c.StoragePoolCreate(ctx, p, 0))
	if n := must[int32](t)(c.StoragePoolNumOfVolumes(ctx, p)); n != 2 {
		t.Errorf("%d volumes after restart, want 2", n)
	}
	// Volumes raise no pool events.
	expect(t, events, "scratch STOPPED/0", "scratch STARTED/0")
}

// TestPoolEventFilterAndClose: a callback for one pool sees only its
// events; closing the connection removes its callbacks, and a closed
// connection registers none.
func TestPoolEventFilterAndClose(t *testing.T) {
	d := New()
	c, _ := open(t, d)
	ctx := context.Background()
	def := must[protocol.StoragePool](t)(c.StoragePoolLookupByName(ctx, "default-pool"))
	only := poolEvents(t, c, &def)
	all := poolEvents(t, c, nil)
	p := must[protocol.StoragePool](t)(c.StoragePoolCreateXML(ctx, scratchPoolXML, 0))
	must[struct{}](t)(struct{}{}, c.StoragePoolRefresh(ctx, def, 0))
	must[struct{}](t)(struct{}{}, c.StoragePoolDestroy(ctx, p))
	expect(t, only, "default-pool refresh")
	expect(t, all, "scratch STARTED/0", "default-pool refresh", "scratch STOPPED/0")

	if n := d.pools.events.Len(); n != 4 {
		t.Fatalf("%d pool callbacks, want 4", n)
	}
	id, err := c.ConnectStoragePoolEventRegisterAny(ctx, nil, vir.StoragePoolEventIDRefresh+1, func(int, drivers.StoragePoolEvent) {})
	if err == nil {
		t.Fatalf("registered unknown event id as %d", id)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if n := d.pools.events.Len(); n != 0 {
		t.Fatalf("%d pool callbacks after close, want 0", n)
	}
	if _, err := c.ConnectStoragePoolEventRegisterAny(ctx, nil, vir.StoragePoolEventIDLifecycle, func(int, drivers.StoragePoolEvent) {}); err == nil {
		t.Fatal("a closed connection registered a pool callback")
	}
}

// TestFindPoolSources answers libvirt's test driver's fixed sources.
func TestFindPoolSources(t *testing.T) {
	c, _ := open(t, New())
	ctx := context.Background()
	got := must[string](t)(c.ConnectFindStoragePoolSources(ctx, "logical", nil, 0))
	if !strings.Contains(got, "<name>testvg1</name>") || !strings.Contains(got, "/dev/sda21") {
		t.Errorf("logical sources:\n%s", got)
	}
	spec := "<source><host name='nfs1'/></source>"
	got = must[string](t)(c.ConnectFindStoragePoolSources(ctx, "netfs", &spec, 0))
	if !strings.Contains(got, "<host name='nfs1'/>") || !strings.Contains(got, "/testshare") {
		t.Errorf("netfs sources:\n%s", got)
	}
	_, err := c.ConnectFindStoragePoolSources(ctx, "netfs", nil, 0)
	wantCode(t, err, vir.ErrInvalidArg)
	_, err = c.ConnectFindStoragePoolSources(ctx, "dir", nil, 0)
	wantCode(t, err, vir.ErrInternalError)
	_, err = c.ConnectFindStoragePoolSources(ctx, "iscsi", nil, 0)
	wantCode(t, err, vir.ErrNoSupport)
}

func TestSanitizePath(t *testing.T) {
	for in, want := range map[string]string{
		"/a//b/": "/a/b", "//a": "//a", "///a": "/a", "/": "/", "a/b//": "a/b", "gluster://h//x": "gluster://h//x",
	} {
		if got := sanitizePath(in); got != want {
			t.Errorf("sanitizePath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPoolProcsImmediate: every storage procedure the test driver serves
// runs without waiting; the stream ones it does not serve are not listed.
func TestPoolProcsImmediate(t *testing.T) {
	c, _ := open(t, New())
	for _, proc := range poolProcs {
		if !c.Immediate(proc) {
			t.Errorf("Immediate(%s) = false", proc)
		}
	}
	for _, proc := range []protocol.Procedure{protocol.ProcStorageVolUpload, protocol.ProcStorageVolDownload, protocol.ProcStorageVolResize} {
		if c.Immediate(proc) {
			t.Errorf("Immediate(%s) = true for a procedure the test driver does not serve", proc)
		}
	}
}

// TestPoolsConcurrently: connections defining, starting and tearing down
// their own pools and volumes at once leave every pool's events in the
// order of its changes and the table as it began.
func TestPoolsConcurrently(t *testing.T) {
	d := New()
	ctx := context.Background()
	const n = 8
	done := make(chan error, n)
	for i := range n {
		c, _ := open(t, d)
		events := poolEvents(t, c, nil)
		go func() {
			done <- func() error {
				name := fmt.Sprintf("p%d", i)
				p, err := c.StoragePoolDefineXML(ctx, fmt.Sprintf(`<pool type='dir'><name>%s</name><target><path>/%s</path></target></pool>`, name, name), 0)
				if err != nil {
					return err
				}
				for _, step := range []func() error{
					func() error { return c.StoragePoolCreate(ctx, p, 0) },
					func() error {
						_, err := c.StorageVolCreateXML(ctx, p, `<volume><name>v</name><capacity>1</capacity></volume>`, 0)
						return err
					},
					func() error { return c.StorageVolDelete(ctx, protocol.StorageVol{Pool: name, Name: "v"}, 0) },
					func() error { return c.StoragePoolDestroy(ctx, p) },
					func() error { return c.StoragePoolUndefine(ctx, p) },
				} {
					if err := step(); err != nil {
						return err
					}
				}
				var mine []string
				for _, e := range events() {
					if strings.HasPrefix(e, name+" ") {
						mine = append(mine, e)
					}
				}
				if got, want := strings.Join(mine, "; "), fmt.Sprintf("%[1]s DEFINED/0; %[1]s STARTED/0; %[1]s STOPPED/0; %[1]s UNDEFINED/0", name); got != want {
					return fmt.Errorf("%s events %q, want %q", name, got, want)
				}
				return nil
			}()
		}()
	}
	for range n {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	c, _ := open(t, d)
	if got := listPools(t, c, 0); got != "default-pool" {
		t.Errorf("pools afterwards %q, want default-pool", got)
	}
}
