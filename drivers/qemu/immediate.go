package qemu

import "github.com/govirt/govirtd/protocol"

// immediate are the procedures the QEMU driver answers from its cached
// domain state without a job, as libvirt's lookups, lists and state
// queries run without one: the daemon may run them on the client's
// reader goroutine. They take only the domain list's and a domain's
// state locks, never one held across I/O (see the lock order in
// domain.go).
var immediate = map[protocol.Procedure]bool{
	protocol.ProcConnectGetType: true, protocol.ProcConnectGetVersion: true,
	protocol.ProcConnectGetHostname: true, protocol.ProcConnectGetURI: true,
	protocol.ProcConnectListAllDomains: true, protocol.ProcConnectNumOfDomains: true,
	protocol.ProcConnectListDomains: true, protocol.ProcConnectNumOfDefinedDomains: true,
	protocol.ProcConnectListDefinedDomains: true,
	protocol.ProcDomainLookupByID:          true, protocol.ProcDomainLookupByName: true,
	protocol.ProcDomainLookupByUUID: true,
	protocol.ProcDomainGetState:     true, protocol.ProcDomainGetOSType: true,
	protocol.ProcDomainIsActive: true, protocol.ProcDomainIsPersistent: true,
	protocol.ProcDomainGetAutostart:         true,
	protocol.ProcConnectDomainEventRegister: true, protocol.ProcConnectDomainEventDeregister: true,
	protocol.ProcConnectDomainEventRegisterAny: true, protocol.ProcConnectDomainEventDeregisterAny: true,
	protocol.ProcConnectDomainEventCallbackRegisterAny: true, protocol.ProcConnectDomainEventCallbackDeregisterAny: true,
}

// Immediate reports the procedures the daemon may run on the client's
// reader goroutine (drivers.Immediate).
func (c *conn) Immediate(proc protocol.Procedure) bool { return immediate[proc] }
