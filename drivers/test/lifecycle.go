package test

import (
	"context"
	"time"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/vir"
)

// emit raises a lifecycle event for dom; mu must be held.
func (d *Driver) emit(dom *domain, event vir.DomainEventType, detail int32) {
	d.events.Emit(drivers.LifecycleEvent{Dom: dom.ref(), Event: event, Detail: detail})
}

// start makes dom run its persistent definition; mu must be held.
func (d *Driver) start(dom *domain, reason vir.DomainRunningReason) {
	if dom.live == nil {
		dom.live = dom.persistent.Copy()
	}
	dom.id = d.nextID
	d.nextID++
	dom.state, dom.reason = vir.DomainRunning, int32(reason)
	dom.startedAt = time.Now()
	d.ext(dom).managedSave = false
}

// stop ends dom's running instance, and forgets a transient domain; mu
// must be held. The caller emits the event, which carries id -1.
func (d *Driver) stop(dom *domain, reason vir.DomainShutoffReason) {
	dom.id = -1
	dom.state, dom.reason = vir.DomainShutoff, int32(reason)
	if dom.persistent == nil {
		d.remove(dom)
		return
	}
	dom.live = nil
}

func notRunning() error {
	return drivers.Errorf(vir.ErrOperationInvalid, vir.FromDomain, "domain is not running")
}

func checkType(def *domxml.Def) error {
	if t := def.XML.Type; t != "test" {
		return drivers.Errorf(vir.ErrConfigUnsupported, vir.FromTest,
			"domain type '%s' is not supported by the test driver: use <domain type='test'>", t)
	}
	return nil
}

func (c *conn) DomainDefineXML(ctx context.Context, xml string, flags uint32) (drivers.Domain, error) {
	def, err := domxml.Parse(xml)
	if err != nil {
		return drivers.Domain{}, err
	}
	if err := checkType(def); err != nil {
		return drivers.Domain{}, err
	}
	nameInterfaces(def)
	d := c.drv
	d.mu.Lock()
	defer d.mu.Unlock()
	dom, err := d.claim(def)
	if err != nil {
		return drivers.Domain{}, err
	}
	detail := int32(vir.DomainEventDefinedUpdated)
	if dom == nil {
		dom = &domain{id: -1, state: vir.DomainShutoff, reason: int32(vir.DomainShutoffUnknown)}
		d.domains.Add(dom)
		detail = int32(vir.DomainEventDefinedAdded)
	} else if dom.persistent == nil {
		// A running transient domain becomes persistent.
		detail = int32(vir.DomainEventDefinedAdded)
	}
	dom.persistent = def
	d.emit(dom, vir.DomainEventDefined, detail)
	return dom.ref(), nil
}

// claim returns the existing domain def redefines (nil if none), or an
// error when its name and uuid belong to different domains; mu must be
// held.
func (d *Driver) claim(def *domxml.Def) (*domain, error) {
	byUUID, byName := d.findUUID(def.UUID), d.findName(def.Name())
	switch {
	case byUUID != nil && byUUID.def().Name() != def.Name():
		return nil, drivers.Errorf(vir.ErrOperationFailed, vir.FromTest,
			"domain '%s' is already defined with uuid %s", byUUID.def().Name(), def.UUID)
	case byName != nil && byName.def().UUID != def.UUID:
		return nil, drivers.Errorf(vir.ErrOperationFailed, vir.FromTest,
			"domain '%s' already exists with uuid %s", def.Name(), byName.def().UUID)
	}
	return byUUID, nil
}

func (c *conn) DomainUndefine(ctx context.Context, ref drivers.Domain, flags uint32) error {
	d := c.drv
	return d.withDomain(ref, func(dom *domain) error {
		if dom.persistent == nil {
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromDomain, "cannot undefine transient domain")
		}
		if err := d.checkUndefine(dom, flags); err != nil {
			return err
		}
		d.emit(dom, vir.DomainEventUndefined, int32(vir.DomainEventUndefinedRemoved))
		dom.autostart = false
		if dom.active() {
			dom.persistent = nil // it runs on as a transient domain
		} else {
			d.remove(dom)
		}
		return nil
	})
}

func (c *conn) DomainCreate(ctx context.Context, ref drivers.Domain, flags uint32) (drivers.Domain, error) {
	d := c.drv
	var out drivers.Domain
	err := d.withDomain(ref, func(dom *domain) error {
		if dom.active() {
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromDomain, "domain is already running")
		}
		d.start(dom, vir.DomainRunningBooted)
		d.emit(dom, vir.DomainEventStarted, int32(vir.DomainEventStartedBooted))
		d.pauseIf(dom, flags)
		out = dom.ref()
		return nil
	})
	return out, err
}

