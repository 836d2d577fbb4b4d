package test

import (
	"context"
	"encoding/xml"
	"fmt"
	"sync"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// The test driver's storage concern: its pools and their volumes, in the
// image of libvirt 9.0's test driver. A pool is defined (persistent) or
// created (transient); every pool reports 100 GiB of capacity, and its
// allocation is what its volumes allocate. Build, delete and refresh
// change nothing but raise their events, as libvirt's do. Nothing here
// ever waits: every call takes the pools' lock for a few map and slice
// operations only.

// defaultPoolCapacity is every test pool's capacity (100 GiB), as
// libvirt's test driver sets it.
const defaultPoolCapacity = 100 << 30

// defaultPoolXML is the pool test:///default starts with, active and
// persistent, without volumes: libvirt's defaultConnXML pool.
const defaultPoolXML = `<pool type='dir'>
  <name>default-pool</name>
  <uuid>dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566</uuid>
  <target>
    <path>/default-pool</path>
  </target>
</pool>`

// poolState is the test driver's pool table.
type poolState struct {
	// mu guards pools, and is held while events are emitted so that they
	// leave in the order of the changes.
	mu     sync.Mutex
	pools  []*pool // in definition order
	events drivers.StoragePoolCallbackList
}

// pool is one storage pool object (virStoragePoolObj).
type pool struct {
	def        *poolDef
	active     bool
	persistent bool // libvirt: has a config file
	autostart  bool
	capacity   uint64
	allocation uint64
	available  uint64
	vols       []*volume // in creation order
}

func (p *pool) ref() protocol.StoragePool {
	return protocol.StoragePool{Name: p.def.name, UUID: p.def.uuid}
}

// setDefaults is testStoragePoolObjSetDefaults: full capacity, nothing
// allocated (whatever the volumes hold), persistent.
func (p *pool) setDefaults() {
	p.capacity, p.allocation, p.available = defaultPoolCapacity, 0, defaultPoolCapacity
	p.persistent = true
}

func newPoolState() *poolState {
	s := &poolState{}
	def, err := parsePoolXML(defaultPoolXML)
	if err != nil {
		panic("test driver: default pool: " + err.Error())
	}
	p := &pool{def: def, active: true}
	p.setDefaults()
	s.pools = append(s.pools, p)
	return s
}

// poolProcs are the storage procedures, all served without waiting.
var poolProcs = []protocol.Procedure{
	protocol.ProcConnectNumOfStoragePools, protocol.ProcConnectListStoragePools,
	protocol.ProcConnectNumOfDefinedStoragePools, protocol.ProcConnectListDefinedStoragePools,
	protocol.ProcConnectListAllStoragePools, protocol.ProcConnectFindStoragePoolSources,
	protocol.ProcStoragePoolLookupByName, protocol.ProcStoragePoolLookupByUUID, protocol.ProcStoragePoolLookupByVolume,
	protocol.ProcStoragePoolCreateXML, protocol.ProcStoragePoolDefineXML, protocol.ProcStoragePoolCreate,
	protocol.ProcStoragePoolBuild, protocol.ProcStoragePoolDestroy, protocol.ProcStoragePoolDelete,
	protocol.ProcStoragePoolUndefine, protocol.ProcStoragePoolRefresh, protocol.ProcStoragePoolGetInfo,
	protocol.ProcStoragePoolGetXMLDesc, protocol.ProcStoragePoolGetAutostart, protocol.ProcStoragePoolSetAutostart,
	protocol.ProcStoragePoolIsActive, protocol.ProcStoragePoolIsPersistent,
	protocol.ProcStoragePoolNumOfVolumes, protocol.ProcStoragePoolListVolumes, protocol.ProcStoragePoolListAllVolumes,
	protocol.ProcStorageVolCreateXML, protocol.ProcStorageVolCreateXMLFrom, protocol.ProcStorageVolDelete,
	protocol.ProcStorageVolLookupByName, protocol.ProcStorageVolLookupByKey, protocol.ProcStorageVolLookupByPath,
	protocol.ProcStorageVolGetInfo, protocol.ProcStorageVolGetXMLDesc, protocol.ProcStorageVolGetPath,
}

func (c *conn) ps() *poolState { return c.drv.pools }

// noSchema refuses the flags asking that XML be checked against
// libvirt's RNG schema, which govirtd does not have: accepting without
// the check would take what libvirt refuses.
func noSchema(flag string) error {
	return drivers.Errorf(vir.ErrNoSupport, vir.FromTest, "%s (validation against libvirt's schema) is not served by govirtd's test driver; define without it", flag)
}

// emit raises a lifecycle event of p; s.mu is held.
func (s *poolState) emit(ref protocol.StoragePool, ev vir.StoragePoolEventLifecycleType) {
	s.events.Emit(drivers.StoragePoolLifecycleEvent{Pool: ref, Event: ev})
}

// byName finds a pool by name; s.mu is held.
func (s *poolState) byName(name string) (*pool, error) {
	for _, p := range s.pools {
		if p.def.name == name {
			return p, nil
		}
	}
	return nil, drivers.Errorf(vir.ErrNoStoragePool, vir.FromTest, "no storage pool with matching name '%s'", name)
}

func (s *poolState) byUUID(u drivers.UUID) (*pool, error) {
	for _, p := range s.pools {
		if p.def.uuid == u {
			return p, nil
		}
	}
	return nil, drivers.Errorf(vir.ErrNoStoragePool, vir.FromTest, "no storage pool with matching uuid '%s'", u)
}

// activeByName and inactiveByName find a pool that must be active
// (inactive), as libvirt's test driver checks.
func (s *poolState) activeByName(name string) (*pool, error) {
	p, err := s.byName(name)
	if err == nil && !p.active {
		err = drivers.Errorf(vir.ErrOperationInvalid, vir.FromTest, "storage pool '%s' is not active", name)
	}
	return p, err
}

func (s *poolState) inactiveByName(name string) (*pool, error) {
	p, err := s.byName(name)
	if err == nil && p.active {
		err = drivers.Errorf(vir.ErrOperationInvalid, vir.FromTest, "storage pool '%s' is active", name)
	}
	return p, err
}

func (s *poolState) remove(p *pool) {
	for i, q := range s.pools {
		if q == p {
			s.pools = append(s.pools[:i], s.pools[i+1:]...)
			return
		}
	}
}

// add is virStoragePoolObjListAdd: a new pool, or the pool of the same
// name and UUID given def (its current definition when inactive; an
// active pool keeps its own until it stops, and libvirt's test driver
// never applies the pending one, so neither does this). checkLive
// refuses an active pool of that name, as creating does.
func (s *poolState) add(def *poolDef, checkLive bool) (*pool, error) {
	for _, q := range s.pools {
		if q.def.conflicts(def) {
			return nil, drivers.Errorf(vir.ErrOperationFailed, vir.FromStorage, "Storage source conflict with pool: '%s'", q.def.name)
		}
	}
	for _, q := range s.pools {
		if q.def.uuid == def.uuid {
			if q.def.name != def.name {
				return nil, drivers.Errorf(vir.ErrOperationFailed, vir.FromStorage, "pool '%s' is already defined with uuid %s", q.def.name, q.def.uuid)
			}
			if checkLive && q.active {
				return nil, drivers.Errorf(vir.ErrOperationInvalid, vir.FromStorage, "pool is already active as '%s'", q.def.name)
			}
			if !q.active {
				q.def = def
			}
			return q, nil
		}
	}
	for _, q := range s.pools {
		if q.def.name == def.name {
			return nil, drivers.Errorf(vir.ErrOperationFailed, vir.FromStorage, "pool '%s' already exists with uuid %s", def.name, q.def.uuid)
		}
	}
	p := &pool{def: def}
	s.pools = append(s.pools, p)
	return p, nil
}

// poolTypeFlags are the pool type flags of virConnectListAllStoragePools,
// and poolTypeFlag the flag of each type served.
const poolTypeFlags = 0xfffc0 // VIR_CONNECT_LIST_STORAGE_POOLS_DIR … _ISCSI_DIRECT

var poolTypeFlag = map[string]uint32{
	"dir": uint32(vir.ConnectListStoragePoolsDir), "fs": uint32(vir.ConnectListStoragePoolsFs),
	"netfs": uint32(vir.ConnectListStoragePoolsNetfs),
}

// ConnectListAllStoragePools lists the pools that pass flags: the state
// groups as for networks (listed), and the type flags, of which a pool
// passes its type's.
func (c *conn) ConnectListAllStoragePools(ctx context.Context, needResults int32, flags uint32) (*protocol.ConnectListAllStoragePoolsRet, error) {
	if flags&^(0x3f|poolTypeFlags) != 0 {
		return nil, badFlags(flags&^(0x3f|poolTypeFlags), "testConnectListAllStoragePools")
	}
	s := c.ps()
	s.mu.Lock()
	defer s.mu.Unlock()
	ret := &protocol.ConnectListAllStoragePoolsRet{Pools: []protocol.StoragePool{}}
	types := flags & poolTypeFlags
	for _, p := range s.pools {
		if !drivers.ListedBy(vir.ConnectListAllNetworksFlags(flags&0x3f), p.active, p.persistent, p.autostart) ||
			(types != 0 && types&poolTypeFlag[p.def.typ] == 0) {
			continue
		}
		ret.Ret++
		if needResults != 0 {
			ret.Pools = append(ret.Pools, p.ref())
		}
	}
	return ret, nil
}

func (s *poolState) names(active bool, maxnames int32) ([]string, error) {
	if maxnames < 0 || maxnames > protocol.RemoteStoragePoolListMax {
		return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "maxnames %d is outside 0-%d", maxnames, protocol.RemoteStoragePoolListMax)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	names := []string{}
	for _, p := range s.pools {
		if p.active == active && len(names) < int(maxnames) {
			names = append(names, p.def.name)
		}
	}
	return names, nil
}

func (s *poolState) count(active bool) int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := int32(0)
	for _, p := range s.pools {
		if p.active == active {
			n++
		}
	}
	return n
}

