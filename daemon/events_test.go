package daemon_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/rpc"
	"github.com/govirt/govirtd/vir"
)

// wireClient speaks the remote program frame by frame, keeping every
// MESSAGE it receives, so tests can check what is on the wire.
type wireClient struct {
	t  testing.TB
	c  *rpc.Client
	mu sync.Mutex // guards msgs
	// msgs are the MESSAGE frames received, in order.
	msgs []wireMsg
}

type wireMsg struct {
	h    protocol.Header
	body []byte
}

func dialWire(t testing.TB, socket string) *wireClient {
	t.Helper()
	nc, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	w := &wireClient{t: t}
	w.c = rpc.NewClient(nc, rpc.ClientOptions{OnMessage: func(h protocol.Header, body []byte) {
		w.mu.Lock()
		w.msgs = append(w.msgs, wireMsg{h, body})
		w.mu.Unlock()
	}})
	t.Cleanup(func() { w.c.Close() })
	name := "test:///default"
	w.call(protocol.ProcConnectOpen, &protocol.ConnectOpenArgs{Name: &name}, nil)
	return w
}

// try runs one call and returns its error.
func (w *wireClient) try(proc protocol.Procedure, args protocol.Encodable, ret protocol.Decodable) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return w.c.Call(ctx, protocol.RemoteProgram, protocol.RemoteProtocolVersion, int32(proc), args, ret)
}

// call runs one call that must succeed.
func (w *wireClient) call(proc protocol.Procedure, args protocol.Encodable, ret protocol.Decodable) {
	w.t.Helper()
	if err := w.try(proc, args, ret); err != nil {
		w.t.Fatalf("%s: %v", proc, err)
	}
}

func (w *wireClient) lookup(name string) protocol.Domain {
	w.t.Helper()
	var ret protocol.DomainLookupByNameRet
	w.call(protocol.ProcDomainLookupByName, &protocol.DomainLookupByNameArgs{Name: name}, &ret)
	return ret.Dom
}

// register registers a lifecycle callback, for dom only when not nil.
func (w *wireClient) register(dom *protocol.Domain) int32 {
	w.t.Helper()
	var ret protocol.ConnectDomainEventCallbackRegisterAnyRet
	w.call(protocol.ProcConnectDomainEventCallbackRegisterAny,
		&protocol.ConnectDomainEventCallbackRegisterAnyArgs{EventID: int32(vir.DomainEventIDLifecycle), Dom: dom}, &ret)
	return ret.CallbackID
}

// lifecycle is one decoded DOMAIN_EVENT_CALLBACK_LIFECYCLE message.
type lifecycle struct {
	callbackID int32
	dom        string
	event      vir.DomainEventType
	detail     int32
}

// events waits until n lifecycle messages have arrived and returns them.
func (w *wireClient) events(n int) []lifecycle {
	w.t.Helper()
	waitFor(w.t, "lifecycle messages", func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.msgs) >= n
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []lifecycle
	for _, m := range w.msgs {
		if m.h.Procedure != int32(protocol.ProcDomainEventCallbackLifecycle) || m.h.Type != protocol.Message ||
			m.h.Serial != 1 || m.h.Status != protocol.StatusOK || m.h.Program != protocol.RemoteProgram {
			w.t.Fatalf("unexpected message header %s", m.h)
		}
		var msg protocol.DomainEventCallbackLifecycleMsg
		if err := protocol.Unmarshal(m.body, &msg); err != nil {
			w.t.Fatal(err)
		}
		out = append(out, lifecycle{msg.CallbackID, msg.Msg.Dom.Name, vir.DomainEventType(msg.Msg.Event), msg.Msg.Detail})
	}
	return out
}

func (w *wireClient) received() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.msgs)
}

func wantCode(t testing.TB, err error, code vir.ErrorNumber, msg string) {
	t.Helper()
	var we *protocol.Error
	if !errors.As(err, &we) || we.Code != int32(code) || we.Message == nil || *we.Message != msg {
		t.Fatalf("got %v, want code %d %q", err, code, msg)
	}
}

