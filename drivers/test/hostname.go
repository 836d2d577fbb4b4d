package test

import (
	"context"

	"github.com/govirt/govirtd/protocol"
)

// DomainGetHostname answers a running domain's host name as libvirt's
// test driver does: its name followed by "host" (drivers.OpDomainGetHostname).
func (c *conn) DomainGetHostname(ctx context.Context, ref protocol.Domain, flags uint32) (host string, err error) {
	if flags != 0 {
		return "", badFlags(flags, "testDomainGetHostname")
	}
	err = c.drv.withDomain(ref, func(dom *domain) error {
		if !dom.active() {
			return notRunning()
		}
		host = dom.def().Name() + "host"
		return nil
	})
	return host, err
}
