package xen

import (
	"context"
	"sync"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/vir"
)

// dom is one domain known to the driver: running (from xenstore),
// defined (from an xl.cfg), or both.
type dom struct {
	name string
	uuid drivers.UUID

	mu     sync.Mutex // guards the fields below
	live   *liveDom   // nil when not running
	paused bool       // told by the toolstack: xenstore has no trace of it
	cfg    *xlCfg     // nil when not defined
	auto   bool
}

func (o *dom) DomainKey() (string, drivers.UUID) { return o.name, o.uuid }

func (o *dom) DomainSnapshot() drivers.DomainSnapshot {
	o.mu.Lock()
	defer o.mu.Unlock()
	return drivers.DomainSnapshot{Ref: o.refLocked(), Entry: drivers.DomainListEntry{
		State: o.stateLocked(), Persistent: o.cfg != nil, Autostart: o.auto}, Visible: true}
}

func (o *dom) refLocked() drivers.Domain {
	id := int32(-1)
	if o.live != nil {
		id = o.live.ID
	}
	return drivers.Domain{Name: o.name, UUID: o.uuid, ID: id}
}

func (o *dom) ref() drivers.Domain {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.refLocked()
}

func (o *dom) stateLocked() vir.DomainState {
	switch {
	case o.live == nil:
		return vir.DomainShutoff
	case o.paused:
		return vir.DomainPaused
	}
	return vir.DomainRunning
}

func (d *Driver) emit(ref drivers.Domain, ev vir.DomainEventType, detail int32) {
	d.events.Emit(drivers.LifecycleEvent{Dom: ref, Event: ev, Detail: detail})
}

// resync makes the list what xenstore and the config directory say, and
// raises an event for each difference: STARTED for a domain that
// appeared in xenstore, STOPPED for one that left (the detail govirtd's
// own stop asked for, else SHUTDOWN when the guest had a shutdown
// request pending, else DESTROYED), DEFINED/UNDEFINED for config files.
// It runs on every watch event, after govirtd's own lifecycle calls and
// after a reconnect; serialised by syncMu, so each change is raised once.
func (d *Driver) resync(ctx context.Context) error {
	d.syncMu.Lock()
	defer d.syncMu.Unlock()
	live, err := d.store.scan(ctx)
	if err != nil {
		return drivers.Errorf(vir.ErrOperationFailed, vir.FromXen, "read the domain list from xenstore: %v", err)
	}
	defs, errs := d.defs.load()
	for _, e := range errs {
		d.log.Warn("Xen: config file left out", "err", e)
	}
	known := map[drivers.UUID]*dom{}
	for _, o := range d.doms.Objects() {
		known[o.uuid] = o
	}
	for u, l := range live {
		if known[u] == nil {
			o := &dom{name: l.Name, uuid: u}
			d.doms.Add(o)
			known[u] = o
		}
	}
	for u, c := range defs {
		if known[u] == nil {
			o := &dom{name: c.Name, uuid: u}
			d.doms.Add(o)
			known[u] = o
		}
	}
	for u, o := range known {
		l, running := live[u]
		c, defined := defs[u]
		o.mu.Lock()
		wasLive, wasDefined := o.live, o.cfg != nil
		if running {
			l := l
			o.live = &l
		} else {
			o.live, o.paused = nil, false
		}
		if defined {
			c := c
			o.cfg = &c
			o.auto = d.defs.autostart(c.Name)
		} else {
			o.cfg = nil
		}
		ref := o.refLocked()
		o.mu.Unlock()
		switch {
		case running && wasLive == nil:
			detail := int32(vir.DomainEventStartedBooted)
			if d.restoring > 0 {
				detail = int32(vir.DomainEventStartedRestored)
			}
			d.emit(ref, vir.DomainEventStarted, detail)
		case !running && wasLive != nil:
			detail, ok := d.intents[u]
			if !ok {
				detail = int32(vir.DomainEventStoppedDestroyed)
				if wasLive.Shutdown == "poweroff" {
					detail = int32(vir.DomainEventStoppedShutdown)
				}
			}
			d.emit(ref, vir.DomainEventStopped, detail)
		}
		delete(d.intents, u)
		switch {
		case defined && !wasDefined:
			d.emit(ref, vir.DomainEventDefined, int32(vir.DomainEventDefinedAdded))
		case !defined && wasDefined:
			d.emit(ref, vir.DomainEventUndefined, int32(vir.DomainEventUndefinedRemoved))
		}
		if !running && !defined {
			d.doms.Remove(o)
		}
	}
	return nil
}
