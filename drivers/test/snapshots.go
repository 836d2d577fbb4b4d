package test

import (
	"context"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// snapshot is one snapshot of a test domain: as in libvirt's test driver
// it holds no memory or disk data, only the definition the domain had
// and the state it was in, which a revert brings back. Guarded by
// Driver.mu.
type snapshot struct {
	name, desc string
	state      vir.DomainState // the domain's state when it was taken
	created    int64           // seconds since the epoch
	parent     string          // "" for a root
	def        *domxml.Def     // the domain's definition then
	disks      []libvirtxml.DomainSnapshotDisk
}

// snapshots is a domain's snapshot tree: in creation order, which lists
// parents before children, and the name of the current one ("" for
// none).
type snapshots struct {
	list    []*snapshot
	current string
}

// memory is where the snapshot keeps the domain's memory: nowhere for
// a domain that was off.
func (s *snapshot) memory() string {
	if s.state == vir.DomainShutoff {
		return "no"
	}
	return "internal"
}

// stateName is libvirt's word for a snapshot's state.
func stateName(s vir.DomainState) string {
	switch s {
	case vir.DomainRunning:
		return "running"
	case vir.DomainPaused:
		return "paused"
	case vir.DomainShutoff:
		return "shutoff"
	case vir.DomainBlocked:
		return "blocked"
	case vir.DomainShutdown:
		return "shutdown"
	case vir.DomainCrashed:
		return "crashed"
	case vir.DomainPmsuspended:
		return "pmsuspended"
	}
	return "nostate"
}

func (t *snapshots) find(name string) *snapshot {
	for _, s := range t.list {
		if s.name == name {
			return s
		}
	}
	return nil
}

// children are name's direct children, or with all every descendant,
// parents before children.
func (t *snapshots) children(name string, all bool) []*snapshot {
	var out []*snapshot
	for _, s := range t.list {
		if s.parent == name {
			out = append(out, s)
			if all {
				out = append(out, t.children(s.name, true)...)
			}
		}
	}
	return out
}

func noSnapshot(format string, args ...any) error {
	return drivers.Errorf(vir.ErrNoDomainSnapshot, vir.FromDomainSnapshot, format, args...)
}

// snapFilters are the flags that filter a snapshot list, by group.
const (
	snapListRoots       = uint32(vir.DomainSnapshotListRoots)
	snapListDescendants = uint32(vir.DomainSnapshotListDescendants)
	snapListTopological = uint32(vir.DomainSnapshotListTopological)
	snapLeaves          = uint32(vir.DomainSnapshotListLeaves | vir.DomainSnapshotListNoLeaves)
	snapMetadata        = uint32(vir.DomainSnapshotListMetadata | vir.DomainSnapshotListNoMetadata)
	snapStates          = uint32(vir.DomainSnapshotListInactive | vir.DomainSnapshotListActive | vir.DomainSnapshotListDiskOnly)
	snapLocations       = uint32(vir.DomainSnapshotListInternal | vir.DomainSnapshotListExternal)
	snapFilters         = snapLeaves | snapMetadata | snapStates | snapLocations
)

// filter keeps the snapshots flags select: within a group any set flag
// may match, a group with none set does not filter.
func (t *snapshots) filter(in []*snapshot, flags uint32) []*snapshot {
	group := func(mask uint32, set uint32) bool { return flags&mask == 0 || flags&set != 0 }
	var out []*snapshot
	for _, s := range in {
		leaf := uint32(vir.DomainSnapshotListNoLeaves)
		if len(t.children(s.name, false)) == 0 {
			leaf = uint32(vir.DomainSnapshotListLeaves)
		}
		state := uint32(vir.DomainSnapshotListActive)
		if s.state == vir.DomainShutoff {
			state = uint32(vir.DomainSnapshotListInactive)
		}
		if group(snapLeaves, leaf) && group(snapMetadata, uint32(vir.DomainSnapshotListMetadata)) &&
			group(snapStates, state) && group(snapLocations, uint32(vir.DomainSnapshotListInternal)) {
			out = append(out, s)
		}
	}
	return out
}

// list is the domain's snapshots flags select.
func (t *snapshots) listed(flags uint32) []*snapshot {
	in := t.list
	if flags&snapListRoots != 0 {
		in = t.children("", false)
	}
	return t.filter(in, flags)
}

// withSnapshots runs f on the domain's snapshot tree with mu held.
func (c *conn) withSnapshots(ref protocol.Domain, f func(dom *domain, t *snapshots) error) error {
	return c.drv.withDomain(ref, func(dom *domain) error { return f(dom, &c.drv.ext(dom).snapshots) })
}

// withSnapshot runs f on one snapshot with mu held.
func (c *conn) withSnapshot(ref protocol.DomainSnapshot, f func(dom *domain, t *snapshots, s *snapshot) error) error {
	return c.withSnapshots(ref.Dom, func(dom *domain, t *snapshots) error {
		s := t.find(ref.Name)
		if s == nil {
			return noSnapshot("no domain snapshot with matching name '%s'", ref.Name)
		}
		return f(dom, t, s)
	})
}

func snapRefs(dom *domain, in []*snapshot) []protocol.DomainSnapshot {
	out := make([]protocol.DomainSnapshot, len(in))
	for i, s := range in {
		out[i] = protocol.DomainSnapshot{Name: s.name, Dom: dom.ref()}
	}
	return out
}

func snapNames(in []*snapshot, max int32) []string {
	var out []string
	for _, s := range in {
		if len(out) < int(max) {
			out = append(out, s.name)
		}
	}
	return out
}

func checkListFlags(flags uint32, fn string) error {
	if flags&^(snapListRoots|snapListTopological|snapFilters) != 0 {
		return badFlags(flags, fn)
	}
	return nil
}

func checkChildFlags(flags uint32, fn string) error {
	if flags&^(snapListDescendants|snapListTopological|snapFilters) != 0 {
		return badFlags(flags, fn)
	}
	return nil
}

// snapDisks are the disks a snapshot of def covers: internal for a
// writable disk with a source, none for the others.
func snapDisks(def *domxml.Def) []libvirtxml.DomainSnapshotDisk {
	if def.XML.Devices == nil {
		return nil
	}
	var out []libvirtxml.DomainSnapshotDisk
	for _, d := range def.XML.Devices.Disks {
		if d.Target == nil {
			continue
		}
		loc := "internal"
		if d.ReadOnly != nil || d.Source == nil || d.Device == "cdrom" || d.Device == "floppy" {
			loc = "no"
		}
		out = append(out, libvirtxml.DomainSnapshotDisk{Name: d.Target.Dev, Snapshot: loc})
	}
	return out
}

const snapCreateFlags = uint32(vir.DomainSnapshotCreateRedefine | vir.DomainSnapshotCreateCurrent |
	vir.DomainSnapshotCreateHalt | vir.DomainSnapshotCreateQuiesce | vir.DomainSnapshotCreateAtomic |
	vir.DomainSnapshotCreateLive | vir.DomainSnapshotCreateValidate)

// DomainSnapshotCreateXML takes a snapshot of the domain's definition
// and state, a child of the current snapshot, which it becomes; with
// VIR_DOMAIN_SNAPSHOT_CREATE_HALT a running domain then stops, raising
// Stopped FromSnapshot (drivers.OpDomainSnapshotCreateXML). Redefining
// snapshots, disk selection and external snapshots are not served.
func (c *conn) DomainSnapshotCreateXML(ctx context.Context, ref protocol.Domain, xmlDesc string, flags uint32) (protocol.DomainSnapshot, error) {
	if flags&^snapCreateFlags != 0 {
		return protocol.DomainSnapshot{}, badFlags(flags, "testDomainSnapshotCreateXML")
	}
	if flags&uint32(vir.DomainSnapshotCreateRedefine) != 0 {
		return protocol.DomainSnapshot{}, drivers.Errorf(vir.ErrOperationUnsupported, vir.FromTest,
			"govirtd's test driver cannot redefine snapshots yet: delete the snapshot and create it again")
	}
	var x libvirtxml.DomainSnapshot
	if err := x.Unmarshal(xmlDesc); err != nil {
		return protocol.DomainSnapshot{}, drivers.Errorf(vir.ErrXMLError, vir.FromDomainSnapshot, "cannot parse snapshot definition: %v", err)
	}
	switch {
	case strings.Contains(x.Name, "/"):
		return protocol.DomainSnapshot{}, drivers.Errorf(vir.ErrXMLError, vir.FromDomainSnapshot, "invalid snapshot name '%s': it must not contain '/'", x.Name)
	case x.Disks != nil && len(x.Disks.Disks) > 0, x.Memory != nil && x.Memory.Snapshot == "external":
		return protocol.DomainSnapshot{}, drivers.Errorf(vir.ErrOperationUnsupported, vir.FromTest,
			"govirtd's test driver takes internal snapshots of every disk only: leave out <disks> and external <memory>")
	}
	d := c.drv
	var out protocol.DomainSnapshot
	err := c.withSnapshots(ref, func(dom *domain, t *snapshots) error {
		if len(d.ext(dom).run.checkpoints.list) > 0 {
			return drivers.Errorf(vir.ErrOperationUnsupported, vir.FromTest, "cannot create snapshot while checkpoint exists")
		}
		halt := flags&uint32(vir.DomainSnapshotCreateHalt) != 0
		if halt && dom.persistent == nil {
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromTest, "cannot halt after transient domain snapshot")
		}
		now := time.Now().Unix()
		name := x.Name
		if name == "" {
			name = strconv.FormatInt(now, 10)
		}
		if t.find(name) != nil {
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromDomainSnapshot, "domain snapshot %s already exists", name)
		}
		s := &snapshot{name: name, desc: x.Description, state: dom.state, created: now,
			parent: t.current, def: dom.def().Copy(), disks: snapDisks(dom.def())}
		t.list = append(t.list, s)
		t.current = name
		if halt && dom.active() {
			d.stop(dom, vir.DomainShutoffFromSnapshot)
			d.emit(dom, vir.DomainEventStopped, int32(vir.DomainEventStoppedFromSnapshot))
		}
		out = protocol.DomainSnapshot{Name: name, Dom: dom.ref()}
		return nil
	})
	return out, err
}