func (c *conn) ConnectNumOfStoragePools(ctx context.Context) (int32, error) {
	return c.ps().count(true), nil
}

func (c *conn) ConnectListStoragePools(ctx context.Context, maxnames int32) ([]string, error) {
	return c.ps().names(true, maxnames)
}

func (c *conn) ConnectNumOfDefinedStoragePools(ctx context.Context) (int32, error) {
	return c.ps().count(false), nil
}

func (c *conn) ConnectListDefinedStoragePools(ctx context.Context, maxnames int32) ([]string, error) {
	return c.ps().names(false, maxnames)
}

func (c *conn) StoragePoolLookupByName(ctx context.Context, name string) (protocol.StoragePool, error) {
	s := c.ps()
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.byName(name)
	if err != nil {
		return protocol.StoragePool{}, err
	}
	return p.ref(), nil
}

func (c *conn) StoragePoolLookupByUUID(ctx context.Context, uuid protocol.UUID) (protocol.StoragePool, error) {
	s := c.ps()
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.byUUID(uuid)
	if err != nil {
		return protocol.StoragePool{}, err
	}
	return p.ref(), nil
}

// StoragePoolLookupByVolume looks the volume's pool up by the name the
// volume carries, as libvirt's test driver does.
func (c *conn) StoragePoolLookupByVolume(ctx context.Context, vol protocol.StorageVol) (protocol.StoragePool, error) {
	return c.StoragePoolLookupByName(ctx, vol.Pool)
}