// pauseIf pauses a domain just started with VIR_DOMAIN_START_PAUSED.
func (d *Driver) pauseIf(dom *domain, flags uint32) {
	if flags&uint32(vir.DomainStartPaused) != 0 {
		dom.state, dom.reason = vir.DomainPaused, int32(vir.DomainPausedUser)
		d.emit(dom, vir.DomainEventSuspended, int32(vir.DomainEventSuspendedPaused))
	}
}

func (c *conn) DomainCreateXML(ctx context.Context, xml string, flags uint32) (drivers.Domain, error) {
	def, err := domxml.Parse(xml)
	if err != nil {
		return drivers.Domain{}, err
	}
	if err := checkType(def); err != nil {
		return drivers.Domain{}, err
	}
	nameInterfaces(def)
	d := c.drv
	d.mu.Lock()
	defer d.mu.Unlock()
	dom, err := d.claim(def)
	if err != nil {
		return drivers.Domain{}, err
	}
	if dom == nil {
		dom = &domain{}
		d.domains.Add(dom)
	} else if dom.active() {
		return drivers.Domain{}, drivers.Errorf(vir.ErrOperationInvalid, vir.FromDomain,
			"domain '%s' is already active", def.Name())
	}
	// A defined domain keeps its definition and runs this one.
	dom.live = def
	d.start(dom, vir.DomainRunningBooted)
	d.emit(dom, vir.DomainEventStarted, int32(vir.DomainEventStartedBooted))
	d.pauseIf(dom, flags)
	return dom.ref(), nil
}

func (c *conn) DomainDestroy(ctx context.Context, ref drivers.Domain, flags uint32) error {
	d := c.drv
	return d.withDomain(ref, func(dom *domain) error {
		if !dom.active() {
			return notRunning()
		}
		d.stop(dom, vir.DomainShutoffDestroyed)
		d.emit(dom, vir.DomainEventStopped, int32(vir.DomainEventStoppedDestroyed))
		return nil
	})
}

func (c *conn) DomainShutdown(ctx context.Context, ref drivers.Domain, flags uint32) error {
	d := c.drv
	return d.withDomain(ref, func(dom *domain) error {
		if !dom.active() {
			return notRunning()
		}
		d.stop(dom, vir.DomainShutoffShutdown)
		d.emit(dom, vir.DomainEventStopped, int32(vir.DomainEventStoppedShutdown))
		return nil
	})
}

// DomainReboot restarts the domain in place when its on_reboot action is
// restart (the default), raising a reboot event, and shuts it off
// otherwise.
func (c *conn) DomainReboot(ctx context.Context, ref drivers.Domain, flags uint32) error {
	d := c.drv
	return d.withDomain(ref, func(dom *domain) error {
		if !dom.active() {
			return notRunning()
		}
		switch dom.def().XML.OnReboot {
		case "", "restart", "rename-restart":
			dom.state, dom.reason = vir.DomainRunning, int32(vir.DomainRunningBooted)
			d.events.Emit(drivers.RebootEvent{Dom: dom.ref()})
		default:
			d.stop(dom, vir.DomainShutoffShutdown)
			d.emit(dom, vir.DomainEventStopped, int32(vir.DomainEventStoppedShutdown))
		}
		return nil
	})
}

func (c *conn) DomainSuspend(ctx context.Context, ref drivers.Domain) error {
	d := c.drv
	return d.withDomain(ref, func(dom *domain) error {
		switch {
		case !dom.active():
			return notRunning()
		case dom.state == vir.DomainPaused:
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromDomain, "domain is already paused")
		}
		dom.state, dom.reason = vir.DomainPaused, int32(vir.DomainPausedUser)
		d.emit(dom, vir.DomainEventSuspended, int32(vir.DomainEventSuspendedPaused))
		return nil
	})
}

func (c *conn) DomainResume(ctx context.Context, ref drivers.Domain) error {
	d := c.drv
	return d.withDomain(ref, func(dom *domain) error {
		if dom.state != vir.DomainPaused {
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromDomain, "domain is not paused")
		}
		dom.state, dom.reason = vir.DomainRunning, int32(vir.DomainRunningUnpaused)
		d.emit(dom, vir.DomainEventResumed, int32(vir.DomainEventResumedUnpaused))
		return nil
	})
}
