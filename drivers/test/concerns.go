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

// The test driver's pools start as libvirt's do: one pool
// "default-pool", active and persistent.
var defaultPool = protocol.StoragePool{Name: "default-pool", UUID: mustUUID("dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566")}

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

// ConnectListAllStoragePools lists the test driver's storage concern:
// the active, persistent pool "default-pool", not autostarted.
func (c *conn) ConnectListAllStoragePools(ctx context.Context, needResults int32, flags uint32) (*protocol.ConnectListAllStoragePoolsRet, error) {
	ret := &protocol.ConnectListAllStoragePoolsRet{Pools: []protocol.StoragePool{}}
	types := flags &^ 0x3f // the pool type flags: default-pool is a dir pool
	if listed(vir.ConnectListAllNetworksFlags(flags&0x3f), true, true, false) &&
		(types == 0 || types&uint32(vir.ConnectListStoragePoolsDir) != 0) {
		ret.Ret = 1
		if needResults != 0 {
			ret.Pools = append(ret.Pools, defaultPool)
		}
	}
	return ret, nil
}

// The read operations virsh pool-list makes on each pool listed, on the
// default pool, with libvirt's test-driver answers.

func (c *conn) pool(pool protocol.StoragePool) error {
	if pool.Name != defaultPool.Name {
		return drivers.Errorf(vir.ErrNoStoragePool, vir.FromStorage, "no storage pool with matching name '%s'", pool.Name)
	}
	return nil
}

// defaultPoolSize is default-pool's capacity, all of it available, as
// libvirt's test driver reports it.
const defaultPoolSize = 100 << 30

func (c *conn) StoragePoolGetInfo(ctx context.Context, pool protocol.StoragePool) (*protocol.StoragePoolGetInfoRet, error) {
	if err := c.pool(pool); err != nil {
		return nil, err
	}
	return &protocol.StoragePoolGetInfoRet{State: uint8(vir.StoragePoolRunning), Capacity: defaultPoolSize, Available: defaultPoolSize}, nil
}

func (c *conn) StoragePoolIsActive(ctx context.Context, pool protocol.StoragePool) (int32, error) {
	return 1, c.pool(pool)
}

func (c *conn) StoragePoolIsPersistent(ctx context.Context, pool protocol.StoragePool) (int32, error) {
	return 1, c.pool(pool)
}

func (c *conn) StoragePoolGetAutostart(ctx context.Context, pool protocol.StoragePool) (int32, error) {
	return 0, c.pool(pool)
}
