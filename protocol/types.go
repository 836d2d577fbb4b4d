package protocol

import "fmt"

// UUID is remote_uuid: 16 raw bytes.
type UUID [16]byte

// String formats u as libvirt does: 8-4-4-4-12 lowercase hex.
func (u UUID) String() string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// Domain is remote_nonnull_domain. ID is -1 for an inactive domain.
type Domain struct {
	Name string
	UUID UUID
	ID   int32
}

// Network is remote_nonnull_network.
type Network struct {
	Name string
	UUID UUID
}

// Connection.

type ConnectOpenArgs struct {
	Name  *string
	Flags uint32
}

type AuthListRet struct {
	Types []int32 `xdr:"max=20"`
}

type ConnectSupportsFeatureArgs struct{ Feature int32 }
type ConnectSupportsFeatureRet struct{ Supported int32 }

type ConnectGetTypeRet struct{ Type string }
type ConnectGetVersionRet struct{ HvVer uint64 }
type ConnectGetLibVersionRet struct{ LibVer uint64 }
type ConnectGetHostnameRet struct{ Hostname string }
type ConnectGetURIRet struct{ URI string }
type ConnectGetCapabilitiesRet struct{ Capabilities string }

type NodeGetInfoRet struct {
	Model   [32]int8
	Memory  uint64
	CPUs    int32
	MHz     int32
	Nodes   int32
	Sockets int32
	Cores   int32
	Threads int32
}

type NodeGetSecurityModelRet struct {
	Model []int8 `xdr:"max=257"`
	DOI   []int8 `xdr:"max=257"`
}

// Domain listing and lookup.

type ConnectListAllDomainsArgs struct {
	NeedResults int32
	Flags       uint32
}

type ConnectListAllDomainsRet struct {
	Domains []Domain `xdr:"max=16384"`
	Ret     uint32
}

type ConnectNumOfDomainsRet struct{ Num int32 }
type ConnectListDomainsArgs struct{ MaxIDs int32 }
type ConnectListDomainsRet struct {
	IDs []int32 `xdr:"max=16384"`
}
type ConnectNumOfDefinedDomainsRet struct{ Num int32 }
type ConnectListDefinedDomainsArgs struct{ MaxNames int32 }
type ConnectListDefinedDomainsRet struct {
	Names []string `xdr:"max=16384"`
}

type DomainLookupByIDArgs struct{ ID int32 }
type DomainLookupByNameArgs struct{ Name string }
type DomainLookupByUUIDArgs struct{ UUID UUID }

// DomainRet is the return of every procedure that answers one domain
// (lookups, define, create).
type DomainRet struct{ Dom Domain }

// DomainArgs is the argument of every procedure that takes only a domain.
type DomainArgs struct{ Dom Domain }

// DomainFlagsArgs is the argument of every procedure that takes a domain
// and flags.
type DomainFlagsArgs struct {
	Dom   Domain
	Flags uint32
}

// IntRet is the return of every procedure that answers one int.
type IntRet struct{ Ret int32 }

// Domain information.

type DomainGetInfoRet struct {
	State     uint8
	MaxMem    uint64
	Memory    uint64
	NrVirtCPU uint16
	CPUTime   uint64
}

type DomainGetStateRet struct {
	State  int32
	Reason int32
}

type DomainGetOSTypeRet struct{ Type string }
type DomainGetXMLDescRet struct{ XML string }

type DomainGetSecurityLabelRet struct {
	Label     []int8 `xdr:"max=4097"`
	Enforcing int32
}

type DomainGetMessagesRet struct {
	Msgs []string `xdr:"max=2048"`
}

type DomainSetAutostartArgs struct {
	Dom       Domain
	Autostart int32
}

// Domain lifecycle.

type DomainCreateXMLArgs struct {
	XMLDesc string
	Flags   uint32
}

type DomainDefineXMLArgs struct{ XML string }

type DomainDefineXMLFlagsArgs struct {
	XML   string
	Flags uint32
}

type DomainSaveArgs struct {
	Dom Domain
	To  string
}

type DomainSaveFlagsArgs struct {
	Dom   Domain
	To    string
	DXML  *string
	Flags uint32
}

type DomainRestoreArgs struct{ From string }

type DomainRestoreFlagsArgs struct {
	From  string
	DXML  *string
	Flags uint32
}

// Networks.

type ConnectListAllNetworksArgs struct {
	NeedResults int32
	Flags       uint32
}

type ConnectListAllNetworksRet struct {
	Nets []Network `xdr:"max=16384"`
	Ret  uint32
}
