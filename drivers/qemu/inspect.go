package qemu

import (
	"context"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/vir"
)

// The reads below take only the domain's mu, never its job: they answer
// from the state the driver keeps, even while an operation runs.

// read runs f on ref's domain with its mu held.
func (d *Driver) read(ref drivers.Domain, f func(*domain) error) error {
	dom, err := d.lock(ref)
	if err != nil {
		return err
	}
	defer dom.mu.Unlock()
	return f(dom)
}

// DomainSnapshot is dom as the shared domain list reads it, under its
// mu.
func (dom *domain) DomainSnapshot() drivers.DomainSnapshot {
	dom.mu.Lock()
	defer dom.mu.Unlock()
	return drivers.DomainSnapshot{
		Ref:     dom.ref(),
		Entry:   drivers.DomainListEntry{State: dom.state, Persistent: dom.persistent != nil, Autostart: dom.autostart},
		Visible: dom.visible(),
	}
}

// DomainKey is dom's name and uuid, which never change: no lock.
func (dom *domain) DomainKey() (string, drivers.UUID) { return dom.name, dom.uuid }

// The lookups and the list are the shared domain list's: no driver lock,
// each domain's mu briefly.

func (c *conn) DomainLookupByID(ctx context.Context, id int32) (drivers.Domain, error) {
	return c.drv.domains.LookupByID(vir.FromQEMU, id)
}

func (c *conn) DomainLookupByName(ctx context.Context, name string) (drivers.Domain, error) {
	return c.drv.domains.LookupByName(vir.FromQEMU, name)
}

func (c *conn) DomainLookupByUUID(ctx context.Context, u drivers.UUID) (drivers.Domain, error) {
	return c.drv.domains.LookupByUUID(vir.FromQEMU, u)
}

func (c *conn) ConnectListAllDomains(ctx context.Context, flags vir.ConnectListAllDomainsFlags) ([]drivers.Domain, error) {
	return c.drv.domains.ListAll(flags), nil
}

// DomainGetInfo reports the definition's sizes and, while the domain
// runs, qemu's CPU time from /proc.
func (c *conn) DomainGetInfo(ctx context.Context, ref drivers.Domain) (info drivers.DomainInfo, err error) {
	err = c.drv.read(ref, func(dom *domain) error {
		def := dom.def()
		info = drivers.DomainInfo{State: dom.state, MaxMem: def.MaxMemKiB(), Memory: def.CurMemKiB(), NrVirtCPU: def.VCPUs()}
		if dom.proc != nil {
			info.CPUTime = cpuTime(dom.proc.pid)
		}
		return nil
	})
	return info, err
}

func (c *conn) DomainGetState(ctx context.Context, ref drivers.Domain, flags uint32) (state vir.DomainState, reason int32, err error) {
	err = c.drv.read(ref, func(dom *domain) error {
		state, reason = dom.state, dom.reason
		return nil
	})
	return state, reason, err
}

func (c *conn) DomainGetOSType(ctx context.Context, ref drivers.Domain) (os string, err error) {
	err = c.drv.read(ref, func(dom *domain) error {
		os = dom.def().OSType()
		return nil
	})
	return os, err
}

// DomainGetXMLDesc returns the live definition (with the domain's id and
// what qemu chose at start: pty paths, the VNC port), or with
// VIR_DOMAIN_XML_INACTIVE the persistent one.
func (c *conn) DomainGetXMLDesc(ctx context.Context, ref drivers.Domain, flags uint32) (xml string, err error) {
	err = c.drv.read(ref, func(dom *domain) error {
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
	err = c.drv.read(ref, func(dom *domain) error {
		active = dom.active()
		return nil
	})
	return active, err
}

func (c *conn) DomainIsPersistent(ctx context.Context, ref drivers.Domain) (persistent bool, err error) {
	err = c.drv.read(ref, func(dom *domain) error {
		persistent = dom.persistent != nil
		return nil
	})
	return persistent, err
}

// DomainHasManagedSaveImage answers no: the driver has no managed save.
func (c *conn) DomainHasManagedSaveImage(ctx context.Context, ref drivers.Domain, flags uint32) (bool, error) {
	return false, c.drv.read(ref, func(*domain) error { return nil })
}

// DomainSnapshotNum answers 0: the driver has no snapshots.
func (c *conn) DomainSnapshotNum(ctx context.Context, ref drivers.Domain, flags uint32) (int, error) {
	return 0, c.drv.read(ref, func(*domain) error { return nil })
}
