package test

import (
	"context"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// nodeCPUStats are the test host's CPU times in nanoseconds, the same
// for every CPU and for the whole host, as libvirt's test driver
// reports them: fixed, so that clients see numbers they can check.
var nodeCPUStats = []protocol.NodeGetCPUStats{
	{Field: "user", Value: 9797400000},
	{Field: "kernel", Value: 34678723400000},
	{Field: "idle", Value: 87264900000},
	{Field: "iowait", Value: 763600000},
}

// NodeGetCPUStats answers the test host's fixed CPU times
// (drivers.OpNodeGetCPUStats). nparams 0 asks how many there are.
func (c *conn) NodeGetCPUStats(ctx context.Context, cpuNum, nparams int32, flags uint32) (*protocol.NodeGetCPUStatsRet, error) {
	if flags != 0 {
		return nil, badFlags(flags, "testNodeGetCPUStats")
	}
	if nparams < 0 {
		return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "nparams %d must not be negative", nparams)
	}
	if nparams == 0 {
		return &protocol.NodeGetCPUStatsRet{Nparams: int32(len(nodeCPUStats))}, nil
	}
	n := min(int(nparams), len(nodeCPUStats))
	return &protocol.NodeGetCPUStatsRet{Params: append([]protocol.NodeGetCPUStats(nil), nodeCPUStats[:n]...), Nparams: int32(n)}, nil
}

// x86Models are the CPU models of libvirt 9.0's x86 CPU map, in its
// order: what virConnectGetCPUModelNames answers for i686 and x86_64.
var x86Models = []string{
	"486", "pentium", "pentium2", "pentium3", "pentiumpro", "coreduo", "n270", "core2duo",
	"qemu32", "kvm32", "cpu64-rhel5", "cpu64-rhel6", "qemu64", "kvm64",
	"Conroe", "Penryn", "Nehalem", "Nehalem-IBRS", "Westmere", "Westmere-IBRS",
	"SandyBridge", "SandyBridge-IBRS", "IvyBridge", "IvyBridge-IBRS",
	"Haswell-noTSX", "Haswell-noTSX-IBRS", "Haswell", "Haswell-IBRS",
	"Broadwell-noTSX", "Broadwell-noTSX-IBRS", "Broadwell", "Broadwell-IBRS",
	"Skylake-Client", "Skylake-Client-IBRS", "Skylake-Client-noTSX-IBRS",
	"Skylake-Server", "Skylake-Server-IBRS", "Skylake-Server-noTSX-IBRS",
	"Cascadelake-Server", "Cascadelake-Server-noTSX",
	"Icelake-Client", "Icelake-Client-noTSX", "Icelake-Server", "Icelake-Server-noTSX",
	"Cooperlake", "Snowridge",
	"athlon", "phenom", "Opteron_G1", "Opteron_G2", "Opteron_G3", "Opteron_G4", "Opteron_G5",
	"EPYC", "EPYC-IBPB", "EPYC-Rome", "EPYC-Milan", "Dhyana",
}

// ConnectGetCPUModelNames answers the x86 CPU models for i686 and
// x86_64 (drivers.OpConnectGetCPUModelNames). govirtd carries no CPU map
// for other architectures, so it says so (VIR_ERR_OPERATION_UNSUPPORTED)
// rather than answer a wrong list. needResults 0 asks only for the count.
func (c *conn) ConnectGetCPUModelNames(ctx context.Context, arch string, needResults int32, flags uint32) (*protocol.ConnectGetCPUModelNamesRet, error) {
	if flags != 0 {
		return nil, badFlags(flags, "testConnectGetCPUModelNames")
	}
	if arch != "i686" && arch != "x86_64" {
		return nil, drivers.Errorf(vir.ErrOperationUnsupported, vir.FromTest,
			"govirtd's test driver knows the CPU models of i686 and x86_64 only, not of %q", arch)
	}
	ret := &protocol.ConnectGetCPUModelNamesRet{Ret: int32(len(x86Models))}
	if needResults != 0 {
		ret.Models = append([]string(nil), x86Models...)
	}
	return ret, nil
}
