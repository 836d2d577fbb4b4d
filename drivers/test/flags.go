package test

import (
	"fmt"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/vir"
)

// badFlags is libvirt's refusal of flags a function does not know
// (virCheckFlags): VIR_ERR_INVALID_ARG with the message alone, without
// the "invalid argument: " other errors of that code begin with, since
// libvirt raises it with its own format.
func badFlags(flags uint32, fn string) error {
	msg := fmt.Sprintf("unsupported flags (0x%x) in function %s", flags, fn)
	return &drivers.Error{Code: vir.ErrInvalidArg, Domain: vir.FromTest, Message: msg, Template: "%s", Detail: msg}
}

// checkFlags is badFlags for the flags outside allowed, nil when there
// are none.
func checkFlags(flags, allowed uint32, fn string) error {
	if flags&^allowed == 0 {
		return nil
	}
	return badFlags(flags&^allowed, fn)
}
