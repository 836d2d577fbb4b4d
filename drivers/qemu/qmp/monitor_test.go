package qmp

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"
)

// TestReplay runs every recorded scenario against the fake peer.
func TestReplay(t *testing.T) {
	for _, s := range scenarios {
		t.Run(s.name, s.replay)
	}
}

func dialFake(t *testing.T, name string, events *eventLog) (*Monitor, *fakePeer) {
	t.Helper()
	peer := startFake(t, loadTranscript(t, name))
	opts := Options{}
	if events != nil {
		opts.OnEvent = events.on
	}
	m, err := Dial(testCtx(t), peer.path, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m, peer
}

// TestEOFMidCommand: qemu dies with a command outstanding; the caller
// learns which command was lost and why.
func TestEOFMidCommand(t *testing.T) {
	m, peer := dialFake(t, "eof-mid-command", nil)
	err := m.Execute(testCtx(t), "stop", nil, nil)
	var de *DisconnectedError
	if !errors.As(err, &de) || de.Command != "stop" || !errors.Is(err, io.EOF) {
		t.Fatalf("got %v, want a DisconnectedError for stop wrapping EOF", err)
	}
	waitDone(t, m)
	checkDisconnected(t, m)
	m.Close()
	if err := peer.wait(); err != nil {
		t.Error(err)
	}
}

// TestTimeout: a command qemu does not answer in time fails with the
// context's error; its late reply is dropped and the next command gets
// its own.
func TestTimeout(t *testing.T) {
	m, peer := dialFake(t, "timeout", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := m.Execute(ctx, "query-status", nil, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want DeadlineExceeded", err)
	}
	var name struct{ Name string }
	if err := m.Execute(testCtx(t), "query-name", nil, &name); err != nil || name.Name != "demo" {
		t.Fatalf("next command: %+v, %v; want its own reply", name, err)
	}
	m.Close()
	if err := peer.wait(); err != nil {
		t.Error(err)
	}
}

// TestReplyWithoutID: an error reply without id goes to the oldest
// command; events between replies arrive in order.
func TestReplyWithoutID(t *testing.T) {
	events := newEventLog()
	m, peer := dialFake(t, "no-id", events)
	var qe *Error
	if err := m.Execute(testCtx(t), "query-status", nil, nil); !errors.As(err, &qe) || qe.Command != "query-status" {
		t.Fatalf("got %v, want qemu's error for query-status", err)
	}
	if s := queryStatus(t, m); s.Status != "paused" {
		t.Errorf("status %q", s.Status)
	}
	if got := events.names(); len(got) != 2 || got[0] != "RESUME" || got[1] != "STOP" {
		t.Errorf("events %v, want [RESUME STOP]", got)
	}
	m.Close()
	if err := peer.wait(); err != nil {
		t.Error(err)
	}
}

// TestNotQMP: a peer that is not a QMP monitor is refused at connect.
func TestNotQMP(t *testing.T) {
	peer := startFake(t, loadTranscript(t, "garbage"))
	_, err := Dial(testCtx(t), peer.path, Options{})
	var pe *ProtocolError
	if !errors.As(err, &pe) {
		t.Fatalf("got %v, want a ProtocolError", err)
	}
	peer.wait()
}

// TestGarbageMidSession: a broken message ends the monitor with a
// ProtocolError, which the waiting command receives.
func TestGarbageMidSession(t *testing.T) {
	m, peer := dialFake(t, "garbage-after-greeting", nil)
	err := m.Execute(testCtx(t), "query-status", nil, nil)
	var pe *ProtocolError
	if !errors.As(err, &pe) {
		t.Fatalf("got %v, want a ProtocolError", err)
	}
	waitDone(t, m)
	m.Close()
	peer.wait()
}

// TestClose: commands after Close fail with ErrClosed.
func TestClose(t *testing.T) {
	m, peer := dialFake(t, "timeout", nil)
	m.Close()
	if err := m.Execute(testCtx(t), "query-status", nil, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("got %v, want ErrClosed", err)
	}
	if !errors.Is(m.Err(), ErrClosed) {
		t.Errorf("Err() = %v", m.Err())
	}
	peer.wait()
}
