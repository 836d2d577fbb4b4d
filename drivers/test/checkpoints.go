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

// checkpoint is one checkpoint of a running test domain: as in
// libvirt's test driver there is no bitmap behind it, only its
// metadata and the definition the domain had. Guarded by Driver.mu.
type checkpoint struct {
	name, desc string
	created    int64  // seconds since the epoch
	parent     string // "" for a root
	def        *domxml.Def
	disks      []libvirtxml.DomainCheckpointDisk // one per disk of def, in its order
	sized      bool                              // a SIZE read gave bitmap disks their size
}

// checkpoints is a domain's checkpoint tree, in the shape of its
// snapshot tree (snapshots.go): in creation order, which lists parents
// before children, and the current one's name ("" for none).
type checkpoints struct {
	list    []*checkpoint
	current string
}

func (t *checkpoints) find(name string) *checkpoint {
	for _, c := range t.list {
		if c.name == name {
			return c
		}
	}
	return nil
}

// children are name's direct children, or with all every descendant,
// parents before children.
func (t *checkpoints) children(name string, all bool) []*checkpoint {
	var out []*checkpoint
	for _, c := range t.list {
		if c.parent == name {
			out = append(out, c)
			if all {
				out = append(out, t.children(c.name, true)...)
			}
		}
	}
	return out
}

// remove drops name as a checkpoint delete does: with children (or
// childrenOnly) every descendant goes, a current descendant handing the
// role to name; otherwise name's children move up to its parent. Unless
// childrenOnly, name goes too, a current name handing the role to its
// parent.
func (t *checkpoints) remove(name string, children, childrenOnly bool) {
	c := t.find(name)
	if c == nil {
		return
	}
	drop := map[*checkpoint]bool{}
	if children || childrenOnly {
		for _, x := range t.children(name, true) {
			drop[x] = true
			if x.name == t.current {
				t.current = name
			}
		}
	} else {
		for _, x := range t.children(name, false) {
			x.parent = c.parent
		}
	}
	if !childrenOnly {
		drop[c] = true
		if t.current == name {
			t.current = c.parent
		}
	}
	kept := t.list[:0]
	for _, x := range t.list {
		if !drop[x] {
			kept = append(kept, x)
		}
	}
	t.list = kept
}

// checkParent refuses a parent for name that is missing, name itself or
// one of name's descendants (a redefinition would make a cycle).
func (t *checkpoints) checkParent(name, parent string) error {
	if parent == "" {
		return nil
	}
	if parent == name {
		return drivers.Errorf(vir.ErrInvalidArg, vir.FromDomainCheckpoint, "cannot set checkpoint %s as its own parent", name)
	}
	p := t.find(parent)
	if p == nil {
		return drivers.Errorf(vir.ErrInvalidArg, vir.FromDomainCheckpoint, "parent %s for checkpoint %s not found", parent, name)
	}
	for p != nil && p.parent != "" {
		if p.parent == name {
			return drivers.Errorf(vir.ErrInvalidArg, vir.FromDomainCheckpoint, "parent %s would create cycle to %s", parent, name)
		}
		p = t.find(p.parent)
	}
	return nil
}

func noCheckpoint(format string, args ...any) error {
	return drivers.Errorf(vir.ErrNoDomainCheckpoint, vir.FromDomainCheckpoint, format, args...)
}

