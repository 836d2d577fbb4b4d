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
	handle   func(ctx context.Context, r *request, body []byte) (any, error)
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

type void struct{}

// procedures is the remote program's dispatch table. A procedure not in
// it is answered "unknown procedure: N", which libvirt's clients read as
// "not supported" and fall back from.
var procedures = map[protocol.Procedure]procedure{
	protocol.ProcAuthList:                       always("virConnectAuthList", authList),
	protocol.ProcConnectSupportsFeature:         always("virConnectSupportsFeature", supportsFeature),
	protocol.ProcConnectOpen:                    always("virConnectOpen", connectOpen),
	protocol.ProcConnectClose:                   always("virConnectClose", connectClose),
	protocol.ProcConnectRegisterCloseCallback:   reader("virConnectRegisterCloseCallback", registerCloseCallback),
	protocol.ProcConnectUnregisterCloseCallback: reader("virConnectUnregisterCloseCallback", unregisterCloseCallback),
	protocol.ProcConnectGetType:                 reader("virConnectGetType", connectGetType),
	protocol.ProcConnectGetVersion:              reader("virConnectGetVersion", connectGetVersion),
	protocol.ProcConnectGetLibVersion:           reader("virConnectGetLibVersion", connectGetLibVersion),
	protocol.ProcConnectGetHostname:             reader("virConnectGetHostname", connectGetHostname),
	protocol.ProcConnectGetURI:                  reader("virConnectGetURI", connectGetURI),
	protocol.ProcConnectGetCapabilities:         reader("virConnectGetCapabilities", connectGetCapabilities),
	protocol.ProcNodeGetInfo:                    reader("virNodeGetInfo", nodeGetInfo),

	protocol.ProcConnectListAllDomains:      reader("virConnectListAllDomains", listAllDomains),
	protocol.ProcConnectNumOfDomains:        reader("virConnectNumOfDomains", numOfDomains),
	protocol.ProcConnectListDomains:         reader("virConnectListDomains", listDomains),
	protocol.ProcConnectNumOfDefinedDomains: reader("virConnectNumOfDefinedDomains", numOfDefinedDomains),
	protocol.ProcConnectListDefinedDomains:  reader("virConnectListDefinedDomains", listDefinedDomains),
	protocol.ProcDomainLookupByID:           reader("virDomainLookupByID", lookupByID),
	protocol.ProcDomainLookupByName:         reader("virDomainLookupByName", lookupByName),
	protocol.ProcDomainLookupByUUID:         reader("virDomainLookupByUUID", lookupByUUID),

	protocol.ProcDomainGetInfo:             reader("virDomainGetInfo", domainGetInfo),
	protocol.ProcDomainGetState:            reader("virDomainGetState", domainGetState),
	protocol.ProcDomainGetOSType:           reader("virDomainGetOSType", domainGetOSType),
	protocol.ProcDomainGetXMLDesc:          reader("virDomainGetXMLDesc", domainGetXMLDesc),
	protocol.ProcDomainIsActive:            reader("virDomainIsActive", domainIsActive),
	protocol.ProcDomainIsPersistent:        reader("virDomainIsPersistent", domainIsPersistent),
	protocol.ProcDomainGetAutostart:        reader("virDomainGetAutostart", domainGetAutostart),
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

	protocol.ProcConnectDomainEventCallbackRegisterAny:   reader("virConnectDomainEventRegisterAny", eventCallbackRegisterAny),
	protocol.ProcConnectDomainEventCallbackDeregisterAny: reader("virConnectDomainEventDeregisterAny", eventCallbackDeregisterAny),
	protocol.ProcConnectDomainEventRegister:              reader("virConnectDomainEventRegister", eventRegister),
	protocol.ProcConnectDomainEventDeregister:            reader("virConnectDomainEventDeregister", eventDeregister),
	protocol.ProcConnectDomainEventRegisterAny:           reader("virConnectDomainEventRegisterAny", eventRegisterAny),
	protocol.ProcConnectDomainEventDeregisterAny:         reader("virConnectDomainEventDeregisterAny", eventDeregisterAny),

	protocol.ProcConnectListAllNetworks:      reader("virConnectListAllNetworks", listAllNetworks),
	protocol.ProcConnectNumOfNetworks:        reader("virConnectNumOfNetworks", numOfNetworks(drivers.NetworkListActive)),
	protocol.ProcConnectNumOfDefinedNetworks: reader("virConnectNumOfDefinedNetworks", numOfNetworks(drivers.NetworkListInactive)),
	protocol.ProcConnectListNetworks:         reader("virConnectListNetworks", listNetworks(drivers.NetworkListActive)),
	protocol.ProcConnectListDefinedNetworks:  reader("virConnectListDefinedNetworks", listNetworks(drivers.NetworkListInactive)),
}