// format is the snapshot's XML, as libvirt formats it.
func (s *snapshot) format() (string, error) {
	var b strings.Builder
	b.WriteString("<domainsnapshot>\n")
	esc := func(v string) string {
		var e strings.Builder
		xml.EscapeText(&e, []byte(v))
		return e.String()
	}
	fmt.Fprintf(&b, "  <name>%s</name>\n", esc(s.name))
	if s.desc != "" {
		fmt.Fprintf(&b, "  <description>%s</description>\n", esc(s.desc))
	}
	fmt.Fprintf(&b, "  <state>%s</state>\n", stateName(s.state))
	if s.parent != "" {
		fmt.Fprintf(&b, "  <parent>\n    <name>%s</name>\n  </parent>\n", esc(s.parent))
	}
	fmt.Fprintf(&b, "  <creationTime>%d</creationTime>\n", s.created)
	fmt.Fprintf(&b, "  <memory snapshot='%s'/>\n", s.memory())
	if len(s.disks) > 0 {
		b.WriteString("  <disks>\n")
		for _, d := range s.disks {
			fmt.Fprintf(&b, "    <disk name='%s' snapshot='%s'/>\n", esc(d.Name), d.Snapshot)
		}
		b.WriteString("  </disks>\n")
	}
	dom, err := s.def.Format(-1)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(strings.TrimRight(dom, "\n"), "\n") {
		b.WriteString("  " + line + "\n")
	}
	b.WriteString("</domainsnapshot>\n")
	return b.String(), nil
}

