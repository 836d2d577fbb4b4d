package qmp

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"syscall"
	"time"
)

// read is the reader goroutine: it routes replies to their commands and
// hands events to OnEvent, in the order qemu sent them.
func (m *Monitor) read(r *bufio.Reader) {
	defer close(m.done)
	for {
		line, err := readLine(r)
		if err != nil {
			m.fail(err)
			return
		}
		if len(line) == 0 {
			continue
		}
		var msg message
		if err := json.Unmarshal(line, &msg); err != nil {
			m.fail(&ProtocolError{What: "malformed message", Line: string(line)})
			return
		}
		switch {
		case msg.Event != "":
			m.event(msg)
		case msg.Return != nil || msg.Error != nil:
			m.deliver(msg)
		}
	}
}

func (m *Monitor) event(msg message) {
	ev := Event{Name: msg.Event, Data: msg.Data}
	if ts := msg.Timestamp; ts != nil {
		ev.Time = time.Unix(ts.Seconds, ts.Microseconds*1000)
	}
	if m.opts.OnEvent != nil {
		m.opts.OnEvent(ev)
	}
}

// deliver routes a reply by its id; qemu answers a command it could not
// parse without an id, which goes to the oldest command waiting.
func (m *Monitor) deliver(msg message) {
	var id uint64
	if len(msg.ID) > 0 {
		n, err := strconv.ParseUint(string(msg.ID), 10, 64)
		if err != nil {
			return // not an id of ours
		}
		id = n
	} else {
		m.mu.Lock()
		if len(m.order) > 0 {
			id = m.order[0]
		}
		m.mu.Unlock()
	}
	p := m.unregister(id)
	if p == nil {
		return // its command timed out
	}
	if msg.Error != nil {
		p.ch <- reply{err: &Error{Command: p.name, Class: msg.Error.Class, Desc: msg.Error.Desc}}
		return
	}
	p.ch <- reply{ret: msg.Return}
}

// fail ends the monitor: every waiting command gets the reason.
func (m *Monitor) fail(readErr error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err == nil {
		if _, ok := readErr.(*ProtocolError); ok {
			m.err = readErr
		} else {
			if readErr == io.EOF || isConnReset(readErr) {
				readErr = io.EOF
			}
			m.err = &DisconnectedError{Err: readErr}
		}
	}
	for id, p := range m.pending {
		p.ch <- reply{err: m.errFor(p.name)}
		delete(m.pending, id)
	}
	m.order = nil
}

func isConnReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }
