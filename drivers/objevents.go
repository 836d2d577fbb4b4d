package drivers

import (
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// The event classes besides domains', each with its callback list: the
// driver that owns the objects (a network, storage, node device or
// secret driver, or the test driver for its own) keeps the list in its
// state and raises the events, as DESIGN.md's rule 6 has it for domains.

// NetworkEvent is an event about one network, filtered by its UUID.
type NetworkEvent interface {
	Event[vir.NetworkEventID, UUID]
	EventNetwork() Network
}

// NetworkCallbackList is the list of network event callbacks.
type NetworkCallbackList = Callbacks[vir.NetworkEventID, UUID, NetworkEvent]

// NetworkLifecycleEvent is VIR_NETWORK_EVENT_ID_LIFECYCLE.
type NetworkLifecycleEvent struct {
	Net    Network
	Event  vir.NetworkEventLifecycleType
	Detail int32
}

func (e NetworkLifecycleEvent) EventID() vir.NetworkEventID { return vir.NetworkEventIDLifecycle }
func (e NetworkLifecycleEvent) EventKey() UUID              { return e.Net.UUID }
func (e NetworkLifecycleEvent) EventNetwork() Network       { return e.Net }

// StoragePool names a pool as virStoragePoolPtr does.
type StoragePool = protocol.StoragePool

// StoragePoolEvent is an event about one storage pool, filtered by its
// UUID.
type StoragePoolEvent interface {
	Event[vir.StoragePoolEventID, UUID]
	EventPool() StoragePool
}

// StoragePoolCallbackList is the list of storage pool event callbacks.
type StoragePoolCallbackList = Callbacks[vir.StoragePoolEventID, UUID, StoragePoolEvent]

// StoragePoolLifecycleEvent is VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE.
type StoragePoolLifecycleEvent struct {
	Pool   StoragePool
	Event  vir.StoragePoolEventLifecycleType
	Detail int32
}

func (e StoragePoolLifecycleEvent) EventID() vir.StoragePoolEventID {
	return vir.StoragePoolEventIDLifecycle
}
func (e StoragePoolLifecycleEvent) EventKey() UUID         { return e.Pool.UUID }
func (e StoragePoolLifecycleEvent) EventPool() StoragePool { return e.Pool }

// NodeDevice names a host device as virNodeDevicePtr does.
type NodeDevice = protocol.NodeDevice

// NodeDeviceEvent is an event about one host device, filtered by its
// name (devices have no UUID).
type NodeDeviceEvent interface {
	Event[vir.NodeDeviceEventID, string]
	EventDevice() NodeDevice
}

// NodeDeviceCallbackList is the list of node device event callbacks.
type NodeDeviceCallbackList = Callbacks[vir.NodeDeviceEventID, string, NodeDeviceEvent]

// Secret names a secret as virSecretPtr does.
type Secret = protocol.Secret

// SecretEvent is an event about one secret, filtered by its UUID.
type SecretEvent interface {
	Event[vir.SecretEventID, UUID]
	EventSecret() Secret
}

// SecretCallbackList is the list of secret event callbacks.
type SecretCallbackList = Callbacks[vir.SecretEventID, UUID, SecretEvent]
