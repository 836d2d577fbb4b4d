package qemu

import (
	"context"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// A domain's title, description and <metadata> elements, read and
// changed in its live and persistent definitions (the XML work is
// domxml's).

// DomainGetMetadata answers the description, title or element of
// namespace uri of the live definition (LIVE, or CURRENT of a running
// domain) or the persistent one (drivers.OpDomainGetMetadata). It reads
// under the domain's mu only.
func (c *conn) DomainGetMetadata(ctx context.Context, ref drivers.Domain, typ int32, uri *string, flags uint32) (out string, err error) {
	if err := badFlags("qemuDomainGetMetadata", flags, vir.DomainAffectLive|vir.DomainAffectConfig); err != nil {
		return "", err
	}
	if flags&affectLive != 0 && flags&affectConfig != 0 {
		return "", drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "flags 'live' and 'config' are mutually exclusive")
	}
	err = c.drv.read(ref, func(dom *domain) error {
		def := dom.def()
		switch {
		case flags&affectLive != 0 && !dom.active():
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromQEMU, "domain is not running")
		case flags&affectConfig != 0 && dom.persistent == nil:
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromQEMU, "transient domains do not have any persistent config")
		case flags&affectConfig != 0:
			def = dom.persistent
		}
		out, err = def.GetMetadata(typ, uri, vir.FromQEMU)
		return err
	})
	return out, err
}

// DomainSetMetadata sets, or with no value removes, the description,
// title or element of namespace uri (stored under prefix key) in the
// live and/or persistent definition (CURRENT: the live one of a running
// domain), and raises METADATA_CHANGE (drivers.OpDomainSetMetadata).
// The persistent definition is written to its file; the live one to
// the status file.
func (c *conn) DomainSetMetadata(ctx context.Context, ref drivers.Domain, typ int32, metadata, key, uri *string, flags uint32) error {
	if err := badFlags("qemuDomainSetMetadata", flags, vir.DomainAffectLive|vir.DomainAffectConfig); err != nil {
		return err
	}
	m, err := domxml.CheckMetadata(typ, metadata, key, uri, vir.FromQEMU)
	if err != nil {
		return err
	}
	d := c.drv
	return d.withJob(ctx, ref, "virDomainSetMetadata", func(ctx context.Context, dom *domain) error {
		affect, err := resolveAffect(dom, flags)
		if err != nil {
			return err
		}
		var newDef *domxml.Def
		if affect&affectConfig != 0 {
			dom.mu.Lock()
			newDef = dom.persistent.Copy()
			dom.mu.Unlock()
			if err := newDef.SetMetadata(m); err != nil {
				return err
			}
		}
		if affect&affectLive != 0 {
			dom.mu.Lock()
			if dom.live == nil {
				dom.mu.Unlock()
				return drivers.Errorf(vir.ErrOperationInvalid, vir.FromQEMU, "domain is not running")
			}
			nl := dom.live.Copy()
			if err := nl.SetMetadata(m); err != nil {
				dom.mu.Unlock()
				return err
			}
			dom.live = nl
			d.saveStatus(dom)
			dom.mu.Unlock()
		}
		if newDef != nil {
			if _, err := d.define(newDef, false, false); err != nil {
				return err
			}
		}
		dom.mu.Lock()
		defer dom.mu.Unlock()
		ev := dom.ref()
		var nsuri *string
		if m.Type == vir.DomainMetadataElement {
			u := m.URI
			nsuri = &u
		}
		d.events.Emit(drivers.WireEvent{ID: vir.DomainEventIDMetadataChange, Dom: ev, Msg: func() protocol.CallbackMsg {
			return &protocol.DomainEventCallbackMetadataChangeMsg{Dom: ev, Type: typ, Nsuri: nsuri}
		}})
		return nil
	})
}

var (
	_ drivers.OpDomainGetMetadata = (*conn)(nil)
	_ drivers.OpDomainSetMetadata = (*conn)(nil)
)
