package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// pool is one storage pool (virStoragePoolObj). Its fields are guarded
// by Driver.mu; job orders the calls that change the pool, and is held
// across their I/O.
type pool struct {
	job sync.Mutex

	def        *poolDef
	newDef     *poolDef // a redefinition waiting for the pool to stop
	active     bool
	persistent bool
	autostart  bool
	// The sizes from the last statfs (start, refresh, volume changes).
	capacity, allocation, available uint64
	vols                            []*volume
	busy                            int // volumes being read or written (uploads, downloads, clones)
}

func (p *pool) ref() protocol.StoragePool {
	return protocol.StoragePool{Name: p.def.name, UUID: p.def.uuid}
}

// conn is one connection's view of the driver.
type conn struct {
	drv *Driver
	cb  drivers.ConnCallbacks
}

func (c *conn) Close() error {
	var none drivers.CallbackList
	c.cb.Close(&none, c)
	c.drv.events.RemoveConn(c)
	return nil
}

// immediateProcs only read the pool table under mu: the daemon may run
// them on the client's reader goroutine.
var immediateProcs = drivers.ProcSet([]protocol.Procedure{
	protocol.ProcConnectNumOfStoragePools, protocol.ProcConnectListStoragePools,
	protocol.ProcConnectNumOfDefinedStoragePools, protocol.ProcConnectListDefinedStoragePools,
	protocol.ProcConnectListAllStoragePools,
	protocol.ProcStoragePoolLookupByName, protocol.ProcStoragePoolLookupByUUID, protocol.ProcStoragePoolLookupByVolume,
	protocol.ProcStoragePoolGetInfo, protocol.ProcStoragePoolGetXMLDesc, protocol.ProcStoragePoolGetAutostart,
	protocol.ProcStoragePoolIsActive, protocol.ProcStoragePoolIsPersistent,
	protocol.ProcStoragePoolNumOfVolumes, protocol.ProcStoragePoolListVolumes, protocol.ProcStoragePoolListAllVolumes,
	protocol.ProcStorageVolLookupByName, protocol.ProcStorageVolLookupByKey, protocol.ProcStorageVolLookupByPath,
	protocol.ProcStorageVolGetPath,
	protocol.ProcConnectStoragePoolEventRegisterAny, protocol.ProcConnectStoragePoolEventDeregisterAny,
})

// Immediate reports the calls that never wait (drivers.Immediate):
// everything that runs qemu-img or touches the disk is left out.
func (c *conn) Immediate(proc protocol.Procedure) bool { return immediateProcs[proc] }

func badFlags(flags uint32, fn string) error {
	return drivers.Errorf(vir.ErrInvalidArg, vir.FromStorage, "unsupported flags (0x%x) in function %s", flags, fn)
}

func (d *Driver) emit(p *pool, ev vir.StoragePoolEventLifecycleType) {
	d.events.Emit(drivers.StoragePoolLifecycleEvent{Pool: p.ref(), Event: ev})
}

// find returns the pool ref names; mu is held. Like libvirt it looks
// up by UUID and names the pool in the error.
func (d *Driver) find(ref protocol.StoragePool) (*pool, error) {
	for _, p := range d.pools {
		if p.def.uuid == ref.UUID {
			return p, nil
		}
	}
	return nil, drivers.Errorf(vir.ErrNoStoragePool, vir.FromStorage, "no storage pool with matching uuid '%s' (%s)", ref.UUID, ref.Name)
}

func (d *Driver) byName(name string) (*pool, error) {
	for _, p := range d.pools {
		if p.def.name == name {
			return p, nil
		}
	}
	return nil, drivers.Errorf(vir.ErrNoStoragePool, vir.FromStorage, "no storage pool with matching name '%s'", name)
}

// lookup finds ref's pool under a read lock.
func (d *Driver) lookup(ref protocol.StoragePool) (*pool, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.find(ref)
}

// remove drops p from the table; mu is held.
func (d *Driver) remove(p *pool) {
	for i, q := range d.pools {
		if q == p {
			d.pools = append(d.pools[:i], d.pools[i+1:]...)
			return
		}
	}
}

func notActive(p *pool) error {
	return drivers.Errorf(vir.ErrOperationInvalid, vir.FromStorage, "storage pool '%s' is not active", p.def.name)
}