func (c *conn) StoragePoolIsActive(ctx context.Context, ref protocol.StoragePool) (int32, error) {
	s := c.ps()
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.byUUID(ref.UUID)
	if err != nil {
		return 0, err
	}
	return b2i(p.active), nil
}

func (c *conn) StoragePoolIsPersistent(ctx context.Context, ref protocol.StoragePool) (int32, error) {
	s := c.ps()
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.byUUID(ref.UUID)
	if err != nil {
		return 0, err
	}
	return b2i(p.persistent), nil
}

func b2i(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// StoragePoolDefineXML defines a pool (or redefines the inactive pool of
// that name and UUID), persistent and inactive, and raises DEFINED.
func (c *conn) StoragePoolDefineXML(ctx context.Context, doc string, flags uint32) (protocol.StoragePool, error) {
	if flags&^uint32(vir.StoragePoolDefineValidate) != 0 {
		return protocol.StoragePool{}, badFlags(flags&^(uint32(vir.StoragePoolDefineValidate)), "testStoragePoolDefineXML")
	}
	if flags != 0 {
		return protocol.StoragePool{}, noSchema("VIR_STORAGE_POOL_DEFINE_VALIDATE")
	}
	def, err := parsePoolXML(doc)
	if err != nil {
		return protocol.StoragePool{}, err
	}
	s := c.ps()
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.add(def, false)
	if err != nil {
		return protocol.StoragePool{}, err
	}
	s.emit(p.ref(), vir.StoragePoolEventDefined)
	p.setDefaults()
	return p.ref(), nil
}

// StoragePoolCreateXML creates a transient pool, started, and raises
// STARTED. As in libvirt's test driver, creating the inactive defined
// pool of that name and UUID makes it transient.
func (c *conn) StoragePoolCreateXML(ctx context.Context, doc string, flags uint32) (protocol.StoragePool, error) {
	if flags != 0 {
		return protocol.StoragePool{}, badFlags(flags, "testStoragePoolCreateXML")
	}
	def, err := parsePoolXML(doc)
	if err != nil {
		return protocol.StoragePool{}, err
	}
	s := c.ps()
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.add(def, true)
	if err != nil {
		return protocol.StoragePool{}, err
	}
	p.setDefaults()
	p.persistent, p.active = false, true
	s.emit(p.ref(), vir.StoragePoolEventStarted)
	return p.ref(), nil
}

// StoragePoolCreate starts an inactive pool and raises STARTED.
func (c *conn) StoragePoolCreate(ctx context.Context, ref protocol.StoragePool, flags uint32) error {
	if flags != 0 {
		return badFlags(flags, "testStoragePoolCreate")
	}
	s := c.ps()
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.inactiveByName(ref.Name)
	if err != nil {
		return err
	}
	p.active = true
	s.emit(ref, vir.StoragePoolEventStarted)
	return nil
}

// StoragePoolBuild changes nothing of an inactive pool but raises
// CREATED, as libvirt's test driver does.
func (c *conn) StoragePoolBuild(ctx context.Context, ref protocol.StoragePool, flags uint32) error {
	if flags != 0 {
		return badFlags(flags, "testStoragePoolBuild")
	}
	s := c.ps()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.inactiveByName(ref.Name); err != nil {
		return err
	}
	s.emit(ref, vir.StoragePoolEventCreated)
	return nil
}

// StoragePoolDestroy stops an active pool (a transient one goes) and
// raises STOPPED. Its volumes stay for its next start.
func (c *conn) StoragePoolDestroy(ctx context.Context, ref protocol.StoragePool) error {
	s := c.ps()
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.activeByName(ref.Name)
	if err != nil {
		return err
	}
	p.active = false
	s.emit(p.ref(), vir.StoragePoolEventStopped)
	if !p.persistent {
		s.remove(p)
	}
	return nil
}

// StoragePoolDelete changes nothing of an inactive pool but raises
// DELETED, as libvirt's test driver does.
func (c *conn) StoragePoolDelete(ctx context.Context, ref protocol.StoragePool, flags uint32) error {
	if flags != 0 {
		return badFlags(flags, "testStoragePoolDelete")
	}
	s := c.ps()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.inactiveByName(ref.Name); err != nil {
		return err
	}
	s.emit(ref, vir.StoragePoolEventDeleted)
	return nil
}

// StoragePoolUndefine removes an inactive pool and raises UNDEFINED.
func (c *conn) StoragePoolUndefine(ctx context.Context, ref protocol.StoragePool) error {
	s := c.ps()
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.inactiveByName(ref.Name)
	if err != nil {
		return err
	}
	s.remove(p)
	s.emit(ref, vir.StoragePoolEventUndefined)
	return nil
}

// StoragePoolRefresh raises the refresh event of an active pool.
func (c *conn) StoragePoolRefresh(ctx context.Context, ref protocol.StoragePool, flags uint32) error {
	if flags != 0 {
		return badFlags(flags, "testStoragePoolRefresh")
	}
	s := c.ps()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.activeByName(ref.Name); err != nil {
		return err
	}
	s.events.Emit(drivers.StoragePoolRefreshEvent{Pool: ref})
	return nil
}

func (c *conn) StoragePoolGetInfo(ctx context.Context, ref protocol.StoragePool) (*protocol.StoragePoolGetInfoRet, error) {
	s := c.ps()
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.byName(ref.Name)
	if err != nil {
		return nil, err
	}
	state := vir.StoragePoolInactive
	if p.active {
		state = vir.StoragePoolRunning
	}
	return &protocol.StoragePoolGetInfoRet{State: uint8(state), Capacity: p.capacity, Allocation: p.allocation, Available: p.available}, nil
}

func (c *conn) StoragePoolGetXMLDesc(ctx context.Context, ref protocol.StoragePool, flags uint32) (string, error) {
	if flags != 0 {
		return "", badFlags(flags, "testStoragePoolGetXMLDesc")
	}
	s := c.ps()
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.byName(ref.Name)
	if err != nil {
		return "", err
	}
	return formatPool(p.def, p.capacity, p.allocation, p.available)
}

func (c *conn) StoragePoolGetAutostart(ctx context.Context, ref protocol.StoragePool) (int32, error) {
	s := c.ps()
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.byName(ref.Name)
	if err != nil {
		return 0, err
	}
	return b2i(p.persistent && p.autostart), nil
}

// StoragePoolSetAutostart marks a persistent pool to start at boot (the
// test driver never boots, so nothing else changes).
func (c *conn) StoragePoolSetAutostart(ctx context.Context, ref protocol.StoragePool, autostart int32) error {
	s := c.ps()
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.byName(ref.Name)
	if err != nil {
		return err
	}
	if !p.persistent {
		return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "pool has no config file")
	}
	p.autostart = autostart != 0
	return nil
}

