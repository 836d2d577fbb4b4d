package qemu

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/qemu/qmp"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// Block statistics of a running guest's disks, from QMP query-block
// (which drive holds which file) and query-blockstats.

// blockStat is one drive's counters as query-blockstats gives them.
type blockStat struct {
	RdBytes  int64 `json:"rd_bytes"`
	WrBytes  int64 `json:"wr_bytes"`
	RdOps    int64 `json:"rd_operations"`
	WrOps    int64 `json:"wr_operations"`
	FlushOps int64 `json:"flush_operations"`
	RdTime   int64 `json:"rd_total_time_ns"`
	WrTime   int64 `json:"wr_total_time_ns"`
	FlTime   int64 `json:"flush_total_time_ns"`
	// WrHighest is the end of the highest sector written: libvirt's
	// allocation of a file-backed disk.
	WrHighest int64 `json:"wr_highest_offset"`
}

// diskStats are the counters of each disk of def with a source, by
// target, in the definition's order.
type diskStat struct {
	target, path string
	stat         blockStat
	capacity     int64 // the image's virtual size, from query-block
}

func diskStats(ctx context.Context, mon *qmp.Monitor, def *libvirtxml.Domain) ([]diskStat, error) {
	var blocks []struct {
		Device   string `json:"device"`
		Inserted *struct {
			File  string `json:"file"`
			Image struct {
				VirtualSize int64 `json:"virtual-size"`
			} `json:"image"`
		} `json:"inserted"`
	}
	if err := mon.Execute(ctx, "query-block", nil, &blocks); err != nil {
		return nil, err
	}
	var stats []struct {
		Device string    `json:"device"`
		Stats  blockStat `json:"stats"`
	}
	if err := mon.Execute(ctx, "query-blockstats", nil, &stats); err != nil {
		return nil, err
	}
	byFile := map[string]string{}  // file → drive
	capacity := map[string]int64{} // drive → virtual size
	for _, b := range blocks {
		if b.Inserted != nil {
			byFile[b.Inserted.File] = b.Device
			capacity[b.Device] = b.Inserted.Image.VirtualSize
		}
	}
	byDrive := map[string]blockStat{}
	for _, s := range stats {
		byDrive[s.Device] = s.Stats
	}
	var out []diskStat
	if def.Devices == nil {
		return out, nil
	}
	for _, d := range def.Devices.Disks {
		if d.Target == nil || d.Source == nil || d.Source.File == nil || d.Source.File.File == "" {
			continue
		}
		drive, ok := byFile[d.Source.File.File]
		if !ok {
			continue
		}
		out = append(out, diskStat{target: d.Target.Dev, path: d.Source.File.File, stat: byDrive[drive], capacity: capacity[drive]})
	}
	return out, nil
}

// liveDiskStats are the counters of the running domain's disks.
func (c *conn) liveDiskStats(ctx context.Context, ref drivers.Domain) ([]diskStat, error) {
	dom, err := c.drv.find(ref)
	if err != nil {
		return nil, err
	}
	inst, err := runningInst(dom)
	if err != nil {
		return nil, err
	}
	dom.mu.Lock()
	def := dom.def().XML
	dom.mu.Unlock()
	disks, err := diskStats(ctx, inst.mon, def)
	if err != nil {
		return nil, monitorErr(dom, err)
	}
	return disks, nil
}

// pickDisk is the counters of the disk path names (its target, "vda",
// or its source file), or the sum over every disk when path is empty,
// as libvirt answers virsh domblkstat without a device.
func pickDisk(disks []diskStat, path string) (blockStat, error) {
	var sum blockStat
	for _, d := range disks {
		s := d.stat
		if path == "" {
			sum.RdBytes, sum.WrBytes, sum.RdOps, sum.WrOps = sum.RdBytes+s.RdBytes, sum.WrBytes+s.WrBytes, sum.RdOps+s.RdOps, sum.WrOps+s.WrOps
			sum.FlushOps, sum.RdTime, sum.WrTime, sum.FlTime = sum.FlushOps+s.FlushOps, sum.RdTime+s.RdTime, sum.WrTime+s.WrTime, sum.FlTime+s.FlTime
			continue
		}
		if path == d.target || path == d.path {
			return s, nil
		}
	}
	if path == "" {
		return sum, nil
	}
	return blockStat{}, drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "invalid path: %s", path)
}

// DomainBlockStats answers the read and write counters of the disk path
// names (its target, "vda", or its source file; all disks summed when
// empty) (drivers.OpDomainBlockStats).
func (c *conn) DomainBlockStats(ctx context.Context, ref drivers.Domain, path string) (*protocol.DomainBlockStatsRet, error) {
	disks, err := c.liveDiskStats(ctx, ref)
	if err != nil {
		return nil, err
	}
	s, err := pickDisk(disks, path)
	if err != nil {
		return nil, err
	}
	return &protocol.DomainBlockStatsRet{RdReq: s.RdOps, RdBytes: s.RdBytes, WrReq: s.WrOps, WrBytes: s.WrBytes, Errs: -1}, nil
}

// blockStatsFields is how many counters DomainBlockStatsFlags answers.
const blockStatsFields = 8

