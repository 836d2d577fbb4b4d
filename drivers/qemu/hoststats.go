package qemu

import (
	"context"
	"fmt"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/hostinfo"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// The node calls about the host's CPUs and memory, read from /proc and
// /sys as libvirt's QEMU driver reads them (OpenStack Nova's resource
// audit needs NodeGetCPUMap; exporters scrape the stats).

var host hostinfo.Root

func nodeErr(err error) error {
	return drivers.Errorf(vir.ErrInternalError, vir.FromQEMU, "%v", err)
}

// NodeGetCPUMap answers the host's CPUs, a bitmap of the online ones
// when asked, and their count (drivers.OpNodeGetCPUMap).
func (c *conn) NodeGetCPUMap(ctx context.Context, needMap, needOnline int32, flags uint32) (*protocol.NodeGetCPUMapRet, error) {
	if flags != 0 {
		return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "unsupported flags (0x%x) in function qemuNodeGetCPUMap", flags)
	}
	n, bitmap, online, err := host.CPUMap()
	if err != nil {
		return nil, nodeErr(err)
	}
	ret := &protocol.NodeGetCPUMapRet{Ret: int32(n)}
	if needMap != 0 {
		ret.Cpumap = bitmap
	}
	if needOnline != 0 {
		ret.Online = uint32(online)
	}
	return ret, nil
}

// NodeGetCPUStats answers /proc/stat's times of one CPU or all
// (cpuNum -1); nparams 0 asks how many there are
// (drivers.OpNodeGetCPUStats).
func (c *conn) NodeGetCPUStats(ctx context.Context, cpuNum, nparams int32, flags uint32) (*protocol.NodeGetCPUStatsRet, error) {
	if flags != 0 {
		return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "unsupported flags (0x%x) in function qemuNodeGetCPUStats", flags)
	}
	if nparams == 0 {
		return &protocol.NodeGetCPUStatsRet{Nparams: hostinfo.CPUStatsCount}, nil
	}
	if nparams != hostinfo.CPUStatsCount {
		return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "nparams in virHostCPUGetStatsLinux must be equal to %d", hostinfo.CPUStatsCount)
	}
	stats, err := host.CPUStats(int(cpuNum))
	if err != nil {
		return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "%v", err)
	}
	ret := &protocol.NodeGetCPUStatsRet{Nparams: int32(len(stats))}
	for _, s := range stats {
		ret.Params = append(ret.Params, protocol.NodeGetCPUStats{Field: s.Field, Value: s.Value})
	}
	return ret, nil
}

// NodeGetMemoryStats answers the host's memory (cellNum -1) or a NUMA
// cell's, in KiB; nparams 0 asks how many values there are
// (drivers.OpNodeGetMemoryStats).
func (c *conn) NodeGetMemoryStats(ctx context.Context, nparams, cellNum int32, flags uint32) (*protocol.NodeGetMemoryStatsRet, error) {
	if flags != 0 {
		return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "unsupported flags (0x%x) in function qemuNodeGetMemoryStats", flags)
	}
	stats, err := host.MemoryStats(int(cellNum))
	if err != nil {
		return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "%v", err)
	}
	if nparams == 0 {
		return &protocol.NodeGetMemoryStatsRet{Nparams: int32(len(stats))}, nil
	}
	if int(nparams) != len(stats) {
		return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "nparams in virHostMemGetStatsLinux must be %d", len(stats))
	}
	ret := &protocol.NodeGetMemoryStatsRet{Nparams: int32(len(stats))}
	for _, s := range stats {
		ret.Params = append(ret.Params, protocol.NodeGetMemoryStats{Field: s.Field, Value: s.Value})
	}
	return ret, nil
}

// NodeGetFreeMemory answers the host's free memory in bytes
// (drivers.OpNodeGetFreeMemory).
func (c *conn) NodeGetFreeMemory(ctx context.Context) (uint64, error) {
	v, err := hostinfo.FreeMemory()
	if err != nil {
		return 0, nodeErr(fmt.Errorf("cannot read the host's free memory: %w", err))
	}
	return v, nil
}