// ConnectFindStoragePoolSources answers libvirt's test driver's fixed
// sources: two volume groups for logical, the host asked for with
// /testshare for netfs; no other type discovers sources.
func (c *conn) ConnectFindStoragePoolSources(ctx context.Context, typ string, srcSpec *string, flags uint32) (string, error) {
	if flags != 0 {
		return "", badFlags(flags, "testConnectFindStoragePoolSources")
	}
	known := map[string]bool{"fs": true, "netfs": true, "logical": true, "disk": true, "iscsi": true, "iscsi-direct": true,
		"scsi": true, "mpath": true, "rbd": true, "sheepdog": true, "gluster": true, "zfs": true, "vstorage": true}
	// libvirt takes dir (type number 0) for an unknown type here.
	if typ == "dir" {
		return "", drivers.Errorf(vir.ErrInternalError, vir.FromTest, "unknown storage pool type %s", typ)
	}
	if !known[typ] {
		if srcSpec != nil {
			return "", drivers.Errorf(vir.ErrInternalError, vir.FromTest, "unknown storage pool type %s", typ)
		}
		return "", drivers.Errorf(vir.ErrNoSupport, vir.FromTest, "pool type '%s' does not support source discovery", typ)
	}
	var host string
	if srcSpec != nil {
		var src struct {
			XMLName xml.Name `xml:"source"`
			Host    []struct {
				Name string `xml:"name,attr"`
			} `xml:"host"`
		}
		if err := xml.Unmarshal([]byte(*srcSpec), &src); err != nil {
			return "", drivers.Errorf(vir.ErrXMLError, vir.FromTest, "(storage_source_specification): %v", err)
		}
		if len(src.Host) > 0 {
			host = src.Host[0].Name
		}
	}
	switch typ {
	case "logical":
		return defaultPoolSourcesLogical, nil
	case "netfs":
		if host == "" {
			return "", drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "hostname must be specified for netfs sources")
		}
		return fmt.Sprintf(defaultPoolSourcesNetFS, host), nil
	}
	return "", drivers.Errorf(vir.ErrNoSupport, vir.FromTest, "pool type '%s' does not support source discovery", typ)
}