// DomainBlockStatsFlags answers the counters of the disk path names
// (as DomainBlockStats) as typed parameters (long longs, as libvirt's):
// bytes and requests written and read, flushes, and the total time of
// each kind in ns, the first nparams of them; nparams 0 asks how many
// there are (drivers.OpDomainBlockStatsFlags).
func (c *conn) DomainBlockStatsFlags(ctx context.Context, ref drivers.Domain, path string, nparams int32, flags uint32) (*protocol.DomainBlockStatsFlagsRet, error) {
	if err := badFlags("qemuDomainBlockStatsFlags", flags, vir.TypedParamStringOkay); err != nil {
		return nil, err
	}
	if nparams < 0 {
		return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "nparams must not be negative (%d)", nparams)
	}
	disks, err := c.liveDiskStats(ctx, ref)
	if err != nil {
		return nil, err
	}
	s, err := pickDisk(disks, path)
	if err != nil {
		return nil, err
	}
	if nparams == 0 {
		return &protocol.DomainBlockStatsFlagsRet{Params: []protocol.TypedParam{}, Nparams: blockStatsFields}, nil
	}
	ll := func(field string, v int64) protocol.TypedParam {
		return protocol.TypedParam{Field: field, Value: protocol.TypedParamValue{Type: int32(vir.TypedParamLlong), L: v}}
	}
	params := []protocol.TypedParam{
		ll(vir.DomainBlockStatsWriteBytes, s.WrBytes), ll(vir.DomainBlockStatsWriteReq, s.WrOps),
		ll(vir.DomainBlockStatsReadBytes, s.RdBytes), ll(vir.DomainBlockStatsReadReq, s.RdOps),
		ll(vir.DomainBlockStatsFlushReq, s.FlushOps), ll(vir.DomainBlockStatsWriteTotalTimes, s.WrTime),
		ll(vir.DomainBlockStatsReadTotalTimes, s.RdTime), ll(vir.DomainBlockStatsFlushTotalTimes, s.FlTime),
	}
	if int(nparams) < len(params) {
		params = params[:nparams]
	}
	return &protocol.DomainBlockStatsFlagsRet{Params: params, Nparams: int32(len(params))}, nil
}

// blockGroup is the "block" group of a running domain's stats record.
func blockGroup(ctx context.Context, mon *qmp.Monitor, def *libvirtxml.Domain) []protocol.TypedParam {
	disks, err := diskStats(ctx, mon, def)
	if err != nil {
		return nil
	}
	params := []protocol.TypedParam{drivers.ParamUint("block.count", uint32(len(disks)))}
	for i, d := range disks {
		p := "block." + strconv.Itoa(i) + "."
		s := d.stat
		params = append(params, drivers.ParamString(p+"name", d.target), drivers.ParamString(p+"path", d.path),
			drivers.ParamUllong(p+"rd.reqs", uint64(s.RdOps)), drivers.ParamUllong(p+"rd.bytes", uint64(s.RdBytes)),
			drivers.ParamUllong(p+"rd.times", uint64(s.RdTime)),
			drivers.ParamUllong(p+"wr.reqs", uint64(s.WrOps)), drivers.ParamUllong(p+"wr.bytes", uint64(s.WrBytes)),
			drivers.ParamUllong(p+"wr.times", uint64(s.WrTime)),
			drivers.ParamUllong(p+"fl.reqs", uint64(s.FlushOps)), drivers.ParamUllong(p+"fl.times", uint64(s.FlTime)),
			drivers.ParamUllong(p+"allocation", uint64(s.WrHighest)), drivers.ParamUllong(p+"capacity", uint64(d.capacity)))
		if fi, err := os.Stat(d.path); err == nil {
			params = append(params, drivers.ParamUllong(p+"physical", uint64(fi.Size())))
		}
	}
	return params
}

// inactiveBlockGroup is the "block" group of a domain that does not
// run, as libvirt writes it from the definition: each disk with a local
// file, its name and path, and, when the file can be read, its
// allocation (the blocks it takes), capacity (the image's virtual size)
// and physical size (the file's length).
func inactiveBlockGroup(def *libvirtxml.Domain) []protocol.TypedParam {
	var disks []libvirtxml.DomainDisk
	if def.Devices != nil {
		for _, d := range def.Devices.Disks {
			if d.Target != nil && d.Source != nil && d.Source.File != nil && d.Source.File.File != "" {
				disks = append(disks, d)
			}
		}
	}
	params := []protocol.TypedParam{drivers.ParamUint("block.count", uint32(len(disks)))}
	for i, d := range disks {
		p := "block." + strconv.Itoa(i) + "."
		path := d.Source.File.File
		params = append(params, drivers.ParamString(p+"name", d.Target.Dev), drivers.ParamString(p+"path", path))
		format := "raw"
		if d.Driver != nil && d.Driver.Type != "" {
			format = d.Driver.Type
		}
		if capacity, physical, err := imageSizes(path, format); err == nil {
			// The allocation is what the file takes on disk, left out
			// (as libvirt leaves it) when that is nothing: a sparse
			// file never written.
			var st unix.Stat_t
			if unix.Stat(path, &st) == nil && st.Blocks > 0 {
				params = append(params, drivers.ParamUllong(p+"allocation", uint64(st.Blocks)*512))
			}
			params = append(params, drivers.ParamUllong(p+"capacity", capacity), drivers.ParamUllong(p+"physical", physical))
		}
	}
	return params
}

// imageSizes are an image file's virtual size (a raw file's own size;
// a qcow2 image's from its header) and the file's size.
func imageSizes(path, format string) (capacity, physical uint64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	physical = uint64(fi.Size())
	switch format {
	case "raw":
		return physical, physical, nil
	case "qcow2":
		// The header: magic "QFI\xfb", version, backing file offset
		// and size, cluster bits, then the virtual size at byte 24,
		// all big-endian.
		var h [32]byte
		if _, err := f.ReadAt(h[:], 0); err != nil {
			return 0, 0, fmt.Errorf("%s: cannot read its qcow2 header: %w", path, err)
		}
		if string(h[:4]) != "QFI\xfb" {
			return 0, 0, fmt.Errorf("%s is no qcow2 image", path)
		}
		return binary.BigEndian.Uint64(h[24:32]), physical, nil
	}
	return 0, 0, fmt.Errorf("%s: the size of a %s image is not known", path, format)
}
