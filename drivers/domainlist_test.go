package drivers_test

import (
	"sync"
	"testing"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/vir"
)

// obj is a domain object whose fields its own lock guards, as the QEMU
// driver's are.
type obj struct {
	mu     sync.Mutex
	ref    drivers.Domain
	state  vir.DomainState
	hidden bool
}

func (o *obj) DomainKey() (string, drivers.UUID) { return o.ref.Name, o.ref.UUID }

func (o *obj) DomainSnapshot() drivers.DomainSnapshot {
	o.mu.Lock()
	defer o.mu.Unlock()
	return drivers.DomainSnapshot{Ref: o.ref, Entry: drivers.DomainListEntry{State: o.state, Persistent: true}, Visible: !o.hidden}
}

func TestDomainObjList(t *testing.T) {
	var l drivers.DomainObjList[*obj]
	run := &obj{ref: drivers.Domain{Name: "run", UUID: drivers.UUID{1}, ID: 3}, state: vir.DomainRunning}
	off := &obj{ref: drivers.Domain{Name: "off", UUID: drivers.UUID{2}, ID: -1}, state: vir.DomainShutoff}
	hid := &obj{ref: drivers.Domain{Name: "hid", UUID: drivers.UUID{3}, ID: -1}, state: vir.DomainShutoff, hidden: true}
	l.Add(run)
	l.Add(off)
	l.Add(hid)
	if d, err := l.LookupByID(vir.FromQEMU, 3); err != nil || d.Name != "run" {
		t.Fatalf("LookupByID(3): %v, %v", d, err)
	}
	if _, err := l.LookupByID(vir.FromQEMU, -1); drivers.CodeOf(err) != vir.ErrNoDomain {
		t.Fatalf("LookupByID(-1) found an inactive domain: %v", err)
	}
	if d, err := l.LookupByUUID(vir.FromQEMU, drivers.UUID{2}); err != nil || d.Name != "off" {
		t.Fatalf("LookupByUUID: %v, %v", d, err)
	}
	_, err := l.LookupByName(vir.FromTest, "hid")
	var e *drivers.Error
	if drivers.CodeOf(err) != vir.ErrNoDomain || !asError(err, &e) || e.Domain != vir.FromTest || e.Message != "Domain not found: no domain with matching name 'hid'" {
		t.Fatalf("lookup of a hidden domain: %v, want no domain in the caller's error domain", err)
	}
	names := func(ds []drivers.Domain) (s string) {
		for _, d := range ds {
			s += d.Name + " "
		}
		return s
	}
	if got := names(l.ListAll(0)); got != "run off " {
		t.Fatalf("ListAll(0) = %q, want the visible domains in order", got)
	}
	if got := names(l.ListAll(vir.ConnectListDomainsInactive)); got != "off " {
		t.Fatalf("ListAll(inactive) = %q", got)
	}
	if !l.Remove(off) || l.Remove(off) || l.Len() != 2 {
		t.Fatalf("Remove: the list holds %d objects", l.Len())
	}
	// A reader holds no list lock while it asks an object: a writer that
	// holds an object's lock can change the list meanwhile (the QEMU
	// driver's lock order: a domain's lock, then the list's).
	run.mu.Lock()
	done := make(chan struct{})
	go func() { l.ListAll(0); close(done) }()
	l.Remove(hid) // would deadlock if the reader held a list lock
	run.mu.Unlock()
	<-done
}

func asError(err error, e **drivers.Error) bool {
	x, ok := err.(*drivers.Error)
	*e = x
	return ok
}
