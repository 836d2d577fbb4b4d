package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/rpc"
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
func MaskOf(ids ...drivers.DomainEventID) EventMask {
	var m EventMask
	for _, id := range ids {
		m |= 1 << id
	}
	return m
}

const (
	pullBufferMax = 4096 // events kept for EventCheck/EventWait
	orphanMax     = 256  // events kept for a callback id not yet known
)

type subscription struct {
	cb drivers.EventCallback // nil: the events go to the pull buffer
}

// dispatcher moves events from the reader goroutine to user code: the
// reader only queues; run delivers, in arrival order.
type dispatcher struct {
	c *Conn

	mu          sync.Mutex // guards the fields below
	queue       []Event    // received, not yet delivered
	orphans     []Event    // delivered before their callback id was known
	subs        map[int]subscription
	pull        []Event       // for EventCheck and EventWait
	pullChanged chan struct{} // closed and replaced whenever pull grows or the connection ends
	seq         uint64
	farewell    error // why the daemon said it closes the connection
	closeCBs    []func(error)
	finished    bool // run has delivered everything and returned

	wake chan struct{} // a token when the queue grows
	quit chan struct{} // closed by stop
	done chan struct{} // closed when run returns
}

func newDispatcher(c *Conn) *dispatcher {
	return &dispatcher{
		c:           c,
		subs:        map[int]subscription{},
		pullChanged: make(chan struct{}),
		wake:        make(chan struct{}, 1),
		quit:        make(chan struct{}),
		done:        make(chan struct{}),
	}
}

