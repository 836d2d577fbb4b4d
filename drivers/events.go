package drivers

import (
	"fmt"

	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// EventIDLast is one past the last domain event id of libvirt 9.0
// (VIR_DOMAIN_EVENT_ID_LAST, a sentinel vir leaves out): the ids a
// registration may ask for are 0 to EventIDLast-1.
const EventIDLast = vir.DomainEventIDMemoryDeviceSizeChange + 1

// eventTypeWords are virsh's words for each lifecycle event type.
var eventTypeWords = [...]string{
	vir.DomainEventDefined:     "Defined",
	vir.DomainEventUndefined:   "Undefined",
	vir.DomainEventStarted:     "Started",
	vir.DomainEventSuspended:   "Suspended",
	vir.DomainEventResumed:     "Resumed",
	vir.DomainEventStopped:     "Stopped",
	vir.DomainEventShutdown:    "Shutdown",
	vir.DomainEventPmsuspended: "PMSuspended",
	vir.DomainEventCrashed:     "Crashed",
}

// EventTypeString is what virsh's event command prints for a lifecycle
// event type: "Started"; "unknown" for one it does not know.
func EventTypeString(t vir.DomainEventType) string {
	if t >= 0 && int(t) < len(eventTypeWords) {
		return eventTypeWords[t]
	}
	return "unknown"
}

// eventDetailWords are virsh's words for each type's details, indexed
// by type, then by a value of that type's detail enum.
var eventDetailWords = [...][]string{
	vir.DomainEventDefined: {
		vir.DomainEventDefinedAdded:        "Added",
		vir.DomainEventDefinedUpdated:      "Updated",
		vir.DomainEventDefinedRenamed:      "Renamed",
		vir.DomainEventDefinedFromSnapshot: "Snapshot",
	},
	vir.DomainEventUndefined: {
		vir.DomainEventUndefinedRemoved: "Removed",
		vir.DomainEventUndefinedRenamed: "Renamed",
	},
	vir.DomainEventStarted: {
		vir.DomainEventStartedBooted:       "Booted",
		vir.DomainEventStartedMigrated:     "Migrated",
		vir.DomainEventStartedRestored:     "Restored",
		vir.DomainEventStartedFromSnapshot: "Snapshot",
		vir.DomainEventStartedWakeup:       "Event wakeup",
	},
	vir.DomainEventSuspended: {
		vir.DomainEventSuspendedPaused:         "Paused",
		vir.DomainEventSuspendedMigrated:       "Migrated",
		vir.DomainEventSuspendedIoerror:        "I/O Error",
		vir.DomainEventSuspendedWatchdog:       "Watchdog",
		vir.DomainEventSuspendedRestored:       "Restored",
		vir.DomainEventSuspendedFromSnapshot:   "Snapshot",
		vir.DomainEventSuspendedApiError:       "API error",
		vir.DomainEventSuspendedPostcopy:       "Post-copy",
		vir.DomainEventSuspendedPostcopyFailed: "Post-copy Error",
	},
	vir.DomainEventResumed: {
		vir.DomainEventResumedUnpaused:       "Unpaused",
		vir.DomainEventResumedMigrated:       "Migrated",
		vir.DomainEventResumedFromSnapshot:   "Snapshot",
		vir.DomainEventResumedPostcopy:       "Post-copy",
		vir.DomainEventResumedPostcopyFailed: "Post-copy Error",
	},
	vir.DomainEventStopped: {
		vir.DomainEventStoppedShutdown:     "Shutdown",
		vir.DomainEventStoppedDestroyed:    "Destroyed",
		vir.DomainEventStoppedCrashed:      "Crashed",
		vir.DomainEventStoppedMigrated:     "Migrated",
		vir.DomainEventStoppedSaved:        "Saved",
		vir.DomainEventStoppedFailed:       "Failed",
		vir.DomainEventStoppedFromSnapshot: "Snapshot",
	},
	vir.DomainEventShutdown: {
		vir.DomainEventShutdownFinished: "Finished",
		vir.DomainEventShutdownGuest:    "Finished after guest request",
		vir.DomainEventShutdownHost:     "Finished after host request",
	},
	vir.DomainEventPmsuspended: {
		vir.DomainEventPmsuspendedMemory: "Memory",
		vir.DomainEventPmsuspendedDisk:   "Disk",
	},
	vir.DomainEventCrashed: {
		vir.DomainEventCrashedPanicked:    "Panicked",
		vir.DomainEventCrashedCrashloaded: "Crashloaded",
	},
}

// EventDetailString is what virsh's event command prints for a detail
// of a lifecycle event of type t: "Booted"; "unknown" for one it does
// not know.
func EventDetailString(t vir.DomainEventType, detail int32) string {
	if t >= 0 && int(t) < len(eventDetailWords) && detail >= 0 && int(detail) < len(eventDetailWords[t]) {
		return eventDetailWords[t][detail]
	}
	return "unknown"
}

// DomainEvent is an event a driver raises about one of its domains.
// Wire returns a new message for it, as a registration with a callback
// id receives it (the daemon sets the id, and sends the message's Legacy
// part to legacy registrations): with that, any of libvirt's event ids
// reaches clients with no code per event in the daemon.
type DomainEvent interface {
	EventID() vir.DomainEventID
	EventDomain() Domain
	// EventKey is the domain's UUID: what a registration for one domain
	// is filtered by.
	EventKey() UUID
	Wire() protocol.CallbackMsg
}

// WireEvent is any domain event, given as its wire message: a driver
// raises one with, for instance, a *protocol.DomainEventCallbackTunableMsg.
// Msg is copied for each registration, never changed.
type WireEvent struct {
	ID  vir.DomainEventID
	Dom Domain
	Msg func() protocol.CallbackMsg // a new message each call
}

func (e WireEvent) EventID() vir.DomainEventID { return e.ID }
func (e WireEvent) EventDomain() Domain        { return e.Dom }
func (e WireEvent) EventKey() UUID             { return e.Dom.UUID }
func (e WireEvent) Wire() protocol.CallbackMsg { return e.Msg() }

// LifecycleEvent is VIR_DOMAIN_EVENT_ID_LIFECYCLE. Dom carries the
// domain's id after the change (-1 once it stopped).
type LifecycleEvent struct {
	Dom    Domain
	Event  vir.DomainEventType
	Detail int32 // a value of the detail enum of Event's type
}

func (e LifecycleEvent) EventID() vir.DomainEventID { return vir.DomainEventIDLifecycle }
func (e LifecycleEvent) EventDomain() Domain        { return e.Dom }
func (e LifecycleEvent) EventKey() UUID             { return e.Dom.UUID }

func (e LifecycleEvent) Wire() protocol.CallbackMsg {
	return &protocol.DomainEventCallbackLifecycleMsg{Msg: protocol.DomainEventLifecycleMsg{Dom: e.Dom, Event: int32(e.Event), Detail: e.Detail}}
}

func (e LifecycleEvent) String() string {
	return fmt.Sprintf("lifecycle %s %s %s", e.Dom.Name, EventTypeString(e.Event), EventDetailString(e.Event, e.Detail))
}

// RebootEvent is VIR_DOMAIN_EVENT_ID_REBOOT.
type RebootEvent struct{ Dom Domain }

func (e RebootEvent) EventID() vir.DomainEventID { return vir.DomainEventIDReboot }
func (e RebootEvent) EventDomain() Domain        { return e.Dom }
func (e RebootEvent) EventKey() UUID             { return e.Dom.UUID }

func (e RebootEvent) Wire() protocol.CallbackMsg {
	return &protocol.DomainEventCallbackRebootMsg{Msg: protocol.DomainEventRebootMsg{Dom: e.Dom}}
}

// DeviceRemovedEvent is VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED: the guest
// let go of a device a detach asked it to release.
type DeviceRemovedEvent struct {
	Dom   Domain
	Alias string
}

func (e DeviceRemovedEvent) EventID() vir.DomainEventID { return vir.DomainEventIDDeviceRemoved }
func (e DeviceRemovedEvent) EventDomain() Domain        { return e.Dom }
func (e DeviceRemovedEvent) EventKey() UUID             { return e.Dom.UUID }

func (e DeviceRemovedEvent) Wire() protocol.CallbackMsg {
	return &protocol.DomainEventCallbackDeviceRemovedMsg{Msg: protocol.DomainEventDeviceRemovedMsg{Dom: e.Dom, DevAlias: e.Alias}}
}

// DeviceRemovalFailedEvent is VIR_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED:
// the guest refused to let go of a device a detach asked it to release.
type DeviceRemovalFailedEvent struct {
	Dom   Domain
	Alias string
}

func (e DeviceRemovalFailedEvent) EventID() vir.DomainEventID {
	return vir.DomainEventIDDeviceRemovalFailed
}
func (e DeviceRemovalFailedEvent) EventDomain() Domain { return e.Dom }
func (e DeviceRemovalFailedEvent) EventKey() UUID      { return e.Dom.UUID }

func (e DeviceRemovalFailedEvent) Wire() protocol.CallbackMsg {
	return &protocol.DomainEventCallbackDeviceRemovalFailedMsg{Dom: e.Dom, DevAlias: e.Alias}
}

// DeviceAddedEvent is VIR_DOMAIN_EVENT_ID_DEVICE_ADDED: a device was
// hot-plugged into the running guest.
type DeviceAddedEvent struct {
	Dom   Domain
	Alias string
}

func (e DeviceAddedEvent) EventID() vir.DomainEventID { return vir.DomainEventIDDeviceAdded }
func (e DeviceAddedEvent) EventDomain() Domain        { return e.Dom }
func (e DeviceAddedEvent) EventKey() UUID             { return e.Dom.UUID }

func (e DeviceAddedEvent) Wire() protocol.CallbackMsg {
	return &protocol.DomainEventCallbackDeviceAddedMsg{Dom: e.Dom, DevAlias: e.Alias}
}

// EventCallback receives the events of one registration. It runs on the
// goroutine that raised the event, while the driver may hold locks: it
// must not block and must not call back into the driver. The daemon's
// callbacks only queue a message for their client.
type EventCallback func(callbackID int, ev DomainEvent)