// TestEventTwoCallbacksOneDeregistered: with two callbacks on one
// connection, deregistering one leaves the other delivering.
func TestEventTwoCallbacksOneDeregistered(t *testing.T) {
	d := startDaemon(t, nil)
	w := dialWire(t, d.RW())
	test := w.lookup("test")
	all := w.register(nil)
	filtered := w.register(&test)
	if all == filtered {
		t.Fatalf("both callbacks got id %d", all)
	}
	// The same (connection, event, filter) again is refused as libvirt does.
	err := w.try(protocol.ProcConnectDomainEventCallbackRegisterAny,
		&protocol.ConnectDomainEventCallbackRegisterAnyArgs{EventID: int32(vir.DomainEventIDLifecycle)}, &protocol.ConnectDomainEventCallbackRegisterAnyRet{})
	wantCode(t, err, vir.ErrInvalidArg, "invalid argument: event callback already tracked")

	w.call(protocol.ProcDomainSuspend, &protocol.DomainSuspendArgs{Dom: test}, nil)
	got := w.events(2)
	if got[0].callbackID != all || got[1].callbackID != filtered || got[0].event != vir.DomainEventSuspended {
		t.Fatalf("after suspend: %+v, want callbacks %d then %d", got, all, filtered)
	}
	w.call(protocol.ProcConnectDomainEventCallbackDeregisterAny,
		&protocol.ConnectDomainEventCallbackDeregisterAnyArgs{CallbackID: all}, nil)
	w.call(protocol.ProcDomainResume, &protocol.DomainResumeArgs{Dom: test}, nil)
	got = w.events(3)
	if len(got) != 3 || got[2].callbackID != filtered || got[2].event != vir.DomainEventResumed {
		t.Fatalf("after deregistering %d: %+v", all, got)
	}
	err = w.try(protocol.ProcConnectDomainEventCallbackDeregisterAny,
		&protocol.ConnectDomainEventCallbackDeregisterAnyArgs{CallbackID: all}, nil)
	wantCode(t, err, vir.ErrInternalError, "internal error: domain event callback "+itoa(all)+" not registered")
	// 27, VIR_DOMAIN_EVENT_ID_LAST, read off libvirt 9.0's header: a check
	// of drivers.EventIDLast that does not share its derivation.
	err = w.try(protocol.ProcConnectDomainEventCallbackRegisterAny,
		&protocol.ConnectDomainEventCallbackRegisterAnyArgs{EventID: 27}, &protocol.ConnectDomainEventCallbackRegisterAnyRet{})
	wantCode(t, err, vir.ErrInternalError, "internal error: unsupported event ID 27")
}

func itoa(i int32) string {
	b := []byte{}
	for {
		b = append([]byte{byte('0' + i%10)}, b...)
		if i /= 10; i == 0 {
			return string(b)
		}
	}
}

// TestEventFilterAndIsolation: a domain-filtered callback gets only its
// domain's events, an unfiltered one gets all, and a client that did not
// register gets none.
func TestEventFilterAndIsolation(t *testing.T) {
	d := startDaemon(t, nil)
	actor := dialWire(t, d.RW())
	var def protocol.DomainDefineXMLRet
	actor.call(protocol.ProcDomainDefineXML, &protocol.DomainDefineXMLArgs{XML: demoXML(t)}, &def)

	filtered := dialWire(t, d.RW())
	filtered.register(&def.Dom)
	unfiltered := dialWire(t, d.RW())
	unfiltered.register(nil)
	bystander := dialWire(t, d.RW())

	test := actor.lookup("test")
	actor.call(protocol.ProcDomainSuspend, &protocol.DomainSuspendArgs{Dom: test}, nil)
	actor.call(protocol.ProcDomainCreate, &protocol.DomainCreateArgs{Dom: def.Dom}, nil)
	actor.call(protocol.ProcDomainResume, &protocol.DomainResumeArgs{Dom: test}, nil)

	all := unfiltered.events(3)
	if all[0].dom != "test" || all[1].dom != "demo" || all[1].event != vir.DomainEventStarted || all[2].dom != "test" {
		t.Fatalf("unfiltered got %+v", all)
	}
	waitFor(t, "the filtered event", func() bool { return filtered.received() >= 1 })
	// Every event above was emitted before the unfiltered client saw the
	// last one; the filtered client has had its chance at all of them.
	if got := filtered.events(1); len(got) != 1 || got[0].dom != "demo" || got[0].event != vir.DomainEventStarted {
		t.Fatalf("filtered got %+v, want only demo's start", got)
	}
	if n := bystander.received() + actor.received(); n != 0 {
		t.Fatalf("clients that did not register got %d messages", n)
	}
}

