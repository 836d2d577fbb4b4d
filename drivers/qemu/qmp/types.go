// Package qmp is a small client for QEMU's machine protocol (QMP) on a
// unix socket: the greeting and capabilities negotiation, commands with
// ids and timeouts, asynchronous events, file descriptors passed with a
// command, and typed errors.
//
// Events are handed to the Options.OnEvent callback on the goroutine that
// reads the socket, before any reply read after them is delivered: when
// Execute returns, the events qemu sent before its reply have been
// handled. The callback must therefore not call Execute.
package qmp

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Version is qemu's version from the greeting.
type Version struct {
	Major, Minor, Micro int
	Package             string
}

// Number is the version as libvirt reports a hypervisor version:
// major*1e6 + minor*1e3 + micro.
func (v Version) Number() uint64 {
	return uint64(v.Major)*1_000_000 + uint64(v.Minor)*1000 + uint64(v.Micro)
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Micro) }

// Event is an asynchronous QMP event.
type Event struct {
	Name string
	Data json.RawMessage // the "data" member; empty when qemu sent none
	Time time.Time       // qemu's timestamp
}

// Error is an error reply of qemu to a command.
type Error struct {
	Command string // the command that failed
	Class   string // e.g. "GenericError", "CommandNotFound"
	Desc    string // qemu's description
}

func (e *Error) Error() string {
	return fmt.Sprintf("qemu refused %s: %s (%s)", e.Command, e.Desc, e.Class)
}

// ErrClosed is returned for commands on a monitor that Close closed.
var ErrClosed = errors.New("qmp: monitor closed")

// DisconnectedError reports that qemu closed the monitor (it exited)
// before it answered Command.
type DisconnectedError struct {
	Command string // empty when no command was waiting
	Err     error  // what the read failed with, usually io.EOF
}

func (e *DisconnectedError) Error() string {
	if e.Command == "" {
		return fmt.Sprintf("qemu closed the monitor: %v", e.Err)
	}
	return fmt.Sprintf("qemu closed the monitor before it answered %s: %v", e.Command, e.Err)
}

func (e *DisconnectedError) Unwrap() error { return e.Err }

// ErrDisconnected matches any *DisconnectedError with errors.Is.
var ErrDisconnected = &DisconnectedError{}

func (e *DisconnectedError) Is(target error) bool { return target == ErrDisconnected }

// ProtocolError reports a message qemu sent that is not QMP.
type ProtocolError struct {
	What string
	Line string
}

func (e *ProtocolError) Error() string { return fmt.Sprintf("qmp: %s: %.200q", e.What, e.Line) }

// message is any message qemu sends.
type message struct {
	QMP       *greeting       `json:"QMP"`
	Event     string          `json:"event"`
	Data      json.RawMessage `json:"data"`
	Timestamp *struct {
		Seconds      int64 `json:"seconds"`
		Microseconds int64 `json:"microseconds"`
	} `json:"timestamp"`
	Return json.RawMessage `json:"return"`
	Error  *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error"`
	ID json.RawMessage `json:"id"`
}

type greeting struct {
	Version struct {
		QEMU struct {
			Major int `json:"major"`
			Minor int `json:"minor"`
			Micro int `json:"micro"`
		} `json:"qemu"`
		Package string `json:"package"`
	} `json:"version"`
	Capabilities []string `json:"capabilities"`
}

// command is what the client sends.
type command struct {
	Execute   string `json:"execute"`
	Arguments any    `json:"arguments,omitempty"`
	ID        uint64 `json:"id"`
}

// reply is what a waiting command receives.
type reply struct {
	ret json.RawMessage
	err error
}
