package test

import (
	"context"
	"strings"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// DomainRename renames a persistent, shut-off domain, raising Undefined
// Renamed under the old name then Defined Renamed under the new one, as
// libvirt's test driver does (drivers.OpDomainRename). It answers 0.
func (c *conn) DomainRename(ctx context.Context, ref protocol.Domain, newName *string, flags uint32) (int32, error) {
	if flags != 0 {
		return -1, badFlags(flags, "testDomainRenameCallback")
	}
	if newName == nil || *newName == "" {
		return -1, drivers.Errorf(vir.ErrInvalidArg, vir.FromDomain, "new domain name is missing: give the name to rename the domain to")
	}
	name := *newName
	d := c.drv
	return 0, d.withDomain(ref, func(dom *domain) error {
		switch {
		case dom.active():
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromTest, "cannot rename active domain")
		case dom.persistent == nil:
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromTest, "cannot rename a transient domain")
		case dom.state != vir.DomainShutoff:
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromTest, "domain has to be shutoff before renaming")
		case dom.def().Name() == name:
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromDomain, "Can't rename domain to itself")
		case d.findName(name) != nil:
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromDomain, "domain with name '%s' already exists", name)
		case strings.Contains(name, "/"):
			return drivers.Errorf(vir.ErrXMLError, vir.FromTest, "name %s cannot contain '/'", name)
		}
		d.emit(dom, vir.DomainEventUndefined, int32(vir.DomainEventUndefinedRenamed))
		dom.persistent.XML.Name = name
		d.emit(dom, vir.DomainEventDefined, int32(vir.DomainEventDefinedRenamed))
		return nil
	})
}
