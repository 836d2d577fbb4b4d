package qemu

import (
	"context"
	"fmt"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/vir"
)

// The guest's memory size: the balloon target of a running guest (QMP
// balloon; the guest's balloon driver moves towards it and qemu reports
// each step with BALLOON_CHANGE, guestevents.go), <currentMemory> and
// <memory> of the persistent definition.

// DomainSetMemory sets the running guest's balloon target
// (drivers.OpDomainSetMemory), as virDomainSetMemory does: live.
func (c *conn) DomainSetMemory(ctx context.Context, ref drivers.Domain, memory uint64) error {
	return c.DomainSetMemoryFlags(ctx, ref, memory, affectLive)
}

// DomainSetMemoryFlags sets the balloon target (LIVE) and/or the
// persistent <currentMemory> (CONFIG), or with VIR_DOMAIN_MEM_MAXIMUM
// the persistent <memory> (drivers.OpDomainSetMemoryFlags). Sizes are
// KiB.
func (c *conn) DomainSetMemoryFlags(ctx context.Context, ref drivers.Domain, memory uint64, flags uint32) error {
	if err := badFlags("qemuDomainSetMemoryFlags", flags, vir.DomainMemLive|vir.DomainMemConfig|vir.DomainMemMaximum); err != nil {
		return err
	}
	maximum := flags&uint32(vir.DomainMemMaximum) != 0
	d := c.drv
	return d.withJob(ctx, ref, "virDomainSetMemoryFlags", func(ctx context.Context, dom *domain) error {
		affect, err := resolveAffect(dom, flags&(affectLive|affectConfig))
		if err != nil {
			return err
		}
		if maximum && affect&affectLive != 0 {
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromQEMU, "cannot resize the maximum memory on an active domain")
		}
		var newDef *domxml.Def
		if affect&affectConfig != 0 {
			dom.mu.Lock()
			nd := dom.persistent.Copy()
			dom.mu.Unlock()
			x := nd.XML
			if maximum {
				cur := nd.CurMemKiB()
				x.Memory = &libvirtxml.DomainMemory{Value: uint(memory), Unit: "KiB"}
				if cur > memory {
					cur = memory
				}
				x.CurrentMemory = &libvirtxml.DomainCurrentMemory{Value: uint(cur), Unit: "KiB"}
			} else {
				if memory > nd.MaxMemKiB() {
					return drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "cannot set memory higher than max memory")
				}
				x.CurrentMemory = &libvirtxml.DomainCurrentMemory{Value: uint(memory), Unit: "KiB"}
			}
			if err := validate(nd); err != nil {
				return err
			}
			newDef = nd
		}
		if affect&affectLive != 0 {
			if err := d.setBalloon(ctx, dom, memory); err != nil {
				return err
			}
		}
		if newDef != nil {
			if _, err := d.define(newDef, false, false); err != nil {
				return err
			}
		}
		return nil
	})
}

// setBalloon asks the running guest's balloon for memory KiB.
func (d *Driver) setBalloon(ctx context.Context, dom *domain, memory uint64) error {
	inst, _, err := dom.running()
	if err != nil {
		return err
	}
	dom.mu.Lock()
	live := dom.live
	dom.mu.Unlock()
	if memory > live.MaxMemKiB() {
		return drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "cannot set memory higher than max memory")
	}
	if mb := live.XML.Devices; mb == nil || mb.MemBalloon == nil || mb.MemBalloon.Model != "virtio" {
		return drivers.Errorf(vir.ErrOperationInvalid, vir.FromQEMU, "Unable to change memory of active domain without the balloon device and guest OS balloon driver")
	}
	if inst.mon == nil {
		return monitorErr(dom, fmt.Errorf("the driver has no monitor connection to qemu (pid %d): %s", inst.pid, inst.degraded))
	}
	if err := inst.mon.Execute(ctx, "balloon", map[string]any{"value": memory * 1024}, nil); err != nil {
		return monitorErr(dom, err)
	}
	return nil
}

var (
	_ drivers.OpDomainSetMemory      = (*conn)(nil)
	_ drivers.OpDomainSetMemoryFlags = (*conn)(nil)
)
