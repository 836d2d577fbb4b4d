package daemon

import (
	"context"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
)

// procedure is one entry of the remote program's dispatch table.
type procedure struct {
	api      string // the public API function, named in errors
	needConn bool   // fails before CONNECT_OPEN
	mutating bool   // refused to read-only clients
	// quick procedures answer from memory without waiting for a
	// hypervisor, a job or a slow lock, as libvirt's lookups, lists and
	// state queries take no job: the transport runs them on the client's
	// reader goroutine (rpc.QuickSession), which saves two goroutine
	// handoffs per call. The driver methods they call must keep to that.
	quick  bool
	handle func(ctx context.Context, r *request, body []byte) (any, error)
}

type handlerFunc[A any] func(ctx context.Context, r *request, args *A) (any, error)

func decoded[A any](f handlerFunc[A]) func(context.Context, *request, []byte) (any, error) {
	return func(ctx context.Context, r *request, body []byte) (any, error) {
		var args A
		if err := protocol.Unmarshal(body, &args); err != nil {
			return nil, errDecode(r.proc, err)
		}
		return f(ctx, r, &args)
	}
}

// always is a procedure that works before CONNECT_OPEN.
func always[A any](api string, f handlerFunc[A]) procedure {
	return procedure{api: api, handle: decoded(f)}
}

// reader is a procedure that needs an open connection.
func reader[A any](api string, f handlerFunc[A]) procedure {
	return procedure{api: api, needConn: true, handle: decoded(f)}
}

// writer is a procedure that needs an open connection and changes state:
// read-only clients are refused.
func writer[A any](api string, f handlerFunc[A]) procedure {
	return procedure{api: api, needConn: true, mutating: true, handle: decoded(f)}
}

// quick marks p as answered from memory (see procedure.quick).
func quick(p procedure) procedure {
	p.quick = true
	return p
}

type void struct{}