// TestEventBeforeReply: the event a call causes leaves before the call's
// reply (as in libvirtd), on the same ordered queue, with the header
// libvirtd uses; the reply still carries the call's serial.
func TestEventBeforeReply(t *testing.T) {
	d := startDaemon(t, nil)
	w := dialWire(t, d.RW())
	test := w.lookup("test")
	cb := w.register(nil)
	w.c.Close()

	nc, err := net.Dial("unix", d.RW())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	send := func(serial uint32, proc protocol.Procedure, args protocol.Encodable) {
		f, err := rpc.EncodeFrame(protocol.Header{Program: protocol.RemoteProgram, Version: 1,
			Procedure: int32(proc), Type: protocol.Call, Serial: serial}, args)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := nc.Write(f); err != nil {
			t.Fatal(err)
		}
	}
	recv := func() (protocol.Header, []byte) {
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		h, body, err := rpc.ReadFrame(nc)
		if err != nil {
			t.Fatal(err)
		}
		return h, body
	}
	name := "test:///default"
	send(7, protocol.ProcConnectOpen, &protocol.ConnectOpenArgs{Name: &name})
	if h, _ := recv(); h.Type != protocol.Reply || h.Serial != 7 || h.Status != protocol.StatusOK {
		t.Fatalf("open reply %s", h)
	}
	send(8, protocol.ProcConnectDomainEventCallbackRegisterAny, &protocol.ConnectDomainEventCallbackRegisterAnyArgs{})
	h, body := recv()
	var reg protocol.ConnectDomainEventCallbackRegisterAnyRet
	if h.Serial != 8 || protocol.Unmarshal(body, &reg) != nil || reg.CallbackID <= cb {
		t.Fatalf("register reply %s, id %d (ids are never reused: want > %d)", h, reg.CallbackID, cb)
	}
	send(9, protocol.ProcDomainSuspend, &protocol.DomainSuspendArgs{Dom: test})
	h, body = recv()
	want := protocol.Header{Program: protocol.RemoteProgram, Version: 1,
		Procedure: int32(protocol.ProcDomainEventCallbackLifecycle), Type: protocol.Message, Serial: 1, Status: protocol.StatusOK}
	if h != want {
		t.Fatalf("first frame after suspend: %s, want the event %s", h, want)
	}
	var ev protocol.DomainEventCallbackLifecycleMsg
	if err := protocol.Unmarshal(body, &ev); err != nil || ev.CallbackID != reg.CallbackID ||
		ev.Msg.Event != int32(vir.DomainEventSuspended) || ev.Msg.Dom.ID != 1 {
		t.Fatalf("event %+v, %v", ev, err)
	}
	if h, _ := recv(); h.Type != protocol.Reply || h.Serial != 9 || h.Procedure != int32(protocol.ProcDomainSuspend) {
		t.Fatalf("suspend reply %s", h)
	}
}

