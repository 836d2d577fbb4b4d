package remote

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// Why a connection closed; see Conn.Err and ClosedError.
var (
	// ErrClosedByClient: Close was called.
	ErrClosedByClient = errors.New("connection closed by the client")
	// ErrEOF: the daemon closed the connection without saying why.
	ErrEOF = errors.New("connection closed by the daemon (end of file)")
	// ErrDaemonShutdown: the daemon said it is shutting down.
	ErrDaemonShutdown = errors.New("connection closed: the daemon is shutting down")
	// ErrDroppedSlow: the daemon dropped the client because its outbound
	// queue was full: the client did not read fast enough.
	ErrDroppedSlow = errors.New("connection dropped by the daemon: the client read too slowly and its queue filled (max_client_queue)")
)

// Why events were lost; see EventsLost.
var (
	// ErrEventQueueFull: events arrived while the queue of events waiting
	// for their callbacks was at its bound (Options.EventQueueLen,
	// EventQueueBytes): a callback did not return fast enough. The newest
	// events were dropped.
	ErrEventQueueFull = errors.New("events lost: the connection's event queue was full because a callback did not return fast enough (return sooner, or raise Options.EventQueueLen or EventQueueBytes)")
	// ErrPullBufferFull: the events kept for EventCheck and EventWait
	// reached their bound: they were not taken fast enough. The oldest
	// were dropped.
	ErrPullBufferFull = errors.New("events lost: the events kept for EventCheck and EventWait reached their bound because they were not taken fast enough (take them sooner, or raise Options.EventQueueLen or EventQueueBytes)")
	// ErrTooManyEarlyEvents: more events arrived for a registration
	// before the daemon's reply to it than are held for it (a daemon
	// other than govirtd may send events that early); the oldest were
	// dropped.
	ErrTooManyEarlyEvents = errors.New("events lost: more events arrived for a registration before the daemon's reply to it than the client holds for it (the daemon sends events before replying to their registration)")
)

// EventsLost reports events a connection dropped because its subscribers
// fell behind. The events' Seq numbers were taken, so the gap also shows
// in the Seq of the events delivered around it. After a loss a
// subscriber that tracks state should read it again (DomainGetState, a
// domain list): events after the report are newer than the lost ones.
type EventsLost struct {
	// Count events were lost, Seq FirstSeq to LastSeq; events delivered
	// to other registrations, or still kept for pulling, may have Seq
	// in between.
	Count             uint64
	FirstSeq, LastSeq uint64
	// CallbackIDs are the registrations that lost events, each once.
	CallbackIDs []int
	// Reason wraps ErrEventQueueFull, ErrPullBufferFull or
	// ErrTooManyEarlyEvents and says the bound that was reached.
	Reason error
}

func (l *EventsLost) add(ev Event) {
	if l.Count == 0 || ev.Seq < l.FirstSeq {
		l.FirstSeq = ev.Seq
	}
	l.LastSeq = max(l.LastSeq, ev.Seq)
	l.Count++
	if !slices.Contains(l.CallbackIDs, ev.CallbackID) {
		l.CallbackIDs = append(l.CallbackIDs, ev.CallbackID)
	}
}

// String says how many events were lost, which, and why.
func (l EventsLost) String() string {
	return fmt.Sprintf("lost %d events (Seq %d to %d, callback ids %v): %v", l.Count, l.FirstSeq, l.LastSeq, l.CallbackIDs, l.Reason)
}

// EventQueueStats is the state of a connection's two event queues: the
// push queue (events waiting for their callbacks) and the pull buffer
// (events kept for EventCheck and EventWait). Each holds at most MaxLen
// events and MaxBytes bytes (of the events' wire messages). Events that
// arrive before the reply that gives their callback id are held apart
// (at most 256), then pass the push queue's bound when the id is known.
type EventQueueStats struct {
	Queued, QueuedBytes int
	Kept, KeptBytes     int
	MaxLen, MaxBytes    int
	// Held is the early events held apart now.
	Held int
	// Received counts the events received since Dial, Lost those
	// dropped (early events count once their registration is known).
	Received, Lost uint64
}

