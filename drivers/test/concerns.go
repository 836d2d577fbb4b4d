package test

import (
	"context"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// ConcernConn makes the test connection serve every concern itself, as
// libvirt's test driver has its own network, storage, interface, node
// device, secret and nwfilter tables: no shared driver serves
// test:///default. A call of a concern whose method the connection lacks
// is answered vir.ErrNoSupport.
func (c *conn) ConcernConn(drivers.Concern) drivers.Conn { return c }

// The test driver's networks start as libvirt's do: one network
// "default", active and persistent.
var defaultNetwork = drivers.Network{Name: "default", UUID: mustUUID("dd8fe884-6c02-601e-7551-cca97df1c5df")}

func mustUUID(s string) drivers.UUID {
	u, err := drivers.ParseUUID(s)
	if err != nil {
		panic("test driver: " + err.Error())
	}
	return u
}

// listed reports whether an object active, persistent and autostarted
// as given passes flags, virConnectListAllNetworks's filter (its first
// six flags are virConnectListAllStoragePools's too): groups are ANDed,
// and a group with no flag set does not filter.
func listed(flags vir.ConnectListAllNetworksFlags, active, persistent, autostart bool) bool {
	group := func(yes, no vir.ConnectListAllNetworksFlags, v bool) bool {
		return flags&(yes|no) == 0 || (v && flags&yes != 0) || (!v && flags&no != 0)
	}
	return group(vir.ConnectListNetworksActive, vir.ConnectListNetworksInactive, active) &&
		group(vir.ConnectListNetworksPersistent, vir.ConnectListNetworksTransient, persistent) &&
		group(vir.ConnectListNetworksAutostart, vir.ConnectListNetworksNoAutostart, autostart)
}

// ConnectListAllNetworks lists the test driver's network concern: the
// active, persistent network "default", not autostarted.
func (c *conn) ConnectListAllNetworks(ctx context.Context, flags vir.ConnectListAllNetworksFlags) ([]drivers.Network, error) {
	if !listed(flags, true, true, false) {
		return []drivers.Network{}, nil
	}
	return []drivers.Network{defaultNetwork}, nil
}

// The read operations virsh net-list makes on each object
// listed, on the default objects, with libvirt's test-driver answers.

func (c *conn) network(net protocol.Network) error {
	if net.Name != defaultNetwork.Name {
		return drivers.Errorf(vir.ErrNoNetwork, vir.FromNetwork, "no network with matching name '%s'", net.Name)
	}
	return nil
}

func (c *conn) NetworkIsActive(ctx context.Context, net protocol.Network) (int32, error) {
	return 1, c.network(net)
}

func (c *conn) NetworkIsPersistent(ctx context.Context, net protocol.Network) (int32, error) {
	return 1, c.network(net)
}

func (c *conn) NetworkGetAutostart(ctx context.Context, net protocol.Network) (int32, error) {
	return 0, c.network(net)
}
