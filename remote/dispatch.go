package remote

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/rpc"
	"github.com/govirt/govirtd/vir"
)

const orphanMax = 256 // events kept for a callback id not yet known

// Default bounds of each of a connection's two event queues.
const (
	DefaultEventQueueLen   = 4096
	DefaultEventQueueBytes = 4 << 20
)

// queued is an entry of the push queue: an event, or the report of
// events lost at that point of the stream.
type queued struct {
	ev   Event
	size int         // wire bytes of the event's message
	lost *EventsLost // non-nil: a loss report, counted in no bound
}

// kept is an event of the pull buffer.
type kept struct {
	ev   Event
	size int
}

type subscription struct {
	cb drivers.EventCallback // nil: the events go to the pull buffer
}

// dispatcher moves events from the reader goroutine to user code: the
// reader only queues; run delivers, in arrival order.
type dispatcher struct {
	c *Conn

	maxLen, maxBytes int              // the bound of queue and of pull, each
	onLost           func(EventsLost) // nil: losses are only counted

	mu          sync.Mutex          // guards the fields below
	queue       []queued            // received, not yet delivered
	queueLen    int                 // events in queue (loss reports not counted)
	queueBytes  int                 // their wire bytes
	orphans     []queued            // delivered before their callback id was known
	lostEarly   map[int]*EventsLost // orphans dropped, by callback id: reported if it subscribes
	received    uint64              // events received since Dial
	subs        map[int]subscription
	pull        []kept        // for EventCheck and EventWait
	pullBytes   int           // wire bytes of pull
	lost        uint64        // events dropped from either queue since Dial
	pullChanged chan struct{} // closed and replaced whenever pull grows or the connection ends
	seq         uint64
	farewell    error // why the daemon said it closes the connection
	reason      error // why the connection closed, once it has
	closeCBs    []func(error)
	finished    bool // run has delivered everything and returned

	wake chan struct{} // a token when the queue grows
	quit chan struct{} // closed by stop
	done chan struct{} // closed when run returns
}

func newDispatcher(c *Conn, opts Options) *dispatcher {
	d := &dispatcher{
		c:           c,
		maxLen:      opts.EventQueueLen,
		maxBytes:    opts.EventQueueBytes,
		onLost:      opts.OnEventsLost,
		subs:        map[int]subscription{},
		lostEarly:   map[int]*EventsLost{},
		pullChanged: make(chan struct{}),
		wake:        make(chan struct{}, 1),
		quit:        make(chan struct{}),
		done:        make(chan struct{}),
	}
	if d.maxLen <= 0 {
		d.maxLen = DefaultEventQueueLen
	}
	if d.maxBytes <= 0 {
		d.maxBytes = DefaultEventQueueBytes
	}
	return d
}

// receive runs on the reader goroutine: decode, queue, return.
func (d *dispatcher) receive(h protocol.Header, body []byte) {
	if h.Program != protocol.RemoteProgram {
		return
	}
	proc := protocol.Procedure(h.Procedure)
	if proc == protocol.ProcConnectEventConnectionClosed {
		var m protocol.ConnectEventConnectionClosedMsg
		if protocol.Unmarshal(body, &m) != nil {
			return
		}
		d.mu.Lock()
		d.farewell = farewellReason(m.Reason)
		d.mu.Unlock()
		return
	}
	id, ok := protocol.DomainEventOfProc(proc)
	if !ok {
		return
	}
	m, ok := protocol.NewRemoteArgs(h.Procedure).(protocol.DomainCallbackMsg)
	if !ok || protocol.Unmarshal(body, m) != nil {
		return
	}
	ev := Event{CallbackID: int(m.EventCallbackID()), DomainEvent: domainEvent(vir.DomainEventID(id), m)}
	size := len(body)
	d.mu.Lock()
	before := len(d.queue)
	d.seq++
	d.received++
	ev.Seq = d.seq
	if sub, ok := d.subs[ev.CallbackID]; ok && sub.cb == nil {
		// Kept for pulling: no user code runs, so the reader may do it,
		// and EventWait works even from inside a push callback.
		d.keepLocked(ev, size)
	} else if d.queueLen+1 > d.maxLen || d.queueBytes+size > d.maxBytes {
		// Full: the newest event is dropped, so what is queued stays a
		// gapless run and the report sits where the gap is.
		d.lostLocked(ev, ErrEventQueueFull)
	} else {
		d.queue = append(d.queue, queued{ev: ev, size: size})
		d.queueLen++
		d.queueBytes += size
	}
	grew := len(d.queue) != before // an event or a loss report to deliver
	d.mu.Unlock()
	if grew {
		d.wakeUp()
	}
}