// TestLegacyEventRegistration covers the pre-callback-id procedures a
// client uses when the daemon lacks feature 14.
func TestLegacyEventRegistration(t *testing.T) {
	d := startDaemon(t, nil)
	w := dialWire(t, d.RW())
	test := w.lookup("test")
	var reg protocol.ConnectDomainEventRegisterRet
	w.call(protocol.ProcConnectDomainEventRegister, nil, &reg)
	w.call(protocol.ProcDomainSuspend, &protocol.DomainSuspendArgs{Dom: test}, nil)
	waitFor(t, "the legacy event", func() bool { return w.received() == 1 })
	w.mu.Lock()
	m := w.msgs[0]
	w.mu.Unlock()
	var ev protocol.DomainEventLifecycleMsg
	if m.h.Procedure != int32(protocol.ProcDomainEventLifecycle) || protocol.Unmarshal(m.body, &ev) != nil ||
		ev.Dom.Name != "test" || ev.Event != int32(vir.DomainEventSuspended) {
		t.Fatalf("legacy message %s %+v", m.h, ev)
	}
	w.call(protocol.ProcConnectDomainEventDeregister, nil, &reg)
	// 16, one past VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED (libvirtd's bound for
	// the legacy call), as a number: a check of legacyEventIDMax.
	wantCode(t, w.try(protocol.ProcConnectDomainEventRegisterAny, &protocol.ConnectDomainEventRegisterAnyArgs{EventID: 16}, nil),
		vir.ErrInternalError, "internal error: unsupported event ID 16")
	w.call(protocol.ProcConnectDomainEventRegisterAny, &protocol.ConnectDomainEventRegisterAnyArgs{EventID: int32(vir.DomainEventIDReboot)}, nil)
	w.call(protocol.ProcDomainReboot, &protocol.DomainRebootArgs{Dom: test}, nil)
	waitFor(t, "the legacy reboot event", func() bool { return w.received() == 2 })
	w.mu.Lock()
	p := w.msgs[1].h.Procedure
	w.mu.Unlock()
	if p != int32(protocol.ProcDomainEventReboot) {
		t.Fatalf("reboot event proc %d", p)
	}
	w.call(protocol.ProcConnectDomainEventDeregisterAny, &protocol.ConnectDomainEventRegisterAnyArgs{EventID: int32(vir.DomainEventIDReboot)}, nil)
	if n := d.Driver.Callbacks(); n != 0 {
		t.Fatalf("%d callbacks left", n)
	}
}

// TestCallbacksGoWithTheConnection: closing a connection removes its
// registrations from the driver.
func TestCallbacksGoWithTheConnection(t *testing.T) {
	d := startDaemon(t, nil)
	w := dialWire(t, d.RW())
	test := w.lookup("test")
	w.register(nil)
	w.register(&test)
	if n := d.Driver.Callbacks(); n != 2 {
		t.Fatalf("%d callbacks, want 2", n)
	}
	w.c.Close()
	waitFor(t, "the callbacks to go", func() bool { return d.Driver.Callbacks() == 0 })
}

// TestRegistrationLimit: one client cannot register without bound (each
// registration costs every event a scan in the driver).
func TestRegistrationLimit(t *testing.T) {
	d := startDaemon(t, nil)
	w := dialWire(t, d.RO())
	var err error
	for i := 0; err == nil; i++ {
		if i > 2000 {
			t.Fatal("no limit on registrations")
		}
		uuid := protocol.UUID{byte(i), byte(i >> 8), 1}
		err = w.try(protocol.ProcConnectDomainEventCallbackRegisterAny,
			&protocol.ConnectDomainEventCallbackRegisterAnyArgs{Dom: &protocol.Domain{Name: "x", UUID: uuid}},
			&protocol.ConnectDomainEventCallbackRegisterAnyRet{})
	}
	wantCode(t, err, vir.ErrOperationFailed, "operation failed: too many event registrations on this connection (1024); deregister some first")
	if n := d.Driver.Callbacks(); n != 1024 {
		t.Fatalf("%d registrations, want 1024", n)
	}
}
