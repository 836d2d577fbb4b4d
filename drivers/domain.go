package drivers

import (
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// UUID is a domain's or network's 16-byte UUID (remote_uuid).
type UUID = protocol.UUID

// ParseUUID parses the 36-character form, or the 32 hex digits without
// dashes that libvirt also accepts.
func ParseUUID(s string) (UUID, error) { return protocol.ParseUUID(s) }

// Domain names a domain as the public API's virDomainPtr does, and is the
// wire's remote_nonnull_domain. ID is -1 while the domain is inactive.
// Drivers find a domain by its UUID.
type Domain = protocol.Domain

// stateWords are virsh's words for each domain state.
var stateWords = [...]string{
	vir.DomainNostate:     "no state",
	vir.DomainRunning:     "running",
	vir.DomainBlocked:     "idle",
	vir.DomainPaused:      "paused",
	vir.DomainShutdown:    "in shutdown",
	vir.DomainShutoff:     "shut off",
	vir.DomainCrashed:     "crashed",
	vir.DomainPmsuspended: "pmsuspended",
}

// StateString is what virsh prints for a domain state: "running",
// "shut off"; "no state" for one it does not know.
func StateString(s vir.DomainState) string {
	if s >= 0 && int(s) < len(stateWords) {
		return stateWords[s]
	}
	return "no state"
}

// stateActive reports whether a domain in state s has a running instance.
func stateActive(s vir.DomainState) bool {
	return s != vir.DomainShutoff && s != vir.DomainNostate
}

// DomainInfo is virDomainInfo; memory in KiB, CPU time in nanoseconds.
type DomainInfo struct {
	State     vir.DomainState
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

// listKnown is every flag of virConnectListAllDomainsFlags in libvirt 9.0:
// those DomainListEntry.Matches filters by.
const listKnown = vir.ConnectListDomainsActive | vir.ConnectListDomainsInactive |
	vir.ConnectListDomainsPersistent | vir.ConnectListDomainsTransient |
	vir.ConnectListDomainsRunning | vir.ConnectListDomainsPaused |
	vir.ConnectListDomainsShutoff | vir.ConnectListDomainsOther |
	vir.ConnectListDomainsManagedsave | vir.ConnectListDomainsNoManagedsave |
	vir.ConnectListDomainsAutostart | vir.ConnectListDomainsNoAutostart |
	vir.ConnectListDomainsHasSnapshot | vir.ConnectListDomainsNoSnapshot |
	vir.ConnectListDomainsHasCheckpoint | vir.ConnectListDomainsNoCheckpoint

// DomainListEntry is what a driver knows about a domain when it filters
// a list.
type DomainListEntry struct {
	State       vir.DomainState
	Persistent  bool
	Autostart   bool
	ManagedSave bool
	Snapshots   int
}

// Matches reports whether a domain described by e passes the filter of
// flags, as virConnectListAllDomains defines it: groups are ANDed, flags
// within a group ORed, and a group with no flag set does not filter.
func (e DomainListEntry) Matches(flags vir.ConnectListAllDomainsFlags) bool {
	type cond struct {
		flag vir.ConnectListAllDomainsFlags
		ok   bool
	}
	// group passes when none of its flags is set or one set flag holds.
	group := func(conds ...cond) bool {
		filtered := false
		for _, c := range conds {
			if flags&c.flag != 0 {
				if c.ok {
					return true
				}
				filtered = true
			}
		}
		return !filtered
	}
	active := stateActive(e.State)
	running, paused, shutoff := e.State == vir.DomainRunning, e.State == vir.DomainPaused, e.State == vir.DomainShutoff
	return group(cond{vir.ConnectListDomainsActive, active}, cond{vir.ConnectListDomainsInactive, !active}) &&
		group(cond{vir.ConnectListDomainsPersistent, e.Persistent}, cond{vir.ConnectListDomainsTransient, !e.Persistent}) &&
		group(cond{vir.ConnectListDomainsRunning, running}, cond{vir.ConnectListDomainsPaused, paused},
			cond{vir.ConnectListDomainsShutoff, shutoff}, cond{vir.ConnectListDomainsOther, !running && !paused && !shutoff}) &&
		group(cond{vir.ConnectListDomainsManagedsave, e.ManagedSave}, cond{vir.ConnectListDomainsNoManagedsave, !e.ManagedSave}) &&
		group(cond{vir.ConnectListDomainsAutostart, e.Autostart}, cond{vir.ConnectListDomainsNoAutostart, !e.Autostart}) &&
		group(cond{vir.ConnectListDomainsHasSnapshot, e.Snapshots > 0}, cond{vir.ConnectListDomainsNoSnapshot, e.Snapshots == 0}) &&
		group(cond{vir.ConnectListDomainsHasCheckpoint, false}, cond{vir.ConnectListDomainsNoCheckpoint, true})
}

// UnsupportedListFlags returns the flags of flags that no list filter
// knows.
func UnsupportedListFlags(flags vir.ConnectListAllDomainsFlags) vir.ConnectListAllDomainsFlags {
	return flags &^ listKnown
}