func (d *dispatcher) wakeUp() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// lostLocked counts ev as dropped for reason and, when someone listens,
// adds it to the report at the tail of the queue, or starts one. The
// trailing reports (one per reason at most) are merged into, so reports
// never outnumber the events between them; d.mu must be held.
func (d *dispatcher) lostLocked(ev Event, reason error) {
	d.lost++
	if d.onLost == nil {
		return
	}
	for i := len(d.queue) - 1; i >= 0 && d.queue[i].lost != nil; i-- {
		if l := d.queue[i].lost; errors.Is(l.Reason, reason) {
			l.add(ev)
			return
		}
	}
	l := &EventsLost{Reason: d.reasonLocked(reason)}
	l.add(ev)
	d.queue = append(d.queue, queued{lost: l})
}

// reasonLocked is the reason of a loss, with the bound that was hit.
func (d *dispatcher) reasonLocked(reason error) error {
	n, bytes, what := d.queueLen, d.queueBytes, "queued"
	if reason == ErrPullBufferFull {
		n, bytes, what = len(d.pull), d.pullBytes, "kept"
	}
	return fmt.Errorf("%w (%d of %d events, %d of %d bytes %s)", reason, n, d.maxLen, bytes, d.maxBytes, what)
}

// run delivers queued events until the connection is closed and the
// queue is empty, or Close is called, then tells the close callbacks and
// the waiters why. It takes one event at a time, under the lock that
// subscribe takes, so an event held for an id not yet known and the
// events after it stay in arrival order.
func (d *dispatcher) run() {
	defer close(d.done)
	connDone := d.c.rpc.Done()
	for {
		if d.deliverNext() {
			continue
		}
		select {
		case <-d.wake:
			continue
		case <-connDone:
			// The connection is closed and its reader stops soon, having
			// handed on all it read: wait for it, then deliver the rest.
			<-d.c.rpc.ReaderDone()
			if d.deliverNext() {
				continue
			}
		case <-d.quit:
		}
		break
	}
	reason := d.closeReason() // latched: the reader is done
	d.mu.Lock()
	cbs := d.closeCBs
	d.closeCBs = nil
	d.finished = true
	close(d.pullChanged) // wakes the waiters, which see finished
	d.pullChanged = make(chan struct{})
	d.mu.Unlock()
	for _, cb := range cbs {
		cb(reason)
	}
}

// stop makes run return without delivering what is still queued. It does
// not wait for run: Close may be called from a callback, on run's own
// goroutine.
func (d *dispatcher) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	select {
	case <-d.quit:
	default:
		close(d.quit)
	}
}

