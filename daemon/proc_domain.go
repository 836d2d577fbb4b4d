package daemon

import (
	"context"
	"path/filepath"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
)

func fromWire(d protocol.Domain) drivers.Domain {
	return drivers.Domain{Name: d.Name, UUID: drivers.UUID(d.UUID), ID: d.ID}
}

func toWire(d drivers.Domain) protocol.Domain {
	return protocol.Domain{Name: d.Name, UUID: protocol.UUID(d.UUID), ID: d.ID}
}

func boolRet(b bool, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	ret := &protocol.IntRet{}
	if b {
		ret.Ret = 1
	}
	return ret, nil
}

func domainRet(d drivers.Domain, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return &protocol.DomainRet{Dom: toWire(d)}, nil
}

// Lists and lookups.

func listAll(ctx context.Context, r *request, flags drivers.ListFlags) ([]drivers.Domain, error) {
	c, err := need[drivers.DomainLister](r)
	if err != nil {
		return nil, err
	}
	if bad := flags.Unsupported(); bad != 0 {
		return nil, drivers.Errorf(drivers.ErrInvalidArg, drivers.FromDomain,
			"unsupported flags (0x%x) in function %s", uint32(bad), r.api)
	}
	return c.ConnectListAllDomains(ctx, flags)
}

func listAllDomains(ctx context.Context, r *request, a *protocol.ConnectListAllDomainsArgs) (any, error) {
	doms, err := listAll(ctx, r, drivers.ListFlags(a.Flags))
	if err != nil {
		return nil, err
	}
	if len(doms) > protocol.RemoteDomainListMax {
		return nil, drivers.Errorf(drivers.ErrInternalError, drivers.FromRPC,
			"too many domains (%d) for one reply; the protocol allows %d", len(doms), protocol.RemoteDomainListMax)
	}
	ret := &protocol.ConnectListAllDomainsRet{Ret: uint32(len(doms))}
	if a.NeedResults != 0 {
		ret.Domains = make([]protocol.Domain, len(doms))
		for i, d := range doms {
			ret.Domains[i] = toWire(d)
		}
	}
	return ret, nil
}

func numOfDomains(ctx context.Context, r *request, _ *void) (any, error) {
	doms, err := listAll(ctx, r, drivers.ListActive)
	return &protocol.IntRet{Ret: int32(len(doms))}, err
}

func listDomains(ctx context.Context, r *request, a *protocol.ConnectListDomainsArgs) (any, error) {
	if a.MaxIDs < 0 || a.MaxIDs > protocol.RemoteDomainListMax {
		return nil, drivers.Errorf(drivers.ErrRPC, drivers.FromRPC, "maxids %d must be in [0, %d]", a.MaxIDs, protocol.RemoteDomainListMax)
	}
	doms, err := listAll(ctx, r, drivers.ListActive)
	if err != nil {
		return nil, err
	}
	ret := &protocol.ConnectListDomainsRet{IDs: []int32{}}
	for _, d := range doms[:min(len(doms), int(a.MaxIDs))] {
		ret.IDs = append(ret.IDs, d.ID)
	}
	return ret, nil
}

func numOfDefinedDomains(ctx context.Context, r *request, _ *void) (any, error) {
	doms, err := listAll(ctx, r, drivers.ListInactive)
	return &protocol.IntRet{Ret: int32(len(doms))}, err
}

func listDefinedDomains(ctx context.Context, r *request, a *protocol.ConnectListDefinedDomainsArgs) (any, error) {
	if a.MaxNames < 0 || a.MaxNames > protocol.RemoteDomainListMax {
		return nil, drivers.Errorf(drivers.ErrRPC, drivers.FromRPC, "maxnames %d must be in [0, %d]", a.MaxNames, protocol.RemoteDomainListMax)
	}
	doms, err := listAll(ctx, r, drivers.ListInactive)
	if err != nil {
		return nil, err
	}
	ret := &protocol.ConnectListDefinedDomainsRet{Names: []string{}}
	for _, d := range doms[:min(len(doms), int(a.MaxNames))] {
		ret.Names = append(ret.Names, d.Name)
	}
	return ret, nil
}

func lookupByID(ctx context.Context, r *request, a *protocol.DomainLookupByIDArgs) (any, error) {
	c, err := need[drivers.DomainLookup](r)
	if err != nil {
		return nil, err
	}
	return domainRet(c.DomainLookupByID(ctx, a.ID))
}

func lookupByName(ctx context.Context, r *request, a *protocol.DomainLookupByNameArgs) (any, error) {
	c, err := need[drivers.DomainLookup](r)
	if err != nil {
		return nil, err
	}
	return domainRet(c.DomainLookupByName(ctx, a.Name))
}

func lookupByUUID(ctx context.Context, r *request, a *protocol.DomainLookupByUUIDArgs) (any, error) {
	c, err := need[drivers.DomainLookup](r)
	if err != nil {
		return nil, err
	}
	return domainRet(c.DomainLookupByUUID(ctx, drivers.UUID(a.UUID)))
}

