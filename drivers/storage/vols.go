package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// volume is one file of a dir pool, as its last scan saw it.
type volume struct {
	name, path                     string
	format                         string
	capacity, allocation, physical uint64
	perms                          perms
	atime, mtime, ctime            string
	backingPath, backingFormat     string
	busy                           int // transfers and clones reading or writing it
}

func (p *pool) vol(name string) *volume {
	for _, v := range p.vols {
		if v.name == name {
			return v
		}
	}
	return nil
}

func (p *pool) volRef(v *volume) protocol.StorageVol {
	return protocol.StorageVol{Pool: p.def.name, Name: v.name, Key: v.path}
}

func noVol(what, v string) error {
	return drivers.Errorf(vir.ErrNoStorageVol, vir.FromStorage, "no storage vol with matching %s '%s'", what, v)
}

// imgInfo is what `qemu-img info --output=json` says of a file.
type imgInfo struct {
	Format              string `json:"format"`
	VirtualSize         uint64 `json:"virtual-size"`
	ActualSize          uint64 `json:"actual-size"`
	BackingFilename     string `json:"backing-filename"`
	FullBackingFilename string `json:"full-backing-filename"`
	BackingFormat       string `json:"backing-filename-format"`
}

// qemuImg runs qemu-img with args; a failure names the command, the
// file and the tail of qemu-img's stderr.
func (d *Driver) qemuImg(ctx context.Context, file string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, d.qemuImgBin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tail := strings.TrimSpace(stderr.String())
		if len(tail) > 512 {
			tail = "…" + tail[len(tail)-512:]
		}
		if tail == "" {
			tail = err.Error()
		}
		return nil, drivers.Errorf(vir.ErrInternalError, vir.FromStorage, "qemu-img %s failed on '%s': %s", args[0], file, tail)
	}
	return out, nil
}

func (d *Driver) info(ctx context.Context, path string) (*imgInfo, error) {
	out, err := d.qemuImg(ctx, path, "info", "-U", "--output=json", path)
	if err != nil {
		return nil, err
	}
	var in imgInfo
	if err := json.Unmarshal(out, &in); err != nil {
		return nil, drivers.Errorf(vir.ErrInternalError, vir.FromStorage, "cannot read qemu-img info of '%s': %v", path, err)
	}
	return &in, nil
}

func stamp(ts syscall.Timespec) string {
	return fmt.Sprintf("%d.%09d", ts.Sec, ts.Nsec)
}

// inspect reads one file as the dir backend's volume refresh does: its
// format, capacity and backing store from qemu-img, its allocation from
// its blocks, its permissions and times from stat.
func (d *Driver) inspect(ctx context.Context, path string) (*volume, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return nil, drivers.Errorf(vir.ErrNoStorageVol, vir.FromStorage, "cannot stat file '%s': %v", path, err)
	}
	in, err := d.info(ctx, path)
	if err != nil {
		return nil, err
	}
	v := &volume{name: filepath.Base(path), path: path, format: in.Format,
		capacity: in.VirtualSize, allocation: uint64(st.Blocks) * 512, physical: uint64(st.Size),
		perms: perms{mode: int(st.Mode & 0o777), owner: int64(st.Uid), group: int64(st.Gid)},
		atime: stamp(st.Atim), mtime: stamp(st.Mtim), ctime: stamp(st.Ctim)}
	if in.BackingFilename != "" {
		v.backingPath = in.FullBackingFilename
		if v.backingPath == "" {
			v.backingPath = in.BackingFilename
		}
		v.backingFormat = in.BackingFormat
	}
	return v, nil
}

