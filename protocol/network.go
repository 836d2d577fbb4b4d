package protocol

// The older network list procedures, which virsh falls back to when
// CONNECT_LIST_ALL_NETWORKS is not supported.
const (
	ProcConnectListDefinedNetworks  Procedure = 36
	ProcConnectListNetworks         Procedure = 38
	ProcConnectNumOfDefinedNetworks Procedure = 50
	ProcConnectNumOfNetworks        Procedure = 52
	ProcNetworkGetAutostart         Procedure = 44
	ProcNetworkIsActive             Procedure = 152
	ProcNetworkIsPersistent         Procedure = 153
)

// NetworkArgs is the argument of every procedure that takes only a network.
type NetworkArgs struct{ Net Network }

// ConnectListNetworksArgs is also the argument of LIST_DEFINED_NETWORKS.
type ConnectListNetworksArgs struct{ MaxNames int32 }

// ConnectListNetworksRet is also the return of LIST_DEFINED_NETWORKS.
type ConnectListNetworksRet struct {
	Names []string `xdr:"max=16384"`
}
