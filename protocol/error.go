package protocol

import (
	"fmt"

	"github.com/govirt/govirtd/vir"
)

// NewError returns the payload of a REPLY with status ERROR (Error,
// remote_error) as libvirtd fills one: level ERROR, the message also in
// str1, and both ints -1. Message is never nil, as go-libvirt needs it.
func NewError(code, domain int32, msg string) *Error {
	return &Error{
		Code:    code,
		Domain:  domain,
		Message: &msg,
		Level:   int32(vir.ErrError),
		Str1:    &msg,
		Int1:    -1,
		Int2:    -1,
	}
}

// RPCError returns the error libvirtd sends for transport-level problems:
// code VIR_ERR_RPC in domain VIR_FROM_RPC.
func RPCError(format string, args ...any) *Error {
	return NewError(int32(vir.ErrRPC), int32(vir.FromRPC), fmt.Sprintf(format, args...))
}

func (e *Error) Error() string {
	if e.Message != nil {
		return *e.Message
	}
	return fmt.Sprintf("libvirt error code %d, domain %d", e.Code, e.Domain)
}