func stillActive(p *pool) error {
	return drivers.Errorf(vir.ErrOperationInvalid, vir.FromStorage, "storage pool '%s' is still active", p.def.name)
}

// jobOn takes ref's pool's job lock; the caller unlocks it. The pool may
// have been undefined while the lock was awaited, so it is looked up
// again.
func (d *Driver) jobOn(ref protocol.StoragePool) (*pool, error) {
	p, err := d.lookup(ref)
	if err != nil {
		return nil, err
	}
	p.job.Lock()
	d.mu.RLock()
	_, err = d.find(ref)
	d.mu.RUnlock()
	if err != nil {
		p.job.Unlock()
		return nil, err
	}
	return p, nil
}

// Listing.

var poolStateFlags = uint32(vir.ConnectListStoragePoolsInactive | vir.ConnectListStoragePoolsActive |
	vir.ConnectListStoragePoolsPersistent | vir.ConnectListStoragePoolsTransient |
	vir.ConnectListStoragePoolsAutostart | vir.ConnectListStoragePoolsNoAutostart)

const poolTypeFlags = uint32(0xfffc0) // VIR_CONNECT_LIST_STORAGE_POOLS_DIR … ISCSI_DIRECT

func (p *pool) passes(flags uint32) bool {
	pair := func(on, off uint32, v bool) bool {
		if flags&(on|off) == 0 || flags&(on|off) == on|off {
			return true
		}
		return (flags&on != 0) == v
	}
	if !pair(uint32(vir.ConnectListStoragePoolsActive), uint32(vir.ConnectListStoragePoolsInactive), p.active) ||
		!pair(uint32(vir.ConnectListStoragePoolsPersistent), uint32(vir.ConnectListStoragePoolsTransient), p.persistent) ||
		!pair(uint32(vir.ConnectListStoragePoolsAutostart), uint32(vir.ConnectListStoragePoolsNoAutostart), p.autostart) {
		return false
	}
	if t := flags & poolTypeFlags; t != 0 && t&uint32(vir.ConnectListStoragePoolsDir) == 0 {
		return false
	}
	return true
}

func (c *conn) ConnectListAllStoragePools(ctx context.Context, needResults int32, flags uint32) (*protocol.ConnectListAllStoragePoolsRet, error) {
	if flags&^(poolStateFlags|poolTypeFlags) != 0 {
		return nil, badFlags(flags&^(poolStateFlags|poolTypeFlags), "storageConnectListAllStoragePools")
	}
	d := c.drv
	d.mu.RLock()
	defer d.mu.RUnlock()
	ret := &protocol.ConnectListAllStoragePoolsRet{Pools: []protocol.StoragePool{}}
	for _, p := range d.pools {
		if !p.passes(flags) {
			continue
		}
		ret.Ret++
		if needResults != 0 {
			ret.Pools = append(ret.Pools, p.ref())
		}
	}
	return ret, nil
}

func (d *Driver) names(active bool, maxnames int32) ([]string, error) {
	if maxnames < 0 || maxnames > protocol.RemoteStoragePoolListMax {
		return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromStorage, "maxnames %d is outside 0-%d", maxnames, protocol.RemoteStoragePoolListMax)
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	names := []string{}
	for _, p := range d.pools {
		if p.active == active && len(names) < int(maxnames) {
			names = append(names, p.def.name)
		}
	}
	return names, nil
}

func (d *Driver) count(active bool) int32 {
	d.mu.RLock()
	defer d.mu.RUnlock()
	n := int32(0)
	for _, p := range d.pools {
		if p.active == active {
			n++
		}
	}
	return n
}

func (c *conn) ConnectNumOfStoragePools(ctx context.Context) (int32, error) {
	return c.drv.count(true), nil
}

func (c *conn) ConnectListStoragePools(ctx context.Context, maxnames int32) ([]string, error) {
	return c.drv.names(true, maxnames)
}

func (c *conn) ConnectNumOfDefinedStoragePools(ctx context.Context) (int32, error) {
	return c.drv.count(false), nil
}

func (c *conn) ConnectListDefinedStoragePools(ctx context.Context, maxnames int32) ([]string, error) {
	return c.drv.names(false, maxnames)
}

// Lookups.

