package drivers

import (
	"context"
	"errors"
	"net/url"

	"github.com/govirt/govirtd/protocol"
)

// Concern is which of a connection's drivers serves a call: the
// hypervisor, network, storage, interface, node device, secret or
// nwfilter driver (libvirt's driver tables). protocol.ProcInfo.Concern
// gives each procedure's.
type Concern = protocol.Concern

// The concerns, as protocol defines them.
const (
	ConcernHypervisor = protocol.ConcernHypervisor
	ConcernNetwork    = protocol.ConcernNetwork
	ConcernStorage    = protocol.ConcernStorage
	ConcernInterface  = protocol.ConcernInterface
	ConcernNodeDevice = protocol.ConcernNodeDevice
	ConcernSecret     = protocol.ConcernSecret
	ConcernNWFilter   = protocol.ConcernNWFilter
	NumConcerns       = protocol.NumConcerns
)

// ConcernServer is implemented by a hypervisor connection whose driver
// has its own tables for other concerns, as libvirt's test driver has
// its own networks and pools: ConcernConn returns the connection that
// serves k (often the hypervisor connection itself), or nil to let the
// registry's shared driver for k serve it. A hypervisor connection that
// does not implement it uses the shared drivers for every other concern,
// as libvirt's QEMU driver does.
type ConcernServer interface {
	ConcernConn(k Concern) Conn
}

// Connection is one client's open connection (virConnect): a driver
// connection per concern, each chosen on its own, nil where no driver
// serves the concern; a call of that concern is answered
// vir.ErrNoSupport. The hypervisor connection is never nil. A
// Connection does not change once opened, so it is read without a lock.
type Connection struct {
	// URI is what the connection was opened for.
	URI   *url.URL
	conns [NumConcerns]Conn
}

// NewConnection makes a Connection of conns, indexed by concern; tests
// and the registry build one.
func NewConnection(uri *url.URL, conns [NumConcerns]Conn) *Connection {
	return &Connection{URI: uri, conns: conns}
}

// Hypervisor is the connection of the hypervisor driver.
func (c *Connection) Hypervisor() Conn { return c.conns[ConcernHypervisor] }

// For is the driver connection serving concern k, or nil when none does.
func (c *Connection) For(k Concern) Conn {
	if k >= NumConcerns {
		return nil
	}
	return c.conns[k]
}

// Close closes every driver connection once (a driver serving several
// concerns through one connection is closed once), the secondary ones
// first, and returns their errors joined.
func (c *Connection) Close() error {
	var errs []error
	for k := NumConcerns - 1; ; k-- {
		if conn := c.conns[k]; conn != nil && !c.seenBefore(k) {
			if err := conn.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		if k == 0 {
			break
		}
	}
	return errors.Join(errs...)
}

// seenBefore reports whether concern k's connection is also a lower
// concern's.
func (c *Connection) seenBefore(k Concern) bool {
	for j := Concern(0); j < k; j++ {
		if c.conns[j] == c.conns[k] {
			return true
		}
	}
	return false
}

// openSecondaries fills the concerns the hypervisor connection does not
// serve itself from the registry's shared drivers, as virConnectOpen
// fills a connection's network, storage, … drivers after its hypervisor
// driver. A shared driver that declines the URI leaves its concern
// unserved; one that fails fails the open, and what was opened is closed.
func (r *Registry) openSecondaries(ctx context.Context, c *Connection, flags uint32) error {
	hv := c.conns[ConcernHypervisor]
	own, _ := hv.(ConcernServer)
	for k := ConcernHypervisor + 1; k < NumConcerns; k++ {
		if own != nil {
			if conn := own.ConcernConn(k); conn != nil {
				c.conns[k] = conn
				continue
			}
		}
		d := r.shared(k)
		if d == nil {
			continue
		}
		conn, err := d.Open(ctx, c.URI, flags)
		if errors.Is(err, ErrDeclined) {
			continue
		}
		if err != nil {
			c.Close()
			return err
		}
		c.conns[k] = conn
	}
	return nil
}
