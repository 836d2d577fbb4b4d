package drivers

import (
	"context"

	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// The event classes besides domains', each with its callback list: the
// driver that owns the objects (a network, storage, node device or
// secret driver, or the test driver for its own) keeps the list in its
// state and raises the events, as DESIGN.md's rule 6 has it for domains.
// Every event knows its wire message (Message), so the daemon sends each
// class the same way.

// ObjectEvent is what every event of the classes besides domains'
// gives the daemon: the message to send a client for it, given the
// client's callback id.
type ObjectEvent interface {
	Message(callbackID int32) (protocol.Procedure, protocol.Encodable)
}

// NetworkEvent is an event about one network, filtered by its UUID.
type NetworkEvent interface {
	Event[vir.NetworkEventID, UUID]
	ObjectEvent
	EventNetwork() Network
}

// NetworkCallbackList is the list of network event callbacks.
type NetworkCallbackList = Callbacks[vir.NetworkEventID, UUID, NetworkEvent]

// NetworkEvents registers callbacks for the network events the driver
// serving a connection's network concern raises
// (virConnectNetworkEventRegisterAny). net, when not nil, limits the
// callback to that network's events. Closing the connection removes its
// callbacks.
type NetworkEvents interface {
	ConnectNetworkEventRegisterAny(ctx context.Context, net *Network, eventID vir.NetworkEventID, cb func(callbackID int, ev NetworkEvent)) (int, error)
	ConnectNetworkEventDeregisterAny(ctx context.Context, callbackID int) error
}

// NetworkLifecycleEvent is VIR_NETWORK_EVENT_ID_LIFECYCLE.
type NetworkLifecycleEvent struct {
	Net    Network
	Event  vir.NetworkEventLifecycleType
	Detail int32
}

func (e NetworkLifecycleEvent) EventID() vir.NetworkEventID { return vir.NetworkEventIDLifecycle }
func (e NetworkLifecycleEvent) EventKey() UUID              { return e.Net.UUID }
func (e NetworkLifecycleEvent) EventNetwork() Network       { return e.Net }
func (e NetworkLifecycleEvent) Message(id int32) (protocol.Procedure, protocol.Encodable) {
	return protocol.ProcNetworkEventLifecycle, &protocol.NetworkEventLifecycleMsg{
		CallbackID: id, Net: e.Net, Event: int32(e.Event), Detail: e.Detail}
}

// StoragePool names a pool as virStoragePoolPtr does.
type StoragePool = protocol.StoragePool

// StoragePoolEvent is an event about one storage pool, filtered by its
// UUID.
type StoragePoolEvent interface {
	Event[vir.StoragePoolEventID, UUID]
	ObjectEvent
	EventPool() StoragePool
}

// StoragePoolCallbackList is the list of storage pool event callbacks.
type StoragePoolCallbackList = Callbacks[vir.StoragePoolEventID, UUID, StoragePoolEvent]

// StoragePoolEvents registers callbacks for storage pool events
// (virConnectStoragePoolEventRegisterAny), as NetworkEvents does for
// networks.
type StoragePoolEvents interface {
	ConnectStoragePoolEventRegisterAny(ctx context.Context, pool *StoragePool, eventID vir.StoragePoolEventID, cb func(callbackID int, ev StoragePoolEvent)) (int, error)
	ConnectStoragePoolEventDeregisterAny(ctx context.Context, callbackID int) error
}

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
func (e StoragePoolLifecycleEvent) Message(id int32) (protocol.Procedure, protocol.Encodable) {
	return protocol.ProcStoragePoolEventLifecycle, &protocol.StoragePoolEventLifecycleMsg{
		CallbackID: id, Pool: e.Pool, Event: int32(e.Event), Detail: e.Detail}
}

// StoragePoolRefreshEvent is VIR_STORAGE_POOL_EVENT_ID_REFRESH: the pool
// was refreshed (virStoragePoolRefresh, or a volume changed).
type StoragePoolRefreshEvent struct {
	Pool StoragePool
}

func (e StoragePoolRefreshEvent) EventID() vir.StoragePoolEventID {
	return vir.StoragePoolEventIDRefresh
}
func (e StoragePoolRefreshEvent) EventKey() UUID         { return e.Pool.UUID }
func (e StoragePoolRefreshEvent) EventPool() StoragePool { return e.Pool }
func (e StoragePoolRefreshEvent) Message(id int32) (protocol.Procedure, protocol.Encodable) {
	return protocol.ProcStoragePoolEventRefresh, &protocol.StoragePoolEventRefreshMsg{CallbackID: id, Pool: e.Pool}
}

// NodeDevice names a host device as virNodeDevicePtr does.
type NodeDevice = protocol.NodeDevice

// NodeDeviceEvent is an event about one host device, filtered by its
// name (devices have no UUID).
type NodeDeviceEvent interface {
	Event[vir.NodeDeviceEventID, string]
	ObjectEvent
	EventDevice() NodeDevice
}

// NodeDeviceCallbackList is the list of node device event callbacks.
type NodeDeviceCallbackList = Callbacks[vir.NodeDeviceEventID, string, NodeDeviceEvent]

// NodeDeviceEvents registers callbacks for node device events
// (virConnectNodeDeviceEventRegisterAny); dev, when not nil, limits the
// callback to the device of that name.
type NodeDeviceEvents interface {
	ConnectNodeDeviceEventRegisterAny(ctx context.Context, dev *NodeDevice, eventID vir.NodeDeviceEventID, cb func(callbackID int, ev NodeDeviceEvent)) (int, error)
	ConnectNodeDeviceEventDeregisterAny(ctx context.Context, callbackID int) error
}

// NodeDeviceLifecycleEvent is VIR_NODE_DEVICE_EVENT_ID_LIFECYCLE.
type NodeDeviceLifecycleEvent struct {
	Dev    NodeDevice
	Event  vir.NodeDeviceEventLifecycleType
	Detail int32
}

func (e NodeDeviceLifecycleEvent) EventID() vir.NodeDeviceEventID {
	return vir.NodeDeviceEventIDLifecycle
}
func (e NodeDeviceLifecycleEvent) EventKey() string        { return e.Dev.Name }
func (e NodeDeviceLifecycleEvent) EventDevice() NodeDevice { return e.Dev }
func (e NodeDeviceLifecycleEvent) Message(id int32) (protocol.Procedure, protocol.Encodable) {
	return protocol.ProcNodeDeviceEventLifecycle, &protocol.NodeDeviceEventLifecycleMsg{
		CallbackID: id, Dev: e.Dev, Event: int32(e.Event), Detail: e.Detail}
}

// NodeDeviceUpdateEvent is VIR_NODE_DEVICE_EVENT_ID_UPDATE.
type NodeDeviceUpdateEvent struct {
	Dev NodeDevice
}

func (e NodeDeviceUpdateEvent) EventID() vir.NodeDeviceEventID {
	return vir.NodeDeviceEventIDUpdate
}
func (e NodeDeviceUpdateEvent) EventKey() string        { return e.Dev.Name }
func (e NodeDeviceUpdateEvent) EventDevice() NodeDevice { return e.Dev }
func (e NodeDeviceUpdateEvent) Message(id int32) (protocol.Procedure, protocol.Encodable) {
	return protocol.ProcNodeDeviceEventUpdate, &protocol.NodeDeviceEventUpdateMsg{CallbackID: id, Dev: e.Dev}
}

// Secret names a secret as virSecretPtr does.
type Secret = protocol.Secret

// SecretEvent is an event about one secret, filtered by its UUID.
type SecretEvent interface {
	Event[vir.SecretEventID, UUID]
	ObjectEvent
	EventSecret() Secret
}

// SecretCallbackList is the list of secret event callbacks.
type SecretCallbackList = Callbacks[vir.SecretEventID, UUID, SecretEvent]

// SecretEvents registers callbacks for secret events
// (virConnectSecretEventRegisterAny).
type SecretEvents interface {
	ConnectSecretEventRegisterAny(ctx context.Context, secret *Secret, eventID vir.SecretEventID, cb func(callbackID int, ev SecretEvent)) (int, error)
	ConnectSecretEventDeregisterAny(ctx context.Context, callbackID int) error
}

// SecretLifecycleEvent is VIR_SECRET_EVENT_ID_LIFECYCLE.
type SecretLifecycleEvent struct {
	Secret Secret
	Event  vir.SecretEventLifecycleType
	Detail int32
}

func (e SecretLifecycleEvent) EventID() vir.SecretEventID { return vir.SecretEventIDLifecycle }
func (e SecretLifecycleEvent) EventKey() UUID             { return e.Secret.UUID }
func (e SecretLifecycleEvent) EventSecret() Secret        { return e.Secret }
func (e SecretLifecycleEvent) Message(id int32) (protocol.Procedure, protocol.Encodable) {
	return protocol.ProcSecretEventLifecycle, &protocol.SecretEventLifecycleMsg{
		CallbackID: id, Secret: e.Secret, Event: int32(e.Event), Detail: e.Detail}
}

// SecretValueChangedEvent is VIR_SECRET_EVENT_ID_VALUE_CHANGED.
type SecretValueChangedEvent struct {
	Secret Secret
}

func (e SecretValueChangedEvent) EventID() vir.SecretEventID { return vir.SecretEventIDValueChanged }
func (e SecretValueChangedEvent) EventKey() UUID             { return e.Secret.UUID }
func (e SecretValueChangedEvent) EventSecret() Secret        { return e.Secret }
func (e SecretValueChangedEvent) Message(id int32) (protocol.Procedure, protocol.Encodable) {
	return protocol.ProcSecretEventValueChanged, &protocol.SecretEventValueChangedMsg{CallbackID: id, Secret: e.Secret}
}
