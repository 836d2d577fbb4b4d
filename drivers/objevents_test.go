package drivers_test

import (
	"testing"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/vir"
)

// TestNetworkCallbacks: the generic callback list serves network events
// as it serves domain events: filters by object, refuses ids libvirt 9.0
// does not define, and removes a connection's callbacks.
func TestNetworkCallbacks(t *testing.T) {
	var l drivers.NetworkCallbackList
	a, b := &fakeConn{}, &fakeConn{}
	def := drivers.Network{Name: "default", UUID: drivers.UUID{1}}
	other := drivers.Network{Name: "other", UUID: drivers.UUID{2}}
	var got []string
	record := func(who string) func(int, drivers.NetworkEvent) {
		return func(id int, ev drivers.NetworkEvent) { got = append(got, who+":"+ev.EventNetwork().Name) }
	}
	if _, err := l.Register(a, vir.NetworkEventIDLifecycle, nil, record("a-all")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Register(b, vir.NetworkEventIDLifecycle, &other.UUID, record("b-other")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Register(a, vir.NetworkEventIDLifecycle, nil, record("again")); drivers.CodeOf(err) != vir.ErrInvalidArg {
		t.Fatalf("a second identical registration: %v, want VIR_ERR_INVALID_ARG", err)
	}
	if _, err := l.Register(a, vir.NetworkEventIDLifecycle+1, nil, record("bad")); drivers.CodeOf(err) != vir.ErrInvalidArg {
		t.Fatalf("network event id 1: %v, want VIR_ERR_INVALID_ARG (libvirt 9.0 has only LIFECYCLE)", err)
	}
	l.Emit(drivers.NetworkLifecycleEvent{Net: def, Event: vir.NetworkEventStarted})
	l.Emit(drivers.NetworkLifecycleEvent{Net: other, Event: vir.NetworkEventStarted})
	l.RemoveConn(a)
	l.Emit(drivers.NetworkLifecycleEvent{Net: other, Event: vir.NetworkEventStopped})
	if want := "a-all:default a-all:other b-other:other b-other:other"; join(got) != want {
		t.Fatalf("delivered %q, want %q", join(got), want)
	}
	var cc drivers.ConnCallbacks
	var dl drivers.CallbackList
	cc.Close(&dl, a)
	if _, err := drivers.RegisterIn(&cc, &l, a, vir.NetworkEventIDLifecycle, nil, record("late")); err == nil {
		t.Fatal("a registration after the connection closed was accepted")
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
