package drivers

import "github.com/govirt/govirtd/protocol"

// UUID is a domain's or network's 16-byte UUID (remote_uuid).
type UUID = protocol.UUID

// ParseUUID parses the 36-character form, or the 32 hex digits without
// dashes that libvirt also accepts.
func ParseUUID(s string) (UUID, error) { return protocol.ParseUUID(s) }

// Domain names a domain as the public API's virDomainPtr does, and is the
// wire's remote_nonnull_domain. ID is -1 while the domain is inactive.
// Drivers find a domain by its UUID.
type Domain = protocol.Domain

// DomainState is virDomainState.
type DomainState int32

// Domain states.
const (
	DomainNoState     DomainState = 0
	DomainRunning     DomainState = 1
	DomainBlocked     DomainState = 2
	DomainPaused      DomainState = 3
	DomainShutdown    DomainState = 4
	DomainShutoff     DomainState = 5
	DomainCrashed     DomainState = 6
	DomainPMSuspended DomainState = 7
)

// String is what virsh prints for the state.
func (s DomainState) String() string {
	names := [...]string{"no state", "running", "idle", "paused", "in shutdown", "shut off", "crashed", "pmsuspended"}
	if s >= 0 && int(s) < len(names) {
		return names[s]
	}
	return "no state"
}

// Active reports whether a domain in state s has a running instance.
func (s DomainState) Active() bool {
	return s != DomainShutoff && s != DomainNoState
}

// State reasons (virDomainRunningReason, virDomainPausedReason,
// virDomainShutoffReason, ...): their meaning depends on the state.
const (
	ReasonUnknown = 0

	RunningBooted   = 1
	RunningMigrated = 2
	RunningRestored = 3
	RunningUnpaused = 5
	RunningWakeup   = 8

	PausedUser         = 1
	PausedSave         = 3
	PausedShuttingDown = 8
	PausedStartingUp   = 11

	ShutdownUser = 1

	ShutoffShutdown  = 1
	ShutoffDestroyed = 2
	ShutoffCrashed   = 3
	ShutoffMigrated  = 4
	ShutoffSaved     = 5
	ShutoffFailed    = 6
	ShutoffDaemon    = 8

	CrashedPanicked = 1
)

// DomainInfo is virDomainInfo; memory in KiB, CPU time in nanoseconds.
type DomainInfo struct {
	State     DomainState
	MaxMem    uint64
	Memory    uint64
	NrVirtCPU uint16
	CPUTime   uint64
}

// NodeInfo is virNodeInfo; memory in KiB.
type NodeInfo struct {
	Model   string
	Memory  uint64
	CPUs    int32
	MHz     int32
	Nodes   int32
	Sockets int32
	Cores   int32
	Threads int32
}

// ListFlags is virConnectListAllDomainsFlags.
type ListFlags uint32

// Flags of ConnectListAllDomains; groups are ANDed, flags within a group
// ORed, and a group with no flag set does not filter.
const (
	ListActive        ListFlags = 1 << 0
	ListInactive      ListFlags = 1 << 1
	ListPersistent    ListFlags = 1 << 2
	ListTransient     ListFlags = 1 << 3
	ListRunning       ListFlags = 1 << 4
	ListPaused        ListFlags = 1 << 5
	ListShutoff       ListFlags = 1 << 6
	ListOther         ListFlags = 1 << 7
	ListManagedSave   ListFlags = 1 << 8
	ListNoManagedSave ListFlags = 1 << 9
	ListAutostart     ListFlags = 1 << 10
	ListNoAutostart   ListFlags = 1 << 11
	ListHasSnapshot   ListFlags = 1 << 12
	ListNoSnapshot    ListFlags = 1 << 13
	ListHasCheckpoint ListFlags = 1 << 14
	ListNoCheckpoint  ListFlags = 1 << 15

	listAll = 1<<16 - 1
)

// DomainListEntry is what a driver knows about a domain when it filters
// a list.
type DomainListEntry struct {
	State       DomainState
	Persistent  bool
	Autostart   bool
	ManagedSave bool
	Snapshots   int
}

// Matches reports whether a domain described by e passes the filter of
// flags, as virConnectListAllDomains defines it.
func (f ListFlags) Matches(e DomainListEntry) bool {
	type cond struct {
		flag ListFlags
		ok   bool
	}
	// group passes when none of its flags is set or one set flag holds.
	group := func(conds ...cond) bool {
		filtered := false
		for _, c := range conds {
			if f&c.flag != 0 {
				if c.ok {
					return true
				}
				filtered = true
			}
		}
		return !filtered
	}
	active := e.State.Active()
	running, paused, shutoff := e.State == DomainRunning, e.State == DomainPaused, e.State == DomainShutoff
	return group(cond{ListActive, active}, cond{ListInactive, !active}) &&
		group(cond{ListPersistent, e.Persistent}, cond{ListTransient, !e.Persistent}) &&
		group(cond{ListRunning, running}, cond{ListPaused, paused}, cond{ListShutoff, shutoff},
			cond{ListOther, !running && !paused && !shutoff}) &&
		group(cond{ListManagedSave, e.ManagedSave}, cond{ListNoManagedSave, !e.ManagedSave}) &&
		group(cond{ListAutostart, e.Autostart}, cond{ListNoAutostart, !e.Autostart}) &&
		group(cond{ListHasSnapshot, e.Snapshots > 0}, cond{ListNoSnapshot, e.Snapshots == 0}) &&
		group(cond{ListHasCheckpoint, false}, cond{ListNoCheckpoint, true})
}

// Unsupported returns the flags of f that no list filter knows.
func (f ListFlags) Unsupported() ListFlags { return f &^ listAll }

// Flag sets of the domain operations that take flags.
const (
	// XMLSecure (virDomainXMLFlags) asks for secrets in the XML.
	XMLSecure uint32 = 1 << 0
	// XMLInactive asks for the persistent definition, not the live one.
	XMLInactive uint32 = 1 << 1

	// CreatePaused (virDomainCreateFlags) starts the domain paused.
	CreatePaused uint32 = 1 << 0

	// ConnectRO (virConnectFlags) opens a read-only connection.
	ConnectRO uint32 = 1 << 0
)
