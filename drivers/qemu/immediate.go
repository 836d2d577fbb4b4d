package qemu

import (
	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
)

// immediate are the procedures the QEMU driver answers from its cached
// domain state without a job (drivers.StateQueries): the daemon may run
// them on the client's reader goroutine. They take only the domain
// list's and a domain's state locks, never one held across I/O (see the
// lock order in domain.go).
var immediate = drivers.ProcSet(drivers.StateQueries)

// Immediate reports the procedures the daemon may run on the client's
// reader goroutine (drivers.Immediate).
func (c *conn) Immediate(proc protocol.Procedure) bool { return immediate[proc] }