// Information.

func domainGetInfo(ctx context.Context, r *request, a *protocol.DomainArgs) (any, error) {
	c, err := need[drivers.DomainInspector](r)
	if err != nil {
		return nil, err
	}
	info, err := c.DomainGetInfo(ctx, fromWire(a.Dom))
	if err != nil {
		return nil, err
	}
	return &protocol.DomainGetInfoRet{
		State: uint8(info.State), MaxMem: info.MaxMem, Memory: info.Memory,
		NrVirtCPU: info.NrVirtCPU, CPUTime: info.CPUTime,
	}, nil
}

func domainGetState(ctx context.Context, r *request, a *protocol.DomainFlagsArgs) (any, error) {
	c, err := need[drivers.DomainInspector](r)
	if err != nil {
		return nil, err
	}
	state, reason, err := c.DomainGetState(ctx, fromWire(a.Dom), a.Flags)
	if err != nil {
		return nil, err
	}
	return &protocol.DomainGetStateRet{State: int32(state), Reason: reason}, nil
}

func domainGetOSType(ctx context.Context, r *request, a *protocol.DomainArgs) (any, error) {
	c, err := need[drivers.DomainInspector](r)
	if err != nil {
		return nil, err
	}
	t, err := c.DomainGetOSType(ctx, fromWire(a.Dom))
	return &protocol.DomainGetOSTypeRet{Type: t}, err
}

func domainGetXMLDesc(ctx context.Context, r *request, a *protocol.DomainFlagsArgs) (any, error) {
	c, err := need[drivers.DomainInspector](r)
	if err != nil {
		return nil, err
	}
	if a.Flags&drivers.XMLSecure != 0 && r.s.isReadOnly() {
		return nil, drivers.Errorf(drivers.ErrOperationDenied, drivers.FromDomain, "virDomainGetXMLDesc with secure flag")
	}
	xml, err := c.DomainGetXMLDesc(ctx, fromWire(a.Dom), a.Flags)
	return &protocol.DomainGetXMLDescRet{XML: xml}, err
}

func domainIsActive(ctx context.Context, r *request, a *protocol.DomainArgs) (any, error) {
	c, err := need[drivers.DomainInspector](r)
	if err != nil {
		return nil, err
	}
	return boolRet(c.DomainIsActive(ctx, fromWire(a.Dom)))
}

func domainIsPersistent(ctx context.Context, r *request, a *protocol.DomainArgs) (any, error) {
	c, err := need[drivers.DomainInspector](r)
	if err != nil {
		return nil, err
	}
	return boolRet(c.DomainIsPersistent(ctx, fromWire(a.Dom)))
}

func domainGetAutostart(ctx context.Context, r *request, a *protocol.DomainArgs) (any, error) {
	c, err := need[drivers.DomainAutostarter](r)
	if err != nil {
		return nil, err
	}
	return boolRet(c.DomainGetAutostart(ctx, fromWire(a.Dom)))
}

func domainSetAutostart(ctx context.Context, r *request, a *protocol.DomainSetAutostartArgs) (any, error) {
	c, err := need[drivers.DomainAutostarter](r)
	if err != nil {
		return nil, err
	}
	return nil, c.DomainSetAutostart(ctx, fromWire(a.Dom), a.Autostart != 0)
}

func domainHasManagedSaveImage(ctx context.Context, r *request, a *protocol.DomainFlagsArgs) (any, error) {
	c, err := need[drivers.DomainManagedSaver](r)
	if err != nil {
		return nil, err
	}
	return boolRet(c.DomainHasManagedSaveImage(ctx, fromWire(a.Dom), a.Flags))
}

func domainSnapshotNum(ctx context.Context, r *request, a *protocol.DomainFlagsArgs) (any, error) {
	c, err := need[drivers.DomainSnapshotCounter](r)
	if err != nil {
		return nil, err
	}
	n, err := c.DomainSnapshotNum(ctx, fromWire(a.Dom), a.Flags)
	return &protocol.IntRet{Ret: int32(n)}, err
}

// Definitions.

func domainDefineXML(ctx context.Context, r *request, a *protocol.DomainDefineXMLArgs) (any, error) {
	return domainDefineXMLFlags(ctx, r, &protocol.DomainDefineXMLFlagsArgs{XML: a.XML})
}

func domainDefineXMLFlags(ctx context.Context, r *request, a *protocol.DomainDefineXMLFlagsArgs) (any, error) {
	c, err := need[drivers.DomainDefiner](r)
	if err != nil {
		return nil, err
	}
	return domainRet(c.DomainDefineXML(ctx, a.XML, a.Flags))
}

func domainUndefine(ctx context.Context, r *request, a *protocol.DomainArgs) (any, error) {
	return domainUndefineFlags(ctx, r, &protocol.DomainFlagsArgs{Dom: a.Dom})
}

