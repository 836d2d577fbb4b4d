package daemon

import (
	"context"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// The event classes besides domains': networks, storage pools, node
// devices and secrets. Each is registered with the driver serving its
// concern of the client's connection, whose callback ids are its own:
// the session keeps one set of ids per class.

// objClass is one of those classes.
type objClass int

const (
	classNetwork objClass = iota
	classStoragePool
	classNodeDevice
	classSecret
	numObjClasses
)

// objClassInfo is what the daemon says of a class in its errors, and the
// number of event ids libvirt 9.0 defines for it.
var objClassInfo = [numObjClasses]struct {
	name  string
	idMax int32
}{
	classNetwork:     {"network", int32(vir.NetworkEventIDLifecycle) + 1},
	classStoragePool: {"storage pool", int32(vir.StoragePoolEventIDRefresh) + 1},
	classNodeDevice:  {"node device", int32(vir.NodeDeviceEventIDUpdate) + 1},
	classSecret:      {"secret", int32(vir.SecretEventIDValueChanged) + 1},
}

// registrations counts the client's event registrations of every class.
// The caller holds s.mu.
func (s *session) registrations() int {
	n := len(s.events)
	if s.objEvents != nil {
		for _, ids := range s.objEvents {
			n += len(ids)
		}
	}
	return n
}

// hasObjEvent reports whether id is a registration of class; s.mu is
// held and objEvents made.
func (s *session) hasObjEvent(class objClass, id int) bool {
	_, ok := s.objEvents[class][id]
	return ok
}

// registerObjEvent registers one callback of class through register,
// which calls the driver with the callback the driver is to run for each
// event. As for domains, an event raised before the registration is
// recorded here is dropped: the client does not know its id yet.
func registerObjEvent[E drivers.ObjectEvent](r *request, class objClass, eventID int32, register func(cb func(int, E)) (int, error)) (int32, error) {
	info := objClassInfo[class]
	if eventID < 0 || eventID >= info.idMax {
		return 0, drivers.Errorf(vir.ErrInternalError, vir.FromRPC, "unsupported %s event ID %d", info.name, eventID)
	}
	s := r.s
	s.mu.Lock()
	n := s.registrations()
	s.mu.Unlock()
	if n >= maxRegistrations {
		return 0, drivers.Errorf(vir.ErrOperationFailed, vir.FromRPC,
			"too many event registrations on this connection (%d); deregister some first", maxRegistrations)
	}
	id, err := register(func(callbackID int, ev E) { s.sendObjEvent(class, callbackID, ev) })
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	if s.objEvents == nil {
		s.objEvents = new([numObjClasses]map[int]struct{})
	}
	if s.objEvents[class] == nil {
		s.objEvents[class] = map[int]struct{}{}
	}
	s.objEvents[class][id] = struct{}{}
	s.mu.Unlock()
	return int32(id), nil
}

// deregisterObjEvent removes the client's callback id of class through
// deregister, refusing an id the client did not register.
func deregisterObjEvent(r *request, class objClass, id int32, deregister func(int) error) error {
	s := r.s
	s.mu.Lock()
	ok := s.objEvents != nil && s.hasObjEvent(class, int(id))
	s.mu.Unlock()
	if !ok {
		return drivers.Errorf(vir.ErrInternalError, vir.FromRPC, "%s event callback %d not registered", objClassInfo[class].name, id)
	}
	if err := deregister(int(id)); err != nil {
		return err
	}
	s.mu.Lock()
	if s.objEvents != nil {
		delete(s.objEvents[class], int(id))
	}
	s.mu.Unlock()
	return nil
}

// sendObjEvent queues the message of one event for one registration. It
// runs on the goroutine of the driver that raised the event and never
// blocks.
func (s *session) sendObjEvent(class objClass, callbackID int, ev drivers.ObjectEvent) {
	s.mu.Lock()
	known := s.objEvents != nil && s.hasObjEvent(class, callbackID)
	s.mu.Unlock()
	if !known {
		return
	}
	proc, msg := ev.Message(int32(callbackID))
	if err := s.peer.SendMessage(protocol.RemoteProgram, protocol.RemoteProtocolVersion, int32(proc), msg); err != nil {
		s.log.Debug("event not sent", "proc", proc, "err", err)
	}
}

func networkEventRegisterAny(ctx context.Context, r *request, a *protocol.ConnectNetworkEventRegisterAnyArgs) (*protocol.ConnectNetworkEventRegisterAnyRet, error) {
	c, err := need[drivers.NetworkEvents](r)
	if err != nil {
		return nil, err
	}
	id, err := registerObjEvent(r, classNetwork, a.EventID, func(cb func(int, drivers.NetworkEvent)) (int, error) {
		return c.ConnectNetworkEventRegisterAny(ctx, a.Net, vir.NetworkEventID(a.EventID), cb)
	})
	if err != nil {
		return nil, err
	}
	return &protocol.ConnectNetworkEventRegisterAnyRet{CallbackID: id}, nil
}

func networkEventDeregisterAny(ctx context.Context, r *request, a *protocol.ConnectNetworkEventDeregisterAnyArgs) error {
	c, err := need[drivers.NetworkEvents](r)
	if err != nil {
		return err
	}
	return deregisterObjEvent(r, classNetwork, a.CallbackID, func(id int) error {
		return c.ConnectNetworkEventDeregisterAny(ctx, id)
	})
}

func storagePoolEventRegisterAny(ctx context.Context, r *request, a *protocol.ConnectStoragePoolEventRegisterAnyArgs) (*protocol.ConnectStoragePoolEventRegisterAnyRet, error) {
	c, err := need[drivers.StoragePoolEvents](r)
	if err != nil {
		return nil, err
	}
	id, err := registerObjEvent(r, classStoragePool, a.EventID, func(cb func(int, drivers.StoragePoolEvent)) (int, error) {
		return c.ConnectStoragePoolEventRegisterAny(ctx, a.Pool, vir.StoragePoolEventID(a.EventID), cb)
	})
	if err != nil {
		return nil, err
	}
	return &protocol.ConnectStoragePoolEventRegisterAnyRet{CallbackID: id}, nil
}

func storagePoolEventDeregisterAny(ctx context.Context, r *request, a *protocol.ConnectStoragePoolEventDeregisterAnyArgs) error {
	c, err := need[drivers.StoragePoolEvents](r)
	if err != nil {
		return err
	}
	return deregisterObjEvent(r, classStoragePool, a.CallbackID, func(id int) error {
		return c.ConnectStoragePoolEventDeregisterAny(ctx, id)
	})
}

func nodeDeviceEventRegisterAny(ctx context.Context, r *request, a *protocol.ConnectNodeDeviceEventRegisterAnyArgs) (*protocol.ConnectNodeDeviceEventRegisterAnyRet, error) {
	c, err := need[drivers.NodeDeviceEvents](r)
	if err != nil {
		return nil, err
	}
	id, err := registerObjEvent(r, classNodeDevice, a.EventID, func(cb func(int, drivers.NodeDeviceEvent)) (int, error) {
		return c.ConnectNodeDeviceEventRegisterAny(ctx, a.Dev, vir.NodeDeviceEventID(a.EventID), cb)
	})
	if err != nil {
		return nil, err
	}
	return &protocol.ConnectNodeDeviceEventRegisterAnyRet{CallbackID: id}, nil
}

func nodeDeviceEventDeregisterAny(ctx context.Context, r *request, a *protocol.ConnectNodeDeviceEventDeregisterAnyArgs) error {
	c, err := need[drivers.NodeDeviceEvents](r)
	if err != nil {
		return err
	}
	return deregisterObjEvent(r, classNodeDevice, a.CallbackID, func(id int) error {
		return c.ConnectNodeDeviceEventDeregisterAny(ctx, id)
	})
}

func secretEventRegisterAny(ctx context.Context, r *request, a *protocol.ConnectSecretEventRegisterAnyArgs) (*protocol.ConnectSecretEventRegisterAnyRet, error) {
	c, err := need[drivers.SecretEvents](r)
	if err != nil {
		return nil, err
	}
	id, err := registerObjEvent(r, classSecret, a.EventID, func(cb func(int, drivers.SecretEvent)) (int, error) {
		return c.ConnectSecretEventRegisterAny(ctx, a.Secret, vir.SecretEventID(a.EventID), cb)
	})
	if err != nil {
		return nil, err
	}
	return &protocol.ConnectSecretEventRegisterAnyRet{CallbackID: id}, nil
}

func secretEventDeregisterAny(ctx context.Context, r *request, a *protocol.ConnectSecretEventDeregisterAnyArgs) error {
	c, err := need[drivers.SecretEvents](r)
	if err != nil {
		return err
	}
	return deregisterObjEvent(r, classSecret, a.CallbackID, func(id int) error {
		return c.ConnectSecretEventDeregisterAny(ctx, id)
	})
}
