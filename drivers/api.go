// Package drivers is govirtd's internal driver API: what a hypervisor
// driver offers, as small interfaces that mirror libvirt's public API one
// for one, plus the typed errors, the event types and the callback list
// every driver embeds, and the registry that picks a driver by URI.
//
// A connection (Conn) implements the interfaces of what its driver can
// do; an operation whose interface it lacks is answered vir.ErrNoSupport by
// the caller, never by a stub.
package drivers

import (
	"context"
	"net/url"

	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// Driver opens connections for the URIs it owns (virConnectDriver).
type Driver interface {
	// Name is the driver's name in logs ("test", "QEMU", "Xen").
	Name() string
	// Open returns a connection for uri, or ErrDeclined if the URI is
	// another driver's. flags are virConnectFlags.
	Open(ctx context.Context, uri *url.URL, flags uint32) (Conn, error)
}

// ErrDeclined is returned by Driver.Open for a URI that is not its own.
var ErrDeclined = declined{}

type declined struct{}

func (declined) Error() string { return "URI not handled by this driver" }

// Conn is one open connection to a driver (virConnectPtr). Close releases
// it, and with it every event callback registered through it.
type Conn interface {
	Close() error
}

// ConnectInfo answers questions about the connection and its hypervisor.
type ConnectInfo interface {
	ConnectGetType(ctx context.Context) (string, error)
	// ConnectGetVersion is the hypervisor version, major*1e6+minor*1e3+micro.
	ConnectGetVersion(ctx context.Context) (uint64, error)
	ConnectGetHostname(ctx context.Context) (string, error)
	ConnectGetCapabilities(ctx context.Context) (string, error)
}

// Immediate is implemented by a connection some of whose operations
// never block (an in-memory driver's, or lookups of a driver's cached
// state): Immediate reports, by remote procedure, those the daemon may
// run on the client's reader goroutine, saving a goroutine handoff per
// call. An operation that may wait — on a disk, a process, a job, a lock
// held across I/O — must answer false.
type Immediate interface {
	Immediate(proc protocol.Procedure) bool
}

// StateQueries are the procedures that only read a driver's connection
// facts, domain list and domain state, and register event callbacks:
// libvirt runs them without a job. A driver whose state is in memory
// under a lock never held across I/O may declare them Immediate.
var StateQueries = []protocol.Procedure{
	protocol.ProcConnectGetType, protocol.ProcConnectGetVersion,
	protocol.ProcConnectGetHostname, protocol.ProcConnectGetURI,
	protocol.ProcConnectListAllDomains, protocol.ProcConnectNumOfDomains,
	protocol.ProcConnectListDomains, protocol.ProcConnectNumOfDefinedDomains,
	protocol.ProcConnectListDefinedDomains,
	protocol.ProcDomainLookupByID, protocol.ProcDomainLookupByName, protocol.ProcDomainLookupByUUID,
	protocol.ProcDomainGetState, protocol.ProcDomainGetOSType,
	protocol.ProcDomainIsActive, protocol.ProcDomainIsPersistent, protocol.ProcDomainGetAutostart,
	protocol.ProcConnectDomainEventRegister, protocol.ProcConnectDomainEventDeregister,
	protocol.ProcConnectDomainEventRegisterAny, protocol.ProcConnectDomainEventDeregisterAny,
	protocol.ProcConnectDomainEventCallbackRegisterAny, protocol.ProcConnectDomainEventCallbackDeregisterAny,
}

// ProcSet is a set of procedures made of lists.
func ProcSet(lists ...[]protocol.Procedure) map[protocol.Procedure]bool {
	set := map[protocol.Procedure]bool{}
	for _, l := range lists {
		for _, p := range l {
			set[p] = true
		}
	}
	return set
}

// URIGetter answers the connection's canonical URI (virConnectGetURI), as
// the driver would spell it: what a client that let the daemon probe
// learns it is connected to.
type URIGetter interface {
	ConnectGetURI(ctx context.Context) (string, error)
}

// NodeInfoGetter describes the host.
type NodeInfoGetter interface {
	NodeGetInfo(ctx context.Context) (NodeInfo, error)
}

// DomainLookup finds one domain. A miss is vir.ErrNoDomain.
type DomainLookup interface {
	DomainLookupByID(ctx context.Context, id int32) (Domain, error)
	DomainLookupByName(ctx context.Context, name string) (Domain, error)
	DomainLookupByUUID(ctx context.Context, uuid UUID) (Domain, error)
}

// DomainLister lists domains (virConnectListAllDomains); the daemon
// derives the older list calls from it.
type DomainLister interface {
	ConnectListAllDomains(ctx context.Context, flags vir.ConnectListAllDomainsFlags) ([]Domain, error)
}

// DomainDefiner manages persistent definitions.
type DomainDefiner interface {
	DomainDefineXML(ctx context.Context, xml string, flags uint32) (Domain, error)
	DomainUndefine(ctx context.Context, dom Domain, flags uint32) error
}

// DomainLifecycle starts, stops and pauses domains.
type DomainLifecycle interface {
	// DomainCreate starts a defined domain; flags are virDomainCreateFlags.
	DomainCreate(ctx context.Context, dom Domain, flags uint32) (Domain, error)
	// DomainCreateXML starts a transient domain.
	DomainCreateXML(ctx context.Context, xml string, flags uint32) (Domain, error)
	DomainDestroy(ctx context.Context, dom Domain, flags uint32) error
	DomainShutdown(ctx context.Context, dom Domain, flags uint32) error
	DomainReboot(ctx context.Context, dom Domain, flags uint32) error
	DomainSuspend(ctx context.Context, dom Domain) error
	DomainResume(ctx context.Context, dom Domain) error
}

// DomainSaver saves a running domain's memory to a file and restores it.
type DomainSaver interface {
	DomainSave(ctx context.Context, dom Domain, to string, dxml string, flags uint32) error
	DomainRestore(ctx context.Context, from string, dxml string, flags uint32) error
}

// DomainInspector reads a domain's state and definition.
type DomainInspector interface {
	DomainGetInfo(ctx context.Context, dom Domain) (DomainInfo, error)
	// DomainGetState returns the state and its reason.
	DomainGetState(ctx context.Context, dom Domain, flags uint32) (vir.DomainState, int32, error)
	DomainGetOSType(ctx context.Context, dom Domain) (string, error)
	DomainGetXMLDesc(ctx context.Context, dom Domain, flags uint32) (string, error)
	DomainIsActive(ctx context.Context, dom Domain) (bool, error)
	DomainIsPersistent(ctx context.Context, dom Domain) (bool, error)
}

// DomainAutostarter reads and sets the autostart flag.
type DomainAutostarter interface {
	DomainGetAutostart(ctx context.Context, dom Domain) (bool, error)
	DomainSetAutostart(ctx context.Context, dom Domain, autostart bool) error
}

// DomainManagedSaver answers whether a managed save image exists.
type DomainManagedSaver interface {
	DomainHasManagedSaveImage(ctx context.Context, dom Domain, flags uint32) (bool, error)
}

// DomainSnapshotCounter counts a domain's snapshots.
type DomainSnapshotCounter interface {
	DomainSnapshotNum(ctx context.Context, dom Domain, flags uint32) (int, error)
}

// DomainEvents registers callbacks for domain events raised by the
// driver (virConnectDomainEventRegisterAny). dom, when not nil, limits a
// callback to that domain's events.
type DomainEvents interface {
	ConnectDomainEventRegisterAny(ctx context.Context, dom *Domain, eventID vir.DomainEventID, cb EventCallback) (int, error)
	ConnectDomainEventDeregisterAny(ctx context.Context, callbackID int) error
}

// Network names a virtual network as virNetworkPtr does.
type Network = protocol.Network

// ListedBy reports whether an object active, persistent and autostarted
// as given passes flags, virConnectListAllNetworks's filter (its first
// six flags are virConnectListAllStoragePools's too): groups are ANDed,
// and a group with no flag set does not filter.
func ListedBy(flags vir.ConnectListAllNetworksFlags, active, persistent, autostart bool) bool {
	group := func(yes, no vir.ConnectListAllNetworksFlags, v bool) bool {
		return flags&(yes|no) == 0 || (v && flags&yes != 0) || (!v && flags&no != 0)
	}
	return group(vir.ConnectListNetworksActive, vir.ConnectListNetworksInactive, active) &&
		group(vir.ConnectListNetworksPersistent, vir.ConnectListNetworksTransient, persistent) &&
		group(vir.ConnectListNetworksAutostart, vir.ConnectListNetworksNoAutostart, autostart)
}

// NetworkLister lists virtual networks (virConnectListAllNetworks); a
// connection whose network concern lacks it answers vir.ErrNoSupport.
type NetworkLister interface {
	ConnectListAllNetworks(ctx context.Context, flags vir.ConnectListAllNetworksFlags) ([]Network, error)
}
