package test

import (
	"context"
	"time"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/vir"
)

// domain is one domain of the test driver. Fields are guarded by
// Driver.mu.
type domain struct {
	persistent *domxml.Def // the definition; nil for a transient domain
	live       *domxml.Def // the running definition; nil while inactive
	id         int32       // -1 while inactive
	saving     bool        // a save is writing its image
	state      vir.DomainState
	reason     int32
	autostart  bool
	startedAt  time.Time
}

// def is the definition that describes the domain now.
func (dom *domain) def() *domxml.Def {
	if dom.live != nil {
		return dom.live
	}
	return dom.persistent
}

func (dom *domain) active() bool { return dom.live != nil }

func (dom *domain) ref() drivers.Domain {
	def := dom.def()
	id := int32(-1)
	if dom.active() {
		id = dom.id
	}
	return drivers.Domain{Name: def.Name(), UUID: def.UUID, ID: id}
}

// DomainSnapshot is dom as the shared domain list reads it; the
// driver's mu is held by the list's caller.
func (dom *domain) DomainSnapshot() drivers.DomainSnapshot {
	return drivers.DomainSnapshot{
		Ref:     dom.ref(),
		Entry:   drivers.DomainListEntry{State: dom.state, Persistent: dom.persistent != nil, Autostart: dom.autostart},
		Visible: true,
	}
}

// DomainKey is dom's name and UUID; the driver's mu is held.
func (dom *domain) DomainKey() (string, drivers.UUID) {
	def := dom.def()
	return def.Name(), def.UUID
}

// find returns the domain with ref's UUID; mu must be held.
func (d *Driver) find(ref drivers.Domain) (*domain, error) {
	if dom := d.findUUID(ref.UUID); dom != nil {
		return dom, nil
	}
	return nil, drivers.Errorf(vir.ErrNoDomain, vir.FromTest, "no domain with matching uuid '%s' (%s)", ref.UUID, ref.Name)
}

func (d *Driver) findName(name string) *domain {
	dom, _ := d.domains.Find(func(dom *domain) bool { return dom.def().Name() == name })
	return dom
}

func (d *Driver) findUUID(u drivers.UUID) *domain {
	dom, _ := d.domains.Find(func(dom *domain) bool { return dom.def().UUID == u })
	return dom
}

func (d *Driver) remove(dom *domain) {
	d.forget(dom)
	d.domains.Remove(dom)
}

// withDomain runs f on ref's domain with mu held.
func (d *Driver) withDomain(ref drivers.Domain, f func(*domain) error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	dom, err := d.find(ref)
	if err != nil {
		return err
	}
	return f(dom)
}

// The lookups and the list are the shared domain list's, under mu.

func (c *conn) DomainLookupByID(ctx context.Context, id int32) (drivers.Domain, error) {
	c.drv.mu.Lock()
	defer c.drv.mu.Unlock()
	return c.drv.domains.LookupByID(vir.FromTest, id)
}

func (c *conn) DomainLookupByName(ctx context.Context, name string) (drivers.Domain, error) {
	c.drv.mu.Lock()
	defer c.drv.mu.Unlock()
	return c.drv.domains.LookupByName(vir.FromTest, name)
}

func (c *conn) DomainLookupByUUID(ctx context.Context, u drivers.UUID) (drivers.Domain, error) {
	c.drv.mu.Lock()
	defer c.drv.mu.Unlock()
	return c.drv.domains.LookupByUUID(vir.FromTest, u)
}

func (c *conn) ConnectListAllDomains(ctx context.Context, flags vir.ConnectListAllDomainsFlags) ([]drivers.Domain, error) {
	// Not the shared list's ListAll: the managed-save and snapshot
	// filters read the driver's extra state of each domain.
	d := c.drv
	d.mu.Lock()
	defer d.mu.Unlock()
	objs := d.domains.Objects()
	out := make([]drivers.Domain, 0, len(objs))
	// The checkpoint filter is the test driver's own: the shared entry
	// knows no checkpoints.
	const hasChk, noChk = vir.ConnectListDomainsHasCheckpoint, vir.ConnectListDomainsNoCheckpoint
	chkFlags := flags & (hasChk | noChk)
	flags &^= hasChk | noChk
	for _, dom := range objs {
		if chkFlags != 0 {
			has := len(d.ext(dom).run.checkpoints.list) > 0
			if !(has && chkFlags&hasChk != 0) && !(!has && chkFlags&noChk != 0) {
				continue
			}
		}
		e := drivers.DomainListEntry{
			State:       dom.state,
			Persistent:  dom.persistent != nil,
			Autostart:   dom.autostart,
			ManagedSave: d.ext(dom).managedSave,
			Snapshots:   len(d.ext(dom).snapshots.list),
		}
		if e.Matches(flags) {
			out = append(out, dom.ref())
		}
	}
	return out, nil
}

func (c *conn) DomainGetInfo(ctx context.Context, ref drivers.Domain) (info drivers.DomainInfo, err error) {
	err = c.drv.withDomain(ref, func(dom *domain) error {
		def := dom.def()
		info = drivers.DomainInfo{
			State:     dom.state,
			MaxMem:    def.MaxMemKiB(),
			Memory:    def.CurMemKiB(),
			NrVirtCPU: def.VCPUs(),
		}
		if dom.active() {
			// A test domain has no real CPU; it is reported as one busy vCPU.
			info.CPUTime = uint64(time.Since(dom.startedAt))
		}
		return nil
	})
	return info, err
}

func (c *conn) DomainGetState(ctx context.Context, ref drivers.Domain, flags uint32) (state vir.DomainState, reason int32, err error) {
	err = c.drv.withDomain(ref, func(dom *domain) error {
		state, reason = dom.state, dom.reason
		return nil
	})
	return state, reason, err
}

func (c *conn) DomainGetOSType(ctx context.Context, ref drivers.Domain) (os string, err error) {
	err = c.drv.withDomain(ref, func(dom *domain) error {
		os = "linux" // libvirt's test driver answers "linux" whatever the XML says
		return nil
	})
	return os, err
}

func (c *conn) DomainGetXMLDesc(ctx context.Context, ref drivers.Domain, flags uint32) (xml string, err error) {
	err = c.drv.withDomain(ref, func(dom *domain) error {
		def, id := dom.def(), dom.ref().ID
		if flags&uint32(vir.DomainXMLInactive) != 0 && dom.persistent != nil {
			def, id = dom.persistent, -1
		}
		xml, err = def.Describe(id, flags&uint32(vir.DomainXMLSecure) != 0)
		return err
	})
	return xml, err
}

func (c *conn) DomainIsActive(ctx context.Context, ref drivers.Domain) (active bool, err error) {
	err = c.drv.withDomain(ref, func(dom *domain) error {
		active = dom.active()
		return nil
	})
	return active, err
}

func (c *conn) DomainIsPersistent(ctx context.Context, ref drivers.Domain) (persistent bool, err error) {
	err = c.drv.withDomain(ref, func(dom *domain) error {
		persistent = dom.persistent != nil
		return nil
	})
	return persistent, err
}

func (c *conn) DomainGetAutostart(ctx context.Context, ref drivers.Domain) (autostart bool, err error) {
	err = c.drv.withDomain(ref, func(dom *domain) error {
		autostart = dom.autostart
		return nil
	})
	return autostart, err
}

func (c *conn) DomainSetAutostart(ctx context.Context, ref drivers.Domain, autostart bool) error {
	return c.drv.withDomain(ref, func(dom *domain) error {
		if dom.persistent == nil {
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromTest, "cannot set autostart for transient domain")
		}
		dom.autostart = autostart
		return nil
	})
}