// The sources libvirt's test driver finds.
const (
	defaultPoolSourcesLogical = `<sources>
  <source>
    <device path='/dev/sda20'/>
    <name>testvg1</name>
    <format type='lvm2'/>
  </source>
  <source>
    <device path='/dev/sda21'/>
    <name>testvg2</name>
    <format type='lvm2'/>
  </source>
</sources>
`
	defaultPoolSourcesNetFS = `<sources>
  <source>
    <host name='%s'/>
    <dir path='/testshare'/>
    <format type='nfs'/>
  </source>
</sources>
`
)

// Volumes.

func (p *pool) vol(name string) *volume {
	for _, v := range p.vols {
		if v.name == name {
			return v
		}
	}
	return nil
}

func (p *pool) volRef(v *volume) protocol.StorageVol {
	return protocol.StorageVol{Pool: p.def.name, Name: v.name, Key: v.key}
}

func noVol(what, v string) error {
	return drivers.Errorf(vir.ErrNoStorageVol, vir.FromTest, "no storage vol with matching %s '%s'", what, v)
}

// volOf finds a volume by the pool and name its reference carries; the
// pool must be active.
func (s *poolState) volOf(ref protocol.StorageVol) (*pool, *volume, error) {
	p, err := s.activeByName(ref.Pool)
	if err != nil {
		return nil, nil, err
	}
	v := p.vol(ref.Name)
	if v == nil {
		return nil, nil, noVol("name", ref.Name)
	}
	return p, v, nil
}