func (c *conn) StoragePoolLookupByName(ctx context.Context, name string) (protocol.StoragePool, error) {
	d := c.drv
	d.mu.RLock()
	defer d.mu.RUnlock()
	p, err := d.byName(name)
	if err != nil {
		return protocol.StoragePool{}, err
	}
	return p.ref(), nil
}

func (c *conn) StoragePoolLookupByUUID(ctx context.Context, uuid protocol.UUID) (protocol.StoragePool, error) {
	d := c.drv
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, p := range d.pools {
		if p.def.uuid == uuid {
			return p.ref(), nil
		}
	}
	return protocol.StoragePool{}, drivers.Errorf(vir.ErrNoStoragePool, vir.FromStorage, "no storage pool with matching uuid '%s'", uuid)
}

// StoragePoolLookupByVolume finds the volume's pool by the name it
// carries, as libvirt does; the pool must still hold the volume.
func (c *conn) StoragePoolLookupByVolume(ctx context.Context, vol protocol.StorageVol) (protocol.StoragePool, error) {
	d := c.drv
	d.mu.RLock()
	defer d.mu.RUnlock()
	p, err := d.byName(vol.Pool)
	if err != nil {
		return protocol.StoragePool{}, drivers.Errorf(vir.ErrNoStoragePool, vir.FromStorage, "no storage pool with matching name '%s'", vol.Pool)
	}
	return p.ref(), nil
}

