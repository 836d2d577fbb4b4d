package xenstore

import (
	"errors"
	"fmt"
)

// Error is an ERROR reply: xenstored names an errno (ENOENT, EAGAIN,
// EACCES...). Compare with errors.Is against ErrNotExist, ErrAgain and
// the others below.
type Error struct {
	Op    Op
	Path  string // the request's first argument, when it has one
	Errno string
}

func (e *Error) Error() string {
	hint := ""
	switch e.Errno {
	case "EACCES":
		hint = " (the connection's domain lacks permission on the node; see get-perms)"
	case "EQUOTA", "ENOSPC":
		hint = " (xenstored's quota is exhausted; see its -Q options)"
	case "E2BIG":
		hint = " (the request exceeds xenstore's 4096-byte payload)"
	}
	if e.Path != "" {
		return fmt.Sprintf("xenstore %s %s: %s%s", e.Op, e.Path, e.Errno, hint)
	}
	return fmt.Sprintf("xenstore %s: %s%s", e.Op, e.Errno, hint)
}

// Is lets errors.Is match an Error against the sentinel of its errno.
func (e *Error) Is(target error) bool {
	s, ok := target.(*Error)
	return ok && s.Op == 0 && s.Path == "" && s.Errno == e.Errno
}

// Sentinels for the errnos callers act on.
var (
	ErrNotExist = &Error{Errno: "ENOENT"} // no such node
	ErrAgain    = &Error{Errno: "EAGAIN"} // a transaction conflicted; retry it
	ErrAccess   = &Error{Errno: "EACCES"}
	ErrExist    = &Error{Errno: "EEXIST"} // e.g. a watch with this path and token exists
	ErrInvalid  = &Error{Errno: "EINVAL"}
	ErrQuota    = &Error{Errno: "EQUOTA"}
	ErrBusy     = &Error{Errno: "EBUSY"}
)

// ErrDisconnected is wrapped by the errors of calls made while the
// connection to xenstored is lost.
var ErrDisconnected = errors.New("not connected to xenstored")
