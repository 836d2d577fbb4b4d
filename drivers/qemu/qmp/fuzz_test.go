package qmp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"reflect"
	"strconv"
	"testing"
	"time"
)

const fuzzGreeting = `{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": ""}, "capabilities": ["oob"]}}` + "\n"

// FuzzReader plays qemu: the greeting, the reply to qmp_capabilities, and
// then, once the client has sent query-status (id 2), arbitrary bytes
// before closing the monitor. It checks what the reader promises against
// a model of QMP read line by line (fuzzModel):
//   - it neither panics nor hangs: Execute returns and the reader ends,
//     because qemu closed the monitor;
//   - every event is handed to OnEvent, in order, up to the first message
//     that is not JSON, with its name, data and timestamp;
//   - query-status gets the first reply routed to it (id 2, or no id),
//     as qemu's *Error or as its "return", else why the monitor ended;
//   - the monitor ends with a *ProtocolError naming the first line that is
//     not JSON, else a *DisconnectedError wrapping io.EOF;
//   - what it decoded re-encodes: an event's data and a return value are
//     JSON that decodes, encodes and decodes again to the same value.
//
// Seeds: the f.Add lines below and testdata/fuzz/FuzzReader, lines qemu
// 7.2 sent (testdata/qemu/qmp).
func FuzzReader(f *testing.F) {
	f.Add([]byte(`{"return": {}, "id": 2}` + "\n"))
	f.Add([]byte(`{"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 2}}` + "\n"))
	f.Add([]byte(`{"error": {"class": "GenericError", "desc": "x"}}` + "\n"))
	f.Add([]byte(`{"return": {"status": "running"}, "id": "x"}` + "\n{"))
	f.Add([]byte("\r\n\n" + `{"return": [1, 2.5, "\u00e9", null, true], "id": 3}` + "\r\n" + `{"return": 1e400, "id": 2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		want := fuzzModel(data)
		var events []Event
		m, serverDone := fuzzConnect(t, data, func(ev Event) { events = append(events, ev) })
		defer func() {
			m.Close() // unblocks the peer if the reader stopped before reading everything
			<-serverDone
		}()

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var ret any
		err := m.Execute(ctx, "query-status", nil, &ret)
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("query-status hung although qemu closed the monitor: %v", err)
		}
		select {
		case <-m.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("the reader did not end although qemu closed the monitor")
		}
		checkEvents(t, events, want.events)
		checkEnd(t, m.Err(), want)
		checkReply(t, err, ret, want)
	})
}

// fuzzConnect connects a Monitor to a peer that sends data after it has
// read query-status; serverDone is closed when the peer has finished.
func fuzzConnect(t *testing.T, data []byte, onEvent func(Event)) (*Monitor, chan struct{}) {
	client, server := net.Pipe()
	serverDone := make(chan struct{})
	go func() {
		defer close(serverDone)
		defer server.Close()
		r := bufio.NewReader(server)
		if _, err := server.Write([]byte(fuzzGreeting)); err != nil {
			return
		}
		if _, err := r.ReadBytes('\n'); err != nil { // qmp_capabilities
			return
		}
		if _, err := server.Write([]byte(`{"return": {}, "id": 1}` + "\n")); err != nil {
			return
		}
		if _, err := r.ReadBytes('\n'); err != nil { // query-status
			return
		}
		server.Write(data)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := Connect(ctx, client, Options{OnEvent: onEvent})
	if err != nil {
		<-serverDone
		t.Fatalf("Connect: %v", err)
	}
	return m, serverDone
}

// fuzzOutcome is what the model expects of one run.
type fuzzOutcome struct {
	events  []Event
	badLine []byte          // the first line that is not JSON; nil if none
	reply   *message        // the first reply routed to query-status; nil if none
	ret     json.RawMessage // reply's "return"
}

// fuzzModel reads data as the reader must: lines end at "\n" (an "\r"
// before it is dropped), a last line may lack it, empty lines are
// skipped; events go to OnEvent; a reply with id 2, or with no id while
// query-status waits, is its reply; other replies are dropped; the first
// line that is not JSON ends the monitor.
func fuzzModel(data []byte) fuzzOutcome {
	var out fuzzOutcome
	lines := bytes.Split(data, []byte("\n"))
	for i, line := range lines {
		if i < len(lines)-1 {
			line = bytes.TrimSuffix(line, []byte("\r"))
		}
		if len(line) == 0 {
			continue
		}
		var msg message
		if err := json.Unmarshal(line, &msg); err != nil {
			out.badLine = line
			return out
		}
		switch {
		case msg.Event != "":
			ev := Event{Name: msg.Event, Data: msg.Data}
			if ts := msg.Timestamp; ts != nil {
				ev.Time = time.Unix(ts.Seconds, ts.Microseconds*1000)
			}
			out.events = append(out.events, ev)
		case (msg.Return != nil || msg.Error != nil) && out.reply == nil:
			if len(msg.ID) > 0 {
				if n, err := strconv.ParseUint(string(msg.ID), 10, 64); err != nil || n != 2 {
					continue
				}
			}
			out.reply, out.ret = &msg, msg.Return
		}
	}
	return out
}

func checkEvents(t *testing.T, got, want []Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d events handed to OnEvent, want %d", len(got), len(want))
	}
	for i, ev := range got {
		w := want[i]
		if ev.Name != w.Name || !bytes.Equal(ev.Data, w.Data) || !ev.Time.Equal(w.Time) {
			t.Fatalf("event %d: got %+v, want %+v", i, ev, w)
		}
		if len(ev.Data) > 0 {
			reencodes(t, "event "+ev.Name+"'s data", ev.Data)
		}
	}
}

func checkEnd(t *testing.T, got error, want fuzzOutcome) {
	t.Helper()
	var pe *ProtocolError
	var de *DisconnectedError
	switch {
	case want.badLine != nil:
		if !errors.As(got, &pe) || pe.What != "malformed message" || pe.Line != string(want.badLine) {
			t.Fatalf("monitor ended with %v, want a ProtocolError for %q", got, want.badLine)
		}
	case !errors.As(got, &de) || de.Command != "" || de.Err != io.EOF:
		t.Fatalf("monitor ended with %#v, want a DisconnectedError with io.EOF", got)
	}
}

func checkReply(t *testing.T, err error, ret any, want fuzzOutcome) {
	t.Helper()
	switch r := want.reply; {
	case r == nil:
		var de *DisconnectedError
		switch {
		case want.badLine != nil && !errors.As(err, new(*ProtocolError)):
			t.Fatalf("query-status got %v, want the ProtocolError", err)
		case want.badLine == nil && (!errors.As(err, &de) || de.Command != "query-status"):
			t.Fatalf("query-status got %v, want a DisconnectedError naming it", err)
		}
	case r.Error != nil:
		var qe *Error
		if !errors.As(err, &qe) || *qe != (Error{Command: "query-status", Class: r.Error.Class, Desc: r.Error.Desc}) {
			t.Fatalf("query-status got %v, want qemu's error %+v", err, *r.Error)
		}
	default:
		var v any
		if json.Unmarshal(want.ret, &v) != nil { // e.g. a number past float64
			if err == nil {
				t.Fatalf("query-status decoded %s into %v without error", want.ret, ret)
			}
			return
		}
		if err != nil {
			t.Fatalf("query-status: %v, want its return %s", err, want.ret)
		}
		if !reflect.DeepEqual(ret, v) {
			t.Fatalf("query-status returned %#v, want %#v", ret, v)
		}
		reencodes(t, "the return of query-status", want.ret)
	}
}

// reencodes checks that raw, JSON qemu sent, decodes to a value that
// encodes and decodes again to the same value.
func reencodes(t *testing.T, what string, raw json.RawMessage) {
	t.Helper()
	if !json.Valid(raw) {
		t.Fatalf("%s is not JSON: %q", what, raw)
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return // valid JSON Go cannot hold, such as 1e400
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%s: cannot re-encode %#v: %v", what, v, err)
	}
	var again any
	if err := json.Unmarshal(b, &again); err != nil || !reflect.DeepEqual(v, again) {
		t.Fatalf("%s: %s re-encoded as %s decodes to %#v (%v)", what, raw, b, again, err)
	}
}
