package daemon

import (
	"context"
	"errors"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
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
		e = drivers.Errorf(vir.ErrOperationAborted, vir.FromNone, "the client went away")
	default:
		e = drivers.Errorf(vir.ErrInternalError, vir.FromNone, "%s", err.Error())
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
	return drivers.Errorf(vir.ErrRPC, vir.FromRPC, "unknown procedure: %d", proc)
}

func errNotOpen() error {
	return drivers.Errorf(vir.ErrInternalError, vir.FromRPC, "hypervisor connection not open")
}

// errReadOnly is libvirt's refusal of a call to a read-only client, in
// the error domain of the API's own errors.
func errReadOnly(api string, domain int32) error {
	return drivers.Errorf(vir.ErrOperationDenied, vir.ErrorDomain(domain), "read only access prevents %s", api)
}

// errNoSupport is libvirt's answer to a call no driver of the connection
// implements, in the error domain of the API's own errors.
func (r *request) errNoSupport() error {
	return drivers.Errorf(vir.ErrNoSupport, vir.ErrorDomain(r.info.ErrorDomain), "%s", r.api)
}

func errDecode(proc string, err error) error {
	return drivers.Errorf(vir.ErrRPC, vir.FromRPC, "cannot decode arguments of %s: %v", proc, err)
}

// errEventProc answers a client that calls the number of an event
// message, which only the daemon sends. libvirtd answers it as an unknown
// procedure; the code and domain are the same (VIR_ERR_RPC, VIR_FROM_RPC),
// the message says what the number is.
func errEventProc(proc int32, name string) error {
	return drivers.Errorf(vir.ErrRPC, vir.FromRPC,
		"procedure %d (%s) is an event the daemon sends; it cannot be called", proc, name)
}

// errNilReturn is what a driver method that returns neither a value nor
// an error gets: a bug in the driver, reported rather than sent as an
// empty body the client cannot decode.
func errNilReturn(api string, err error) error {
	if err != nil {
		return err
	}
	return drivers.Errorf(vir.ErrInternalError, vir.FromNone, "%s: the driver returned no result", api)
}
