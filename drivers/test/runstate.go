package test

import (
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// runState is what libvirt's test driver keeps about a domain besides
// its definitions, for as long as the domain exists (across stops and
// starts): its IOThreads' polling settings, which of its two
// filesystems are frozen, its guest clock and its checkpoints. Guarded
// by Driver.mu, reached through Driver.ext.
type runState struct {
	iothreads   []iothreadRun // in the order they were added
	frozen      [2]bool       // "/" and "/boot"
	clockSet    bool          // set-time changed the guest clock
	clockSec    int64         // the guest clock, when clockSet
	clockNsec   uint32
	checkpoints checkpoints // see checkpoints.go
}

// iothreadRun is one IOThread's polling settings, as domstats reports
// them.
type iothreadRun struct {
	id                 uint32
	pollMaxNs          uint64
	pollGrow, pollShrk uint32
}

// defaultPollMaxNs is the polling limit a new IOThread starts with in
// libvirt's test driver.
const defaultPollMaxNs = 32768

func (r *runState) iothread(id uint32) *iothreadRun {
	for i := range r.iothreads {
		if r.iothreads[i].id == id {
			return &r.iothreads[i]
		}
	}
	return nil
}

// guestClock is the domain's guest clock: libvirt's test driver's fixed
// time until set-time changes it.
func (r *runState) guestClock() (int64, uint32) {
	if r.clockSet {
		return r.clockSec, r.clockNsec
	}
	return testClockSeconds, 0
}

// hvImmediate are the domain and node calls of runstate.go's files that
// only read or change memory under the driver's lock; the core dump,
// which writes a file, is not among them.
var hvImmediate = []protocol.Procedure{
	protocol.ProcConnectGetAllDomainStats, protocol.ProcDomainGetCPUStats,
	protocol.ProcDomainGetBlkioParameters, protocol.ProcDomainGetBlockIOTune,
	protocol.ProcDomainSetBlkioParameters, protocol.ProcDomainSetBlockIOTune, protocol.ProcDomainSetNumaParameters,
	protocol.ProcDomainGetInterfaceParameters, protocol.ProcDomainSetInterfaceParameters,
	protocol.ProcDomainGetNumaParameters, protocol.ProcDomainGetPerfEvents, protocol.ProcDomainSetPerfEvents,
	protocol.ProcDomainGetIothreadInfo, protocol.ProcDomainAddIothread, protocol.ProcDomainDelIothread,
	protocol.ProcDomainSetIothreadParams, protocol.ProcDomainPinIothread,
	protocol.ProcDomainCheckpointCreateXML, protocol.ProcDomainCheckpointGetXMLDesc,
	protocol.ProcDomainListAllCheckpoints, protocol.ProcDomainCheckpointListAllChildren,
	protocol.ProcDomainCheckpointLookupByName, protocol.ProcDomainCheckpointGetParent,
	protocol.ProcDomainCheckpointDelete,
	protocol.ProcDomainFsfreeze, protocol.ProcDomainFsthaw, protocol.ProcDomainFstrim, protocol.ProcDomainGetFsinfo,
	protocol.ProcDomainGetBlockInfo, protocol.ProcDomainGetDiskErrors,
	protocol.ProcDomainInjectNmi, protocol.ProcDomainSendKey, protocol.ProcDomainSendProcessSignal,
	protocol.ProcDomainSetUserPassword, protocol.ProcDomainSetTime, protocol.ProcDomainIsUpdated,
	protocol.ProcDomainGetMessages, protocol.ProcConnectIsSecure, protocol.ProcDomainRename,
	protocol.ProcDomainSetMemoryStatsPeriod,
}

// controlInfo is the monitor state libvirt's test driver derives from a
// domain's guest clock, so that clients can see every state: a clock
// set below 10000 s reads as a job running for that many milliseconds,
// below 30000 as occupied, below 60000 as an error whose reason is the
// clock modulo 4; any other clock (the default one) as ok.
func controlInfo(seconds int64) *protocol.DomainGetControlInfoRet {
	switch {
	case seconds > 0 && seconds < 10000:
		return &protocol.DomainGetControlInfoRet{State: uint32(vir.DomainControlJob), StateTime: uint64(seconds)}
	case seconds >= 10000 && seconds < 30000:
		return &protocol.DomainGetControlInfoRet{State: uint32(vir.DomainControlOccupied), StateTime: uint64(seconds - 10000)}
	case seconds >= 30000 && seconds < 60000:
		return &protocol.DomainGetControlInfoRet{State: uint32(vir.DomainControlError), Details: uint32(seconds % 4), StateTime: uint64(seconds - 30000)}
	}
	return &protocol.DomainGetControlInfoRet{State: uint32(vir.DomainControlOk)}
}