// alignDisks makes one checkpoint disk per disk of def, in def's order:
// those asked for as asked (by target or source), the others a bitmap
// when nothing was asked and "no" when something was; an empty or
// read-only disk cannot have a bitmap. Bitmaps are named after the
// checkpoint unless named.
func alignDisks(def *domxml.Def, name string, asked []libvirtxml.DomainCheckpointDisk) ([]libvirtxml.DomainCheckpointDisk, error) {
	var disks []libvirtxml.DomainDisk
	if def.XML.Devices != nil {
		disks = def.XML.Devices.Disks
	}
	if len(asked) > len(disks) {
		return nil, drivers.Errorf(vir.ErrConfigUnsupported, vir.FromDomainCheckpoint, "too many disk checkpoint requests for domain")
	}
	if len(disks) == 0 {
		return nil, drivers.Errorf(vir.ErrConfigUnsupported, vir.FromDomainCheckpoint, "domain must have at least one disk to perform checkpoints")
	}
	empty := func(d *libvirtxml.DomainDisk) bool {
		return d.ReadOnly != nil || d.Source == nil || (d.Source.File != nil && d.Source.File.File == "")
	}
	byTarget := map[string]libvirtxml.DomainCheckpointDisk{}
	for _, a := range asked {
		d := findDisk(def, a.Name)
		if d == nil || d.Target == nil {
			return nil, drivers.Errorf(vir.ErrConfigUnsupported, vir.FromDomainCheckpoint, "no disk named '%s'", a.Name)
		}
		if _, dup := byTarget[d.Target.Dev]; dup {
			return nil, drivers.Errorf(vir.ErrConfigUnsupported, vir.FromDomainCheckpoint, "disk '%s' specified twice", a.Name)
		}
		if a.Checkpoint == "" {
			a.Checkpoint = "bitmap"
		}
		if a.Checkpoint != "bitmap" && a.Checkpoint != "no" {
			return nil, drivers.Errorf(vir.ErrXMLError, vir.FromDomainCheckpoint, "invalid checkpoint type '%s' of disk '%s': want bitmap or no", a.Checkpoint, a.Name)
		}
		if empty(d) && a.Checkpoint != "no" {
			return nil, drivers.Errorf(vir.ErrConfigUnsupported, vir.FromDomainCheckpoint, "disk '%s' is empty or readonly", a.Name)
		}
		a.Name = d.Target.Dev
		byTarget[d.Target.Dev] = a
	}
	out := make([]libvirtxml.DomainCheckpointDisk, 0, len(disks))
	for i := range disks {
		d := &disks[i]
		if d.Target == nil {
			continue
		}
		c, ok := byTarget[d.Target.Dev]
		if !ok {
			c = libvirtxml.DomainCheckpointDisk{Name: d.Target.Dev, Checkpoint: "no"}
			if len(asked) == 0 && !empty(d) {
				c.Checkpoint = "bitmap"
			}
		}
		if c.Checkpoint == "bitmap" && c.Bitmap == "" {
			c.Bitmap = name
		}
		c.Size = 0
		out = append(out, c)
	}
	return out, nil
}

const (
	chkRedefine = uint32(vir.DomainCheckpointCreateRedefine)
	chkQuiesce  = uint32(vir.DomainCheckpointCreateQuiesce)
)