func (c *conn) StoragePoolNumOfVolumes(ctx context.Context, ref protocol.StoragePool) (int32, error) {
	s := c.ps()
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.activeByName(ref.Name)
	if err != nil {
		return 0, err
	}
	return int32(len(p.vols)), nil
}

func (c *conn) StoragePoolListVolumes(ctx context.Context, ref protocol.StoragePool, maxnames int32) ([]string, error) {
	if maxnames < 0 || maxnames > protocol.RemoteStorageVolListMax {
		return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "maxnames %d is outside 0-%d", maxnames, protocol.RemoteStorageVolListMax)
	}
	s := c.ps()
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.activeByName(ref.Name)
	if err != nil {
		return nil, err
	}
	names := []string{}
	for _, v := range p.vols {
		if len(names) < int(maxnames) {
			names = append(names, v.name)
		}
	}
	return names, nil
}

func (c *conn) StoragePoolListAllVolumes(ctx context.Context, ref protocol.StoragePool, needResults int32, flags uint32) (*protocol.StoragePoolListAllVolumesRet, error) {
	if flags != 0 {
		return nil, badFlags(flags, "testStoragePoolListAllVolumes")
	}
	s := c.ps()
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.byUUID(ref.UUID)
	if err != nil {
		return nil, err
	}
	if !p.active {
		return nil, drivers.Errorf(vir.ErrOperationInvalid, vir.FromTest, "storage pool is not active")
	}
	ret := &protocol.StoragePoolListAllVolumesRet{Vols: []protocol.StorageVol{}, Ret: uint32(len(p.vols))}
	if needResults != 0 {
		for _, v := range p.vols {
			ret.Vols = append(ret.Vols, p.volRef(v))
		}
	}
	return ret, nil
}

func (c *conn) StorageVolLookupByName(ctx context.Context, ref protocol.StoragePool, name string) (protocol.StorageVol, error) {
	s := c.ps()
	s.mu.Lock()
	defer s.mu.Unlock()
	p, v, err := s.volOf(protocol.StorageVol{Pool: ref.Name, Name: name})
	if err != nil {
		return protocol.StorageVol{}, err
	}
	return p.volRef(v), nil
}

// findVol searches the active pools for a volume.
func (s *poolState) findVol(match func(*volume) bool) (protocol.StorageVol, bool) {
	for _, p := range s.pools {
		if !p.active {
			continue
		}
		for _, v := range p.vols {
			if match(v) {
				return p.volRef(v), true
			}
		}
	}
	return protocol.StorageVol{}, false
}

func (c *conn) StorageVolLookupByKey(ctx context.Context, key string) (protocol.StorageVol, error) {
	s := c.ps()
	s.mu.Lock()
	defer s.mu.Unlock()
	if ref, ok := s.findVol(func(v *volume) bool { return v.key == key }); ok {
		return ref, nil
	}
	return protocol.StorageVol{}, noVol("key", key)
}

func (c *conn) StorageVolLookupByPath(ctx context.Context, path string) (protocol.StorageVol, error) {
	s := c.ps()
	s.mu.Lock()
	defer s.mu.Unlock()
	if ref, ok := s.findVol(func(v *volume) bool { return v.path == path }); ok {
		return ref, nil
	}
	return protocol.StorageVol{}, noVol("path", path)
}

// createVol adds the volume doc describes to the active pool named
// poolName, its path and key the pool's path and its name. clone, when
// not empty, must name a volume of that same pool (libvirt's test driver
// looks the clone's source up there and copies nothing of it).
func (s *poolState) createVol(poolName, doc, clone string) (protocol.StorageVol, error) {
	p, err := s.activeByName(poolName)
	if err != nil {
		return protocol.StorageVol{}, err
	}
	v, err := parseVolXML(doc)
	if err != nil {
		return protocol.StorageVol{}, err
	}
	if p.vol(v.name) != nil {
		return protocol.StorageVol{}, drivers.Errorf(vir.ErrOperationFailed, vir.FromTest, "storage vol already exists")
	}
	if clone != "" && p.vol(clone) == nil {
		return protocol.StorageVol{}, noVol("name", clone)
	}
	if p.allocation+v.allocation > p.capacity || p.allocation+v.allocation < p.allocation {
		return protocol.StorageVol{}, drivers.Errorf(vir.ErrInternalError, vir.FromTest, "Not enough free space in pool for volume '%s'", v.name)
	}
	v.path = p.def.path + "/" + v.name
	v.key = v.path
	p.vols = append(p.vols, v)
	p.allocation += v.allocation
	p.available = p.capacity - p.allocation
	return p.volRef(v), nil
}