// DomainSnapshotGetXMLDesc answers the snapshot's XML
// (drivers.OpDomainSnapshotGetXMLDesc).
func (c *conn) DomainSnapshotGetXMLDesc(ctx context.Context, ref protocol.DomainSnapshot, flags uint32) (doc string, err error) {
	if flags&^uint32(vir.DomainSnapshotXMLSecure) != 0 {
		return "", badFlags(flags, "testDomainSnapshotGetXMLDesc")
	}
	err = c.withSnapshot(ref, func(_ *domain, _ *snapshots, s *snapshot) error {
		doc, err = s.format()
		return err
	})
	return doc, err
}

// DomainSnapshotNum counts the domain's snapshots flags select.
func (c *conn) DomainSnapshotNum(ctx context.Context, ref drivers.Domain, flags uint32) (n int, err error) {
	if err := checkListFlags(flags, "testDomainSnapshotNum"); err != nil {
		return 0, err
	}
	err = c.withSnapshots(ref, func(_ *domain, t *snapshots) error {
		n = len(t.listed(flags))
		return nil
	})
	return n, err
}

// DomainSnapshotListNames names the domain's snapshots flags select,
// parents before children (drivers.OpDomainSnapshotListNames).
func (c *conn) DomainSnapshotListNames(ctx context.Context, ref protocol.Domain, maxnames int32, flags uint32) (names []string, err error) {
	if err := checkListFlags(flags, "testDomainSnapshotListNames"); err != nil {
		return nil, err
	}
	if err := checkMaxNames(maxnames); err != nil {
		return nil, err
	}
	err = c.withSnapshots(ref, func(_ *domain, t *snapshots) error {
		names = snapNames(t.listed(flags), maxnames)
		return nil
	})
	return names, err
}

