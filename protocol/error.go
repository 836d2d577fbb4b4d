package protocol

import "fmt"

// Error (remote_error, generated) is the payload of every REPLY with
// status ERROR. Message is never nil in what govirtd sends: go-libvirt
// needs it.

// The error numbers the transport itself needs; the whole set lives in
// package vir.
const (
	LevelError        = 2  // VIR_ERR_ERROR
	CodeInternalError = 1  // VIR_ERR_INTERNAL_ERROR
	CodeRPC           = 39 // VIR_ERR_RPC
	DomainRPC         = 7  // VIR_FROM_RPC
)

// NewError returns an error payload as libvirtd fills one: level ERROR,
// the message also in str1, and both ints -1.
func NewError(code, domain int32, msg string) *Error {
	return &Error{
		Code:    code,
		Domain:  domain,
		Message: &msg,
		Level:   LevelError,
		Str1:    &msg,
		Int1:    -1,
		Int2:    -1,
	}
}

// RPCError returns the error libvirtd sends for transport-level problems:
// code VIR_ERR_RPC in domain VIR_FROM_RPC.
func RPCError(format string, args ...any) *Error {
	return NewError(CodeRPC, DomainRPC, fmt.Sprintf(format, args...))
}

func (e *Error) Error() string {
	if e.Message != nil {
		return *e.Message
	}
	return fmt.Sprintf("libvirt error code %d, domain %d", e.Code, e.Domain)
}