func (c *conn) StorageVolCreateXML(ctx context.Context, ref protocol.StoragePool, doc string, flags uint32) (protocol.StorageVol, error) {
	if flags&^uint32(vir.StorageVolCreateValidate) != 0 {
		return protocol.StorageVol{}, badFlags(flags&^(uint32(vir.StorageVolCreateValidate)), "testStorageVolCreateXML")
	}
	if flags != 0 {
		return protocol.StorageVol{}, noSchema("VIR_STORAGE_VOL_CREATE_VALIDATE")
	}
	s := c.ps()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.createVol(ref.Name, doc, "")
}

func (c *conn) StorageVolCreateXMLFrom(ctx context.Context, ref protocol.StoragePool, doc string, clonevol protocol.StorageVol, flags uint32) (protocol.StorageVol, error) {
	if flags&^uint32(vir.StorageVolCreateValidate) != 0 {
		return protocol.StorageVol{}, badFlags(flags&^(uint32(vir.StorageVolCreateValidate)), "testStorageVolCreateXMLFrom")
	}
	if flags != 0 {
		return protocol.StorageVol{}, noSchema("VIR_STORAGE_VOL_CREATE_VALIDATE")
	}
	s := c.ps()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.createVol(ref.Name, doc, clonevol.Name)
}

func (c *conn) StorageVolDelete(ctx context.Context, ref protocol.StorageVol, flags uint32) error {
	if flags != 0 {
		return badFlags(flags, "testStorageVolDelete")
	}
	s := c.ps()
	s.mu.Lock()
	defer s.mu.Unlock()
	p, v, err := s.volOf(ref)
	if err != nil {
		return err
	}
	p.allocation -= v.allocation
	p.available = p.capacity - p.allocation
	for i, w := range p.vols {
		if w == v {
			p.vols = append(p.vols[:i], p.vols[i+1:]...)
			break
		}
	}
	return nil
}

func (c *conn) StorageVolGetInfo(ctx context.Context, ref protocol.StorageVol) (*protocol.StorageVolGetInfoRet, error) {
	s := c.ps()
	s.mu.Lock()
	defer s.mu.Unlock()
	_, v, err := s.volOf(ref)
	if err != nil {
		return nil, err
	}
	// A dir, fs or netfs pool's volumes are files, whatever their XML says.
	return &protocol.StorageVolGetInfoRet{Type: int8(vir.StorageVolFile), Capacity: v.capacity, Allocation: v.allocation}, nil
}

func (c *conn) StorageVolGetXMLDesc(ctx context.Context, ref protocol.StorageVol, flags uint32) (string, error) {
	if flags != 0 {
		return "", badFlags(flags, "testStorageVolGetXMLDesc")
	}
	s := c.ps()
	s.mu.Lock()
	defer s.mu.Unlock()
	_, v, err := s.volOf(ref)
	if err != nil {
		return "", err
	}
	return formatVol(v)
}

func (c *conn) StorageVolGetPath(ctx context.Context, ref protocol.StorageVol) (string, error) {
	s := c.ps()
	s.mu.Lock()
	defer s.mu.Unlock()
	_, v, err := s.volOf(ref)
	if err != nil {
		return "", err
	}
	return v.path, nil
}

// Events.

// ConnectStoragePoolEventRegisterAny registers cb for the pool events
// this driver raises (drivers.StoragePoolEvents).
func (c *conn) ConnectStoragePoolEventRegisterAny(ctx context.Context, ref *drivers.StoragePool, eventID vir.StoragePoolEventID, cb func(callbackID int, ev drivers.StoragePoolEvent)) (int, error) {
	var filter *drivers.UUID
	if ref != nil {
		filter = &ref.UUID
	}
	return drivers.RegisterIn(&c.callbacks, &c.ps().events, c, eventID, filter, cb)
}

func (c *conn) ConnectStoragePoolEventDeregisterAny(ctx context.Context, callbackID int) error {
	return c.ps().events.Deregister(c, callbackID)
}
