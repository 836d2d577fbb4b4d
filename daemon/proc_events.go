package daemon

import (
	"context"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// maxRegistrations bounds the event registrations of one client: each
// costs the driver a scan on every event it raises, and a domain filter
// may name any uuid, so without a bound one client could slow every
// event of the daemon.
const maxRegistrations = 1024

// legacyEventIDMax bounds the event ids of the legacy REGISTER_ANY (167):
// the events up to DEVICE_REMOVED, which have a message without a
// callback id. libvirtd refuses the later ones, which only the callback
// style of RPC carries.
const legacyEventIDMax = int32(vir.DomainEventIDDeviceRemoved) + 1

// register attaches a callback for eventID, limited to dom when not nil,
// to the driver behind the client's connection. The driver raises the
// events; the callback only queues a message for this client.
func (r *request) registerEvent(ctx context.Context, eventID int32, dom *protocol.Domain, legacy bool) (int, error) {
	c, err := need[drivers.DomainEvents](r)
	if err != nil {
		return 0, err
	}
	var filter *drivers.Domain
	if dom != nil {
		d := *dom
		filter = &d
	}
	s := r.s
	s.mu.Lock()
	n := s.registrations()
	s.mu.Unlock()
	if n >= maxRegistrations {
		return 0, drivers.Errorf(vir.ErrOperationFailed, vir.FromRPC,
			"too many event registrations on this connection (%d); deregister some first", maxRegistrations)
	}
	id, err := c.ConnectDomainEventRegisterAny(ctx, filter, vir.DomainEventID(eventID), func(callbackID int, ev drivers.DomainEvent) {
		s.sendEvent(callbackID, ev, legacy)
	})
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	s.events[id] = eventReg{eventID: vir.DomainEventID(eventID), legacy: legacy}
	s.mu.Unlock()
	return id, nil
}

// deregisterEvent removes the client's callback id.
func (r *request) deregisterEvent(ctx context.Context, id int) error {
	c, err := need[drivers.DomainEvents](r)
	if err != nil {
		return err
	}
	s := r.s
	s.mu.Lock()
	_, ok := s.events[id]
	s.mu.Unlock()
	if !ok {
		return drivers.Errorf(vir.ErrInternalError, vir.FromRPC, "domain event callback %d not registered", id)
	}
	if err := c.ConnectDomainEventDeregisterAny(ctx, id); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.events, id)
	s.mu.Unlock()
	return nil
}

// legacyID finds the client's legacy registration for eventID.
func (s *session) legacyID(eventID int32) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, reg := range s.events {
		if reg.legacy && reg.eventID == vir.DomainEventID(eventID) {
			return id, true
		}
	}
	return 0, false
}

func checkEventID(id, max int32) error {
	if id < 0 || id >= max {
		return drivers.Errorf(vir.ErrInternalError, vir.FromRPC, "unsupported event ID %d", id)
	}
	return nil
}

func eventCallbackRegisterAny(ctx context.Context, r *request, a *protocol.ConnectDomainEventCallbackRegisterAnyArgs) (*protocol.ConnectDomainEventCallbackRegisterAnyRet, error) {
	if err := checkEventID(a.EventID, int32(drivers.EventIDLast)); err != nil {
		return nil, err
	}
	id, err := r.registerEvent(ctx, a.EventID, a.Dom, false)
	if err != nil {
		return nil, err
	}
	return &protocol.ConnectDomainEventCallbackRegisterAnyRet{CallbackID: int32(id)}, nil
}

func eventCallbackDeregisterAny(ctx context.Context, r *request, a *protocol.ConnectDomainEventCallbackDeregisterAnyArgs) error {
	return r.deregisterEvent(ctx, int(a.CallbackID))
}

func eventRegister(ctx context.Context, r *request) (*protocol.ConnectDomainEventRegisterRet, error) {
	if _, err := r.registerEvent(ctx, int32(vir.DomainEventIDLifecycle), nil, true); err != nil {
		return nil, err
	}
	return &protocol.ConnectDomainEventRegisterRet{CbRegistered: 1}, nil
}

func eventDeregister(ctx context.Context, r *request) (*protocol.ConnectDomainEventDeregisterRet, error) {
	if err := eventDeregisterAny(ctx, r, &protocol.ConnectDomainEventDeregisterAnyArgs{EventID: int32(vir.DomainEventIDLifecycle)}); err != nil {
		return nil, err
	}
	return &protocol.ConnectDomainEventDeregisterRet{CbRegistered: 0}, nil
}

func eventRegisterAny(ctx context.Context, r *request, a *protocol.ConnectDomainEventRegisterAnyArgs) error {
	if err := checkEventID(a.EventID, legacyEventIDMax); err != nil {
		return err
	}
	_, err := r.registerEvent(ctx, a.EventID, nil, true)
	return err
}

func eventDeregisterAny(ctx context.Context, r *request, a *protocol.ConnectDomainEventDeregisterAnyArgs) error {
	if err := checkEventID(a.EventID, legacyEventIDMax); err != nil {
		return err
	}
	id, ok := r.s.legacyID(a.EventID)
	if !ok {
		return drivers.Errorf(vir.ErrInternalError, vir.FromRPC, "domain event %d not registered", a.EventID)
	}
	return r.deregisterEvent(ctx, id)
}

// sendEvent queues the message for one event of one registration. It runs
// on the goroutine of the driver that raised the event and never blocks:
// a client whose queue is full is disconnected by the transport.
func (s *session) sendEvent(callbackID int, ev drivers.DomainEvent, legacy bool) {
	// Until the registration is recorded, its reply has not been sent and
	// the client does not know the id: drop the event, as libvirtd does.
	s.mu.Lock()
	_, known := s.events[callbackID]
	s.mu.Unlock()
	if !known {
		return
	}
	procs, ok := protocol.DomainEventProcs(int32(ev.EventID()))
	if !ok {
		s.log.Debug("no wire message for event", "event", ev)
		return
	}
	msg := ev.Wire()
	proc, body := procs.Callback, protocol.Encodable(msg)
	if legacy {
		proc, body = procs.Legacy, msg.Legacy()
		if proc == 0 || body == nil {
			return // not an event legacy registrations can ask for
		}
	} else {
		msg.SetCallbackID(int32(callbackID))
	}
	if err := s.peer.SendMessage(protocol.RemoteProgram, protocol.RemoteProtocolVersion, int32(proc), body); err != nil {
		s.log.Debug("event not sent", "proc", proc, "err", err)
	}
}
