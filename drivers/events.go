package drivers

import (
	"fmt"

	"github.com/govirt/govirtd/protocol"
)

// DomainEventID is virDomainEventID: the kind of event a callback wants.
type DomainEventID int32

// Domain event ids of libvirt 9.0.
const (
	EventIDLifecycle              DomainEventID = 0
	EventIDReboot                 DomainEventID = 1
	EventIDRTCChange              DomainEventID = 2
	EventIDWatchdog               DomainEventID = 3
	EventIDIOError                DomainEventID = 4
	EventIDGraphics               DomainEventID = 5
	EventIDIOErrorReason          DomainEventID = 6
	EventIDControlError           DomainEventID = 7
	EventIDBlockJob               DomainEventID = 8
	EventIDDiskChange             DomainEventID = 9
	EventIDTrayChange             DomainEventID = 10
	EventIDPMWakeup               DomainEventID = 11
	EventIDPMSuspend              DomainEventID = 12
	EventIDBalloonChange          DomainEventID = 13
	EventIDPMSuspendDisk          DomainEventID = 14
	EventIDDeviceRemoved          DomainEventID = 15
	EventIDBlockJob2              DomainEventID = 16
	EventIDTunable                DomainEventID = 17
	EventIDAgentLifecycle         DomainEventID = 18
	EventIDDeviceAdded            DomainEventID = 19
	EventIDMigrationIteration     DomainEventID = 20
	EventIDJobCompleted           DomainEventID = 21
	EventIDDeviceRemovalFailed    DomainEventID = 22
	EventIDMetadataChange         DomainEventID = 23
	EventIDBlockThreshold         DomainEventID = 24
	EventIDMemoryFailure          DomainEventID = 25
	EventIDMemoryDeviceSizeChange DomainEventID = 26

	// EventIDLast is the number of event ids (VIR_DOMAIN_EVENT_ID_LAST).
	EventIDLast DomainEventID = 27
)

// Valid reports whether id is an event id of libvirt 9.0.
func (id DomainEventID) Valid() bool { return id >= 0 && id < EventIDLast }

// LifecycleEventType is virDomainEventType.
type LifecycleEventType int32

// Lifecycle event types.
const (
	EventDefined     LifecycleEventType = 0
	EventUndefined   LifecycleEventType = 1
	EventStarted     LifecycleEventType = 2
	EventSuspended   LifecycleEventType = 3
	EventResumed     LifecycleEventType = 4
	EventStopped     LifecycleEventType = 5
	EventShutdown    LifecycleEventType = 6
	EventPMSuspended LifecycleEventType = 7
	EventCrashed     LifecycleEventType = 8
)

// String is what virsh's event command prints for the type.
func (t LifecycleEventType) String() string {
	names := [...]string{"Defined", "Undefined", "Started", "Suspended", "Resumed", "Stopped", "Shutdown", "PMSuspended", "Crashed"}
	if t >= 0 && int(t) < len(names) {
		return names[t]
	}
	return "unknown"
}

// Lifecycle event details; their meaning depends on the type.
const (
	EventDefinedAdded   = 0
	EventDefinedUpdated = 1
	EventDefinedRenamed = 2

	EventUndefinedRemoved = 0
	EventUndefinedRenamed = 1

	EventStartedBooted   = 0
	EventStartedMigrated = 1
	EventStartedRestored = 2
	EventStartedWakeup   = 4

	EventSuspendedPaused   = 0
	EventSuspendedMigrated = 1
	EventSuspendedIOError  = 2
	EventSuspendedWatchdog = 3
	EventSuspendedRestored = 4
	EventSuspendedAPIError = 6

	EventResumedUnpaused = 0
	EventResumedMigrated = 1

	EventStoppedShutdown  = 0
	EventStoppedDestroyed = 1
	EventStoppedCrashed   = 2
	EventStoppedMigrated  = 3
	EventStoppedSaved     = 4
	EventStoppedFailed    = 5

	EventShutdownFinished = 0
	EventShutdownGuest    = 1
	EventShutdownHost     = 2

	EventCrashedPanicked = 0
)