// deliverNext delivers the oldest queued event, if any, and reports
// whether there was one.
func (d *dispatcher) deliverNext() bool {
	d.mu.Lock()
	if len(d.queue) == 0 {
		d.mu.Unlock()
		return false
	}
	select {
	case <-d.quit:
		d.queue, d.queueLen, d.queueBytes = nil, 0, 0
		d.mu.Unlock()
		return false
	default:
	}
	q := d.queue[0]
	d.queue[0] = queued{}
	d.queue = d.queue[1:]
	if q.lost != nil {
		d.mu.Unlock()
		d.onLost(*q.lost)
		return true
	}
	d.queueLen--
	d.queueBytes -= q.size
	ev := q.ev
	sub, ok := d.subs[ev.CallbackID]
	switch {
	case !ok:
		// The reply that tells us this id may still be on its way to the
		// caller that registered it: keep the event for a while.
		if len(d.orphans) == orphanMax {
			d.dropOrphanLocked(d.orphans[0].ev)
			d.orphans[0] = queued{}
			d.orphans = d.orphans[1:]
		}
		d.orphans = append(d.orphans, q)
		d.mu.Unlock()
		return true
	case sub.cb == nil:
		d.keepLocked(ev, q.size)
		d.mu.Unlock()
		return true
	}
	d.mu.Unlock()
	sub.cb(ev.CallbackID, ev.DomainEvent)
	return true
}

// dropOrphanLocked notes an early event dropped for want of room: if
// its id is registered later, the registration is told; if never (a
// late event of a registration already gone), nobody lost it. The notes
// are bounded too: past orphanMax ids, one is forgotten. d.mu must be
// held.
func (d *dispatcher) dropOrphanLocked(ev Event) {
	l := d.lostEarly[ev.CallbackID]
	if l == nil {
		if len(d.lostEarly) >= orphanMax {
			for id := range d.lostEarly {
				delete(d.lostEarly, id)
				break
			}
		}
		l = &EventsLost{Reason: fmt.Errorf("%w (%d held)", ErrTooManyEarlyEvents, orphanMax)}
		d.lostEarly[ev.CallbackID] = l
	}
	l.add(ev)
}

// keepLocked keeps ev for EventCheck and EventWait, dropping the oldest
// kept events to make room: a reader that pulls by mask may never take
// some, and they must not shut out the new ones. d.mu must be held.
func (d *dispatcher) keepLocked(ev Event, size int) {
	for len(d.pull) > 0 && (len(d.pull)+1 > d.maxLen || d.pullBytes+size > d.maxBytes) {
		old := d.pull[0]
		d.pull[0] = kept{}
		d.pull = d.pull[1:]
		d.pullBytes -= old.size
		d.lostLocked(old.ev, ErrPullBufferFull)
	}
	if size > d.maxBytes {
		d.lostLocked(ev, ErrPullBufferFull)
		return
	}
	d.pull = append(d.pull, kept{ev: ev, size: size})
	d.pullBytes += size
	close(d.pullChanged)
	d.pullChanged = make(chan struct{})
}

// subscribe records callback id; events that arrived for it before the
// caller learnt the id go back to the front of the queue: they are older
// than anything still queued.
//
// They pass the queue's bound again, oldest first: those that do not fit
// are reported lost, the report placed after the ones that did.
func (d *dispatcher) subscribe(id int, cb drivers.EventCallback) {
	d.mu.Lock()
	d.subs[id] = subscription{cb: cb}
	var early, others []queued
	var lost *EventsLost
	for _, q := range d.orphans {
		switch {
		case q.ev.CallbackID != id:
			others = append(others, q)
		case d.queueLen+1 > d.maxLen || d.queueBytes+q.size > d.maxBytes:
			d.lost++
			if d.onLost != nil {
				if lost == nil {
					lost = &EventsLost{Reason: d.reasonLocked(ErrEventQueueFull)}
				}
				lost.add(q.ev)
			}
		default:
			early = append(early, q)
			d.queueLen++
			d.queueBytes += q.size
		}
	}
	d.orphans = others
	if lost != nil {
		early = append(early, queued{lost: lost})
	}
	if l := d.lostEarly[id]; l != nil {
		// Older than every early event kept: reported first.
		delete(d.lostEarly, id)
		d.lost += l.Count
		if d.onLost != nil {
			early = append([]queued{{lost: l}}, early...)
		}
	}
	d.queue = append(early, d.queue...)
	d.mu.Unlock()
	if len(early) > 0 {
		d.wakeUp()
	}
}

