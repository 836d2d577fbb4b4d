package test

import (
	"context"
	"strings"
	"testing"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

func snapXML(name string) string {
	return "<domainsnapshot><name>" + name + "</name></domainsnapshot>"
}

// TestSnapshotTree builds a1 → a2 → {a3, b}, checks parents, children,
// filters and the current snapshot, then deletes in the three ways
// libvirt offers and checks who inherits children and the current role.
func TestSnapshotTree(t *testing.T) {
	d := New()
	c, events := open(t, d)
	ctx := context.Background()
	dom := must[drivers.Domain](t)(c.DomainLookupByName(ctx, "test"))
	create := func(name string) protocol.DomainSnapshot {
		t.Helper()
		return must[protocol.DomainSnapshot](t)(c.DomainSnapshotCreateXML(ctx, dom, snapXML(name), 0))
	}
	a1, a2 := create("a1"), create("a2")
	a3 := create("a3")
	// b becomes a child of a2 after reverting to it.
	if err := c.DomainRevertToSnapshot(ctx, a2, 0); err != nil {
		t.Fatal(err)
	}
	expect(t, events, "test Stopped Snapshot id=-1", "test Started Snapshot id=2")
	b := create("b")
	names := func(flags uint32) string {
		return strings.Join(must[[]string](t)(c.DomainSnapshotListNames(ctx, dom, 10, flags)), ",")
	}
	if got := names(0); got != "a1,a2,a3,b" {
		t.Errorf("snapshots %s", got)
	}
	if got := names(snapListRoots); got != "a1" {
		t.Errorf("roots %s", got)
	}
	if got := names(uint32(vir.DomainSnapshotListLeaves)); got != "a3,b" {
		t.Errorf("leaves %s", got)
	}
	if p := must[protocol.DomainSnapshot](t)(c.DomainSnapshotGetParent(ctx, b, 0)); p.Name != "a2" {
		t.Errorf("parent of b is %s, want a2", p.Name)
	}
	_, err := c.DomainSnapshotGetParent(ctx, a1, 0)
	wantCode(t, err, vir.ErrNoDomainSnapshot)
	if n := must[int32](t)(c.DomainSnapshotNumChildren(ctx, a1, 0)); n != 1 {
		t.Errorf("a1 has %d children, want 1", n)
	}
	if n := must[int32](t)(c.DomainSnapshotNumChildren(ctx, a1, snapListDescendants)); n != 3 {
		t.Errorf("a1 has %d descendants, want 3", n)
	}
	if cur := must[protocol.DomainSnapshot](t)(c.DomainSnapshotCurrent(ctx, dom, 0)); cur.Name != "b" {
		t.Errorf("current %s, want b", cur.Name)
	}
	if _, err := c.DomainSnapshotCreateXML(ctx, dom, snapXML("b"), 0); err == nil {
		t.Error("a second snapshot named b was accepted")
	}

	// Deleting a2 alone hands a3 and b to a1.
	if err := c.DomainSnapshotDelete(ctx, a2, 0); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(must[[]string](t)(c.DomainSnapshotListChildrenNames(ctx, a1, 10, 0)), ","); got != "a3,b" {
		t.Errorf("a1's children after deleting a2: %s", got)
	}
	// Deleting the current snapshot b makes its parent current.
	if err := c.DomainSnapshotDelete(ctx, b, 0); err != nil {
		t.Fatal(err)
	}
	if cur := must[protocol.DomainSnapshot](t)(c.DomainSnapshotCurrent(ctx, dom, 0)); cur.Name != "a1" {
		t.Errorf("current after deleting b: %s, want a1", cur.Name)
	}
	// Children only keeps a1.
	if err := c.DomainSnapshotDelete(ctx, a1, uint32(vir.DomainSnapshotDeleteChildrenOnly)); err != nil {
		t.Fatal(err)
	}
	if got := names(0); got != "a1" {
		t.Errorf("after deleting a1's children: %s", got)
	}
	_, err = c.DomainSnapshotLookupByName(ctx, dom, a3.Name, 0)
	wantCode(t, err, vir.ErrNoDomainSnapshot)
	if err := c.DomainSnapshotDelete(ctx, a1, uint32(vir.DomainSnapshotDeleteChildren)); err != nil {
		t.Fatal(err)
	}
	if has := must[int32](t)(c.DomainHasCurrentSnapshot(ctx, dom, 0)); has != 0 {
		t.Error("a current snapshot remains after deleting every snapshot")
	}
	expect(t, events)
}

// TestSnapshotRevert checks the definition and state a revert restores
// and the events of each transition, and what undefine requires.
func TestSnapshotRevert(t *testing.T) {
	d := New()
	c, events := open(t, d)
	ctx := context.Background()
	dom := must[drivers.Domain](t)(c.DomainDefineXML(ctx, demoXML, 0))
	events()
	off := must[protocol.DomainSnapshot](t)(c.DomainSnapshotCreateXML(ctx, dom, snapXML("off"), 0))
	must[drivers.Domain](t)(c.DomainCreate(ctx, dom, 0))
	if err := c.DomainSuspend(ctx, dom); err != nil {
		t.Fatal(err)
	}
	paused := must[protocol.DomainSnapshot](t)(c.DomainSnapshotCreateXML(ctx, dom, snapXML("paused"), 0))
	xml := must[string](t)(c.DomainSnapshotGetXMLDesc(ctx, paused, 0))
	for _, want := range []string{"<state>paused</state>", "<parent>\n    <name>off</name>", "<memory snapshot='internal'/>", "<name>demo</name>"} {
		if !strings.Contains(xml, want) {
			t.Errorf("snapshot XML lacks %q:\n%s", want, xml)
		}
	}
	if err := c.DomainResume(ctx, dom); err != nil {
		t.Fatal(err)
	}
	if err := c.DomainSetMemoryFlags(ctx, dom, 262144, affectConfig|memMaximum); err != nil {
		t.Fatal(err)
	}
	events()

	// running → the paused snapshot: stopped, started, suspended.
	if err := c.DomainRevertToSnapshot(ctx, paused, 0); err != nil {
		t.Fatal(err)
	}
	expect(t, events, "demo Stopped Snapshot id=-1", "demo Started Snapshot id=3", "demo Suspended Snapshot id=3")
	if s, r := must2(t)(c.DomainGetState(ctx, dom, 0)); s != vir.DomainPaused || r != int32(vir.DomainPausedFromSnapshot) {
		t.Errorf("state %d/%d after reverting to a paused snapshot", s, r)
	}
	if m := must[uint64](t)(c.DomainGetMaxMemory(ctx, dom)); m != 512*1024 {
		t.Errorf("memory %d KiB after revert, want the snapshot's 524288", m)
	}
	// --running overrides the snapshot's paused state.
	if err := c.DomainRevertToSnapshot(ctx, paused, uint32(vir.DomainSnapshotRevertRunning)); err != nil {
		t.Fatal(err)
	}
	expect(t, events, "demo Stopped Snapshot id=-1", "demo Started Snapshot id=4")
	// → the inactive snapshot: stopped only.
	if err := c.DomainRevertToSnapshot(ctx, off, 0); err != nil {
		t.Fatal(err)
	}
	expect(t, events, "demo Stopped Snapshot id=-1")
	wantCode(t, c.DomainRevertToSnapshot(ctx, off, uint32(vir.DomainSnapshotRevertRunning)), vir.ErrOperationUnsupported)
	if cur := must[protocol.DomainSnapshot](t)(c.DomainSnapshotCurrent(ctx, dom, 0)); cur.Name != "off" {
		t.Errorf("current %s after reverting to off", cur.Name)
	}

	wantCode(t, c.DomainUndefine(ctx, dom, 0), vir.ErrOperationInvalid)
	if err := c.DomainUndefine(ctx, dom, uint32(vir.DomainUndefineSnapshotsMetadata)); err != nil {
		t.Fatal(err)
	}
	dom = must[drivers.Domain](t)(c.DomainDefineXML(ctx, demoXML, 0))
	if n := must[int](t)(c.DomainSnapshotNum(ctx, dom, 0)); n != 0 {
		t.Errorf("a redefined domain has %d snapshots of the old one", n)
	}
}
