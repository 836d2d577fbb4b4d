package daemon

import (
	"context"
	"errors"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
)

// wireError turns any error a handler returns into the remote_error a
// client receives. It is the one place where the driver API's typed errors
// meet the wire: code and domain carry over unchanged (both are libvirt's
// numbers), and str1/str2 hold the message template and its detail as
// libvirtd fills them.
func wireError(err error) *protocol.Error {
	var e *drivers.Error
	switch {
	case errors.As(err, &e):
	case errors.Is(err, context.Canceled):
		e = drivers.Errorf(drivers.ErrOperationAborted, drivers.FromNone, "the client went away")
	default:
		e = drivers.Errorf(drivers.ErrInternalError, drivers.FromNone, "%s", err.Error())
	}
	w := protocol.NewError(int32(e.Code), int32(e.Domain), e.Message)
	if e.Template != "" {
		t := e.Template
		w.Str1 = &t
	}
	if e.Detail != "" {
		d := e.Detail
		w.Str2 = &d
	}
	return w
}

func errUnknownProc(proc int32) error {
	return drivers.Errorf(drivers.ErrRPC, drivers.FromRPC, "unknown procedure: %d", proc)
}

func errNotOpen() error {
	return drivers.Errorf(drivers.ErrInternalError, drivers.FromRPC, "hypervisor connection not open")
}

func errReadOnly(api string) error {
	return drivers.Errorf(drivers.ErrOperationDenied, drivers.FromDomain, "read only access prevents %s", api)
}

func errNoSupport(api string) error {
	return drivers.Errorf(drivers.ErrNoSupport, drivers.FromNone, "%s", api)
}

func errDecode(proc protocol.Procedure, err error) error {
	return drivers.Errorf(drivers.ErrRPC, drivers.FromRPC, "cannot decode arguments of %s: %v", proc, err)
}
