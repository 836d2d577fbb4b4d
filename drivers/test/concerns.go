package test

import (
	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/vir"
)

// ConcernConn makes the test connection serve every concern itself, as
// libvirt's test driver has its own network, storage, interface, node
// device, secret and nwfilter tables: no shared driver serves
// test:///default. A call of a concern whose method the connection lacks
// is answered vir.ErrNoSupport.
func (c *conn) ConcernConn(drivers.Concern) drivers.Conn { return c }

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