// stats is what EventQueueStats reports.
func (d *dispatcher) stats() EventQueueStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return EventQueueStats{
		Queued: d.queueLen, QueuedBytes: d.queueBytes,
		Kept: len(d.pull), KeptBytes: d.pullBytes,
		Held:     len(d.orphans),
		Received: d.received,
		MaxLen:   d.maxLen, MaxBytes: d.maxBytes,
		Lost: d.lost,
	}
}

func (d *dispatcher) unsubscribe(id int) {
	d.mu.Lock()
	delete(d.subs, id)
	d.mu.Unlock()
}

// farewellReason reads the reason of CONNECT_EVENT_CONNECTION_CLOSED as
// govirtd sends it: EOF when it shuts down, ERROR when it drops a client
// whose queue filled.
func farewellReason(reason int32) error {
	switch vir.ConnectCloseReason(reason) {
	case vir.ConnectCloseReasonEof:
		return ErrDaemonShutdown
	case vir.ConnectCloseReasonError:
		return ErrDroppedSlow
	case vir.ConnectCloseReasonKeepalive:
		return errors.New("connection closed by the daemon: keepalive timeout")
	}
	return fmt.Errorf("connection closed by the daemon (reason %d)", reason)
}

// closeReason says why the connection closed, in the terms of this
// package: what the daemon said, else what the transport saw. The first
// answer after the connection closed is kept.
func (d *dispatcher) closeReason() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.reason != nil {
		return d.reason
	}
	select {
	case <-d.c.rpc.Done():
	default:
		return nil
	}
	err := d.c.rpc.Err()
	latch := func(reason error) error {
		// Keep the answer once the reader has handed on everything the
		// daemon sent: a farewell still unread could change it.
		select {
		case <-d.c.rpc.ReaderDone():
			d.reason = reason
		default:
		}
		return reason
	}
	var ka *rpc.KeepaliveError
	switch {
	case errors.As(err, &ka):
		return latch(fmt.Errorf("keepalive timeout: %w", err))
	case d.farewell != nil:
		return latch(d.farewell)
	case d.c.closing.Load() || errors.Is(err, rpc.ErrClientClosed):
		return latch(ErrClosedByClient)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return latch(ErrEOF)
	}
	return latch(err)
}

// take finds and removes a matching event; when there is none it returns
// a channel closed at the next change and whether the connection is done.
func (d *dispatcher) take(mask EventMask, pred func(Event) bool) (Event, bool, <-chan struct{}, bool) {
	d.mu.Lock()
	snapshot := slices.Clone(d.pull)
	changed, finished := d.pullChanged, d.finished
	d.mu.Unlock()
	for _, k := range snapshot {
		ev := k.ev
		if mask&(1<<ev.EventID()) == 0 || (pred != nil && !pred(ev)) {
			continue
		}
		d.mu.Lock()
		i := slices.IndexFunc(d.pull, func(e kept) bool { return e.ev.Seq == ev.Seq })
		if i >= 0 {
			d.pullBytes -= d.pull[i].size
			d.pull = slices.Delete(d.pull, i, i+1)
		}
		d.mu.Unlock()
		if i >= 0 {
			return ev, true, nil, false
		}
	}
	return Event{}, false, changed, finished
}

// domainEvent is the driver API's event for a message: the lifecycle and
// reboot events as their own types, every other one as its message.
func domainEvent(id vir.DomainEventID, m protocol.DomainCallbackMsg) drivers.DomainEvent {
	switch m := m.(type) {
	case *protocol.DomainEventCallbackLifecycleMsg:
		return drivers.LifecycleEvent{Dom: m.Msg.Dom, Event: vir.DomainEventType(m.Msg.Event), Detail: m.Msg.Detail}
	case *protocol.DomainEventCallbackRebootMsg:
		return drivers.RebootEvent{Dom: m.Msg.Dom}
	}
	return drivers.WireEvent{ID: id, Dom: m.EventDomain(), Msg: func() protocol.CallbackMsg { return m }}
}