// DomainCheckpointCreateXML records a checkpoint of a running domain
// without snapshots: a child of the current checkpoint, which it
// becomes. With VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE it puts back a
// checkpoint's XML as a dump gave it (name and creation time required),
// replacing one of the same name but keeping its children
// (drivers.OpDomainCheckpointCreateXML).
func (c *conn) DomainCheckpointCreateXML(ctx context.Context, ref protocol.Domain, xmlDesc string, flags uint32) (protocol.DomainCheckpoint, error) {
	var out protocol.DomainCheckpoint
	if flags&^(chkRedefine|chkQuiesce) != 0 {
		return out, badFlags(flags, "testDomainCheckpointCreateXML")
	}
	redefine := flags&chkRedefine != 0
	var x libvirtxml.DomainCheckpoint
	if err := x.Unmarshal(xmlDesc); err != nil {
		return out, drivers.Errorf(vir.ErrXMLError, vir.FromDomainCheckpoint, "cannot parse checkpoint definition: %v", err)
	}
	var created int64
	if redefine {
		if x.Name == "" {
			return out, drivers.Errorf(vir.ErrXMLError, vir.FromDomainCheckpoint, "a redefined checkpoint must have a name")
		}
		t, err := strconv.ParseInt(strings.TrimSpace(x.CreationTime), 10, 64)
		if err != nil {
			return out, drivers.Errorf(vir.ErrInternalError, vir.FromDomainCheckpoint, "missing creationTime from existing checkpoint")
		}
		created = t
	}
	if strings.Contains(x.Name, "/") {
		return out, drivers.Errorf(vir.ErrXMLError, vir.FromDomainCheckpoint, "invalid checkpoint name '%s': it must not contain '/'", x.Name)
	}
	var asked []libvirtxml.DomainCheckpointDisk
	if x.Disks != nil {
		asked = x.Disks.Disks
	}
	var redefDef *domxml.Def
	if redefine && x.Domain != nil {
		doc, err := x.Domain.Marshal()
		if err == nil {
			redefDef, err = domxml.Parse(doc)
		}
		if err != nil {
			return out, drivers.Errorf(vir.ErrXMLError, vir.FromDomainCheckpoint, "cannot parse the checkpoint's domain: %v", err)
		}
	}
	err := c.drv.withDomain(ref, func(dom *domain) error {
		x2 := c.drv.ext(dom)
		t := &x2.run.checkpoints
		if len(x2.snapshots.list) > 0 {
			return drivers.Errorf(vir.ErrOperationUnsupported, vir.FromTest, "cannot create checkpoint while snapshot exists")
		}
		if !dom.active() {
			return drivers.Errorf(vir.ErrOperationUnsupported, vir.FromTest, "cannot create checkpoint for inactive domain")
		}
		if !redefine {
			created = time.Now().Unix()
			name := x.Name
			if name == "" {
				name = strconv.FormatInt(created, 10)
			}
			if t.find(name) != nil {
				return drivers.Errorf(vir.ErrOperationInvalid, vir.FromDomainCheckpoint, "domain checkpoint %s already exists", name)
			}
			def := dom.live.Copy()
			disks, err := alignDisks(def, name, asked)
			if err != nil {
				return err
			}
			t.list = append(t.list, &checkpoint{name: name, desc: x.Description, created: created, parent: t.current, def: def, disks: disks})
			t.current = name
			out = protocol.DomainCheckpoint{Name: name, Dom: dom.ref()}
			return nil
		}
		parent := ""
		if x.Parent != nil {
			parent = x.Parent.Name
		}
		if err := t.checkParent(x.Name, parent); err != nil {
			return err
		}
		chk := &checkpoint{name: x.Name, desc: x.Description, created: created, parent: parent, def: redefDef}
		if redefDef != nil {
			if redefDef.UUID != dom.def().UUID {
				return drivers.Errorf(vir.ErrInvalidArg, vir.FromDomainCheckpoint, "definition for checkpoint %s must use uuid %s", x.Name, dom.def().UUID)
			}
			disks, err := alignDisks(redefDef, x.Name, asked)
			if err != nil {
				return err
			}
			chk.disks = disks
		} else {
			for _, a := range asked {
				if a.Checkpoint == "" {
					a.Checkpoint = "bitmap"
				}
				if a.Checkpoint == "bitmap" && a.Bitmap == "" {
					a.Bitmap = x.Name
				}
				a.Size = 0
				chk.disks = append(chk.disks, a)
			}
		}
		becomeCurrent := t.current == "" || (parent != "" && parent == t.current)
		if old := t.find(x.Name); old != nil {
			*old = *chk
		} else {
			t.list = append(t.list, chk)
		}
		if becomeCurrent {
			t.current = x.Name
		}
		out = protocol.DomainCheckpoint{Name: x.Name, Dom: dom.ref()}
		return nil
	})
	return out, err
}

// withCheckpoint runs f on one checkpoint with mu held.
func (c *conn) withCheckpoint(ref protocol.DomainCheckpoint, f func(dom *domain, t *checkpoints, chk *checkpoint) error) error {
	return c.drv.withDomain(ref.Dom, func(dom *domain) error {
		t := &c.drv.ext(dom).run.checkpoints
		chk := t.find(ref.Name)
		if chk == nil {
			return noCheckpoint("no domain checkpoint with matching name '%s'", ref.Name)
		}
		return f(dom, t, chk)
	})
}

