package daemon

import (
	"context"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// remote is the daemon's own handler of each remote procedure that needs
// more than a call of a driver method with the procedure's own arguments:
// the connection's state (open, close, features, events), the older list
// calls derived from ConnectListAllDomains, and conversion to the driver
// API's types. Every other procedure goes from its generated stub
// (dispatch.gen.go) straight to the driver's Op method, or answers
// VIR_ERR_NO_SUPPORT: adding a procedure takes no line here.
var remote = remoteHandlers{
	AuthList:                       authList,
	ConnectSupportsFeature:         supportsFeature,
	ConnectOpen:                    connectOpen,
	ConnectClose:                   connectClose,
	ConnectRegisterCloseCallback:   registerCloseCallback,
	ConnectUnregisterCloseCallback: unregisterCloseCallback,
	ConnectGetType:                 connectGetType,
	ConnectGetVersion:              connectGetVersion,
	ConnectGetLibVersion:           connectGetLibVersion,
	ConnectGetHostname:             connectGetHostname,
	ConnectGetURI:                  connectGetURI,
	ConnectGetCapabilities:         connectGetCapabilities,
	NodeGetInfo:                    nodeGetInfo,

	ConnectListAllDomains:      listAllDomains,
	ConnectNumOfDomains:        numOfDomains,
	ConnectListDomains:         listDomains,
	ConnectNumOfDefinedDomains: numOfDefinedDomains,
	ConnectListDefinedDomains:  listDefinedDomains,
	DomainLookupByID:           lookupByID,
	DomainLookupByName:         lookupByName,
	DomainLookupByUUID:         lookupByUUID,

	DomainGetInfo:             domainGetInfo,
	DomainGetState:            domainGetState,
	DomainGetOSType:           domainGetOSType,
	DomainGetXMLDesc:          domainGetXMLDesc,
	DomainIsActive:            domainIsActive,
	DomainIsPersistent:        domainIsPersistent,
	DomainGetAutostart:        domainGetAutostart,
	DomainSetAutostart:        domainSetAutostart,
	DomainHasManagedSaveImage: domainHasManagedSaveImage,
	DomainSnapshotNum:         domainSnapshotNum,

	DomainDefineXML:       domainDefineXML,
	DomainDefineXMLFlags:  domainDefineXMLFlags,
	DomainUndefine:        domainUndefine,
	DomainUndefineFlags:   domainUndefineFlags,
	DomainCreate:          domainCreate,
	DomainCreateWithFlags: domainCreateWithFlags,
	DomainCreateXML:       domainCreateXML,
	DomainDestroy:         domainDestroy,
	DomainDestroyFlags:    domainDestroyFlags,
	DomainShutdown:        domainShutdown,
	DomainShutdownFlags:   domainShutdownFlags,
	DomainReboot:          domainReboot,
	DomainSuspend:         domainSuspend,
	DomainResume:          domainResume,
	DomainSave:            domainSave,
	DomainSaveFlags:       domainSaveFlags,
	DomainRestore:         domainRestore,
	DomainRestoreFlags:    domainRestoreFlags,

	ConnectDomainEventCallbackRegisterAny:   eventCallbackRegisterAny,
	ConnectDomainEventCallbackDeregisterAny: eventCallbackDeregisterAny,
	ConnectDomainEventRegister:              eventRegister,
	ConnectDomainEventDeregister:            eventDeregister,
	ConnectDomainEventRegisterAny:           eventRegisterAny,
	ConnectDomainEventDeregisterAny:         eventDeregisterAny,

	DomainScreenshot:   domainScreenshot,
	StorageVolUpload:   storageVolUpload,
	StorageVolDownload: storageVolDownload,
	DomainOpenConsole:  domainOpenConsole,

	DomainOpenGraphicsFd: domainOpenGraphicsFd,

	ConnectNetworkEventRegisterAny:       networkEventRegisterAny,
	ConnectNetworkEventDeregisterAny:     networkEventDeregisterAny,
	ConnectStoragePoolEventRegisterAny:   storagePoolEventRegisterAny,
	ConnectStoragePoolEventDeregisterAny: storagePoolEventDeregisterAny,
	ConnectNodeDeviceEventRegisterAny:    nodeDeviceEventRegisterAny,
	ConnectNodeDeviceEventDeregisterAny:  nodeDeviceEventDeregisterAny,
	ConnectSecretEventRegisterAny:        secretEventRegisterAny,
	ConnectSecretEventDeregisterAny:      secretEventDeregisterAny,

	ConnectListAllNetworks:      listAllNetworks,
	ConnectNumOfNetworks:        numOfNetworks,
	ConnectNumOfDefinedNetworks: numOfDefinedNetworks,
	ConnectListNetworks:         listNetworks,
	ConnectListDefinedNetworks:  listDefinedNetworks,
}

// qemu is the QEMU program's handler table: every procedure goes to the
// driver.
var qemu = qemuHandlers{}

// preOpen lists the procedures a client may call before CONNECT_OPEN, as
// libvirtd allows them: authentication, the feature probe and the open
// itself.
var preOpen = map[protocol.Procedure]bool{
	protocol.ProcConnectOpen:            true,
	protocol.ProcConnectClose:           true,
	protocol.ProcConnectSupportsFeature: true,
	protocol.ProcAuthList:               true,
	protocol.ProcAuthSaslInit:           true,
	protocol.ProcAuthSaslStart:          true,
	protocol.ProcAuthSaslStep:           true,
	protocol.ProcAuthPolkit:             true,
}

// quickProcs are answered from the session's own state or from memory
// without a driver: the transport may run them on the client's reader.
// Whether a driver's own method never blocks is the driver's to say
// (drivers.Immediate).
var quickProcs = map[protocol.Procedure]bool{
	protocol.ProcAuthList:                       true,
	protocol.ProcConnectSupportsFeature:         true,
	protocol.ProcConnectRegisterCloseCallback:   true,
	protocol.ProcConnectUnregisterCloseCallback: true,
	protocol.ProcConnectGetLibVersion:           true,
}

// decode reads the call's arguments.
func (r *request) decode(body []byte, a protocol.Decodable) error {
	if err := protocol.Unmarshal(body, a); err != nil {
		return errDecode(r.info.Name, err)
	}
	return nil
}

// admit checks that the call may run: the connection is open (unless the
// procedure works before CONNECT_OPEN) and, when write says the call
// changes something, the client is not read-only.
func (r *request) admit(write bool) error {
	if r.conns == nil && !(r.prog == protocol.RemoteProgram && preOpen[protocol.Procedure(r.num)]) {
		return errNotOpen()
	}
	if write && r.readOnly {
		return errReadOnly(r.api, r.info.ErrorDomain)
	}
	return nil
}

// admitSecure is admit for a call whose flags ask for secrets: libvirt
// refuses those to read-only clients as "virXxx with secure flag".
func (r *request) admitSecure(secret bool) error {
	if err := r.admit(false); err != nil {
		return err
	}
	if secret && r.readOnly {
		return drivers.Errorf(vir.ErrOperationDenied, vir.ErrorDomain(r.info.ErrorDomain), "%s with secure flag", r.api)
	}
	return nil
}

// dispatch runs a call through its program's table.
func (r *request) dispatch(ctx context.Context, body []byte) (protocol.Encodable, error) {
	if r.prog == protocol.QemuProgram {
		return qemu.dispatch(ctx, r, body)
	}
	return remote.dispatch(ctx, r, body)
}
