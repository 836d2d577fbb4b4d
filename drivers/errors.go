package drivers

import (
	"errors"
	"fmt"
)

// ErrorCode is libvirt's virErrorNumber. A code is itself an error, so it
// can be matched with errors.Is(err, drivers.ErrNoDomain).
type ErrorCode int32

// The error codes govirtd raises, numbered as in libvirt 9.0.
const (
	ErrInternalError        ErrorCode = 1
	ErrNoSupport            ErrorCode = 3
	ErrNoConnect            ErrorCode = 5
	ErrInvalidArg           ErrorCode = 8
	ErrOperationFailed      ErrorCode = 9
	ErrXMLError             ErrorCode = 27
	ErrDomExist             ErrorCode = 28
	ErrOperationDenied      ErrorCode = 29
	ErrXMLDetail            ErrorCode = 35
	ErrSystemError          ErrorCode = 38
	ErrRPC                  ErrorCode = 39
	ErrNoDomain             ErrorCode = 42
	ErrNoNetwork            ErrorCode = 43
	ErrAuthFailed           ErrorCode = 45
	ErrOperationInvalid     ErrorCode = 55
	ErrConfigUnsupported    ErrorCode = 67
	ErrOperationTimeout     ErrorCode = 68
	ErrOperationAborted     ErrorCode = 78
	ErrOperationUnsupported ErrorCode = 84
)

// messages holds libvirt's text for each code: the text alone, and the
// template a detail is put into.
var messages = map[ErrorCode][2]string{
	ErrInternalError:        {"internal error", "internal error: %s"},
	ErrNoSupport:            {"this function is not supported by the connection driver", "this function is not supported by the connection driver: %s"},
	ErrNoConnect:            {"no connection driver available", "no connection driver available for %s"},
	ErrInvalidArg:           {"invalid argument", "invalid argument: %s"},
	ErrOperationFailed:      {"operation failed", "operation failed: %s"},
	ErrXMLError:             {"XML description is invalid or not well formed", "XML error: %s"},
	ErrDomExist:             {"this domain exists already", "domain %s exists already"},
	ErrOperationDenied:      {"operation forbidden for read only access", "operation forbidden: %s"},
	ErrXMLDetail:            {"parser error", "%s"},
	ErrSystemError:          {"system call error", "%s"},
	ErrRPC:                  {"RPC error", "%s"},
	ErrNoDomain:             {"Domain not found", "Domain not found: %s"},
	ErrNoNetwork:            {"Network not found", "Network not found: %s"},
	ErrAuthFailed:           {"authentication failed", "authentication failed: %s"},
	ErrOperationInvalid:     {"Requested operation is not valid", "Requested operation is not valid: %s"},
	ErrConfigUnsupported:    {"unsupported configuration", "unsupported configuration: %s"},
	ErrOperationTimeout:     {"Timed out during operation", "Timed out during operation: %s"},
	ErrOperationAborted:     {"operation aborted", "operation aborted: %s"},
	ErrOperationUnsupported: {"Operation not supported", "Operation not supported: %s"},
}

func (c ErrorCode) Error() string {
	if m, ok := messages[c]; ok {
		return m[0]
	}
	return fmt.Sprintf("libvirt error %d", int32(c))
}

// ErrorDomain is libvirt's virErrorDomain: the part of the system an
// error comes from.
type ErrorDomain int32

// The error domains govirtd uses, numbered as in libvirt 9.0.
const (
	FromNone    ErrorDomain = 0
	FromXen     ErrorDomain = 1
	FromRPC     ErrorDomain = 7
	FromConf    ErrorDomain = 9
	FromQEMU    ErrorDomain = 10
	FromTest    ErrorDomain = 12
	FromRemote  ErrorDomain = 13
	FromNetwork ErrorDomain = 19
	FromDomain  ErrorDomain = 20
)

// Error is a typed error of the driver API: libvirt's code and domain,
// and the message a client shows.
type Error struct {
	Code   ErrorCode
	Domain ErrorDomain
	// Message is the whole text, e.g. "Domain not found: no domain with
	// matching name 'x'".
	Message string
	// Template and Detail are the message's parts as libvirt reports
	// them: "Domain not found: %s" and "no domain with matching name 'x'".
	Template string
	Detail   string
}

func (e *Error) Error() string { return e.Message }

// Is matches an ErrorCode against e's code.
func (e *Error) Is(target error) bool {
	c, ok := target.(ErrorCode)
	return ok && c == e.Code
}

// Errorf returns an Error with libvirt's message for code; format and args
// give the detail, and an empty format gives the bare message.
func Errorf(code ErrorCode, domain ErrorDomain, format string, args ...any) *Error {
	m, ok := messages[code]
	if !ok {
		m = [2]string{code.Error(), "%s"}
	}
	if format == "" {
		return &Error{Code: code, Domain: domain, Message: m[0], Template: m[0]}
	}
	detail := fmt.Sprintf(format, args...)
	return &Error{Code: code, Domain: domain, Message: fmt.Sprintf(m[1], detail), Template: m[1], Detail: detail}
}

// CodeOf returns err's libvirt code, or 0 if err is not an *Error.
func CodeOf(err error) ErrorCode {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}