// lifecycleDetails are virsh's words for each type's details.
var lifecycleDetails = [][]string{
	EventDefined:     {"Added", "Updated", "Renamed", "Snapshot"},
	EventUndefined:   {"Removed", "Renamed"},
	EventStarted:     {"Booted", "Migrated", "Restored", "Snapshot", "Event wakeup"},
	EventSuspended:   {"Paused", "Migrated", "I/O Error", "Watchdog", "Restored", "Snapshot", "API error", "Post-copy", "Post-copy Error"},
	EventResumed:     {"Unpaused", "Migrated", "Snapshot", "Post-copy", "Post-copy Error"},
	EventStopped:     {"Shutdown", "Destroyed", "Crashed", "Migrated", "Saved", "Failed", "Snapshot"},
	EventShutdown:    {"Finished", "Finished after guest request", "Finished after host request"},
	EventPMSuspended: {"Memory", "Disk"},
	EventCrashed:     {"Panicked", "Crashloaded"},
}

// DetailString is what virsh's event command prints for a detail of t.
func (t LifecycleEventType) DetailString(detail int32) string {
	if t >= 0 && int(t) < len(lifecycleDetails) && detail >= 0 && int(detail) < len(lifecycleDetails[t]) {
		return lifecycleDetails[t][detail]
	}
	return "unknown"
}

// DomainEvent is an event a driver raises about one of its domains.
// Wire returns a new message for it, as a registration with a callback
// id receives it (the daemon sets the id, and sends the message's Legacy
// part to legacy registrations): with that, any of libvirt's event ids
// reaches clients with no code per event in the daemon.
type DomainEvent interface {
	EventID() DomainEventID
	EventDomain() Domain
	Wire() protocol.CallbackMsg
}

// WireEvent is any domain event, given as its wire message: a driver
// raises one with, for instance, a *protocol.DomainEventCallbackTunableMsg.
// Msg is copied for each registration, never changed.
type WireEvent struct {
	ID  DomainEventID
	Dom Domain
	Msg func() protocol.CallbackMsg // a new message each call
}

func (e WireEvent) EventID() DomainEventID     { return e.ID }
func (e WireEvent) EventDomain() Domain        { return e.Dom }
func (e WireEvent) Wire() protocol.CallbackMsg { return e.Msg() }

// LifecycleEvent is VIR_DOMAIN_EVENT_ID_LIFECYCLE. Dom carries the
// domain's id after the change (-1 once it stopped).
type LifecycleEvent struct {
	Dom    Domain
	Event  LifecycleEventType
	Detail int32
}

func (e LifecycleEvent) EventID() DomainEventID { return EventIDLifecycle }
func (e LifecycleEvent) EventDomain() Domain    { return e.Dom }

func (e LifecycleEvent) Wire() protocol.CallbackMsg {
	return &protocol.DomainEventCallbackLifecycleMsg{Msg: protocol.DomainEventLifecycleMsg{Dom: e.Dom, Event: int32(e.Event), Detail: e.Detail}}
}

func (e LifecycleEvent) String() string {
	return fmt.Sprintf("lifecycle %s %s %s", e.Dom.Name, e.Event, e.Event.DetailString(e.Detail))
}

// RebootEvent is VIR_DOMAIN_EVENT_ID_REBOOT.
type RebootEvent struct{ Dom Domain }

func (e RebootEvent) EventID() DomainEventID { return EventIDReboot }
func (e RebootEvent) EventDomain() Domain    { return e.Dom }

func (e RebootEvent) Wire() protocol.CallbackMsg {
	return &protocol.DomainEventCallbackRebootMsg{Msg: protocol.DomainEventRebootMsg{Dom: e.Dom}}
}

// EventCallback receives the events of one registration. It runs on the
// goroutine that raised the event, while the driver may hold locks: it
// must not block and must not call back into the driver. The daemon's
// callbacks only queue a message for their client.
type EventCallback func(callbackID int, ev DomainEvent)
