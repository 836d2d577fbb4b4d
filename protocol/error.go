package protocol

import "fmt"

// Error is remote_error, the payload of every REPLY with status ERROR.
// The eleven fields are in libvirt's wire order.
type Error struct {
	Code    int32
	Domain  int32
	Message *string // never nil in what govirtd sends: go-libvirt needs it
	Level   int32
	Dom     *Domain
	Str1    *string
	Str2    *string
	Str3    *string
	Int1    int32
	Int2    int32
	Net     *Network
}

// Error levels (virErrorLevel).
const (
	LevelNone    = 0
	LevelWarning = 1
	LevelError   = 2
)

// The error numbers the transport itself needs; the whole set lives in
// package drivers, whose errors the daemon maps to this struct.
const (
	CodeInternalError = 1
	CodeRPC           = 39
	DomainRPC         = 7
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