// receive runs on the reader goroutine: decode, queue, return.
func (d *dispatcher) receive(h protocol.Header, body []byte) {
	if h.Program != protocol.RemoteProgram {
		return
	}
	var ev Event
	switch protocol.Procedure(h.Procedure) {
	case protocol.ProcDomainEventCallbackLifecycle:
		var m protocol.DomainEventCallbackLifecycleMsg
		if protocol.Unmarshal(body, &m) != nil {
			return
		}
		ev.CallbackID = int(m.CallbackID)
		ev.DomainEvent = drivers.LifecycleEvent{
			Dom: domainFromWire(m.Msg.Dom), Event: drivers.LifecycleEventType(m.Msg.Event), Detail: m.Msg.Detail,
		}
	case protocol.ProcDomainEventCallbackReboot:
		var m protocol.DomainEventCallbackRebootMsg
		if protocol.Unmarshal(body, &m) != nil {
			return
		}
		ev.CallbackID = int(m.CallbackID)
		ev.DomainEvent = drivers.RebootEvent{Dom: domainFromWire(m.Msg.Dom)}
	case protocol.ProcConnectEventConnectionClosed:
		var m protocol.ConnectEventConnectionClosedMsg
		if protocol.Unmarshal(body, &m) != nil {
			return
		}
		d.mu.Lock()
		d.farewell = ErrDroppedSlow
		if m.Reason == protocol.CloseReasonEOF {
			d.farewell = ErrDaemonShutdown
		}
		d.mu.Unlock()
		return
	default:
		return
	}
	d.mu.Lock()
	d.seq++
	ev.Seq = d.seq
	d.queue = append(d.queue, ev)
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// run delivers queued events until the connection is closed and the
// queue is empty, then tells the close callbacks and the waiters why.
func (d *dispatcher) run() {
	defer close(d.done)
	connDone := d.c.rpc.Done()
	for {
		d.mu.Lock()
		batch := d.queue
		d.queue = nil
		d.mu.Unlock()
		for _, ev := range batch {
			d.deliver(ev)
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case <-d.wake:
			continue
		case <-connDone:
			// The reader has stopped: whatever it queued is all there is.
			d.mu.Lock()
			empty := len(d.queue) == 0
			d.mu.Unlock()
			if !empty {
				continue
			}
		case <-d.quit:
		}
		break
	}
	d.mu.Lock()
	cbs := d.closeCBs
	d.closeCBs = nil
	d.finished = true
	close(d.pullChanged)
	d.mu.Unlock()
	reason := d.closeReason()
	for _, cb := range cbs {
		cb(reason)
	}
}

// stop ends run once it has delivered what is queued.
func (d *dispatcher) stop() {
	select {
	case <-d.quit:
	default:
		close(d.quit)
	}
	<-d.done
}

func (d *dispatcher) deliver(ev Event) {
	d.mu.Lock()
	sub, ok := d.subs[ev.CallbackID]
	switch {
	case !ok:
		// The reply that tells us this id may still be on its way to the
		// caller that registered it: keep the event for a while.
		if len(d.orphans) == orphanMax {
			d.orphans = d.orphans[1:]
		}
		d.orphans = append(d.orphans, ev)
		d.mu.Unlock()
		return
	case sub.cb == nil:
		if len(d.pull) == pullBufferMax {
			d.pull = d.pull[1:] // Seq shows the gap
		}
		d.pull = append(d.pull, ev)
		close(d.pullChanged)
		d.pullChanged = make(chan struct{})
		d.mu.Unlock()
		return
	}
	d.mu.Unlock()
	sub.cb(ev.CallbackID, ev.DomainEvent)
}

// subscribe records callback id; events that arrived for it before the
// caller learnt the id are delivered first.
func (d *dispatcher) subscribe(id int, cb drivers.EventCallback) {
	d.mu.Lock()
	d.subs[id] = subscription{cb: cb}
	var early, kept []Event
	for _, ev := range d.orphans {
		if ev.CallbackID == id {
			early = append(early, ev)
		} else {
			kept = append(kept, ev)
		}
	}
	d.orphans = kept
	d.queue = append(early, d.queue...)
	d.mu.Unlock()
	if len(early) > 0 {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
}

func (d *dispatcher) unsubscribe(id int) {
	d.mu.Lock()
	delete(d.subs, id)
	d.mu.Unlock()
}

// closeReason says why the connection closed, in the terms of this
// package: what the daemon said, else what the transport saw.
func (d *dispatcher) closeReason() error {
	d.mu.Lock()
	farewell := d.farewell
	d.mu.Unlock()
	err := d.c.rpc.Err()
	var ka *rpc.KeepaliveError
	switch {
	case d.c.closing.Load() || errors.Is(err, rpc.ErrClientClosed):
		return ErrClosedByClient
	case errors.As(err, &ka):
		return fmt.Errorf("keepalive timeout: %w", err)
	case farewell != nil:
		return farewell
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ErrEOF
	}
	return err
}

// ConnectDomainEventRegisterAny registers for eventID events, of dom only
// when dom is not nil. With a callback the events are pushed to it, in
// order, from the connection's dispatcher goroutine (it may call back into
// the library; while it runs, later events wait). With a nil callback
// they are kept for EventCheck and EventWait.
func (c *Conn) ConnectDomainEventRegisterAny(ctx context.Context, dom *Domain, eventID drivers.DomainEventID, cb drivers.EventCallback) (int, error) {
	args := &protocol.ConnectDomainEventCallbackRegisterAnyArgs{EventID: int32(eventID)}
	if dom != nil {
		w := domainToWire(*dom)
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

// take finds and removes a matching event; when there is none it returns
// a channel closed at the next change and whether the connection is done.
func (d *dispatcher) take(mask EventMask, pred func(Event) bool) (Event, bool, <-chan struct{}, bool) {
	d.mu.Lock()
	snapshot := slices.Clone(d.pull)
	changed, finished := d.pullChanged, d.finished
	d.mu.Unlock()
	for _, ev := range snapshot {
		if mask&(1<<ev.EventID()) == 0 || (pred != nil && !pred(ev)) {
			continue
		}
		d.mu.Lock()
		i := slices.IndexFunc(d.pull, func(e Event) bool { return e.Seq == ev.Seq })
		if i >= 0 {
			d.pull = slices.Delete(d.pull, i, i+1)
		}
		d.mu.Unlock()
		if i >= 0 {
			return ev, true, nil, false
		}
	}
	return Event{}, false, changed, finished
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
