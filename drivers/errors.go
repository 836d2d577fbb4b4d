package drivers

import (
	"errors"
	"fmt"

	"github.com/govirt/govirtd/vir"
)

// messages holds libvirt's text for each error code govirtd raises: the
// text alone, and the template a detail is put into.
var messages = map[vir.ErrorNumber][2]string{
	vir.ErrInternalError:        {"internal error", "internal error: %s"},
	vir.ErrNoStoragePool:        {"Storage pool not found", "Storage pool not found: %s"},
	vir.ErrNoStorageVol:         {"Storage volume not found", "Storage volume not found: %s"},
	vir.ErrOverflow:             {"numerical overflow", "numerical overflow: %s"},
	vir.ErrNoSupport:            {"this function is not supported by the connection driver", "this function is not supported by the connection driver: %s"},
	vir.ErrNoConnect:            {"no connection driver available", "no connection driver available for %s"},
	vir.ErrInvalidArg:           {"invalid argument", "invalid argument: %s"},
	vir.ErrOperationFailed:      {"operation failed", "operation failed: %s"},
	vir.ErrXMLError:             {"XML description is invalid or not well formed", "XML error: %s"},
	vir.ErrDomExist:             {"this domain exists already", "domain %s exists already"},
	vir.ErrOperationDenied:      {"operation forbidden for read only access", "operation forbidden: %s"},
	vir.ErrXMLDetail:            {"parser error", "%s"},
	vir.ErrSystemError:          {"system call error", "%s"},
	vir.ErrRPC:                  {"RPC error", "%s"},
	vir.ErrNoDomain:             {"Domain not found", "Domain not found: %s"},
	vir.ErrNoNetwork:            {"Network not found", "Network not found: %s"},
	vir.ErrAuthFailed:           {"authentication failed", "authentication failed: %s"},
	vir.ErrOperationInvalid:     {"Requested operation is not valid", "Requested operation is not valid: %s"},
	vir.ErrConfigUnsupported:    {"unsupported configuration", "unsupported configuration: %s"},
	vir.ErrOperationTimeout:     {"Timed out during operation", "Timed out during operation: %s"},
	vir.ErrOperationAborted:     {"operation aborted", "operation aborted: %s"},
	vir.ErrOperationUnsupported: {"Operation not supported", "Operation not supported: %s"},
	vir.ErrNoDomainMetadata:     {"metadata not found", "metadata not found: %s"},
}

// Error is a typed error of the driver API: libvirt's code and domain,
// and the message a client shows. Match a code with CodeOf.
type Error struct {
	Code   vir.ErrorNumber
	Domain vir.ErrorDomain
	// Message is the whole text, e.g. "Domain not found: no domain with
	// matching name 'x'".
	Message string
	// Template and Detail are the message's parts as libvirt reports
	// them: "Domain not found: %s" and "no domain with matching name 'x'".
	Template string
	Detail   string
	// Cause is the error the detail wraps (Errorf's %w): an errno, an
	// *fs.PathError. It stays off the wire, but errors.Is and errors.As
	// see it, so errors.Is(err, fs.ErrNotExist) holds through an Error.
	Cause error
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the cause, or nil.
func (e *Error) Unwrap() error { return e.Cause }

// Errorf returns an Error with libvirt's message for code; format and args
// give the detail, and an empty format gives the bare message. As with
// fmt.Errorf, an argument formatted with %w is the error's cause
// (Unwrap).
func Errorf(code vir.ErrorNumber, domain vir.ErrorDomain, format string, args ...any) *Error {
	m, ok := messages[code]
	if !ok {
		m = [2]string{fmt.Sprintf("libvirt error %d", int32(code)), "%s"}
	}
	if format == "" {
		return &Error{Code: code, Domain: domain, Message: m[0], Template: m[0]}
	}
	wrapped := fmt.Errorf(format, args...)
	detail := wrapped.Error()
	var cause error
	switch w := wrapped.(type) {
	case interface{ Unwrap() error }:
		cause = w.Unwrap()
	case interface{ Unwrap() []error }:
		cause = errors.Join(w.Unwrap()...)
	}
	return &Error{Code: code, Domain: domain, Message: fmt.Sprintf(m[1], detail), Template: m[1], Detail: detail, Cause: cause}
}

// CodeOf returns the libvirt code of the first *Error in err's chain, or
// vir.ErrOk (0) if there is none: CodeOf(err) == vir.ErrNoDomain.
func CodeOf(err error) vir.ErrorNumber {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return vir.ErrOk
}