// format is the checkpoint's XML as libvirt formats it; size gives
// bitmap disks a size, noDomain leaves the domain out.
func (chk *checkpoint) format(size, noDomain, secure bool) (string, error) {
	esc := func(v string) string {
		var e strings.Builder
		_ = xml.EscapeText(&e, []byte(v))
		return e.String()
	}
	var b strings.Builder
	b.WriteString("<domaincheckpoint>\n")
	fmt.Fprintf(&b, "  <name>%s</name>\n", esc(chk.name))
	if chk.desc != "" {
		fmt.Fprintf(&b, "  <description>%s</description>\n", esc(chk.desc))
	}
	if chk.parent != "" {
		fmt.Fprintf(&b, "  <parent>\n    <name>%s</name>\n  </parent>\n", esc(chk.parent))
	}
	if chk.created != 0 {
		fmt.Fprintf(&b, "  <creationTime>%d</creationTime>\n", chk.created)
	}
	if len(chk.disks) > 0 {
		b.WriteString("  <disks>\n")
		for _, d := range chk.disks {
			fmt.Fprintf(&b, "    <disk name='%s' checkpoint='%s'", esc(d.Name), d.Checkpoint)
			if d.Checkpoint == "bitmap" {
				fmt.Fprintf(&b, " bitmap='%s'", esc(d.Bitmap))
				if size && chk.sized {
					b.WriteString(" size='1024'")
				}
			}
			b.WriteString("/>\n")
		}
		b.WriteString("  </disks>\n")
	}
	if chk.def != nil && !noDomain {
		doc, err := chk.def.Describe(-1, secure)
		if err != nil {
			return "", err
		}
		for _, line := range strings.Split(strings.TrimRight(doc, "\n"), "\n") {
			b.WriteString("  " + line + "\n")
		}
	}
	b.WriteString("</domaincheckpoint>\n")
	return b.String(), nil
}

const (
	chkXMLSecure   = uint32(vir.DomainCheckpointXMLSecure)
	chkXMLNoDomain = uint32(vir.DomainCheckpointXMLNoDomain)
	chkXMLSize     = uint32(vir.DomainCheckpointXMLSize)
)

// DomainCheckpointGetXMLDesc answers the checkpoint's XML; the size of
// bitmaps needs a running domain (drivers.OpDomainCheckpointGetXMLDesc).
func (c *conn) DomainCheckpointGetXMLDesc(ctx context.Context, ref protocol.DomainCheckpoint, flags uint32) (doc string, err error) {
	if flags&^(chkXMLSecure|chkXMLNoDomain|chkXMLSize) != 0 {
		return "", badFlags(flags, "testDomainCheckpointGetXMLDesc")
	}
	err = c.withCheckpoint(ref, func(dom *domain, _ *checkpoints, chk *checkpoint) error {
		if flags&chkXMLSize != 0 {
			if !dom.active() {
				return notRunning()
			}
			chk.sized = true
		}
		doc, err = chk.format(flags&chkXMLSize != 0, flags&chkXMLNoDomain != 0, flags&chkXMLSecure != 0)
		return err
	})
	return doc, err
}

const (
	chkListRoots       = uint32(vir.DomainCheckpointListRoots)
	chkListDescendants = uint32(vir.DomainCheckpointListDescendants)
	chkListTopological = uint32(vir.DomainCheckpointListTopological)
	chkLeaves          = uint32(vir.DomainCheckpointListLeaves)
	chkNoLeaves        = uint32(vir.DomainCheckpointListNoLeaves)
)

// filter keeps the checkpoints the leaf flags select (none set: all).
func (t *checkpoints) filter(in []*checkpoint, flags uint32) []*checkpoint {
	if flags&(chkLeaves|chkNoLeaves) == 0 {
		return in
	}
	var out []*checkpoint
	for _, x := range in {
		leaf := len(t.children(x.name, false)) == 0
		if (leaf && flags&chkLeaves != 0) || (!leaf && flags&chkNoLeaves != 0) {
			out = append(out, x)
		}
	}
	return out
}

func chkRefs(dom *domain, in []*checkpoint) []protocol.DomainCheckpoint {
	out := make([]protocol.DomainCheckpoint, len(in))
	for i, x := range in {
		out[i] = protocol.DomainCheckpoint{Name: x.name, Dom: dom.ref()}
	}
	return out
}

func tooManyCheckpoints(n int) error {
	return drivers.Errorf(vir.ErrInternalError, vir.FromTest, "%d checkpoints are more than the protocol's %d", n, protocol.RemoteDomainCheckpointListMax)
}