// procedures is the remote program's dispatch table. A procedure not in
// it is answered "unknown procedure: N", which libvirt's clients read as
// "not supported" and fall back from.
var procedures = map[protocol.Procedure]procedure{
	protocol.ProcAuthList:                       quick(always("virConnectAuthList", authList)),
	protocol.ProcConnectSupportsFeature:         quick(always("virConnectSupportsFeature", supportsFeature)),
	protocol.ProcConnectOpen:                    always("virConnectOpen", connectOpen),
	protocol.ProcConnectClose:                   always("virConnectClose", connectClose),
	protocol.ProcConnectRegisterCloseCallback:   quick(reader("virConnectRegisterCloseCallback", registerCloseCallback)),
	protocol.ProcConnectUnregisterCloseCallback: quick(reader("virConnectUnregisterCloseCallback", unregisterCloseCallback)),
	protocol.ProcConnectGetType:                 quick(reader("virConnectGetType", connectGetType)),
	protocol.ProcConnectGetVersion:              quick(reader("virConnectGetVersion", connectGetVersion)),
	protocol.ProcConnectGetLibVersion:           quick(reader("virConnectGetLibVersion", connectGetLibVersion)),
	protocol.ProcConnectGetHostname:             quick(reader("virConnectGetHostname", connectGetHostname)),
	protocol.ProcConnectGetURI:                  quick(reader("virConnectGetURI", connectGetURI)),
	protocol.ProcConnectGetCapabilities:         reader("virConnectGetCapabilities", connectGetCapabilities),
	protocol.ProcNodeGetInfo:                    reader("virNodeGetInfo", nodeGetInfo),

	protocol.ProcConnectListAllDomains:      quick(reader("virConnectListAllDomains", listAllDomains)),
	protocol.ProcConnectNumOfDomains:        quick(reader("virConnectNumOfDomains", numOfDomains)),
	protocol.ProcConnectListDomains:         quick(reader("virConnectListDomains", listDomains)),
	protocol.ProcConnectNumOfDefinedDomains: quick(reader("virConnectNumOfDefinedDomains", numOfDefinedDomains)),
	protocol.ProcConnectListDefinedDomains:  quick(reader("virConnectListDefinedDomains", listDefinedDomains)),
	protocol.ProcDomainLookupByID:           quick(reader("virDomainLookupByID", lookupByID)),
	protocol.ProcDomainLookupByName:         quick(reader("virDomainLookupByName", lookupByName)),
	protocol.ProcDomainLookupByUUID:         quick(reader("virDomainLookupByUUID", lookupByUUID)),

	protocol.ProcDomainGetInfo:             reader("virDomainGetInfo", domainGetInfo),
	protocol.ProcDomainGetState:            quick(reader("virDomainGetState", domainGetState)),
	protocol.ProcDomainGetOSType:           quick(reader("virDomainGetOSType", domainGetOSType)),
	protocol.ProcDomainGetXMLDesc:          reader("virDomainGetXMLDesc", domainGetXMLDesc),
	protocol.ProcDomainIsActive:            quick(reader("virDomainIsActive", domainIsActive)),
	protocol.ProcDomainIsPersistent:        quick(reader("virDomainIsPersistent", domainIsPersistent)),
	protocol.ProcDomainGetAutostart:        quick(reader("virDomainGetAutostart", domainGetAutostart)),
	protocol.ProcDomainSetAutostart:        writer("virDomainSetAutostart", domainSetAutostart),
	protocol.ProcDomainHasManagedSaveImage: reader("virDomainHasManagedSaveImage", domainHasManagedSaveImage),
	protocol.ProcDomainSnapshotNum:         reader("virDomainSnapshotNum", domainSnapshotNum),

	protocol.ProcDomainDefineXML:       writer("virDomainDefineXML", domainDefineXML),
	protocol.ProcDomainDefineXMLFlags:  writer("virDomainDefineXMLFlags", domainDefineXMLFlags),
	protocol.ProcDomainUndefine:        writer("virDomainUndefine", domainUndefine),
	protocol.ProcDomainUndefineFlags:   writer("virDomainUndefineFlags", domainUndefineFlags),
	protocol.ProcDomainCreate:          writer("virDomainCreate", domainCreate),
	protocol.ProcDomainCreateWithFlags: writer("virDomainCreateWithFlags", domainCreateWithFlags),
	protocol.ProcDomainCreateXML:       writer("virDomainCreateXML", domainCreateXML),
	protocol.ProcDomainDestroy:         writer("virDomainDestroy", domainDestroy),
	protocol.ProcDomainDestroyFlags:    writer("virDomainDestroyFlags", domainDestroyFlags),
	protocol.ProcDomainShutdown:        writer("virDomainShutdown", domainShutdown),
	protocol.ProcDomainShutdownFlags:   writer("virDomainShutdownFlags", domainShutdownFlags),
	protocol.ProcDomainReboot:          writer("virDomainReboot", domainReboot),
	protocol.ProcDomainSuspend:         writer("virDomainSuspend", domainSuspend),
	protocol.ProcDomainResume:          writer("virDomainResume", domainResume),
	protocol.ProcDomainSave:            writer("virDomainSave", domainSave),
	protocol.ProcDomainSaveFlags:       writer("virDomainSaveFlags", domainSaveFlags),
	protocol.ProcDomainRestore:         writer("virDomainRestore", domainRestore),
	protocol.ProcDomainRestoreFlags:    writer("virDomainRestoreFlags", domainRestoreFlags),

	protocol.ProcConnectDomainEventCallbackRegisterAny:   quick(reader("virConnectDomainEventRegisterAny", eventCallbackRegisterAny)),
	protocol.ProcConnectDomainEventCallbackDeregisterAny: quick(reader("virConnectDomainEventDeregisterAny", eventCallbackDeregisterAny)),
	protocol.ProcConnectDomainEventRegister:              quick(reader("virConnectDomainEventRegister", eventRegister)),
	protocol.ProcConnectDomainEventDeregister:            quick(reader("virConnectDomainEventDeregister", eventDeregister)),
	protocol.ProcConnectDomainEventRegisterAny:           quick(reader("virConnectDomainEventRegisterAny", eventRegisterAny)),
	protocol.ProcConnectDomainEventDeregisterAny:         quick(reader("virConnectDomainEventDeregisterAny", eventDeregisterAny)),

	protocol.ProcConnectListAllNetworks:      reader("virConnectListAllNetworks", listAllNetworks),
	protocol.ProcConnectNumOfNetworks:        reader("virConnectNumOfNetworks", numOfNetworks(drivers.NetworkListActive)),
	protocol.ProcConnectNumOfDefinedNetworks: reader("virConnectNumOfDefinedNetworks", numOfNetworks(drivers.NetworkListInactive)),
	protocol.ProcConnectListNetworks:         reader("virConnectListNetworks", listNetworks(drivers.NetworkListActive)),
	protocol.ProcConnectListDefinedNetworks:  reader("virConnectListDefinedNetworks", listNetworks(drivers.NetworkListInactive)),
}
