package test

import (
	"context"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

const memMaximum = uint32(vir.DomainMemMaximum)

// memUnlimited is VIR_DOMAIN_MEMORY_PARAM_UNLIMITED, what a memory
// tunable without a limit reads as.
const memUnlimited = uint64(9007199254740991)

// DomainGetMaxMemory is the running or persistent definition's memory
// size in KiB (drivers.OpDomainGetMaxMemory).
func (c *conn) DomainGetMaxMemory(ctx context.Context, ref protocol.Domain) (kib uint64, err error) {
	err = c.drv.withDomain(ref, func(dom *domain) error {
		kib = dom.def().MaxMemKiB()
		return nil
	})
	return kib, err
}

// DomainSetMemoryFlags sets the balloon size (memory ≤ the domain's
// memory size) or, with VIR_DOMAIN_MEM_MAXIMUM, the memory size of an
// inactive definition, lowering the balloon to it; memory is in KiB
// (drivers.OpDomainSetMemoryFlags).
func (c *conn) DomainSetMemoryFlags(ctx context.Context, ref protocol.Domain, memory uint64, flags uint32) error {
	if flags&^(affectLive|affectConfig|memMaximum) != 0 {
		return badFlags(flags, "testDomainSetMemoryFlags")
	}
	return c.drv.withDomain(ref, func(dom *domain) error {
		def, live, err := oneDef(dom, flags)
		if err != nil {
			return err
		}
		if flags&memMaximum == 0 {
			if memory > def.MaxMemKiB() {
				return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "cannot set memory higher than max memory")
			}
			setCurMem(def, memory)
			return nil
		}
		switch {
		case live:
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromTest, "cannot resize the maximum memory on an active domain")
		case def.XML.CPU != nil && def.XML.CPU.Numa != nil && len(def.XML.CPU.Numa.Cell) > 0:
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromTest, "initial memory size of a domain with NUMA nodes cannot be modified with this API")
		case memory == 0:
			return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "a domain's memory size must not be 0")
		}
		if m := def.XML.MaximumMemory; m != nil {
			if maxKiB, err := domxml.ScaleKiB(m.Value, m.Unit); err == nil && maxKiB < memory {
				return drivers.Errorf(vir.ErrOperationInvalid, vir.FromTest, "cannot set initial memory size greater than the maximum memory size")
			}
		}
		cur := def.CurMemKiB()
		def.XML.Memory = &libvirtxml.DomainMemory{Value: uint(memory), Unit: "KiB"}
		setCurMem(def, min(cur, memory))
		return nil
	})
}

func setCurMem(def *domxml.Def, kib uint64) {
	def.XML.CurrentMemory = &libvirtxml.DomainCurrentMemory{Value: uint(kib), Unit: "KiB"}
}

// DomainSetMemory sets the running domain's balloon.
func (c *conn) DomainSetMemory(ctx context.Context, ref protocol.Domain, memory uint64) error {
	return c.DomainSetMemoryFlags(ctx, ref, memory, affectLive)
}

// DomainSetMaxMemory sets the memory size of an inactive domain.
func (c *conn) DomainSetMaxMemory(ctx context.Context, ref protocol.Domain, memory uint64) error {
	return c.DomainSetMemoryFlags(ctx, ref, memory, memMaximum)
}

// DomainMemoryStats answers balloon statistics of a running domain that
// has a balloon, made up from its balloon size as libvirt's test driver
// makes them up (drivers.OpDomainMemoryStats).
func (c *conn) DomainMemoryStats(ctx context.Context, ref protocol.Domain, maxStats, flags uint32) ([]protocol.DomainMemoryStat, error) {
	if flags != 0 {
		return nil, badFlags(flags, "testDomainMemoryStats")
	}
	var out []protocol.DomainMemoryStat
	err := c.drv.withDomain(ref, func(dom *domain) error {
		if !dom.active() {
			return notRunning()
		}
		def := dom.live
		if def.XML.Devices == nil || def.XML.Devices.MemBalloon == nil || def.XML.Devices.MemBalloon.Model == "none" {
			return nil
		}
		cur := def.CurMemKiB()
		for _, s := range []struct {
			tag vir.DomainMemoryStatTags
			val uint64
		}{
			{vir.DomainMemoryStatActualBalloon, cur},
			{vir.DomainMemoryStatSwapIn, 0}, {vir.DomainMemoryStatSwapOut, 0},
			{vir.DomainMemoryStatMajorFault, 0}, {vir.DomainMemoryStatMinorFault, 0},
			{vir.DomainMemoryStatUnused, cur / 2}, {vir.DomainMemoryStatAvailable, cur},
			{vir.DomainMemoryStatUsable, cur / 2}, {vir.DomainMemoryStatLastUpdate, testClockSeconds},
			{vir.DomainMemoryStatDiskCaches, cur / 8},
			{vir.DomainMemoryStatHugetlbPgalloc, 0}, {vir.DomainMemoryStatHugetlbPgfail, 0},
			{vir.DomainMemoryStatRss, cur / 2},
		} {
			if len(out) < int(maxStats) {
				out = append(out, protocol.DomainMemoryStat{Tag: int32(s.tag), Val: s.val})
			}
		}
		return nil
	})
	return out, err
}

// limitKiB is a memory tunable in KiB, unlimited when absent.
func limitKiB(l *libvirtxml.DomainMemoryTuneLimit) uint64 {
	if l == nil {
		return memUnlimited
	}
	kib, err := domxml.ScaleKiB(uint(l.Value), l.Unit)
	if err != nil {
		return memUnlimited
	}
	return kib
}

// DomainGetMemoryParameters answers the hard, soft and swap limits of
// the live or persistent definition (drivers.OpDomainGetMemoryParameters).
// nparams 0 asks how many there are.
func (c *conn) DomainGetMemoryParameters(ctx context.Context, ref protocol.Domain, nparams int32, flags uint32) (*protocol.DomainGetMemoryParametersRet, error) {
	if flags&^(affectLive|affectConfig|uint32(vir.TypedParamStringOkay)) != 0 {
		return nil, badFlags(flags, "testDomainGetMemoryParameters")
	}
	if nparams == 0 {
		return &protocol.DomainGetMemoryParametersRet{Nparams: 3}, nil
	}
	var params []protocol.TypedParam
	err := c.drv.withDomain(ref, func(dom *domain) error {
		def, _, err := oneDef(dom, flags)
		if err != nil {
			return err
		}
		var t libvirtxml.DomainMemoryTune
		if def.XML.MemoryTune != nil {
			t = *def.XML.MemoryTune
		}
		params = firstParams([]protocol.TypedParam{
			paramUllong("hard_limit", limitKiB(t.HardLimit)),
			paramUllong("soft_limit", limitKiB(t.SoftLimit)),
			paramUllong("swap_hard_limit", limitKiB(t.SwapHardLimit)),
		}, nparams)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &protocol.DomainGetMemoryParametersRet{Params: params, Nparams: int32(len(params))}, nil
}
