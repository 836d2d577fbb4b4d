package drivers

import (
	"errors"
	"fmt"
	"testing"

	"github.com/govirt/govirtd/vir"
)

type fakeConn struct{ name string }

func (*fakeConn) Close() error { return nil }

func TestCallbackList(t *testing.T) {
	var l CallbackList
	a, b := &fakeConn{"a"}, &fakeConn{"b"}
	dom1, dom2 := Domain{Name: "one", UUID: UUID{1}}, Domain{Name: "two", UUID: UUID{2}}
	var got []string
	record := func(who string) EventCallback {
		return func(id int, ev DomainEvent) { got = append(got, who+":"+ev.EventDomain().Name) }
	}
	all, err := l.Register(a, vir.DomainEventIDLifecycle, nil, record("a-all"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Register(a, vir.DomainEventIDLifecycle, &dom1.UUID, record("a-one")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Register(b, vir.DomainEventIDLifecycle, nil, record("b-all")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Register(b, vir.DomainEventIDReboot, nil, record("b-reboot")); err != nil {
		t.Fatal(err)
	}
	_, err = l.Register(a, vir.DomainEventIDLifecycle, nil, record("dup"))
	if CodeOf(err) != vir.ErrInvalidArg || err.Error() != "invalid argument: event callback already tracked" {
		t.Fatalf("duplicate registration: %v", err)
	}
	if _, err := l.Register(a, EventIDLast, nil, record("bad")); CodeOf(err) != vir.ErrInvalidArg {
		t.Fatalf("bad event id: %v", err)
	}

	l.Emit(LifecycleEvent{Dom: dom1, Event: vir.DomainEventStarted})
	l.Emit(LifecycleEvent{Dom: dom2, Event: vir.DomainEventStarted})
	l.Emit(RebootEvent{Dom: dom2})
	want := "a-all:one a-one:one b-all:one a-all:two b-all:two b-reboot:two"
	if s := join(got); s != want {
		t.Fatalf("delivered %s\nwant      %s", s, want)
	}

	got = nil
	if err := l.Deregister(b, all); CodeOf(err) != vir.ErrInvalidArg {
		t.Fatalf("deregistering another connection's callback: %v", err)
	}
	if err := l.Deregister(a, all); err != nil {
		t.Fatal(err)
	}
	l.Emit(LifecycleEvent{Dom: dom1})
	if s := join(got); s != "a-one:one b-all:one" {
		t.Fatalf("after deregistering: %s", s)
	}
	l.RemoveConn(a)
	if n := l.Len(); n != 2 {
		t.Fatalf("%d callbacks after removing a's, want 2", n)
	}
	// Ids are never reused.
	id, _ := l.Register(a, vir.DomainEventIDLifecycle, nil, record("again"))
	if id <= 4 {
		t.Fatalf("new callback got id %d, reusing an old one", id)
	}
}

// TestCallbackMayDeregister: a callback runs outside the list's lock and
// may change the list.
func TestCallbackMayDeregister(t *testing.T) {
	var l CallbackList
	c := &fakeConn{}
	var id int
	id, _ = l.Register(c, vir.DomainEventIDLifecycle, nil, func(int, DomainEvent) { l.Deregister(c, id) })
	l.Emit(LifecycleEvent{})
	if l.Len() != 0 {
		t.Fatal("the callback did not deregister itself")
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}

func TestListFlagsMatches(t *testing.T) {
	running := DomainListEntry{State: vir.DomainRunning, Persistent: true}
	paused := DomainListEntry{State: vir.DomainPaused, Autostart: true, Persistent: true}
	off := DomainListEntry{State: vir.DomainShutoff, Persistent: true, ManagedSave: true}
	transient := DomainListEntry{State: vir.DomainRunning}
	crashed := DomainListEntry{State: vir.DomainCrashed, Persistent: true}
	all := []DomainListEntry{running, paused, off, transient, crashed}
	for _, c := range []struct {
		flags vir.ConnectListAllDomainsFlags
		want  []bool
	}{
		{0, []bool{true, true, true, true, true}},
		{vir.ConnectListDomainsActive, []bool{true, true, false, true, true}},
		{vir.ConnectListDomainsInactive, []bool{false, false, true, false, false}},
		{vir.ConnectListDomainsActive | vir.ConnectListDomainsInactive, []bool{true, true, true, true, true}},
		{vir.ConnectListDomainsTransient, []bool{false, false, false, true, false}},
		{vir.ConnectListDomainsPersistent | vir.ConnectListDomainsRunning, []bool{true, false, false, false, false}},
		{vir.ConnectListDomainsPaused | vir.ConnectListDomainsShutoff, []bool{false, true, true, false, false}},
		{vir.ConnectListDomainsOther, []bool{false, false, false, false, true}},
		{vir.ConnectListDomainsAutostart, []bool{false, true, false, false, false}},
		{vir.ConnectListDomainsNoAutostart | vir.ConnectListDomainsActive, []bool{true, false, false, true, true}},
		{vir.ConnectListDomainsManagedsave, []bool{false, false, true, false, false}},
		{vir.ConnectListDomainsHasSnapshot, []bool{false, false, false, false, false}},
		{vir.ConnectListDomainsNoCheckpoint, []bool{true, true, true, true, true}},
	} {
		for i, e := range all {
			if got := e.Matches(c.flags); got != c.want[i] {
				t.Errorf("flags %#x, domain %d (%+v): %v, want %v", c.flags, i, e, got, c.want[i])
			}
		}
	}
	if got := UnsupportedListFlags(1<<20 | vir.ConnectListDomainsActive | vir.ConnectListDomainsNoCheckpoint); got != 1<<20 {
		t.Errorf("unsupported list flags %#x, want %#x", got, 1<<20)
	}
}

func TestErrorf(t *testing.T) {
	e := Errorf(vir.ErrNoDomain, vir.FromTest, "no domain with matching name '%s'", "x")
	if e.Message != "Domain not found: no domain with matching name 'x'" || e.Template != "Domain not found: %s" ||
		e.Detail != "no domain with matching name 'x'" || e.Code != vir.ErrNoDomain || e.Domain != vir.FromTest {
		t.Fatalf("%+v", e)
	}
	if got := CodeOf(fmt.Errorf("lookup: %w", e)); got != vir.ErrNoDomain {
		t.Errorf("CodeOf a wrapped error = %v, want %v", got, vir.ErrNoDomain)
	}
	if got := CodeOf(errors.New("plain")); got != vir.ErrOk {
		t.Errorf("CodeOf a plain error = %v, want %v", got, vir.ErrOk)
	}
	if bare := Errorf(vir.ErrNoDomain, vir.FromTest, ""); bare.Message != "Domain not found" {
		t.Fatalf("bare: %q", bare.Message)
	}
}
