package qmp

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"syscall"
	"testing"
	"time"
)

// peerCtl is what a scenario may do to qemu besides QMP: while
// recording it signals the real qemu; on replay it does nothing, since
// the transcript already holds what followed.
type peerCtl interface {
	Signal(sig syscall.Signal)
}

// eventLog collects the events OnEvent hands over.
type eventLog struct {
	mu     sync.Mutex
	events []Event
	ch     chan Event
}

func newEventLog() *eventLog { return &eventLog{ch: make(chan Event, 64)} }

func (l *eventLog) on(ev Event) {
	l.mu.Lock()
	l.events = append(l.events, ev)
	l.mu.Unlock()
	l.ch <- ev
}

func (l *eventLog) names() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.events {
		out = append(out, e.Name)
	}
	return out
}

// scenario is one exchange with qemu, recorded from the real qemu and
// replayed against the fake peer with the same checks.
type scenario struct {
	name string
	run  func(t *testing.T, m *Monitor, events *eventLog, peer peerCtl)
}

var ctxTimeout = 30 * time.Second

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), ctxTimeout)
	t.Cleanup(cancel)
	return ctx
}

type status struct {
	Status  string `json:"status"`
	Running bool   `json:"running"`
}

func queryStatus(t *testing.T, m *Monitor) status {
	t.Helper()
	var s status
	if err := m.Execute(testCtx(t), "query-status", nil, &s); err != nil {
		t.Fatalf("query-status: %v", err)
	}
	return s
}

var scenarios = []scenario{
	{"handshake", func(t *testing.T, m *Monitor, _ *eventLog, _ peerCtl) {
		if v := m.Version(); v.Major != 7 || v.Minor != 2 {
			t.Errorf("version %v, want 7.2.x", v)
		}
		if s := queryStatus(t, m); s.Status != "prelaunch" || s.Running {
			t.Errorf("status %+v, want prelaunch", s)
		}
	}},
	// qemu sends RESUME and STOP before the reply to cont and stop; the
	// event must have been handled when Execute returns.
	{"events-before-reply", func(t *testing.T, m *Monitor, events *eventLog, _ peerCtl) {
		for _, c := range []struct{ cmd, event, status string }{
			{"cont", "RESUME", "running"}, {"stop", "STOP", "paused"},
		} {
			if err := m.Execute(testCtx(t), c.cmd, nil, nil); err != nil {
				t.Fatalf("%s: %v", c.cmd, err)
			}
			names := events.names()
			if len(names) == 0 || names[len(names)-1] != c.event {
				t.Fatalf("after %s returned, events %v, want %s last", c.cmd, names, c.event)
			}
			if s := queryStatus(t, m); s.Status != c.status {
				t.Errorf("after %s: status %q, want %q", c.cmd, s.Status, c.status)
			}
		}
	}},
	{"errors", func(t *testing.T, m *Monitor, _ *eventLog, _ peerCtl) {
		var qe *Error
		err := m.Execute(testCtx(t), "no-such-command", nil, nil)
		if !errors.As(err, &qe) || qe.Class != "CommandNotFound" || qe.Command != "no-such-command" {
			t.Errorf("unknown command: %v, want CommandNotFound", err)
		}
		err = m.Execute(testCtx(t), "stop", map[string]any{"bogus": 1}, nil)
		if !errors.As(err, &qe) || qe.Class != "GenericError" {
			t.Errorf("bad argument: %v, want GenericError", err)
		}
		queryStatus(t, m) // the monitor still works
	}},
	// kill -TERM: qemu reports a host-signal SHUTDOWN, then closes.
	{"host-signal", func(t *testing.T, m *Monitor, events *eventLog, peer peerCtl) {
		queryStatus(t, m)
		peer.Signal(syscall.SIGTERM)
		waitDone(t, m)
		names := events.names()
		if len(names) != 1 || names[0] != "SHUTDOWN" {
			t.Fatalf("events %v, want [SHUTDOWN]", names)
		}
		var data struct {
			Guest  bool   `json:"guest"`
			Reason string `json:"reason"`
		}
		events.mu.Lock()
		json.Unmarshal(events.events[0].Data, &data)
		events.mu.Unlock()
		if data.Guest || data.Reason != "host-signal" {
			t.Errorf("SHUTDOWN data %+v, want guest false, reason host-signal", data)
		}
		checkDisconnected(t, m)
	}},
	// kill -9: no event, just EOF.
	{"sigkill", func(t *testing.T, m *Monitor, events *eventLog, peer peerCtl) {
		queryStatus(t, m)
		peer.Signal(syscall.SIGKILL)
		waitDone(t, m)
		if names := events.names(); len(names) != 0 {
			t.Errorf("events %v, want none", names)
		}
		checkDisconnected(t, m)
		err := m.Execute(testCtx(t), "query-status", nil, nil)
		var de *DisconnectedError
		if !errors.As(err, &de) || de.Command != "query-status" {
			t.Errorf("command after EOF: %v, want a DisconnectedError naming it", err)
		}
	}},
	// quit: SHUTDOWN host-qmp-quit, the reply, then EOF.
	{"quit", func(t *testing.T, m *Monitor, events *eventLog, _ peerCtl) {
		if err := m.Execute(testCtx(t), "quit", nil, nil); err != nil && !errors.Is(err, ErrDisconnected) {
			t.Fatalf("quit: %v", err)
		}
		waitDone(t, m)
		if names := events.names(); len(names) != 1 || names[0] != "SHUTDOWN" {
			t.Errorf("events %v, want [SHUTDOWN]", names)
		}
	}},
}

func waitDone(t *testing.T, m *Monitor) {
	t.Helper()
	select {
	case <-m.Done():
	case <-time.After(ctxTimeout):
		t.Fatal("the monitor did not see EOF")
	}
}

func checkDisconnected(t *testing.T, m *Monitor) {
	t.Helper()
	if err := m.Err(); !errors.Is(err, ErrDisconnected) {
		t.Errorf("Err() = %v, want a DisconnectedError", err)
	}
}

func (s scenario) replay(t *testing.T) {
	peer := startFake(t, loadTranscript(t, s.name))
	events := newEventLog()
	m, err := Dial(testCtx(t), peer.path, Options{OnEvent: events.on})
	if err != nil {
		t.Fatal(err)
	}
	s.run(t, m, events, noPeer{})
	m.Close()
	if err := peer.wait(); err != nil {
		t.Errorf("fake qemu: %v", err)
	}
}

type noPeer struct{}

func (noPeer) Signal(syscall.Signal) {}