func domainUndefineFlags(ctx context.Context, r *request, a *protocol.DomainFlagsArgs) (any, error) {
	c, err := need[drivers.DomainDefiner](r)
	if err != nil {
		return nil, err
	}
	return nil, c.DomainUndefine(ctx, fromWire(a.Dom), a.Flags)
}

// Lifecycle.

func domainCreate(ctx context.Context, r *request, a *protocol.DomainArgs) (any, error) {
	_, err := domainCreateWithFlags(ctx, r, &protocol.DomainFlagsArgs{Dom: a.Dom})
	return nil, err
}

func domainCreateWithFlags(ctx context.Context, r *request, a *protocol.DomainFlagsArgs) (any, error) {
	c, err := need[drivers.DomainLifecycle](r)
	if err != nil {
		return nil, err
	}
	return domainRet(c.DomainCreate(ctx, fromWire(a.Dom), a.Flags))
}

func domainCreateXML(ctx context.Context, r *request, a *protocol.DomainCreateXMLArgs) (any, error) {
	c, err := need[drivers.DomainLifecycle](r)
	if err != nil {
		return nil, err
	}
	return domainRet(c.DomainCreateXML(ctx, a.XMLDesc, a.Flags))
}

func domainDestroy(ctx context.Context, r *request, a *protocol.DomainArgs) (any, error) {
	return domainDestroyFlags(ctx, r, &protocol.DomainFlagsArgs{Dom: a.Dom})
}

func domainDestroyFlags(ctx context.Context, r *request, a *protocol.DomainFlagsArgs) (any, error) {
	c, err := need[drivers.DomainLifecycle](r)
	if err != nil {
		return nil, err
	}
	return nil, c.DomainDestroy(ctx, fromWire(a.Dom), a.Flags)
}

func domainShutdown(ctx context.Context, r *request, a *protocol.DomainArgs) (any, error) {
	return domainShutdownFlags(ctx, r, &protocol.DomainFlagsArgs{Dom: a.Dom})
}

func domainShutdownFlags(ctx context.Context, r *request, a *protocol.DomainFlagsArgs) (any, error) {
	c, err := need[drivers.DomainLifecycle](r)
	if err != nil {
		return nil, err
	}
	return nil, c.DomainShutdown(ctx, fromWire(a.Dom), a.Flags)
}

func domainReboot(ctx context.Context, r *request, a *protocol.DomainFlagsArgs) (any, error) {
	c, err := need[drivers.DomainLifecycle](r)
	if err != nil {
		return nil, err
	}
	return nil, c.DomainReboot(ctx, fromWire(a.Dom), a.Flags)
}

func domainSuspend(ctx context.Context, r *request, a *protocol.DomainArgs) (any, error) {
	c, err := need[drivers.DomainLifecycle](r)
	if err != nil {
		return nil, err
	}
	return nil, c.DomainSuspend(ctx, fromWire(a.Dom))
}

func domainResume(ctx context.Context, r *request, a *protocol.DomainArgs) (any, error) {
	c, err := need[drivers.DomainLifecycle](r)
	if err != nil {
		return nil, err
	}
	return nil, c.DomainResume(ctx, fromWire(a.Dom))
}

// absPath refuses a relative path: the daemon's working directory means
// nothing to the client (libvirt's clients send absolute paths).
func absPath(what, p string) error {
	if !filepath.IsAbs(p) {
		return drivers.Errorf(drivers.ErrInvalidArg, drivers.FromDomain, "%s path %q must be absolute", what, p)
	}
	return nil
}

func optString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func domainSave(ctx context.Context, r *request, a *protocol.DomainSaveArgs) (any, error) {
	return domainSaveFlags(ctx, r, &protocol.DomainSaveFlagsArgs{Dom: a.Dom, To: a.To})
}

func domainSaveFlags(ctx context.Context, r *request, a *protocol.DomainSaveFlagsArgs) (any, error) {
	c, err := need[drivers.DomainSaver](r)
	if err != nil {
		return nil, err
	}
	if err := absPath("save image", a.To); err != nil {
		return nil, err
	}
	return nil, c.DomainSave(ctx, fromWire(a.Dom), a.To, optString(a.DXML), a.Flags)
}

func domainRestore(ctx context.Context, r *request, a *protocol.DomainRestoreArgs) (any, error) {
	return domainRestoreFlags(ctx, r, &protocol.DomainRestoreFlagsArgs{From: a.From})
}

func domainRestoreFlags(ctx context.Context, r *request, a *protocol.DomainRestoreFlagsArgs) (any, error) {
	c, err := need[drivers.DomainSaver](r)
	if err != nil {
		return nil, err
	}
	if err := absPath("save image", a.From); err != nil {
		return nil, err
	}
	return nil, c.DomainRestore(ctx, a.From, optString(a.DXML), a.Flags)
}
