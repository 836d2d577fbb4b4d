package daemon

import (
	"context"
	"path/filepath"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// boolInt is a boolean as the protocol sends it.
func boolInt(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// Lists and lookups.

func listAll(ctx context.Context, r *request, flags vir.ConnectListAllDomainsFlags) ([]drivers.Domain, error) {
	c, err := need[drivers.DomainLister](r)
	if err != nil {
		return nil, err
	}
	if bad := drivers.UnsupportedListFlags(flags); bad != 0 {
		return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromDomain,
			"unsupported flags (0x%x) in function %s", uint32(bad), r.api)
	}
	return c.ConnectListAllDomains(ctx, flags)
}

func listAllDomains(ctx context.Context, r *request, a *protocol.ConnectListAllDomainsArgs) (*protocol.ConnectListAllDomainsRet, error) {
	doms, err := listAll(ctx, r, vir.ConnectListAllDomainsFlags(a.Flags))
	if err != nil {
		return nil, err
	}
	if len(doms) > protocol.RemoteDomainListMax {
		return nil, drivers.Errorf(vir.ErrInternalError, vir.FromRPC,
			"too many domains (%d) for one reply; the protocol allows %d", len(doms), protocol.RemoteDomainListMax)
	}
	ret := &protocol.ConnectListAllDomainsRet{Ret: uint32(len(doms))}
	if a.NeedResults != 0 {
		ret.Domains = doms // the driver API's domains are the wire's
	}
	return ret, nil
}

func numOfDomains(ctx context.Context, r *request) (*protocol.ConnectNumOfDomainsRet, error) {
	doms, err := listAll(ctx, r, vir.ConnectListDomainsActive)
	return &protocol.ConnectNumOfDomainsRet{Num: int32(len(doms))}, err
}

func listDomains(ctx context.Context, r *request, a *protocol.ConnectListDomainsArgs) (*protocol.ConnectListDomainsRet, error) {
	if a.Maxids < 0 || a.Maxids > protocol.RemoteDomainListMax {
		return nil, drivers.Errorf(vir.ErrRPC, vir.FromRPC, "maxids %d must be in [0, %d]", a.Maxids, protocol.RemoteDomainListMax)
	}
	doms, err := listAll(ctx, r, vir.ConnectListDomainsActive)
	if err != nil {
		return nil, err
	}
	ret := &protocol.ConnectListDomainsRet{IDs: []int32{}}
	for _, d := range doms[:min(len(doms), int(a.Maxids))] {
		ret.IDs = append(ret.IDs, d.ID)
	}
	return ret, nil
}

func numOfDefinedDomains(ctx context.Context, r *request) (*protocol.ConnectNumOfDefinedDomainsRet, error) {
	doms, err := listAll(ctx, r, vir.ConnectListDomainsInactive)
	return &protocol.ConnectNumOfDefinedDomainsRet{Num: int32(len(doms))}, err
}

func listDefinedDomains(ctx context.Context, r *request, a *protocol.ConnectListDefinedDomainsArgs) (*protocol.ConnectListDefinedDomainsRet, error) {
	if a.Maxnames < 0 || a.Maxnames > protocol.RemoteDomainListMax {
		return nil, drivers.Errorf(vir.ErrRPC, vir.FromRPC, "maxnames %d must be in [0, %d]", a.Maxnames, protocol.RemoteDomainListMax)
	}
	doms, err := listAll(ctx, r, vir.ConnectListDomainsInactive)
	if err != nil {
		return nil, err
	}
	ret := &protocol.ConnectListDefinedDomainsRet{Names: []string{}}
	for _, d := range doms[:min(len(doms), int(a.Maxnames))] {
		ret.Names = append(ret.Names, d.Name)
	}
	return ret, nil
}

func lookupByID(ctx context.Context, r *request, a *protocol.DomainLookupByIDArgs) (*protocol.DomainLookupByIDRet, error) {
	c, err := need[drivers.DomainLookup](r)
	if err != nil {
		return nil, err
	}
	d, err := c.DomainLookupByID(ctx, a.ID)
	return &protocol.DomainLookupByIDRet{Dom: d}, err
}

func lookupByName(ctx context.Context, r *request, a *protocol.DomainLookupByNameArgs) (*protocol.DomainLookupByNameRet, error) {
	c, err := need[drivers.DomainLookup](r)
	if err != nil {
		return nil, err
	}
	d, err := c.DomainLookupByName(ctx, a.Name)
	return &protocol.DomainLookupByNameRet{Dom: d}, err
}

func lookupByUUID(ctx context.Context, r *request, a *protocol.DomainLookupByUUIDArgs) (*protocol.DomainLookupByUUIDRet, error) {
	c, err := need[drivers.DomainLookup](r)
	if err != nil {
		return nil, err
	}
	d, err := c.DomainLookupByUUID(ctx, a.UUID)
	return &protocol.DomainLookupByUUIDRet{Dom: d}, err
}

// Information.

func domainGetInfo(ctx context.Context, r *request, a *protocol.DomainGetInfoArgs) (*protocol.DomainGetInfoRet, error) {
	c, err := need[drivers.DomainInspector](r)
	if err != nil {
		return nil, err
	}
	info, err := c.DomainGetInfo(ctx, a.Dom)
	if err != nil {
		return nil, err
	}
	return &protocol.DomainGetInfoRet{
		State: uint8(info.State), MaxMem: info.MaxMem, Memory: info.Memory,
		NrVirtCPU: info.NrVirtCPU, CPUTime: info.CPUTime,
	}, nil
}

func domainGetState(ctx context.Context, r *request, a *protocol.DomainGetStateArgs) (*protocol.DomainGetStateRet, error) {
	c, err := need[drivers.DomainInspector](r)
	if err != nil {
		return nil, err
	}
	state, reason, err := c.DomainGetState(ctx, a.Dom, a.Flags)
	if err != nil {
		return nil, err
	}
	return &protocol.DomainGetStateRet{State: int32(state), Reason: reason}, nil
}

func domainGetOSType(ctx context.Context, r *request, a *protocol.DomainGetOSTypeArgs) (*protocol.DomainGetOSTypeRet, error) {
	c, err := need[drivers.DomainInspector](r)
	if err != nil {
		return nil, err
	}
	t, err := c.DomainGetOSType(ctx, a.Dom)
	return &protocol.DomainGetOSTypeRet{Type: t}, err
}

func domainGetXMLDesc(ctx context.Context, r *request, a *protocol.DomainGetXMLDescArgs) (*protocol.DomainGetXMLDescRet, error) {
	c, err := need[drivers.DomainInspector](r)
	if err != nil {
		return nil, err
	}
	xml, err := c.DomainGetXMLDesc(ctx, a.Dom, a.Flags)
	return &protocol.DomainGetXMLDescRet{XML: xml}, err
}

func domainIsActive(ctx context.Context, r *request, a *protocol.DomainIsActiveArgs) (*protocol.DomainIsActiveRet, error) {
	c, err := need[drivers.DomainInspector](r)
	if err != nil {
		return nil, err
	}
	b, err := c.DomainIsActive(ctx, a.Dom)
	return &protocol.DomainIsActiveRet{Active: boolInt(b)}, err
}

func domainIsPersistent(ctx context.Context, r *request, a *protocol.DomainIsPersistentArgs) (*protocol.DomainIsPersistentRet, error) {
	c, err := need[drivers.DomainInspector](r)
	if err != nil {
		return nil, err
	}
	b, err := c.DomainIsPersistent(ctx, a.Dom)
	return &protocol.DomainIsPersistentRet{Persistent: boolInt(b)}, err
}

func domainGetAutostart(ctx context.Context, r *request, a *protocol.DomainGetAutostartArgs) (*protocol.DomainGetAutostartRet, error) {
	c, err := need[drivers.DomainAutostarter](r)
	if err != nil {
		return nil, err
	}
	b, err := c.DomainGetAutostart(ctx, a.Dom)
	return &protocol.DomainGetAutostartRet{Autostart: boolInt(b)}, err
}

func domainSetAutostart(ctx context.Context, r *request, a *protocol.DomainSetAutostartArgs) error {
	c, err := need[drivers.DomainAutostarter](r)
	if err != nil {
		return err
	}
	return c.DomainSetAutostart(ctx, a.Dom, a.Autostart != 0)
}

func domainHasManagedSaveImage(ctx context.Context, r *request, a *protocol.DomainHasManagedSaveImageArgs) (*protocol.DomainHasManagedSaveImageRet, error) {
	c, err := need[drivers.DomainManagedSaver](r)
	if err != nil {
		return nil, err
	}
	b, err := c.DomainHasManagedSaveImage(ctx, a.Dom, a.Flags)
	return &protocol.DomainHasManagedSaveImageRet{Result: boolInt(b)}, err
}

func domainSnapshotNum(ctx context.Context, r *request, a *protocol.DomainSnapshotNumArgs) (*protocol.DomainSnapshotNumRet, error) {
	c, err := need[drivers.DomainSnapshotCounter](r)
	if err != nil {
		return nil, err
	}
	n, err := c.DomainSnapshotNum(ctx, a.Dom, a.Flags)
	return &protocol.DomainSnapshotNumRet{Num: int32(n)}, err
}

// Definitions.

func domainDefineXML(ctx context.Context, r *request, a *protocol.DomainDefineXMLArgs) (*protocol.DomainDefineXMLRet, error) {
	ret, err := domainDefineXMLFlags(ctx, r, &protocol.DomainDefineXMLFlagsArgs{XML: a.XML})
	if err != nil {
		return nil, err
	}
	return &protocol.DomainDefineXMLRet{Dom: ret.Dom}, nil
}

func domainDefineXMLFlags(ctx context.Context, r *request, a *protocol.DomainDefineXMLFlagsArgs) (*protocol.DomainDefineXMLFlagsRet, error) {
	c, err := need[drivers.DomainDefiner](r)
	if err != nil {
		return nil, err
	}
	d, err := c.DomainDefineXML(ctx, a.XML, a.Flags)
	return &protocol.DomainDefineXMLFlagsRet{Dom: d}, err
}

func domainUndefine(ctx context.Context, r *request, a *protocol.DomainUndefineArgs) error {
	return domainUndefineFlags(ctx, r, &protocol.DomainUndefineFlagsArgs{Dom: a.Dom})
}

func domainUndefineFlags(ctx context.Context, r *request, a *protocol.DomainUndefineFlagsArgs) error {
	c, err := need[drivers.DomainDefiner](r)
	if err != nil {
		return err
	}
	return c.DomainUndefine(ctx, a.Dom, a.Flags)
}

// Lifecycle.

func domainCreate(ctx context.Context, r *request, a *protocol.DomainCreateArgs) error {
	_, err := domainCreateWithFlags(ctx, r, &protocol.DomainCreateWithFlagsArgs{Dom: a.Dom})
	return err
}

func domainCreateWithFlags(ctx context.Context, r *request, a *protocol.DomainCreateWithFlagsArgs) (*protocol.DomainCreateWithFlagsRet, error) {
	c, err := need[drivers.DomainLifecycle](r)
	if err != nil {
		return nil, err
	}
	d, err := c.DomainCreate(ctx, a.Dom, a.Flags)
	return &protocol.DomainCreateWithFlagsRet{Dom: d}, err
}

func domainCreateXML(ctx context.Context, r *request, a *protocol.DomainCreateXMLArgs) (*protocol.DomainCreateXMLRet, error) {
	c, err := need[drivers.DomainLifecycle](r)
	if err != nil {
		return nil, err
	}
	d, err := c.DomainCreateXML(ctx, a.XMLDesc, a.Flags)
	return &protocol.DomainCreateXMLRet{Dom: d}, err
}

func domainDestroy(ctx context.Context, r *request, a *protocol.DomainDestroyArgs) error {
	return domainDestroyFlags(ctx, r, &protocol.DomainDestroyFlagsArgs{Dom: a.Dom})
}

func domainDestroyFlags(ctx context.Context, r *request, a *protocol.DomainDestroyFlagsArgs) error {
	c, err := need[drivers.DomainLifecycle](r)
	if err != nil {
		return err
	}
	return c.DomainDestroy(ctx, a.Dom, a.Flags)
}

func domainShutdown(ctx context.Context, r *request, a *protocol.DomainShutdownArgs) error {
	return domainShutdownFlags(ctx, r, &protocol.DomainShutdownFlagsArgs{Dom: a.Dom})
}

func domainShutdownFlags(ctx context.Context, r *request, a *protocol.DomainShutdownFlagsArgs) error {
	c, err := need[drivers.DomainLifecycle](r)
	if err != nil {
		return err
	}
	return c.DomainShutdown(ctx, a.Dom, a.Flags)
}

func domainReboot(ctx context.Context, r *request, a *protocol.DomainRebootArgs) error {
	c, err := need[drivers.DomainLifecycle](r)
	if err != nil {
		return err
	}
	return c.DomainReboot(ctx, a.Dom, a.Flags)
}

func domainSuspend(ctx context.Context, r *request, a *protocol.DomainSuspendArgs) error {
	c, err := need[drivers.DomainLifecycle](r)
	if err != nil {
		return err
	}
	return c.DomainSuspend(ctx, a.Dom)
}

func domainResume(ctx context.Context, r *request, a *protocol.DomainResumeArgs) error {
	c, err := need[drivers.DomainLifecycle](r)
	if err != nil {
		return err
	}
	return c.DomainResume(ctx, a.Dom)
}

// absPath refuses a relative path: the daemon's working directory means
// nothing to the client (libvirt's clients send absolute paths).
func absPath(what, p string) error {
	if !filepath.IsAbs(p) {
		return drivers.Errorf(vir.ErrInvalidArg, vir.FromDomain, "%s path %q must be absolute", what, p)
	}
	return nil
}

func optString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func domainSave(ctx context.Context, r *request, a *protocol.DomainSaveArgs) error {
	return domainSaveFlags(ctx, r, &protocol.DomainSaveFlagsArgs{Dom: a.Dom, To: a.To})
}

func domainSaveFlags(ctx context.Context, r *request, a *protocol.DomainSaveFlagsArgs) error {
	c, err := need[drivers.DomainSaver](r)
	if err != nil {
		return err
	}
	if err := absPath("save image", a.To); err != nil {
		return err
	}
	return c.DomainSave(ctx, a.Dom, a.To, optString(a.Dxml), a.Flags)
}

func domainRestore(ctx context.Context, r *request, a *protocol.DomainRestoreArgs) error {
	return domainRestoreFlags(ctx, r, &protocol.DomainRestoreFlagsArgs{From: a.From})
}

func domainRestoreFlags(ctx context.Context, r *request, a *protocol.DomainRestoreFlagsArgs) error {
	c, err := need[drivers.DomainSaver](r)
	if err != nil {
		return err
	}
	if err := absPath("save image", a.From); err != nil {
		return err
	}
	return c.DomainRestore(ctx, a.From, optString(a.Dxml), a.Flags)
}
