package drivers

import (
	"sync"
	"sync/atomic"

	"github.com/govirt/govirtd/vir"
)

// DomainObj is a driver's domain object as the shared list reads it.
type DomainObj interface {
	// DomainSnapshot returns how the public API names the domain now,
	// what list filters see of it, and whether lookups and lists see it
	// at all (a domain whose first start or definition is under way may
	// be hidden). It takes whatever lock guards the object's fields, or
	// its driver's caller holds that lock; the list holds none of its own
	// while calling it.
	DomainSnapshot() DomainSnapshot
	// DomainKey returns the domain's name and UUID, which never change
	// for an object; lookups by name and uuid compare them before asking
	// for the snapshot, under the same locking as DomainSnapshot.
	DomainKey() (name string, uuid UUID)
}

// DomainSnapshot is one domain as DomainObj.DomainSnapshot reports it.
type DomainSnapshot struct {
	Ref     Domain
	Entry   DomainListEntry
	Visible bool
}

// DomainObjList is the domain-object list the hypervisor drivers share
// (libvirt's virDomainObjList): the objects in definition order, with
// the lookups by id, name and uuid and the filtered listing of the
// public API. Readers take no lock: they read an immutable slice that
// Add and Remove replace, so a read never waits for a writer and holds
// nothing while it asks each object for its snapshot, whatever lock
// order the driver has. The zero value is an empty list.
type DomainObjList[T interface {
	DomainObj
	comparable
}] struct {
	writeMu sync.Mutex // serialises Add and Remove
	objs    atomic.Pointer[[]T]
}

// Objects returns the objects in definition order, visible or not. The
// slice is shared: the caller must not change it.
func (l *DomainObjList[T]) Objects() []T {
	if p := l.objs.Load(); p != nil {
		return *p
	}
	return nil
}

// Len is the number of objects, visible or not.
func (l *DomainObjList[T]) Len() int { return len(l.Objects()) }

// Add appends obj.
func (l *DomainObjList[T]) Add(obj T) {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	old := l.Objects()
	next := make([]T, len(old), len(old)+1)
	copy(next, old)
	next = append(next, obj)
	l.objs.Store(&next)
}

// Remove takes obj off the list and reports whether it was on it.
func (l *DomainObjList[T]) Remove(obj T) bool {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	old := l.Objects()
	for i, x := range old {
		if x == obj {
			next := make([]T, 0, len(old)-1)
			next = append(append(next, old[:i]...), old[i+1:]...)
			l.objs.Store(&next)
			return true
		}
	}
	return false
}

// Find returns the first object, visible or not, that match accepts.
func (l *DomainObjList[T]) Find(match func(T) bool) (T, bool) {
	for _, x := range l.Objects() {
		if match(x) {
			return x, true
		}
	}
	var zero T
	return zero, false
}

// lookup returns the first visible domain whose snapshot match accepts.
// The snapshot is passed by value and the miss's error is built by the
// caller: a lookup that hits allocates nothing.
func (l *DomainObjList[T]) lookup(match func(DomainSnapshot) bool) (Domain, bool) {
	for _, x := range l.Objects() {
		if s := x.DomainSnapshot(); s.Visible && match(s) {
			return s.Ref, true
		}
	}
	return Domain{}, false
}

// LookupByID is virDomainLookupByID: the running domain with id. A miss
// is vir.ErrNoDomain in error domain from.
func (l *DomainObjList[T]) LookupByID(from vir.ErrorDomain, id int32) (Domain, error) {
	if d, ok := l.lookup(func(s DomainSnapshot) bool { return s.Ref.ID == id && id >= 0 }); ok {
		return d, nil
	}
	return Domain{}, Errorf(vir.ErrNoDomain, from, "no domain with matching id %d", id)
}

// byKey returns the visible domain whose key match accepts.
func (l *DomainObjList[T]) byKey(match func(name string, uuid UUID) bool) (Domain, bool) {
	for _, x := range l.Objects() {
		if match(x.DomainKey()) {
			if s := x.DomainSnapshot(); s.Visible {
				return s.Ref, true
			}
		}
	}
	return Domain{}, false
}

// LookupByName is virDomainLookupByName.
func (l *DomainObjList[T]) LookupByName(from vir.ErrorDomain, name string) (Domain, error) {
	if d, ok := l.byKey(func(n string, _ UUID) bool { return n == name }); ok {
		return d, nil
	}
	return Domain{}, Errorf(vir.ErrNoDomain, from, "no domain with matching name '%s'", name)
}

// LookupByUUID is virDomainLookupByUUID.
func (l *DomainObjList[T]) LookupByUUID(from vir.ErrorDomain, u UUID) (Domain, error) {
	if d, ok := l.byKey(func(_ string, uuid UUID) bool { return uuid == u }); ok {
		return d, nil
	}
	return Domain{}, Errorf(vir.ErrNoDomain, from, "no domain with matching uuid '%s'", u)
}

// ListAll is virConnectListAllDomains: the visible domains that pass
// flags' filter, in definition order.
func (l *DomainObjList[T]) ListAll(flags vir.ConnectListAllDomainsFlags) []Domain {
	objs := l.Objects()
	out := make([]Domain, 0, len(objs))
	for _, x := range objs {
		if s := x.DomainSnapshot(); s.Visible && s.Entry.Matches(flags) {
			out = append(out, s.Ref)
		}
	}
	return out
}
