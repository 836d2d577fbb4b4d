package test

import (
	"context"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// domainExtra is what the test driver keeps about a domain besides its
// definitions and run state. Guarded by Driver.mu.
type domainExtra struct {
	// managedSave: the domain was stopped by a managed save. As in
	// libvirt's test driver there is no image: the next start boots the
	// domain afresh and clears the flag.
	managedSave bool
	snapshots   snapshots // see snapshots.go
	run         runState  // see runstate.go
}

// ext is dom's extra state, created on first use; mu must be held.
func (d *Driver) ext(dom *domain) *domainExtra {
	if d.extra == nil {
		d.extra = map[drivers.UUID]*domainExtra{}
	}
	u := dom.def().UUID
	x := d.extra[u]
	if x == nil {
		x = &domainExtra{}
		d.extra[u] = x
	}
	return x
}

// forget drops dom's extra state when the domain goes away; mu must be
// held.
func (d *Driver) forget(dom *domain) { delete(d.extra, dom.def().UUID) }

const managedSaveFlags = uint32(vir.DomainSaveBypassCache | vir.DomainSaveRunning | vir.DomainSavePaused)

// DomainManagedSave stops a running persistent domain with reason
// saved, raising Stopped Saved, and marks it as having a managed save
// image (drivers.OpDomainManagedSave).
func (c *conn) DomainManagedSave(ctx context.Context, ref protocol.Domain, flags uint32) error {
	if flags&^managedSaveFlags != 0 {
		return badFlags(flags, "testDomainManagedSave")
	}
	d := c.drv
	return d.withDomain(ref, func(dom *domain) error {
		switch {
		case !dom.active():
			return notRunning()
		case dom.persistent == nil:
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromTest, "cannot do managed save for transient domain")
		case dom.saving:
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromDomain, "domain is already being saved")
		}
		d.stop(dom, vir.DomainShutoffSaved)
		d.emit(dom, vir.DomainEventStopped, int32(vir.DomainEventStoppedSaved))
		d.ext(dom).managedSave = true
		return nil
	})
}

// DomainHasManagedSaveImage answers whether the domain was stopped by a
// managed save and not started since.
func (c *conn) DomainHasManagedSaveImage(ctx context.Context, ref drivers.Domain, flags uint32) (has bool, err error) {
	if flags != 0 {
		return false, badFlags(flags, "testDomainHasManagedSaveImage")
	}
	err = c.drv.withDomain(ref, func(dom *domain) error {
		has = c.drv.ext(dom).managedSave
		return nil
	})
	return has, err
}

// DomainManagedSaveRemove forgets the managed save image, if any
// (drivers.OpDomainManagedSaveRemove).
func (c *conn) DomainManagedSaveRemove(ctx context.Context, ref protocol.Domain, flags uint32) error {
	if flags != 0 {
		return badFlags(flags, "testDomainManagedSaveRemove")
	}
	return c.drv.withDomain(ref, func(dom *domain) error {
		c.drv.ext(dom).managedSave = false
		return nil
	})
}

// checkUndefine refuses to undefine a domain with a managed save image,
// or an inactive one with snapshots, unless flags say to drop them, as
// libvirt's test driver does; mu must be held.
func (d *Driver) checkUndefine(dom *domain, flags uint32) error {
	if d.ext(dom).managedSave && flags&uint32(vir.DomainUndefineManagedSave) == 0 {
		return drivers.Errorf(vir.ErrOperationInvalid, vir.FromTest,
			"Refusing to undefine while domain managed save image exists (give VIR_DOMAIN_UNDEFINE_MANAGED_SAVE, virsh undefine --managed-save, to drop it)")
	}
	if n := len(d.ext(dom).snapshots.list); n > 0 && !dom.active() && flags&uint32(vir.DomainUndefineSnapshotsMetadata) == 0 {
		return drivers.Errorf(vir.ErrOperationInvalid, vir.FromTest,
			"cannot delete inactive domain with %d snapshots (give VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA, virsh undefine --snapshots-metadata, to drop them)", n)
	}
	return nil
}
