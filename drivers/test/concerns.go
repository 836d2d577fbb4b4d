package test

import (
	"github.com/govirt/govirtd/drivers"
)

// ConcernConn makes the test connection serve every concern itself, as
// libvirt's test driver has its own network, storage, interface, node
// device, secret and nwfilter tables: no shared driver serves
// test:///default. A call of a concern whose method the connection lacks
// is answered vir.ErrNoSupport.
func (c *conn) ConcernConn(drivers.Concern) drivers.Conn { return c }
