package test

import (
	"context"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// DomainRevertToSnapshot brings the domain back to a snapshot: its
// definition becomes the snapshot's, and it ends in the snapshot's
// state, with the events libvirt's test driver raises — a running
// domain is stopped (Stopped FromSnapshot) before it starts again
// (Started FromSnapshot), and a snapshot of a paused domain, or
// VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED, pauses it (Suspended FromSnapshot);
// VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING keeps it running. The snapshot
// becomes the current one (drivers.OpDomainRevertToSnapshot).
//
// Starting a domain from a snapshot taken while it was off, and
// reverting a transient domain, are refused: libvirt's test driver
// reports a start there without starting the domain, which no client
// should rely on.
func (c *conn) DomainRevertToSnapshot(ctx context.Context, ref protocol.DomainSnapshot, flags uint32) error {
	const (
		running = uint32(vir.DomainSnapshotRevertRunning)
		paused  = uint32(vir.DomainSnapshotRevertPaused)
		force   = uint32(vir.DomainSnapshotRevertForce)
	)
	if flags&^(running|paused|force) != 0 {
		return badFlags(flags, "testDomainRevertToSnapshot")
	}
	if flags&running != 0 && flags&paused != 0 {
		return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "flags 'running' and 'paused' are mutually exclusive: give one of them")
	}
	d := c.drv
	return c.withSnapshot(ref, func(dom *domain, t *snapshots, s *snapshot) error {
		wasOn := s.state == vir.DomainRunning || s.state == vir.DomainPaused
		switch {
		case dom.persistent == nil:
			return drivers.Errorf(vir.ErrOperationUnsupported, vir.FromTest, "govirtd's test driver cannot revert a transient domain: define it first")
		case !wasOn && flags&(running|paused) != 0:
			return drivers.Errorf(vir.ErrOperationUnsupported, vir.FromTest,
				"snapshot '%s' was taken while the domain was off: revert without --running or --paused, then start the domain", s.name)
		case dom.saving:
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromDomain, "domain is being saved")
		}
		if dom.active() {
			d.stop(dom, vir.DomainShutoffFromSnapshot)
			d.emit(dom, vir.DomainEventStopped, int32(vir.DomainEventStoppedFromSnapshot))
		}
		dom.persistent = s.def.Copy()
		if wasOn {
			d.start(dom, vir.DomainRunningFromSnapshot)
			d.emit(dom, vir.DomainEventStarted, int32(vir.DomainEventStartedFromSnapshot))
			if flags&running == 0 && (s.state == vir.DomainPaused || flags&paused != 0) {
				dom.state, dom.reason = vir.DomainPaused, int32(vir.DomainPausedFromSnapshot)
				d.emit(dom, vir.DomainEventSuspended, int32(vir.DomainEventSuspendedFromSnapshot))
			}
		}
		t.current = s.name
		return nil
	})
}