// EventQueueStats reports the connection's event queues now.
func (c *Conn) EventQueueStats() EventQueueStats { return c.events.stats() }

// ClosedError is returned by calls and EventWait on a closed connection.
type ClosedError struct{ Reason error }

func (e *ClosedError) Error() string { return "connection closed: " + e.Reason.Error() }
func (e *ClosedError) Unwrap() error { return e.Reason }

// Event is a domain event received on a connection.
type Event struct {
	// Seq numbers the events of a connection in arrival order, from 1.
	Seq uint64
	// CallbackID is the registration the event came for.
	CallbackID int
	drivers.DomainEvent
}

// EventMask selects event ids for EventCheck and EventWait.
type EventMask uint32

// AllEvents selects every event id.
const AllEvents EventMask = 1<<drivers.EventIDLast - 1

// MaskOf is the mask of the given event ids.
func MaskOf(ids ...vir.DomainEventID) EventMask {
	var m EventMask
	for _, id := range ids {
		m |= 1 << id
	}
	return m
}

// ConnectDomainEventRegisterAny registers for eventID events, of dom only
// when dom is not nil. With a callback the events are pushed to it, in
// order, from the connection's dispatcher goroutine (it may call back into
// the library; while it runs, later events wait). With a nil callback
// they are kept for EventCheck and EventWait.
func (c *Conn) ConnectDomainEventRegisterAny(ctx context.Context, dom *Domain, eventID vir.DomainEventID, cb drivers.EventCallback) (int, error) {
	args := &protocol.ConnectDomainEventCallbackRegisterAnyArgs{EventID: int32(eventID)}
	if dom != nil {
		w := *dom
		args.Dom = &w
	}
	var ret protocol.ConnectDomainEventCallbackRegisterAnyRet
	if err := c.call(ctx, protocol.ProcConnectDomainEventCallbackRegisterAny, args, &ret); err != nil {
		return 0, err
	}
	c.events.subscribe(int(ret.CallbackID), cb)
	return int(ret.CallbackID), nil
}

// ConnectDomainEventDeregisterAny removes registration callbackID.
func (c *Conn) ConnectDomainEventDeregisterAny(ctx context.Context, callbackID int) error {
	if err := c.call(ctx, protocol.ProcConnectDomainEventCallbackDeregisterAny,
		&protocol.ConnectDomainEventCallbackDeregisterAnyArgs{CallbackID: int32(callbackID)}, nil); err != nil {
		return err
	}
	c.events.unsubscribe(callbackID)
	return nil
}

// RegisterCloseCallback calls cb once with the reason when the
// connection closes, after every event received has been delivered.
func (c *Conn) RegisterCloseCallback(cb func(reason error)) {
	d := c.events
	d.mu.Lock()
	if !d.finished {
		d.closeCBs = append(d.closeCBs, cb)
		d.mu.Unlock()
		return
	}
	d.mu.Unlock()
	cb(d.closeReason())
}

// EventCheck returns the oldest event kept for pulling whose id is in
// mask and that pred (when not nil) accepts, removing it; other events
// stay. It never waits. pred runs outside the library's locks.
func (c *Conn) EventCheck(mask EventMask, pred func(Event) bool) (Event, bool) {
	ev, ok, _, _ := c.events.take(mask, pred)
	return ev, ok
}

// EventWait is EventCheck that waits until a matching event arrives, ctx
// ends, or the connection closes (a *ClosedError with the reason).
func (c *Conn) EventWait(ctx context.Context, mask EventMask, pred func(Event) bool) (Event, error) {
	d := c.events
	for {
		ev, ok, changed, finished := d.take(mask, pred)
		if ok {
			return ev, nil
		}
		if finished {
			return Event{}, &ClosedError{Reason: d.closeReason()}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return Event{}, ctx.Err()
		}
	}
}
