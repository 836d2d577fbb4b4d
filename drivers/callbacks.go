package drivers

import (
	"sync"

	"github.com/govirt/govirtd/vir"
)

// Event is what a callback list carries: an event of one id of its
// class (vir.DomainEventID, vir.NetworkEventID, …) about one object,
// known by a key of type K (a UUID; a node device's name).
type Event[ID ~int32, K comparable] interface {
	EventID() ID
	EventKey() K
}

// Callbacks is the event callback list a driver keeps in its state for
// one class of events (libvirt's virObjectEventCallbackList): an array
// of registrations in callback-id order. Ids are unique within the list
// and never reused while it lives. Each registration remembers the
// connection it came through, its event id and its optional object
// filter. The zero value is an empty list. CallbackList (domains),
// NetworkCallbackList, StoragePoolCallbackList,
// NodeDeviceCallbackList and SecretCallbackList are its instances.
type Callbacks[ID ~int32, K comparable, E Event[ID, K]] struct {
	// emitMu serialises Emit, so every callback sees events in the order
	// they were emitted. It is taken before mu, never after.
	emitMu sync.Mutex

	mu      sync.Mutex // guards nextID and entries
	nextID  int
	entries []callbackEntry[ID, K, E] // sorted by id
}

// CallbackList is the list of domain event callbacks.
type CallbackList = Callbacks[vir.DomainEventID, UUID, DomainEvent]

type callbackEntry[ID ~int32, K comparable, E Event[ID, K]] struct {
	id      int
	conn    Conn
	eventID ID
	filter  *K // nil: every object
	cb      func(callbackID int, ev E)
}

// eventIDLimit is one past the last event id libvirt 9.0 defines for
// the class of ID, or 0 when unknown (no upper bound).
func eventIDLimit[ID ~int32](id ID) ID {
	switch any(id).(type) {
	case vir.DomainEventID:
		return ID(EventIDLast)
	case vir.NetworkEventID:
		return ID(vir.NetworkEventIDLifecycle + 1)
	case vir.StoragePoolEventID:
		return ID(vir.StoragePoolEventIDRefresh + 1)
	case vir.NodeDeviceEventID:
		return ID(vir.NodeDeviceEventIDUpdate + 1)
	case vir.SecretEventID:
		return ID(vir.SecretEventIDValueChanged + 1)
	}
	return 0
}

// Register adds a callback for eventID through conn and returns its id.
// filter, when not nil, limits it to one object (which need not exist).
// The same (conn, eventID, filter) twice is refused with vir.ErrInvalidArg,
// as libvirt refuses it.
func (l *Callbacks[ID, K, E]) Register(conn Conn, eventID ID, filter *K, cb func(callbackID int, ev E)) (int, error) {
	if limit := eventIDLimit(eventID); eventID < 0 || (limit > 0 && eventID >= limit) {
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
	e := callbackEntry[ID, K, E]{id: l.nextID, conn: conn, eventID: eventID, cb: cb}
	if filter != nil {
		u := *filter
		e.filter = &u
	}
	l.entries = append(l.entries, e)
	return e.id, nil
}

func sameFilter[K comparable](a, b *K) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// Deregister removes callback id, which must have been registered
// through conn.
func (l *Callbacks[ID, K, E]) Deregister(conn Conn, id int) error {
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
func (l *Callbacks[ID, K, E]) RemoveConn(conn Conn) {
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
func (l *Callbacks[ID, K, E]) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

// Emit delivers ev to every matching callback, in registration order.
// Drivers emit while holding the lock that serialised the change, so
// events leave in the order of the changes. The callbacks run outside the
// list's lock: one may deregister, or close its connection.
func (l *Callbacks[ID, K, E]) Emit(ev E) {
	l.emitMu.Lock()
	defer l.emitMu.Unlock()
	id := ev.EventID()
	key := ev.EventKey()
	type match struct {
		id int
		cb func(int, E)
	}
	var buf [8]match
	matches := buf[:0]
	l.mu.Lock()
	for _, e := range l.entries {
		if e.eventID == id && (e.filter == nil || *e.filter == key) {
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

// Close marks conn closed and removes its callbacks from l. A driver
// with lists of other classes then calls their RemoveConn: once closed,
// no registration (RegisterIn) reaches them.
func (cc *ConnCallbacks) Close(l *CallbackList, conn Conn) {
	cc.mu.Lock()
	cc.closed = true
	cc.mu.Unlock()
	l.RemoveConn(conn)
}

// RegisterIn is ConnCallbacks.Register for a list of any class: it
// registers a callback of conn in l, unless conn is closed.
func RegisterIn[ID ~int32, K comparable, E Event[ID, K]](cc *ConnCallbacks, l *Callbacks[ID, K, E], conn Conn, eventID ID, filter *K, cb func(int, E)) (int, error) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.closed {
		return 0, Errorf(vir.ErrInvalidArg, vir.FromNone, "connection is closed")
	}
	return l.Register(conn, eventID, filter, cb)
}
