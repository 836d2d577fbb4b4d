package remote

import (
	"context"
	"path/filepath"

	"github.com/govirt/govirtd/protocol"
)

// The calls below are libvirt's older entry points that take no flags
// (virDomainCreate, virDomainDestroy, virDomainShutdown, virDomainSave,
// virDomainRestore), over their own procedures. virsh uses them whenever
// it has no flag to pass, and the daemon names the entry point in its
// errors ("read only access prevents virDomainDestroy"), so a client that
// wants to behave exactly like virsh calls these.

// DomainCreateNoFlags is virDomainCreate: DomainCreate without flags. The
// reply carries no domain; look it up again for its new id.
func (c *Conn) DomainCreateNoFlags(ctx context.Context, dom Domain) error {
	return c.call(ctx, protocol.ProcDomainCreate, &protocol.DomainArgs{Dom: domainToWire(dom)}, nil)
}

// DomainDestroyNoFlags is virDomainDestroy: DomainDestroy without flags.
func (c *Conn) DomainDestroyNoFlags(ctx context.Context, dom Domain) error {
	return c.call(ctx, protocol.ProcDomainDestroy, &protocol.DomainArgs{Dom: domainToWire(dom)}, nil)
}

// DomainShutdownNoFlags is virDomainShutdown: DomainShutdown without flags.
func (c *Conn) DomainShutdownNoFlags(ctx context.Context, dom Domain) error {
	return c.call(ctx, protocol.ProcDomainShutdown, &protocol.DomainArgs{Dom: domainToWire(dom)}, nil)
}

// DomainSaveNoFlags is virDomainSave: DomainSave without flags or
// replacement XML; to is made absolute as DomainSave does.
func (c *Conn) DomainSaveNoFlags(ctx context.Context, dom Domain, to string) error {
	to, err := filepath.Abs(to)
	if err != nil {
		return err
	}
	return c.call(ctx, protocol.ProcDomainSave, &protocol.DomainSaveArgs{Dom: domainToWire(dom), To: to}, nil)
}

// DomainRestoreNoFlags is virDomainRestore: DomainRestore without flags or
// replacement XML.
func (c *Conn) DomainRestoreNoFlags(ctx context.Context, from string) error {
	from, err := filepath.Abs(from)
	if err != nil {
		return err
	}
	return c.call(ctx, protocol.ProcDomainRestore, &protocol.DomainRestoreArgs{From: from}, nil)
}