// DomainListAllSnapshots lists the snapshots flags select
// (drivers.OpDomainListAllSnapshots).
func (c *conn) DomainListAllSnapshots(ctx context.Context, ref protocol.Domain, needResults int32, flags uint32) (*protocol.DomainListAllSnapshotsRet, error) {
	if err := checkListFlags(flags, "testDomainListAllSnapshots"); err != nil {
		return nil, err
	}
	ret := &protocol.DomainListAllSnapshotsRet{}
	err := c.withSnapshots(ref, func(dom *domain, t *snapshots) error {
		l := t.listed(flags)
		if len(l) > protocol.RemoteDomainSnapshotListMax {
			return drivers.Errorf(vir.ErrInternalError, vir.FromTest, "%d snapshots are more than the protocol's %d", len(l), protocol.RemoteDomainSnapshotListMax)
		}
		ret.Ret = int32(len(l))
		if needResults != 0 {
			ret.Snapshots = snapRefs(dom, l)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ret, nil
}

// DomainSnapshotLookupByName finds a snapshot by name
// (drivers.OpDomainSnapshotLookupByName).
func (c *conn) DomainSnapshotLookupByName(ctx context.Context, ref protocol.Domain, name string, flags uint32) (out protocol.DomainSnapshot, err error) {
	if flags != 0 {
		return out, badFlags(flags, "testDomainSnapshotLookupByName")
	}
	err = c.withSnapshot(protocol.DomainSnapshot{Name: name, Dom: ref}, func(dom *domain, _ *snapshots, s *snapshot) error {
		out = protocol.DomainSnapshot{Name: s.name, Dom: dom.ref()}
		return nil
	})
	return out, err
}

// DomainHasCurrentSnapshot answers whether the domain has a current
// snapshot (drivers.OpDomainHasCurrentSnapshot).
func (c *conn) DomainHasCurrentSnapshot(ctx context.Context, ref protocol.Domain, flags uint32) (has int32, err error) {
	if flags != 0 {
		return 0, badFlags(flags, "testDomainHasCurrentSnapshot")
	}
	err = c.withSnapshots(ref, func(_ *domain, t *snapshots) error {
		if t.current != "" {
			has = 1
		}
		return nil
	})
	return has, err
}

// DomainSnapshotCurrent answers the current snapshot
// (drivers.OpDomainSnapshotCurrent).
func (c *conn) DomainSnapshotCurrent(ctx context.Context, ref protocol.Domain, flags uint32) (out protocol.DomainSnapshot, err error) {
	if flags != 0 {
		return out, badFlags(flags, "testDomainSnapshotCurrent")
	}
	err = c.withSnapshots(ref, func(dom *domain, t *snapshots) error {
		if t.current == "" {
			return noSnapshot("the domain does not have a current snapshot")
		}
		out = protocol.DomainSnapshot{Name: t.current, Dom: dom.ref()}
		return nil
	})
	return out, err
}

// DomainSnapshotGetParent answers the snapshot's parent
// (drivers.OpDomainSnapshotGetParent).
func (c *conn) DomainSnapshotGetParent(ctx context.Context, ref protocol.DomainSnapshot, flags uint32) (out protocol.DomainSnapshot, err error) {
	if flags != 0 {
		return out, badFlags(flags, "testDomainSnapshotGetParent")
	}
	err = c.withSnapshot(ref, func(dom *domain, _ *snapshots, s *snapshot) error {
		if s.parent == "" {
			return noSnapshot("snapshot '%s' does not have a parent", s.name)
		}
		out = protocol.DomainSnapshot{Name: s.parent, Dom: dom.ref()}
		return nil
	})
	return out, err
}

// DomainSnapshotNumChildren counts the snapshot's children, or with
// VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS its descendants
// (drivers.OpDomainSnapshotNumChildren).
func (c *conn) DomainSnapshotNumChildren(ctx context.Context, ref protocol.DomainSnapshot, flags uint32) (n int32, err error) {
	if err := checkChildFlags(flags, "testDomainSnapshotNumChildren"); err != nil {
		return 0, err
	}
	err = c.withSnapshot(ref, func(_ *domain, t *snapshots, s *snapshot) error {
		n = int32(len(t.filter(t.children(s.name, flags&snapListDescendants != 0), flags)))
		return nil
	})
	return n, err
}

// DomainSnapshotListChildrenNames names the snapshot's children or
// descendants (drivers.OpDomainSnapshotListChildrenNames).
func (c *conn) DomainSnapshotListChildrenNames(ctx context.Context, ref protocol.DomainSnapshot, maxnames int32, flags uint32) (names []string, err error) {
	if err := checkChildFlags(flags, "testDomainSnapshotListChildrenNames"); err != nil {
		return nil, err
	}
	if err := checkMaxNames(maxnames); err != nil {
		return nil, err
	}
	err = c.withSnapshot(ref, func(_ *domain, t *snapshots, s *snapshot) error {
		names = snapNames(t.filter(t.children(s.name, flags&snapListDescendants != 0), flags), maxnames)
		return nil
	})
	return names, err
}

// DomainSnapshotListAllChildren lists the snapshot's children or
// descendants (drivers.OpDomainSnapshotListAllChildren).
func (c *conn) DomainSnapshotListAllChildren(ctx context.Context, ref protocol.DomainSnapshot, needResults int32, flags uint32) (*protocol.DomainSnapshotListAllChildrenRet, error) {
	if err := checkChildFlags(flags, "testDomainSnapshotListAllChildren"); err != nil {
		return nil, err
	}
	ret := &protocol.DomainSnapshotListAllChildrenRet{}
	err := c.withSnapshot(ref, func(dom *domain, t *snapshots, s *snapshot) error {
		l := t.filter(t.children(s.name, flags&snapListDescendants != 0), flags)
		if len(l) > protocol.RemoteDomainSnapshotListMax {
			return drivers.Errorf(vir.ErrInternalError, vir.FromTest, "%d snapshots are more than the protocol's %d", len(l), protocol.RemoteDomainSnapshotListMax)
		}
		ret.Ret = int32(len(l))
		if needResults != 0 {
			ret.Snapshots = snapRefs(dom, l)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ret, nil
}

// DomainSnapshotIsCurrent answers whether the snapshot is the current
// one (drivers.OpDomainSnapshotIsCurrent).
func (c *conn) DomainSnapshotIsCurrent(ctx context.Context, ref protocol.DomainSnapshot, flags uint32) (cur int32, err error) {
	if flags != 0 {
		return 0, badFlags(flags, "testDomainSnapshotIsCurrent")
	}
	err = c.withSnapshot(ref, func(_ *domain, t *snapshots, s *snapshot) error {
		if t.current == s.name {
			cur = 1
		}
		return nil
	})
	return cur, err
}

// DomainSnapshotHasMetadata answers yes: every test snapshot is
// metadata (drivers.OpDomainSnapshotHasMetadata).
func (c *conn) DomainSnapshotHasMetadata(ctx context.Context, ref protocol.DomainSnapshot, flags uint32) (int32, error) {
	if flags != 0 {
		return 0, badFlags(flags, "testDomainSnapshotHasMetadata")
	}
	return 1, c.withSnapshot(ref, func(*domain, *snapshots, *snapshot) error { return nil })
}

// DomainSnapshotDelete deletes a snapshot, handing its children to its
// parent; with VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN its descendants too,
// with _CHILDREN_ONLY those only. A deleted current snapshot passes
// that role to its parent (drivers.OpDomainSnapshotDelete).
func (c *conn) DomainSnapshotDelete(ctx context.Context, ref protocol.DomainSnapshot, flags uint32) error {
	const children, only = uint32(vir.DomainSnapshotDeleteChildren), uint32(vir.DomainSnapshotDeleteChildrenOnly)
	if flags&^(children|only) != 0 {
		return badFlags(flags, "testDomainSnapshotDelete")
	}
	return c.withSnapshot(ref, func(_ *domain, t *snapshots, s *snapshot) error {
		drop := map[*snapshot]bool{}
		if flags&(children|only) != 0 {
			for _, x := range t.children(s.name, true) {
				drop[x] = true
				if x.name == t.current {
					t.current = s.name
				}
			}
		} else {
			for _, x := range t.children(s.name, false) {
				x.parent = s.parent
			}
		}
		if flags&only == 0 {
			drop[s] = true
			if t.current == s.name {
				t.current = s.parent
			}
		}
		kept := t.list[:0]
		for _, x := range t.list {
			if !drop[x] {
				kept = append(kept, x)
			}
		}
		t.list = kept
		return nil
	})
}

// checkMaxNames refuses a snapshot name list longer than the protocol's.
func checkMaxNames(maxnames int32) error {
	if maxnames < 0 || maxnames > protocol.RemoteDomainSnapshotListMax {
		return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "maxnames %d is outside 0-%d", maxnames, protocol.RemoteDomainSnapshotListMax)
	}
	return nil
}