// scan lists a pool's directory: every regular file is a volume (one
// qemu-img cannot read is logged and left out), and the pool's sizes.
func (d *Driver) scan(ctx context.Context, def *poolDef) ([]*volume, [3]uint64, error) {
	ents, err := os.ReadDir(def.path)
	if err != nil {
		return nil, [3]uint64{}, drivers.Errorf(vir.ErrSystemError, vir.FromStorage, "cannot open directory '%s' of pool '%s': %v", def.path, def.name, unwrapPath(err))
	}
	var vols []*volume
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		v, err := d.inspect(ctx, filepath.Join(def.path, e.Name()))
		if err != nil {
			if ctx.Err() != nil {
				return nil, [3]uint64{}, ctx.Err()
			}
			d.log.Warn("volume left out of pool", "pool", def.name, "file", e.Name(), "err", err)
			continue
		}
		vols = append(vols, v)
	}
	sizes, err := statfs(def.path)
	return vols, sizes, err
}

// volOf finds ref's volume in its active pool; mu is held.
func (d *Driver) volOf(ref protocol.StorageVol) (*pool, *volume, error) {
	p, err := d.byName(ref.Pool)
	if err != nil {
		return nil, nil, err
	}
	if !p.active {
		return nil, nil, notActive(p)
	}
	v := p.vol(ref.Name)
	if v == nil {
		return nil, nil, noVol("name", ref.Name)
	}
	return p, v, nil
}

// activeJob takes the job lock of ref's pool, which must be active.
func (d *Driver) activeJob(ref protocol.StoragePool) (*pool, error) {
	p, err := d.jobOn(ref)
	if err != nil {
		return nil, err
	}
	d.mu.RLock()
	active := p.active
	d.mu.RUnlock()
	if !active {
		p.job.Unlock()
		return nil, notActive(p)
	}
	return p, nil
}

// volJob takes the job lock of a volume's pool and returns the volume.
func (d *Driver) volJob(ref protocol.StorageVol) (*pool, *volume, error) {
	d.mu.RLock()
	p, err := d.byName(ref.Pool)
	d.mu.RUnlock()
	if err != nil {
		return nil, nil, err
	}
	if p, err = d.activeJob(p.ref()); err != nil {
		return nil, nil, err
	}
	d.mu.RLock()
	v := p.vol(ref.Name)
	d.mu.RUnlock()
	if v == nil {
		p.job.Unlock()
		return nil, nil, noVol("name", ref.Name)
	}
	return p, v, nil
}

// publish puts v (new or re-read) into p and refreshes p's sizes.
func (d *Driver) publish(p *pool, v *volume) {
	sizes, err := statfs(p.def.path)
	d.mu.Lock()
	defer d.mu.Unlock()
	replaced := false
	for i, w := range p.vols {
		if w.name == v.name {
			v.busy = w.busy
			p.vols[i], replaced = v, true
		}
	}
	if !replaced {
		p.vols = append(p.vols, v)
	}
	if err == nil {
		p.capacity, p.allocation, p.available = sizes[0], sizes[1], sizes[2]
	}
}

// List and lookup.

func (c *conn) StoragePoolNumOfVolumes(ctx context.Context, ref protocol.StoragePool) (int32, error) {
	d := c.drv
	d.mu.RLock()
	defer d.mu.RUnlock()
	p, err := d.find(ref)
	if err != nil {
		return 0, err
	}
	if !p.active {
		return 0, notActive(p)
	}
	return int32(len(p.vols)), nil
}

func (c *conn) StoragePoolListVolumes(ctx context.Context, ref protocol.StoragePool, maxnames int32) ([]string, error) {
	if maxnames < 0 || maxnames > protocol.RemoteStorageVolListMax {
		return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromStorage, "maxnames %d is outside 0-%d", maxnames, protocol.RemoteStorageVolListMax)
	}
	d := c.drv
	d.mu.RLock()
	defer d.mu.RUnlock()
	p, err := d.find(ref)
	if err != nil {
		return nil, err
	}
	if !p.active {
		return nil, notActive(p)
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
		return nil, badFlags(flags, "storagePoolListAllVolumes")
	}
	d := c.drv
	d.mu.RLock()
	defer d.mu.RUnlock()
	p, err := d.find(ref)
	if err != nil {
		return nil, err
	}
	if !p.active {
		return nil, notActive(p)
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
	d := c.drv
	d.mu.RLock()
	defer d.mu.RUnlock()
	p, v, err := d.volOf(protocol.StorageVol{Pool: ref.Name, Name: name})
	if err != nil {
		return protocol.StorageVol{}, err
	}
	return p.volRef(v), nil
}