// DomainListAllCheckpoints lists the domain's checkpoints, parents
// before children, or its roots only (drivers.OpDomainListAllCheckpoints).
func (c *conn) DomainListAllCheckpoints(ctx context.Context, ref protocol.Domain, needResults int32, flags uint32) (*protocol.DomainListAllCheckpointsRet, error) {
	if flags&^(chkListRoots|chkListTopological|chkLeaves|chkNoLeaves) != 0 {
		return nil, badFlags(flags, "testDomainListAllCheckpoints")
	}
	ret := &protocol.DomainListAllCheckpointsRet{}
	err := c.drv.withDomain(ref, func(dom *domain) error {
		t := &c.drv.ext(dom).run.checkpoints
		in := t.list
		if flags&chkListRoots != 0 {
			in = t.children("", false)
		}
		l := t.filter(in, flags)
		if len(l) > protocol.RemoteDomainCheckpointListMax {
			return tooManyCheckpoints(len(l))
		}
		ret.Ret = int32(len(l))
		if needResults != 0 {
			ret.Checkpoints = chkRefs(dom, l)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ret, nil
}

// DomainCheckpointListAllChildren lists a checkpoint's children, or
// with VIR_DOMAIN_CHECKPOINT_LIST_DESCENDANTS its descendants
// (drivers.OpDomainCheckpointListAllChildren).
func (c *conn) DomainCheckpointListAllChildren(ctx context.Context, ref protocol.DomainCheckpoint, needResults int32, flags uint32) (*protocol.DomainCheckpointListAllChildrenRet, error) {
	if flags&^(chkListDescendants|chkListTopological|chkLeaves|chkNoLeaves) != 0 {
		return nil, badFlags(flags, "testDomainCheckpointListAllChildren")
	}
	ret := &protocol.DomainCheckpointListAllChildrenRet{}
	err := c.withCheckpoint(ref, func(dom *domain, t *checkpoints, chk *checkpoint) error {
		l := t.filter(t.children(chk.name, flags&chkListDescendants != 0), flags)
		if len(l) > protocol.RemoteDomainCheckpointListMax {
			return tooManyCheckpoints(len(l))
		}
		ret.Ret = int32(len(l))
		if needResults != 0 {
			ret.Checkpoints = chkRefs(dom, l)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ret, nil
}

// DomainCheckpointLookupByName finds a checkpoint by name
// (drivers.OpDomainCheckpointLookupByName).
func (c *conn) DomainCheckpointLookupByName(ctx context.Context, ref protocol.Domain, name string, flags uint32) (out protocol.DomainCheckpoint, err error) {
	if flags != 0 {
		return out, badFlags(flags, "testDomainCheckpointLookupByName")
	}
	err = c.withCheckpoint(protocol.DomainCheckpoint{Name: name, Dom: ref}, func(dom *domain, _ *checkpoints, chk *checkpoint) error {
		out = protocol.DomainCheckpoint{Name: chk.name, Dom: dom.ref()}
		return nil
	})
	return out, err
}

// DomainCheckpointGetParent answers a checkpoint's parent
// (drivers.OpDomainCheckpointGetParent).
func (c *conn) DomainCheckpointGetParent(ctx context.Context, ref protocol.DomainCheckpoint, flags uint32) (out protocol.DomainCheckpoint, err error) {
	if flags != 0 {
		return out, badFlags(flags, "testDomainCheckpointGetParent")
	}
	err = c.withCheckpoint(ref, func(dom *domain, _ *checkpoints, chk *checkpoint) error {
		if chk.parent == "" {
			return noCheckpoint("checkpoint '%s' does not have a parent", chk.name)
		}
		out = protocol.DomainCheckpoint{Name: chk.parent, Dom: dom.ref()}
		return nil
	})
	return out, err
}

// DomainCheckpointDelete deletes a checkpoint, handing its children to
// its parent; with VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN its
// descendants too, with _CHILDREN_ONLY those only; _METADATA_ONLY
// changes nothing, there being only metadata
// (drivers.OpDomainCheckpointDelete).
func (c *conn) DomainCheckpointDelete(ctx context.Context, ref protocol.DomainCheckpoint, flags uint32) error {
	const children, meta, only = uint32(vir.DomainCheckpointDeleteChildren), uint32(vir.DomainCheckpointDeleteMetadataOnly), uint32(vir.DomainCheckpointDeleteChildrenOnly)
	if flags&^(children|meta|only) != 0 {
		return badFlags(flags, "testDomainCheckpointDelete")
	}
	return c.withCheckpoint(ref, func(_ *domain, t *checkpoints, chk *checkpoint) error {
		t.remove(chk.name, flags&children != 0, flags&only != 0)
		return nil
	})
}