func b2i(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

func (c *conn) StoragePoolIsActive(ctx context.Context, ref protocol.StoragePool) (int32, error) {
	d := c.drv
	d.mu.RLock()
	defer d.mu.RUnlock()
	p, err := d.find(ref)
	if err != nil {
		return 0, err
	}
	return b2i(p.active), nil
}

func (c *conn) StoragePoolIsPersistent(ctx context.Context, ref protocol.StoragePool) (int32, error) {
	d := c.drv
	d.mu.RLock()
	defer d.mu.RUnlock()
	p, err := d.find(ref)
	if err != nil {
		return 0, err
	}
	return b2i(p.persistent), nil
}

// Definitions.

// claim checks def against the table as virStoragePoolObjListAdd does
// and returns the pool of that name (nil for a new one); mu is held.
func (d *Driver) claim(def *poolDef) (*pool, error) {
	var same *pool
	for _, p := range d.pools {
		switch {
		case p.def.name == def.name && p.def.uuid != def.uuid:
			return nil, drivers.Errorf(vir.ErrOperationFailed, vir.FromStorage,
				"pool '%s' is already defined with uuid %s", def.name, p.def.uuid)
		case p.def.uuid == def.uuid && p.def.name != def.name:
			return nil, drivers.Errorf(vir.ErrOperationFailed, vir.FromStorage,
				"pool '%s' already exists with uuid %s", p.def.name, def.uuid)
		case p.def.name == def.name:
			same = p
		case p.def.path == def.path:
			return nil, drivers.Errorf(vir.ErrOperationFailed, vir.FromStorage,
				"Storage source conflict with pool: '%s'", p.def.name)
		}
	}
	return same, nil
}

// StoragePoolDefineXML defines a dir pool (or redefines one of the same
// name and UUID; an active pool takes the new definition when it
// stops), writes ConfigDir/NAME.xml and raises DEFINED.
func (c *conn) StoragePoolDefineXML(ctx context.Context, doc string, flags uint32) (protocol.StoragePool, error) {
	if flags&^uint32(vir.StoragePoolDefineValidate) != 0 {
		return protocol.StoragePool{}, badFlags(flags, "storagePoolDefineXML")
	}
	def, err := parsePoolXML(doc)
	if err != nil {
		return protocol.StoragePool{}, err
	}
	d := c.drv
	d.mu.RLock()
	old, err := d.claim(def)
	d.mu.RUnlock()
	if err != nil {
		return protocol.StoragePool{}, err
	}
	p := old
	if p == nil {
		p = &pool{def: def}
	}
	p.job.Lock()
	defer p.job.Unlock()
	if err := writeFileAtomic(d.cfg.configPath(def.name), []byte(formatPool(def, 0, 0, 0)), 0o600); err != nil {
		return protocol.StoragePool{}, drivers.Errorf(vir.ErrOperationFailed, vir.FromStorage, "cannot save the definition of pool '%s': %v", def.name, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if old == nil {
		if _, err := d.claim(def); err != nil { // a racing define
			return protocol.StoragePool{}, err
		}
		d.pools = append(d.pools, p)
	} else if p.active {
		p.newDef = def
	} else {
		p.def = def
	}
	p.persistent = true
	d.emit(p, vir.StoragePoolEventDefined)
	return p.ref(), nil
}

// StoragePoolCreateXML starts a transient pool (building it first when
// asked), raising STARTED only, as libvirt does.
func (c *conn) StoragePoolCreateXML(ctx context.Context, doc string, flags uint32) (protocol.StoragePool, error) {
	if err := checkCreateFlags(flags, "storagePoolCreateXML"); err != nil {
		return protocol.StoragePool{}, err
	}
	def, err := parsePoolXML(doc)
	if err != nil {
		return protocol.StoragePool{}, err
	}
	d := c.drv
	p := &pool{def: def}
	p.job.Lock()
	defer p.job.Unlock()
	d.mu.Lock()
	old, err := d.claim(def)
	if err == nil && old != nil {
		if old.active {
			err = drivers.Errorf(vir.ErrOperationInvalid, vir.FromStorage, "pool '%s' is already active", def.name)
		} else {
			err = drivers.Errorf(vir.ErrOperationInvalid, vir.FromStorage, "pool '%s' is already defined; start it with pool-start", def.name)
		}
	}
	if err == nil {
		d.pools = append(d.pools, p)
	}
	d.mu.Unlock()
	if err != nil {
		return protocol.StoragePool{}, err
	}
	if err := d.start(ctx, p, flags); err != nil {
		d.mu.Lock()
		d.remove(p)
		d.mu.Unlock()
		return protocol.StoragePool{}, err
	}
	return p.ref(), nil
}

func checkCreateFlags(flags uint32, fn string) error {
	all := uint32(vir.StoragePoolCreateWithBuild | vir.StoragePoolCreateWithBuildOverwrite | vir.StoragePoolCreateWithBuildNoOverwrite)
	if flags&^all != 0 {
		return badFlags(flags&^all, fn)
	}
	if flags&uint32(vir.StoragePoolCreateWithBuildOverwrite) != 0 && flags&uint32(vir.StoragePoolCreateWithBuildNoOverwrite) != 0 {
		return drivers.Errorf(vir.ErrInvalidArg, vir.FromStorage, "Flags 'overwrite' and 'no-overwrite' are mutually exclusive")
	}
	return nil
}

// StoragePoolCreate starts a defined pool.
func (c *conn) StoragePoolCreate(ctx context.Context, ref protocol.StoragePool, flags uint32) error {
	if err := checkCreateFlags(flags, "storagePoolCreate"); err != nil {
		return err
	}
	d := c.drv
	p, err := d.jobOn(ref)
	if err != nil {
		return err
	}
	defer p.job.Unlock()
	d.mu.RLock()
	active := p.active
	d.mu.RUnlock()
	if active {
		return drivers.Errorf(vir.ErrOperationInvalid, vir.FromStorage, "storage pool '%s' is already active", p.def.name)
	}
	return d.start(ctx, p, flags)
}

// start builds p when flags ask, checks its directory, writes its state
// file, scans its volumes and marks it active, raising STARTED. The
// pool's job lock is held.
func (d *Driver) start(ctx context.Context, p *pool, flags uint32) error {
	if flags&uint32(vir.StoragePoolCreateWithBuild|vir.StoragePoolCreateWithBuildOverwrite|vir.StoragePoolCreateWithBuildNoOverwrite) != 0 {
		if err := build(p.def); err != nil {
			return err
		}
	}
	fi, err := os.Stat(p.def.path)
	if err != nil {
		return drivers.Errorf(vir.ErrOperationFailed, vir.FromStorage, "cannot start pool '%s': %v (pool-build makes the directory)", p.def.name, err)
	}
	if !fi.IsDir() {
		return drivers.Errorf(vir.ErrOperationFailed, vir.FromStorage, "cannot start pool '%s': target %s is not a directory", p.def.name, p.def.path)
	}
	vols, sizes, err := d.scan(ctx, p.def)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(d.cfg.statePath(p.def.name), []byte(formatPool(p.def, 0, 0, 0)), 0o600); err != nil {
		return drivers.Errorf(vir.ErrOperationFailed, vir.FromStorage, "cannot save the state of pool '%s': %v", p.def.name, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	p.vols = vols
	p.capacity, p.allocation, p.available = sizes[0], sizes[1], sizes[2]
	p.active = true
	d.emit(p, vir.StoragePoolEventStarted)
	return nil
}

// statfs is the dir backend's pool sizes: capacity, allocation and
// available from statvfs of the target.
func statfs(path string) ([3]uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return [3]uint64{}, drivers.Errorf(vir.ErrSystemError, vir.FromStorage, "cannot statvfs path '%s': %v", path, err)
	}
	bs := uint64(st.Frsize)
	return [3]uint64{st.Blocks * bs, (st.Blocks - st.Bfree) * bs, st.Bavail * bs}, nil
}

// build makes the pool's directory with its target's permissions.
func build(def *poolDef) error {
	mode := os.FileMode(defaultPoolMode)
	if def.perms.mode != -1 {
		mode = os.FileMode(def.perms.mode)
	}
	if err := os.MkdirAll(def.path, mode); err != nil {
		return drivers.Errorf(vir.ErrSystemError, vir.FromStorage, "cannot create path '%s' of pool '%s': %v", def.path, def.name, err)
	}
	if err := os.Chmod(def.path, mode); err != nil {
		return drivers.Errorf(vir.ErrSystemError, vir.FromStorage, "cannot set mode of '%s': %v", def.path, err)
	}
	if def.perms.owner != -1 || def.perms.group != -1 {
		if err := os.Chown(def.path, int(def.perms.owner), int(def.perms.group)); err != nil {
			return drivers.Errorf(vir.ErrSystemError, vir.FromStorage, "cannot chown '%s' to (%d, %d): %v", def.path, def.perms.owner, def.perms.group, err)
		}
	}
	return nil
}

// StoragePoolBuild makes an inactive pool's directory and raises CREATED.
func (c *conn) StoragePoolBuild(ctx context.Context, ref protocol.StoragePool, flags uint32) error {
	all := uint32(vir.StoragePoolBuildOverwrite | vir.StoragePoolBuildNoOverwrite)
	if flags&^all != 0 {
		return badFlags(flags&^all, "storagePoolBuild")
	}
	if flags == all {
		return drivers.Errorf(vir.ErrInvalidArg, vir.FromStorage, "Flags 'overwrite' and 'no-overwrite' are mutually exclusive")
	}
	d := c.drv
	p, err := d.jobOn(ref)
	if err != nil {
		return err
	}
	defer p.job.Unlock()
	d.mu.RLock()
	active := p.active
	d.mu.RUnlock()
	if active {
		return drivers.Errorf(vir.ErrOperationInvalid, vir.FromStorage, "storage pool '%s' is already active", p.def.name)
	}
	if err := build(p.def); err != nil {
		return err
	}
	d.mu.Lock()
	d.emit(p, vir.StoragePoolEventCreated)
	d.mu.Unlock()
	return nil
}

// StoragePoolDestroy stops a pool (a transient one goes away), raising
// STOPPED.
func (c *conn) StoragePoolDestroy(ctx context.Context, ref protocol.StoragePool) error {
	d := c.drv
	p, err := d.jobOn(ref)
	if err != nil {
		return err
	}
	defer p.job.Unlock()
	d.mu.RLock()
	active, busy := p.active, p.busy
	d.mu.RUnlock()
	if !active {
		return notActive(p)
	}
	if busy > 0 {
		return drivers.Errorf(vir.ErrInternalError, vir.FromStorage, "pool '%s' has asynchronous jobs running.", p.def.name)
	}
	if err := os.Remove(d.cfg.statePath(p.def.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		d.log.Warn("cannot remove pool state file", "pool", p.def.name, "err", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if p.busy > 0 { // a transfer began meanwhile
		return drivers.Errorf(vir.ErrInternalError, vir.FromStorage, "pool '%s' has asynchronous jobs running.", p.def.name)
	}
	p.active, p.vols = false, nil
	d.emit(p, vir.StoragePoolEventStopped)
	if !p.persistent {
		d.remove(p)
	} else if p.newDef != nil {
		p.def, p.newDef = p.newDef, nil
	}
	return nil
}

// StoragePoolDelete removes an inactive pool's (empty) directory and
// raises DELETED.
func (c *conn) StoragePoolDelete(ctx context.Context, ref protocol.StoragePool, flags uint32) error {
	if flags&^uint32(vir.StoragePoolDeleteZeroed) != 0 {
		return badFlags(flags, "storagePoolDelete")
	}
	d := c.drv
	p, err := d.jobOn(ref)
	if err != nil {
		return err
	}
	defer p.job.Unlock()
	d.mu.RLock()
	active := p.active
	d.mu.RUnlock()
	if active {
		return stillActive(p)
	}
	if err := os.Remove(p.def.path); err != nil {
		return drivers.Errorf(vir.ErrSystemError, vir.FromStorage, "failed to remove pool '%s' directory %s: %v", p.def.name, p.def.path, unwrapPath(err))
	}
	d.mu.Lock()
	d.emit(p, vir.StoragePoolEventDeleted)
	d.mu.Unlock()
	return nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// StoragePoolUndefine removes an inactive pool's definition and
// autostart link and raises UNDEFINED.
func (c *conn) StoragePoolUndefine(ctx context.Context, ref protocol.StoragePool) error {
	d := c.drv
	p, err := d.jobOn(ref)
	if err != nil {
		return err
	}
	defer p.job.Unlock()
	d.mu.RLock()
	active, persistent := p.active, p.persistent
	d.mu.RUnlock()
	if active {
		return stillActive(p)
	}
	if !persistent {
		return drivers.Errorf(vir.ErrOperationInvalid, vir.FromStorage, "cannot undefine transient storage pool '%s'", p.def.name)
	}
	if err := os.Remove(d.cfg.configPath(p.def.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return drivers.Errorf(vir.ErrSystemError, vir.FromStorage, "cannot remove config file '%s': %v", d.cfg.configPath(p.def.name), unwrapPath(err))
	}
	if err := os.Remove(d.cfg.autostartPath(p.def.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		d.log.Error("cannot delete autostart link", "link", d.cfg.autostartPath(p.def.name), "err", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.emit(p, vir.StoragePoolEventUndefined)
	d.remove(p)
	return nil
}

// StoragePoolRefresh rescans an active pool's directory and raises
// REFRESH; a pool whose directory went away is stopped (STOPPED), as
// libvirt does.
func (c *conn) StoragePoolRefresh(ctx context.Context, ref protocol.StoragePool, flags uint32) error {
	if flags != 0 {
		return badFlags(flags, "storagePoolRefresh")
	}
	d := c.drv
	p, err := d.jobOn(ref)
	if err != nil {
		return err
	}
	defer p.job.Unlock()
	d.mu.RLock()
	active, busy := p.active, p.busy
	d.mu.RUnlock()
	if !active {
		return notActive(p)
	}
	if busy > 0 {
		return drivers.Errorf(vir.ErrInternalError, vir.FromStorage, "pool '%s' has asynchronous jobs running.", p.def.name)
	}
	vols, sizes, err := d.scan(ctx, p.def)
	if err != nil {
		os.Remove(d.cfg.statePath(p.def.name))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		p.active, p.vols = false, nil
		d.emit(p, vir.StoragePoolEventStopped)
		if !p.persistent {
			d.remove(p)
		}
		return err
	}
	p.vols = vols
	p.capacity, p.allocation, p.available = sizes[0], sizes[1], sizes[2]
	d.events.Emit(drivers.StoragePoolRefreshEvent{Pool: p.ref()})
	return nil
}

// StoragePoolGetInfo answers the state and the sizes of the last scan.
func (c *conn) StoragePoolGetInfo(ctx context.Context, ref protocol.StoragePool) (*protocol.StoragePoolGetInfoRet, error) {
	d := c.drv
	d.mu.RLock()
	defer d.mu.RUnlock()
	p, err := d.find(ref)
	if err != nil {
		return nil, err
	}
	ret := &protocol.StoragePoolGetInfoRet{State: uint8(vir.StoragePoolInactive)}
	if p.active {
		ret.State = uint8(vir.StoragePoolRunning)
		ret.Capacity, ret.Allocation, ret.Available = p.capacity, p.allocation, p.available
	}
	return ret, nil
}

// StoragePoolGetXMLDesc is the pool's XML; VIR_STORAGE_XML_INACTIVE
// gives the definition an active pool takes when it stops.
func (c *conn) StoragePoolGetXMLDesc(ctx context.Context, ref protocol.StoragePool, flags uint32) (string, error) {
	const inactive = 1 // VIR_STORAGE_XML_INACTIVE
	if flags&^inactive != 0 {
		return "", badFlags(flags, "storagePoolGetXMLDesc")
	}
	d := c.drv
	d.mu.RLock()
	defer d.mu.RUnlock()
	p, err := d.find(ref)
	if err != nil {
		return "", err
	}
	def := p.def
	if flags&inactive != 0 && p.newDef != nil {
		def = p.newDef
	}
	if !p.active {
		return formatPool(def, 0, 0, 0), nil
	}
	return formatPool(def, p.capacity, p.allocation, p.available), nil
}

func (c *conn) StoragePoolGetAutostart(ctx context.Context, ref protocol.StoragePool) (int32, error) {
	d := c.drv
	d.mu.RLock()
	defer d.mu.RUnlock()
	p, err := d.find(ref)
	if err != nil {
		return 0, err
	}
	return b2i(p.autostart), nil
}

// StoragePoolSetAutostart makes or removes the autostart link
// AutostartDir/NAME.xml -> ConfigDir/NAME.xml, as libvirt does.
func (c *conn) StoragePoolSetAutostart(ctx context.Context, ref protocol.StoragePool, autostart int32) error {
	d := c.drv
	p, err := d.jobOn(ref)
	if err != nil {
		return err
	}
	defer p.job.Unlock()
	d.mu.RLock()
	persistent, cur := p.persistent, p.autostart
	d.mu.RUnlock()
	if !persistent {
		return drivers.Errorf(vir.ErrInternalError, vir.FromStorage, "pool has no config file")
	}
	want := autostart != 0
	if want == cur {
		return nil
	}
	link, target := d.cfg.autostartPath(p.def.name), d.cfg.configPath(p.def.name)
	if want {
		if err := os.MkdirAll(d.cfg.AutostartDir, 0o755); err != nil {
			return drivers.Errorf(vir.ErrSystemError, vir.FromStorage, "cannot create autostart directory %s: %v", d.cfg.AutostartDir, unwrapPath(err))
		}
		abs, _ := filepath.Abs(target)
		if err := os.Symlink(abs, link); err != nil {
			return drivers.Errorf(vir.ErrSystemError, vir.FromStorage, "Failed to create symlink '%s' to '%s': %v", link, abs, unwrapPath(err))
		}
	} else if err := os.Remove(link); err != nil && !errors.Is(err, os.ErrNotExist) {
		return drivers.Errorf(vir.ErrSystemError, vir.FromStorage, "Failed to delete symlink '%s': %v", link, unwrapPath(err))
	}
	d.mu.Lock()
	p.autostart = want
	d.mu.Unlock()
	return nil
}

// ConnectFindStoragePoolSources has nothing to find for dir pools, the
// only type served.
func (c *conn) ConnectFindStoragePoolSources(ctx context.Context, typ string, srcSpec *string, flags uint32) (string, error) {
	if typ == "dir" {
		return "", drivers.Errorf(vir.ErrNoSupport, vir.FromStorage, "pool type 'dir' does not support source discovery")
	}
	return "", drivers.Errorf(vir.ErrNoSupport, vir.FromStorage, "pool type '%s' is not served by govirtd's storage driver (dir pools are)", typ)
}

// Events.

func (c *conn) ConnectStoragePoolEventRegisterAny(ctx context.Context, ref *drivers.StoragePool, eventID vir.StoragePoolEventID, cb func(callbackID int, ev drivers.StoragePoolEvent)) (int, error) {
	var filter *drivers.UUID
	if ref != nil {
		filter = &ref.UUID
	}
	return drivers.RegisterIn(&c.cb, &c.drv.events, c, eventID, filter, cb)
}

func (c *conn) ConnectStoragePoolEventDeregisterAny(ctx context.Context, callbackID int) error {
	return c.drv.events.Deregister(c, callbackID)
}

// writeFileAtomic writes data to path through a temporary file renamed
// over it, so that a crash leaves the old file or the new one.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("rename into %s: %w", path, err)
	}
	return nil
}