func (d *Driver) findVol(match func(*volume) bool) (protocol.StorageVol, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, p := range d.pools {
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

// StorageVolLookupByKey: a dir volume's key is its path.
func (c *conn) StorageVolLookupByKey(ctx context.Context, key string) (protocol.StorageVol, error) {
	if ref, ok := c.drv.findVol(func(v *volume) bool { return v.path == key }); ok {
		return ref, nil
	}
	return protocol.StorageVol{}, noVol("key", key)
}

// StorageVolLookupByPath matches the path as given and cleaned (libvirt
// also resolves it; govirtd does not touch the disk here).
func (c *conn) StorageVolLookupByPath(ctx context.Context, path string) (protocol.StorageVol, error) {
	clean := filepath.Clean(path)
	if ref, ok := c.drv.findVol(func(v *volume) bool { return v.path == path || v.path == clean }); ok {
		return ref, nil
	}
	return protocol.StorageVol{}, noVol("path", path)
}

func (c *conn) StorageVolGetPath(ctx context.Context, ref protocol.StorageVol) (string, error) {
	d := c.drv
	d.mu.RLock()
	defer d.mu.RUnlock()
	_, v, err := d.volOf(ref)
	if err != nil {
		return "", err
	}
	return v.path, nil
}

// reread inspects the volume's file again (its allocation changes under
// a running guest) and publishes what it finds.
func (d *Driver) reread(ctx context.Context, ref protocol.StorageVol) (*volume, error) {
	d.mu.RLock()
	p, v, err := d.volOf(ref)
	d.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	nv, err := d.inspect(ctx, v.path)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	if p.vol(v.name) == v {
		nv.busy = v.busy
		for i, w := range p.vols {
			if w == v {
				p.vols[i] = nv
			}
		}
	}
	d.mu.Unlock()
	return nv, nil
}

func (c *conn) StorageVolGetInfo(ctx context.Context, ref protocol.StorageVol) (*protocol.StorageVolGetInfoRet, error) {
	v, err := c.drv.reread(ctx, ref)
	if err != nil {
		return nil, err
	}
	return &protocol.StorageVolGetInfoRet{Type: int8(vir.StorageVolFile), Capacity: v.capacity, Allocation: v.allocation}, nil
}

func (c *conn) StorageVolGetInfoFlags(ctx context.Context, ref protocol.StorageVol, flags uint32) (*protocol.StorageVolGetInfoFlagsRet, error) {
	const physical = 1 // VIR_STORAGE_VOL_GET_PHYSICAL
	if flags&^physical != 0 {
		return nil, badFlags(flags, "storageVolGetInfoFlags")
	}
	v, err := c.drv.reread(ctx, ref)
	if err != nil {
		return nil, err
	}
	ret := &protocol.StorageVolGetInfoFlagsRet{Type: int8(vir.StorageVolFile), Capacity: v.capacity, Allocation: v.allocation}
	if flags&physical != 0 {
		ret.Allocation = v.physical
	}
	return ret, nil
}

func (c *conn) StorageVolGetXMLDesc(ctx context.Context, ref protocol.StorageVol, flags uint32) (string, error) {
	if flags != 0 {
		return "", badFlags(flags, "storageVolGetXMLDesc")
	}
	v, err := c.drv.reread(ctx, ref)
	if err != nil {
		return "", err
	}
	return formatVol(v), nil
}

// Create, clone, delete.

func checkVolCreateFlags(flags uint32, fn string) error {
	all := uint32(vir.StorageVolCreatePreallocMetadata | vir.StorageVolCreateValidate)
	if flags&^all != 0 {
		return badFlags(flags&^all, fn)
	}
	return nil
}

// createArgs are `qemu-img create`'s for spec at path.
func createArgs(spec *volSpec, path string, prealloc bool) []string {
	args := []string{"create", "-f", spec.format}
	var opts []string
	switch {
	case spec.format == "raw" && spec.hasCapacity && spec.allocation >= spec.capacity && spec.capacity > 0:
		opts = append(opts, "preallocation=falloc")
	case spec.format == "qcow2" && prealloc:
		opts = append(opts, "preallocation=metadata")
	}
	if spec.format == "qcow2" {
		opts = append(opts, "compat=1.1")
	}
	if len(opts) > 0 {
		args = append(args, "-o", strings.Join(opts, ","))
	}
	if spec.backingPath != "" {
		args = append(args, "-b", spec.backingPath, "-F", spec.backingFormat)
	}
	args = append(args, path)
	if spec.hasCapacity {
		args = append(args, strconv.FormatUint(spec.capacity, 10))
	}
	return args
}

// prepare reads a volume definition for pool p: the name must be free
// and the format and backing store known.
func (d *Driver) prepare(ctx context.Context, p *pool, doc string, needCapacity bool) (*volSpec, string, error) {
	spec, err := parseVolXML(doc)
	if err != nil {
		return nil, "", err
	}
	d.mu.RLock()
	exists := p.vol(spec.name) != nil
	d.mu.RUnlock()
	path := filepath.Join(p.def.path, spec.name)
	if _, err := os.Lstat(path); exists || err == nil {
		return nil, "", drivers.Errorf(vir.ErrStorageVolExist, vir.FromStorage, "storage volume name '%s' already in use.", spec.name)
	}
	if spec.format == "" {
		spec.format = "raw"
	}
	if spec.backingPath != "" {
		if spec.format != "qcow2" {
			return nil, "", drivers.Errorf(vir.ErrConfigUnsupported, vir.FromStorage, "backing storage not supported for raw volumes")
		}
		in, err := d.info(ctx, spec.backingPath)
		if err != nil {
			return nil, "", err
		}
		if spec.backingFormat == "" {
			spec.backingFormat = in.Format
		}
		if !spec.hasCapacity || spec.capacity == 0 { // the backing store's size
			spec.capacity, spec.hasCapacity = in.VirtualSize, true
		}
	}
	if needCapacity && !spec.hasCapacity {
		return nil, "", drivers.Errorf(vir.ErrXMLError, vir.FromStorage, "missing capacity element")
	}
	return spec, path, nil
}

// finish applies the volume's permissions, reads it and publishes it; a
// failure removes the file made.
func (d *Driver) finish(ctx context.Context, p *pool, spec *volSpec, path string) (protocol.StorageVol, error) {
	mode := os.FileMode(defaultVolMode)
	if spec.perms.mode != -1 {
		mode = os.FileMode(spec.perms.mode)
	}
	err := os.Chmod(path, mode)
	if err == nil && (spec.perms.owner != -1 || spec.perms.group != -1) {
		err = os.Chown(path, int(spec.perms.owner), int(spec.perms.group))
	}
	if err != nil {
		os.Remove(path)
		return protocol.StorageVol{}, drivers.Errorf(vir.ErrSystemError, vir.FromStorage, "cannot set permissions of '%s': %v", path, unwrapPath(err))
	}
	v, err := d.inspect(ctx, path)
	if err != nil {
		os.Remove(path)
		return protocol.StorageVol{}, err
	}
	d.publish(p, v)
	return p.volRef(v), nil
}

// StorageVolCreateXML makes a raw or qcow2 file (qcow2 with a backing
// store if given) with qemu-img create.
func (c *conn) StorageVolCreateXML(ctx context.Context, ref protocol.StoragePool, doc string, flags uint32) (protocol.StorageVol, error) {
	if err := checkVolCreateFlags(flags, "storageVolCreateXML"); err != nil {
		return protocol.StorageVol{}, err
	}
	d := c.drv
	p, err := d.activeJob(ref)
	if err != nil {
		return protocol.StorageVol{}, err
	}
	defer p.job.Unlock()
	spec, path, err := d.prepare(ctx, p, doc, true)
	if err != nil {
		return protocol.StorageVol{}, err
	}
	if _, err := d.qemuImg(ctx, path, createArgs(spec, path, flags&uint32(vir.StorageVolCreatePreallocMetadata) != 0)...); err != nil {
		os.Remove(path)
		return protocol.StorageVol{}, err
	}
	return d.finish(ctx, p, spec, path)
}

// hold marks a volume busy (read by a clone or a transfer) so that it
// is not deleted and its pool not stopped meanwhile; release undoes it.
func (d *Driver) hold(ref protocol.StorageVol) (*pool, *volume, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, v, err := d.volOf(ref)
	if err != nil {
		return nil, nil, err
	}
	v.busy++
	p.busy++
	return p, v, nil
}

func (d *Driver) release(p *pool, name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p.busy--
	if v := p.vol(name); v != nil && v.busy > 0 {
		v.busy--
	}
}

// StorageVolCreateXMLFrom copies clonevol into a new volume with
// qemu-img convert (so across formats too), then grows it to the
// capacity asked if that is larger.
func (c *conn) StorageVolCreateXMLFrom(ctx context.Context, ref protocol.StoragePool, doc string, clonevol protocol.StorageVol, flags uint32) (protocol.StorageVol, error) {
	if err := checkVolCreateFlags(flags, "storageVolCreateXMLFrom"); err != nil {
		return protocol.StorageVol{}, err
	}
	d := c.drv
	sp, src, err := d.hold(clonevol)
	if err != nil {
		return protocol.StorageVol{}, err
	}
	defer d.release(sp, src.name)
	p, err := d.activeJob(ref)
	if err != nil {
		return protocol.StorageVol{}, err
	}
	defer p.job.Unlock()
	spec, path, err := d.prepare(ctx, p, doc, false)
	if err != nil {
		return protocol.StorageVol{}, err
	}
	in, err := d.info(ctx, src.path)
	if err != nil {
		return protocol.StorageVol{}, err
	}
	args := []string{"convert", "-U", "-f", in.Format, "-O", spec.format}
	if spec.format == "qcow2" {
		args = append(args, "-o", "compat=1.1")
	}
	if _, err := d.qemuImg(ctx, src.path, append(args, src.path, path)...); err != nil {
		os.Remove(path)
		return protocol.StorageVol{}, err
	}
	if spec.hasCapacity && spec.capacity > in.VirtualSize {
		if _, err := d.qemuImg(ctx, path, "resize", "-f", spec.format, path, strconv.FormatUint(spec.capacity, 10)); err != nil {
			os.Remove(path)
			return protocol.StorageVol{}, err
		}
	}
	return d.finish(ctx, p, spec, path)
}

// StorageVolDelete removes the volume's file.
func (c *conn) StorageVolDelete(ctx context.Context, ref protocol.StorageVol, flags uint32) error {
	if flags != 0 {
		return badFlags(flags, "storageVolDelete")
	}
	d := c.drv
	p, v, err := d.volJob(ref)
	if err != nil {
		return err
	}
	defer p.job.Unlock()
	d.mu.RLock()
	busy := v.busy
	d.mu.RUnlock()
	if busy > 0 {
		return drivers.Errorf(vir.ErrOperationInvalid, vir.FromStorage, "volume '%s' is still in use.", v.name)
	}
	if err := os.Remove(v.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return drivers.Errorf(vir.ErrSystemError, vir.FromStorage, "cannot unlink file '%s': %v", v.path, unwrapPath(err))
	}
	sizes, serr := statfs(p.def.path)
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, w := range p.vols {
		if w == v {
			p.vols = append(p.vols[:i], p.vols[i+1:]...)
			break
		}
	}
	if serr == nil {
		p.capacity, p.allocation, p.available = sizes[0], sizes[1], sizes[2]
	}
	return nil
}

// Wipe and resize.

// StorageVolWipe is StorageVolWipePattern with zeros.
func (c *conn) StorageVolWipe(ctx context.Context, ref protocol.StorageVol, flags uint32) error {
	return c.StorageVolWipePattern(ctx, ref, uint32(vir.StorageVolWipeAlgZero), flags)
}

// StorageVolWipePattern writes zeros over a raw volume's every byte, and
// makes a qcow2 volume anew, empty, of the same size and backing store
// (zeros written into a qcow2 file would break its header). Only the
// zero algorithm is served.
func (c *conn) StorageVolWipePattern(ctx context.Context, ref protocol.StorageVol, algorithm uint32, flags uint32) error {
	if flags != 0 {
		return badFlags(flags, "storageVolWipePattern")
	}
	if algorithm != uint32(vir.StorageVolWipeAlgZero) {
		return drivers.Errorf(vir.ErrNoSupport, vir.FromStorage, "wipe algorithm %s is not served by govirtd's storage driver (zero is)", vir.StorageVolWipeAlgorithm(algorithm))
	}
	d := c.drv
	p, v, err := d.volJob(ref)
	if err != nil {
		return err
	}
	defer p.job.Unlock()
	d.mu.RLock()
	busy := v.busy
	d.mu.RUnlock()
	if busy > 0 {
		return drivers.Errorf(vir.ErrOperationInvalid, vir.FromStorage, "volume '%s' is still in use.", v.name)
	}
	if v.format == "qcow2" {
		spec := &volSpec{format: "qcow2", capacity: v.capacity, hasCapacity: true, backingPath: v.backingPath, backingFormat: v.backingFormat}
		if spec.backingPath != "" && spec.backingFormat == "" {
			spec.backingFormat = "raw"
		}
		if _, err := d.qemuImg(ctx, v.path, createArgs(spec, v.path, false)...); err != nil {
			return err
		}
	} else if err := zeroFile(ctx, v.path); err != nil {
		return err
	}
	nv, err := d.inspect(ctx, v.path)
	if err != nil {
		return err
	}
	d.publish(p, nv)
	return nil
}

// zeroFile writes zeros over the whole file, in 1 MiB writes, stopping
// when ctx ends.
func zeroFile(ctx context.Context, path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return drivers.Errorf(vir.ErrSystemError, vir.FromStorage, "cannot open volume '%s' to wipe it: %v", path, unwrapPath(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return drivers.Errorf(vir.ErrSystemError, vir.FromStorage, "cannot stat '%s': %v", path, unwrapPath(err))
	}
	buf := make([]byte, 1<<20)
	for off := int64(0); off < fi.Size(); {
		if err := ctx.Err(); err != nil {
			return drivers.Errorf(vir.ErrOperationAborted, vir.FromStorage, "wipe of '%s' stopped at byte %d: %v", path, off, err)
		}
		n := min(int64(len(buf)), fi.Size()-off)
		if _, err := f.WriteAt(buf[:n], off); err != nil {
			return drivers.Errorf(vir.ErrSystemError, vir.FromStorage, "failed to write %d bytes to '%s' at %d: %v", n, path, off, unwrapPath(err))
		}
		off += n
	}
	if err := f.Sync(); err != nil {
		return drivers.Errorf(vir.ErrSystemError, vir.FromStorage, "cannot sync '%s': %v", path, unwrapPath(err))
	}
	return nil
}

// StorageVolResize changes a volume's capacity with qemu-img resize:
// DELTA adds (or with SHRINK takes away) capacity, SHRINK is required to
// make it smaller, ALLOCATE preallocates the new space (raw only), and
// the growth must fit in the pool, as libvirt's checks are.
func (c *conn) StorageVolResize(ctx context.Context, ref protocol.StorageVol, capacity uint64, flags uint32) error {
	all := uint32(vir.StorageVolResizeAllocate | vir.StorageVolResizeDelta | vir.StorageVolResizeShrink)
	if flags&^all != 0 {
		return badFlags(flags&^all, "storageVolResize")
	}
	d := c.drv
	p, v, err := d.volJob(ref)
	if err != nil {
		return err
	}
	defer p.job.Unlock()
	cur, err := d.inspect(ctx, v.path)
	if err != nil {
		return err
	}
	shrink := flags&uint32(vir.StorageVolResizeShrink) != 0
	want := capacity
	if flags&uint32(vir.StorageVolResizeDelta) != 0 {
		if shrink {
			if capacity > cur.capacity {
				return drivers.Errorf(vir.ErrInvalidArg, vir.FromStorage, "can't shrink capacity below zero")
			}
			want = cur.capacity - capacity
		} else {
			want = cur.capacity + capacity
		}
	}
	if want < cur.capacity && !shrink {
		return drivers.Errorf(vir.ErrInvalidArg, vir.FromStorage, "Can't shrink capacity below current capacity unless shrink flag explicitly specified")
	}
	if want > cur.capacity && shrink && flags&uint32(vir.StorageVolResizeDelta) == 0 {
		return drivers.Errorf(vir.ErrInvalidArg, vir.FromStorage, "can't grow capacity with the shrink flag")
	}
	if want < cur.allocation && flags&uint32(vir.StorageVolResizeAllocate) != 0 {
		return drivers.Errorf(vir.ErrInvalidArg, vir.FromStorage, "Can't shrink capacity below current allocation")
	}
	d.mu.RLock()
	avail := p.available
	d.mu.RUnlock()
	if want > cur.capacity && want-cur.capacity > avail {
		return drivers.Errorf(vir.ErrOperationFailed, vir.FromStorage, "Not enough space left in storage pool")
	}
	if flags&uint32(vir.StorageVolResizeAllocate) != 0 && cur.format != "raw" {
		return drivers.Errorf(vir.ErrOperationUnsupported, vir.FromStorage, "preallocate is only supported for raw type volume")
	}
	if want == cur.capacity {
		return nil
	}
	args := []string{"resize", "-f", cur.format}
	if flags&uint32(vir.StorageVolResizeAllocate) != 0 {
		args = append(args, "--preallocation=falloc")
	}
	if want < cur.capacity {
		args = append(args, "--shrink")
	}
	if _, err := d.qemuImg(ctx, v.path, append(args, v.path, strconv.FormatUint(want, 10))...); err != nil {
		return err
	}
	nv, err := d.inspect(ctx, v.path)
	if err != nil {
		return err
	}
	d.publish(p, nv)
	return nil
}

// ResolveVolume answers the path and format of volume vol of the active
// pool named pool, for a hypervisor starting a guest with a
// <disk type='volume'> (drivers.VolumeResolver).
func (d *Driver) ResolveVolume(ctx context.Context, pool, vol string) (string, string, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	p, err := d.byName(pool)
	if err != nil {
		return "", "", err
	}
	if !p.active {
		return "", "", drivers.Errorf(vir.ErrOperationInvalid, vir.FromStorage, "storage pool '%s' containing volume '%s' is not active", pool, vol)
	}
	v := p.vol(vol)
	if v == nil {
		return "", "", drivers.Errorf(vir.ErrNoStorageVol, vir.FromStorage, "no storage vol with matching name '%s'", vol)
	}
	return v.path, v.format, nil
}
