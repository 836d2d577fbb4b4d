package drivers

import (
	"sync"

	"github.com/govirt/govirtd/vir"
)

// CallbackList is the event callback list a driver embeds in its state:
// an array of registrations in callback-id order. Ids are unique within
// the list and never reused while it lives. Each registration remembers
// the connection it came through, its event id and its optional domain
// filter.
type CallbackList struct {
	// emitMu serialises Emit, so every callback sees events in the order
	// they were emitted. It is taken before mu, never after.
	emitMu sync.Mutex

	mu      sync.Mutex // guards nextID and entries
	nextID  int
	entries []callbackEntry // sorted by id
}

type callbackEntry struct {
	id      int
	conn    Conn
	eventID vir.DomainEventID
	filter  *UUID // nil: every domain
	cb      EventCallback
}

// Register adds a callback for eventID through conn and returns its id.
// filter, when not nil, limits it to one domain (which need not exist).
// The same (conn, eventID, filter) twice is refused with vir.ErrInvalidArg,
// as libvirt refuses it.
func (l *CallbackList) Register(conn Conn, eventID vir.DomainEventID, filter *UUID, cb EventCallback) (int, error) {
	if eventID < 0 || eventID >= EventIDLast {
		return 0, Errorf(vir.ErrInvalidArg, vir.FromNone, "unsupported event ID %d", eventID)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.entries {
		if e.conn == conn && e.eventID == eventID && sameFilter(e.filter, filter) {
			return 0, Errorf(vir.ErrInvalidArg, vir.FromNone, "event callback already tracked")
		}
	}
	l.nextID++
	e := callbackEntry{id: l.nextID, conn: conn, eventID: eventID, cb: cb}
	if filter != nil {
		u := *filter
		e.filter = &u
	}
	l.entries = append(l.entries, e)
	return e.id, nil
}

func sameFilter(a, b *UUID) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// Deregister removes callback id, which must have been registered
// through conn.
func (l *CallbackList) Deregister(conn Conn, id int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, e := range l.entries {
		if e.id == id && e.conn == conn {
			l.entries = append(l.entries[:i], l.entries[i+1:]...)
			return nil
		}
	}
	return Errorf(vir.ErrInvalidArg, vir.FromNone, "could not find event callback %d for deletion", id)
}

// RemoveConn removes every callback registered through conn; a driver
// calls it when the connection closes.
func (l *CallbackList) RemoveConn(conn Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	kept := l.entries[:0]
	for _, e := range l.entries {
		if e.conn != conn {
			kept = append(kept, e)
		}
	}
	clear(l.entries[len(kept):])
	l.entries = kept
}

// Len is the number of registrations.
func (l *CallbackList) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

// Emit delivers ev to every matching callback, in registration order.
// Drivers emit while holding the lock that serialised the change, so
// events leave in the order of the changes. The callbacks run outside the
// list's lock: one may deregister, or close its connection.
func (l *CallbackList) Emit(ev DomainEvent) {
	l.emitMu.Lock()
	defer l.emitMu.Unlock()
	id := ev.EventID()
	uuid := ev.EventDomain().UUID
	type match struct {
		id int
		cb EventCallback
	}
	var buf [8]match
	matches := buf[:0]
	l.mu.Lock()
	for _, e := range l.entries {
		if e.eventID == id && (e.filter == nil || *e.filter == uuid) {
			matches = append(matches, match{e.id, e.cb})
		}
	}
	l.mu.Unlock()
	for _, m := range matches {
		m.cb(m.id, ev)
	}
}

// ConnCallbacks is the registration half of a driver connection: it
// registers the connection's callbacks in a CallbackList and, once the
// connection is closed, removes them and refuses new ones, so that no
// registration racing the close outlives the connection. Drivers embed
// one in their connection type.
type ConnCallbacks struct {
	mu     sync.Mutex // orders registrations against Close
	closed bool
}

// Register registers a callback of conn in l, unless conn is closed.
func (cc *ConnCallbacks) Register(l *CallbackList, conn Conn, eventID vir.DomainEventID, dom *Domain, cb EventCallback) (int, error) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.closed {
		return 0, Errorf(vir.ErrInvalidArg, vir.FromNone, "connection is closed")
	}
	var filter *UUID
	if dom != nil {
		filter = &dom.UUID
	}
	return l.Register(conn, eventID, filter, cb)
}

// Close marks conn closed and removes its callbacks from l.
func (cc *ConnCallbacks) Close(l *CallbackList, conn Conn) {
	cc.mu.Lock()
	cc.closed = true
	cc.mu.Unlock()
	l.RemoveConn(conn)
}
