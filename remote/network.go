package remote

import (
	"context"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// Network is a virtual network as the public API names it.
type Network = drivers.Network

func networkToWire(n Network) protocol.Network {
	return protocol.Network{Name: n.Name, UUID: protocol.UUID(n.UUID)}
}

// ConnectListAllNetworks lists the virtual networks that pass the filter
// of flags (virConnectListAllNetworksFlags). A daemon whose driver has no
// networks answers ErrNoSupport.
func (c *Conn) ConnectListAllNetworks(ctx context.Context, flags vir.ConnectListAllNetworksFlags) ([]Network, error) {
	var ret protocol.ConnectListAllNetworksRet
	if err := c.call(ctx, protocol.ProcConnectListAllNetworks,
		&protocol.ConnectListAllNetworksArgs{NeedResults: 1, Flags: uint32(flags)}, &ret); err != nil {
		return nil, err
	}
	nets := make([]Network, len(ret.Nets))
	for i, n := range ret.Nets {
		nets[i] = Network{Name: n.Name, UUID: UUID(n.UUID)}
	}
	return nets, nil
}

// NetworkIsActive reports whether net is running.
func (c *Conn) NetworkIsActive(ctx context.Context, net Network) (bool, error) {
	var ret protocol.NetworkIsActiveRet
	err := c.call(ctx, protocol.ProcNetworkIsActive, &protocol.NetworkIsActiveArgs{Net: networkToWire(net)}, &ret)
	return ret.Active != 0, err
}

// NetworkIsPersistent reports whether net has a persistent definition.
func (c *Conn) NetworkIsPersistent(ctx context.Context, net Network) (bool, error) {
	var ret protocol.NetworkIsPersistentRet
	err := c.call(ctx, protocol.ProcNetworkIsPersistent, &protocol.NetworkIsPersistentArgs{Net: networkToWire(net)}, &ret)
	return ret.Persistent != 0, err
}

// NetworkGetAutostart reports whether net starts with the daemon.
func (c *Conn) NetworkGetAutostart(ctx context.Context, net Network) (bool, error) {
	var ret protocol.NetworkGetAutostartRet
	err := c.call(ctx, protocol.ProcNetworkGetAutostart, &protocol.NetworkGetAutostartArgs{Net: networkToWire(net)}, &ret)
	return ret.Autostart != 0, err
}

var _ drivers.NetworkLister = (*Conn)(nil)
