package remote

import (
	"context"
	"path/filepath"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// The methods below are the public API, with the names and signatures of
// the driver API's interfaces (Conn satisfies them all).

// Each method decodes its procedure's own generated Ret type: the wire
// shape of a return is the generator's to know, not this file's.

// domainOrZero is dom, or the zero Domain with err: a reply that failed
// to decode may have filled part of it.
func domainOrZero(dom Domain, err error) (Domain, error) {
	if err != nil {
		return Domain{}, err
	}
	return dom, nil
}

// Connection and host.

func (c *Conn) ConnectGetType(ctx context.Context) (string, error) {
	var ret protocol.ConnectGetTypeRet
	err := c.call(ctx, protocol.ProcConnectGetType, nil, &ret)
	return ret.Type, err
}

func (c *Conn) ConnectGetVersion(ctx context.Context) (uint64, error) {
	var ret protocol.ConnectGetVersionRet
	err := c.call(ctx, protocol.ProcConnectGetVersion, nil, &ret)
	return ret.HvVer, err
}

// ConnectGetLibVersion is the libvirt version the daemon reports.
func (c *Conn) ConnectGetLibVersion(ctx context.Context) (uint64, error) {
	var ret protocol.ConnectGetLibVersionRet
	err := c.call(ctx, protocol.ProcConnectGetLibVersion, nil, &ret)
	return ret.LibVer, err
}

func (c *Conn) ConnectGetHostname(ctx context.Context) (string, error) {
	var ret protocol.ConnectGetHostnameRet
	err := c.call(ctx, protocol.ProcConnectGetHostname, nil, &ret)
	return ret.Hostname, err
}

// ConnectGetURI is the URI the daemon opened the connection for.
func (c *Conn) ConnectGetURI(ctx context.Context) (string, error) {
	var ret protocol.ConnectGetURIRet
	err := c.call(ctx, protocol.ProcConnectGetURI, nil, &ret)
	return ret.URI, err
}

func (c *Conn) ConnectGetCapabilities(ctx context.Context) (string, error) {
	var ret protocol.ConnectGetCapabilitiesRet
	err := c.call(ctx, protocol.ProcConnectGetCapabilities, nil, &ret)
	return ret.Capabilities, err
}

func (c *Conn) NodeGetInfo(ctx context.Context) (NodeInfo, error) {
	var ret protocol.NodeGetInfoRet
	if err := c.call(ctx, protocol.ProcNodeGetInfo, nil, &ret); err != nil {
		return NodeInfo{}, err
	}
	var model []byte
	for _, ch := range ret.Model {
		if ch == 0 {
			break
		}
		model = append(model, byte(ch))
	}
	return NodeInfo{
		Model: string(model), Memory: ret.Memory, CPUs: ret.CPUs, MHz: ret.MHz,
		Nodes: ret.Nodes, Sockets: ret.Sockets, Cores: ret.Cores, Threads: ret.Threads,
	}, nil
}

// Lists and lookups.

func (c *Conn) ConnectListAllDomains(ctx context.Context, flags vir.ConnectListAllDomainsFlags) ([]Domain, error) {
	var ret protocol.ConnectListAllDomainsRet
	if err := c.call(ctx, protocol.ProcConnectListAllDomains,
		&protocol.ConnectListAllDomainsArgs{NeedResults: 1, Flags: uint32(flags)}, &ret); err != nil {
		return nil, err
	}
	return ret.Domains, nil
}

func (c *Conn) DomainLookupByID(ctx context.Context, id int32) (Domain, error) {
	var ret protocol.DomainLookupByIDRet
	err := c.call(ctx, protocol.ProcDomainLookupByID, &protocol.DomainLookupByIDArgs{ID: id}, &ret)
	return domainOrZero(ret.Dom, err)
}

func (c *Conn) DomainLookupByName(ctx context.Context, name string) (Domain, error) {
	var ret protocol.DomainLookupByNameRet
	err := c.call(ctx, protocol.ProcDomainLookupByName, &protocol.DomainLookupByNameArgs{Name: name}, &ret)
	return domainOrZero(ret.Dom, err)
}

func (c *Conn) DomainLookupByUUID(ctx context.Context, uuid UUID) (Domain, error) {
	var ret protocol.DomainLookupByUUIDRet
	err := c.call(ctx, protocol.ProcDomainLookupByUUID, &protocol.DomainLookupByUUIDArgs{UUID: uuid}, &ret)
	return domainOrZero(ret.Dom, err)
}

// Information.

func (c *Conn) DomainGetInfo(ctx context.Context, dom Domain) (DomainInfo, error) {
	var ret protocol.DomainGetInfoRet
	if err := c.call(ctx, protocol.ProcDomainGetInfo, &protocol.DomainGetInfoArgs{Dom: dom}, &ret); err != nil {
		return DomainInfo{}, err
	}
	return DomainInfo{
		State: DomainState(ret.State), MaxMem: ret.MaxMem, Memory: ret.Memory,
		NrVirtCPU: ret.NrVirtCPU, CPUTime: ret.CPUTime,
	}, nil
}

func (c *Conn) DomainGetState(ctx context.Context, dom Domain, flags uint32) (DomainState, int32, error) {
	var ret protocol.DomainGetStateRet
	err := c.call(ctx, protocol.ProcDomainGetState, &protocol.DomainGetStateArgs{Dom: dom, Flags: flags}, &ret)
	return DomainState(ret.State), ret.Reason, err
}

func (c *Conn) DomainGetOSType(ctx context.Context, dom Domain) (string, error) {
	var ret protocol.DomainGetOSTypeRet
	err := c.call(ctx, protocol.ProcDomainGetOSType, &protocol.DomainGetOSTypeArgs{Dom: dom}, &ret)
	return ret.Type, err
}

func (c *Conn) DomainGetXMLDesc(ctx context.Context, dom Domain, flags uint32) (string, error) {
	var ret protocol.DomainGetXMLDescRet
	err := c.call(ctx, protocol.ProcDomainGetXMLDesc, &protocol.DomainGetXMLDescArgs{Dom: dom, Flags: flags}, &ret)
	return ret.XML, err
}

func (c *Conn) DomainIsActive(ctx context.Context, dom Domain) (bool, error) {
	var ret protocol.DomainIsActiveRet
	err := c.call(ctx, protocol.ProcDomainIsActive, &protocol.DomainIsActiveArgs{Dom: dom}, &ret)
	return ret.Active != 0, err
}

func (c *Conn) DomainIsPersistent(ctx context.Context, dom Domain) (bool, error) {
	var ret protocol.DomainIsPersistentRet
	err := c.call(ctx, protocol.ProcDomainIsPersistent, &protocol.DomainIsPersistentArgs{Dom: dom}, &ret)
	return ret.Persistent != 0, err
}

func (c *Conn) DomainGetAutostart(ctx context.Context, dom Domain) (bool, error) {
	var ret protocol.DomainGetAutostartRet
	err := c.call(ctx, protocol.ProcDomainGetAutostart, &protocol.DomainGetAutostartArgs{Dom: dom}, &ret)
	return ret.Autostart != 0, err
}

func (c *Conn) DomainSetAutostart(ctx context.Context, dom Domain, autostart bool) error {
	a := &protocol.DomainSetAutostartArgs{Dom: dom}
	if autostart {
		a.Autostart = 1
	}
	return c.call(ctx, protocol.ProcDomainSetAutostart, a, nil)
}

func (c *Conn) DomainHasManagedSaveImage(ctx context.Context, dom Domain, flags uint32) (bool, error) {
	var ret protocol.DomainHasManagedSaveImageRet
	err := c.call(ctx, protocol.ProcDomainHasManagedSaveImage, &protocol.DomainHasManagedSaveImageArgs{Dom: dom, Flags: flags}, &ret)
	return ret.Result != 0, err
}

// Definitions and lifecycle.

func (c *Conn) DomainDefineXML(ctx context.Context, xml string, flags uint32) (Domain, error) {
	if flags == 0 {
		var ret protocol.DomainDefineXMLRet
		err := c.call(ctx, protocol.ProcDomainDefineXML, &protocol.DomainDefineXMLArgs{XML: xml}, &ret)
		return domainOrZero(ret.Dom, err)
	}
	var ret protocol.DomainDefineXMLFlagsRet
	err := c.call(ctx, protocol.ProcDomainDefineXMLFlags, &protocol.DomainDefineXMLFlagsArgs{XML: xml, Flags: flags}, &ret)
	return domainOrZero(ret.Dom, err)
}

// DomainUndefine always uses virDomainUndefineFlags, as virsh does.
func (c *Conn) DomainUndefine(ctx context.Context, dom Domain, flags uint32) error {
	return c.call(ctx, protocol.ProcDomainUndefineFlags, &protocol.DomainUndefineFlagsArgs{Dom: dom, Flags: flags}, nil)
}

// Where libvirt has an older entry point without flags (virDomainCreate,
// virDomainDestroy, ...), the methods below use it when flags are 0, as
// virsh does; the daemon names the entry point in its errors ("read only
// access prevents virDomainDestroy").

// DomainCreate starts dom and returns it with its new id.
func (c *Conn) DomainCreate(ctx context.Context, dom Domain, flags uint32) (Domain, error) {
	if flags != 0 {
		var ret protocol.DomainCreateWithFlagsRet
		err := c.call(ctx, protocol.ProcDomainCreateWithFlags, &protocol.DomainCreateWithFlagsArgs{Dom: dom, Flags: flags}, &ret)
		return domainOrZero(ret.Dom, err)
	}
	if err := c.call(ctx, protocol.ProcDomainCreate, &protocol.DomainCreateArgs{Dom: dom}, nil); err != nil {
		return Domain{}, err
	}
	// virDomainCreate's reply has no domain: look it up for its new id.
	return c.DomainLookupByUUID(ctx, dom.UUID)
}

func (c *Conn) DomainCreateXML(ctx context.Context, xml string, flags uint32) (Domain, error) {
	var ret protocol.DomainCreateXMLRet
	err := c.call(ctx, protocol.ProcDomainCreateXML, &protocol.DomainCreateXMLArgs{XMLDesc: xml, Flags: flags}, &ret)
	return domainOrZero(ret.Dom, err)
}

func (c *Conn) DomainDestroy(ctx context.Context, dom Domain, flags uint32) error {
	if flags == 0 {
		return c.call(ctx, protocol.ProcDomainDestroy, &protocol.DomainDestroyArgs{Dom: dom}, nil)
	}
	return c.call(ctx, protocol.ProcDomainDestroyFlags, &protocol.DomainDestroyFlagsArgs{Dom: dom, Flags: flags}, nil)
}

func (c *Conn) DomainShutdown(ctx context.Context, dom Domain, flags uint32) error {
	if flags == 0 {
		return c.call(ctx, protocol.ProcDomainShutdown, &protocol.DomainShutdownArgs{Dom: dom}, nil)
	}
	return c.call(ctx, protocol.ProcDomainShutdownFlags, &protocol.DomainShutdownFlagsArgs{Dom: dom, Flags: flags}, nil)
}

func (c *Conn) DomainReboot(ctx context.Context, dom Domain, flags uint32) error {
	return c.call(ctx, protocol.ProcDomainReboot, &protocol.DomainRebootArgs{Dom: dom, Flags: flags}, nil)
}

func (c *Conn) DomainSuspend(ctx context.Context, dom Domain) error {
	return c.call(ctx, protocol.ProcDomainSuspend, &protocol.DomainSuspendArgs{Dom: dom}, nil)
}

func (c *Conn) DomainResume(ctx context.Context, dom Domain) error {
	return c.call(ctx, protocol.ProcDomainResume, &protocol.DomainResumeArgs{Dom: dom}, nil)
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// DomainSave saves dom's memory to the file to (made absolute here, as
// the daemon's working directory means nothing to the caller).
func (c *Conn) DomainSave(ctx context.Context, dom Domain, to, dxml string, flags uint32) error {
	to, err := filepath.Abs(to)
	if err != nil {
		return err
	}
	if flags == 0 && dxml == "" {
		return c.call(ctx, protocol.ProcDomainSave, &protocol.DomainSaveArgs{Dom: dom, To: to}, nil)
	}
	return c.call(ctx, protocol.ProcDomainSaveFlags,
		&protocol.DomainSaveFlagsArgs{Dom: dom, To: to, Dxml: optString(dxml), Flags: flags}, nil)
}

// DomainRestore starts a domain from a file DomainSave wrote.
func (c *Conn) DomainRestore(ctx context.Context, from, dxml string, flags uint32) error {
	from, err := filepath.Abs(from)
	if err != nil {
		return err
	}
	if flags == 0 && dxml == "" {
		return c.call(ctx, protocol.ProcDomainRestore, &protocol.DomainRestoreArgs{From: from}, nil)
	}
	return c.call(ctx, protocol.ProcDomainRestoreFlags,
		&protocol.DomainRestoreFlagsArgs{From: from, Dxml: optString(dxml), Flags: flags}, nil)
}

// Conn offers the driver API; these fail to compile if it drifts.
var (
	_ drivers.ConnectInfo        = (*Conn)(nil)
	_ drivers.NodeInfoGetter     = (*Conn)(nil)
	_ drivers.DomainLookup       = (*Conn)(nil)
	_ drivers.DomainLister       = (*Conn)(nil)
	_ drivers.DomainDefiner      = (*Conn)(nil)
	_ drivers.DomainLifecycle    = (*Conn)(nil)
	_ drivers.DomainSaver        = (*Conn)(nil)
	_ drivers.DomainInspector    = (*Conn)(nil)
	_ drivers.DomainAutostarter  = (*Conn)(nil)
	_ drivers.DomainManagedSaver = (*Conn)(nil)
	_ drivers.DomainEvents       = (*Conn)(nil)
)
