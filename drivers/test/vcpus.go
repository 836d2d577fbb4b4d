package test

import (
	"context"
	"time"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

const (
	vcpuMaximum = uint32(vir.DomainVcpuMaximum)
	vcpuFlags   = affectLive | affectConfig | vcpuMaximum
)

// maxVCPUs is the definition's <vcpu> count, 1 when absent.
func maxVCPUs(def *domxml.Def) int {
	if v := def.XML.VCPU; v != nil && v.Value > 0 {
		return int(v.Value)
	}
	return 1
}

// setVCPUs makes n of def's vCPUs online (n ≤ its maximum).
func setVCPUs(def *domxml.Def, n int) {
	if def.XML.VCPU == nil {
		def.XML.VCPU = &libvirtxml.DomainVCPU{Placement: "static", Value: 1}
	}
	def.XML.VCPU.Current = uint(n)
	if n == maxVCPUs(def) {
		def.XML.VCPU.Current = 0 // libvirt writes current only when it differs
	}
}

// setMaxVCPUs sets def's vCPU maximum, lowering the online count to it.
func setMaxVCPUs(def *domxml.Def, n int) {
	cur := int(def.VCPUs())
	if def.XML.VCPU == nil {
		def.XML.VCPU = &libvirtxml.DomainVCPU{Placement: "static"}
	}
	def.XML.VCPU.Value = uint(n)
	setVCPUs(def, min(cur, n))
}

// vcpuPin is the CPUs vCPU i of def may run on: its <vcpupin>, else the
// domain's <vcpu cpuset>, else every host CPU.
func vcpuPin(def *domxml.Def, i uint32) cpuSet {
	if t := def.XML.CPUTune; t != nil {
		for _, p := range t.VCPUPin {
			if uint32(p.VCPU) == i {
				if s, err := parseCPUSet(p.CPUSet); err == nil {
					return s
				}
			}
		}
	}
	return domainCPUs(def)
}

// domainCPUs is the domain's <vcpu cpuset>, or every host CPU.
func domainCPUs(def *domxml.Def) cpuSet {
	if v := def.XML.VCPU; v != nil && v.CPUSet != "" {
		if s, err := parseCPUSet(v.CPUSet); err == nil {
			return s
		}
	}
	return allCPUs
}

// checkCPUMap refuses a pin to no CPU or to CPUs the host lacks.
func checkCPUMap(set cpuSet) error {
	switch {
	case set == 0:
		return drivers.Errorf(vir.ErrInvalidArg, vir.FromDomain, "Empty cpu list for pinning")
	case set&^allCPUs != 0:
		return drivers.Errorf(vir.ErrInvalidArg, vir.FromDomain, "cpu map %s names CPUs the test host lacks (it has 0-%d)", set, hostCPUs-1)
	}
	return nil
}

// checkMaps refuses cpumap sizes the protocol cannot carry.
func checkMaps(n, maplen int32) error {
	if n < 0 || maplen <= 0 || int64(n)*int64(maplen) > protocol.RemoteCpumapsMax {
		return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest,
			"%d cpumaps of %d bytes: the protocol carries at most %d bytes", n, maplen, protocol.RemoteCpumapsMax)
	}
	return nil
}

// DomainGetVcpusFlags answers the online or maximum vCPU count of the
// live or persistent definition (drivers.OpDomainGetVcpusFlags).
func (c *conn) DomainGetVcpusFlags(ctx context.Context, ref protocol.Domain, flags uint32) (n int32, err error) {
	if flags&^vcpuFlags != 0 {
		return 0, badFlags(flags, "testDomainGetVcpusFlags")
	}
	err = c.drv.withDomain(ref, func(dom *domain) error {
		def, _, err := oneDef(dom, flags)
		if err != nil {
			return err
		}
		if flags&vcpuMaximum != 0 {
			n = int32(maxVCPUs(def))
		} else {
			n = int32(def.VCPUs())
		}
		return nil
	})
	return n, err
}

// DomainGetMaxVcpus is the running definition's vCPU maximum.
func (c *conn) DomainGetMaxVcpus(ctx context.Context, ref protocol.Domain) (int32, error) {
	return c.DomainGetVcpusFlags(ctx, ref, affectLive|vcpuMaximum)
}

// DomainSetVcpusFlags changes the online vCPU count, or with
// VIR_DOMAIN_VCPU_MAXIMUM the persistent maximum, within the 32 vCPUs
// the test hypervisor allows (drivers.OpDomainSetVcpusFlags).
func (c *conn) DomainSetVcpusFlags(ctx context.Context, ref protocol.Domain, nvcpus uint32, flags uint32) error {
	if flags&^vcpuFlags != 0 {
		return badFlags(flags, "testDomainSetVcpusFlags")
	}
	if nvcpus > 32 {
		return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "requested cpu amount exceeds maximum supported amount (%d > 32)", nvcpus)
	}
	return c.drv.withDomain(ref, func(dom *domain) error {
		live, config, err := bothDefs(dom, flags)
		if err != nil {
			return err
		}
		if live != nil && int(nvcpus) > maxVCPUs(live) {
			return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "requested cpu amount exceeds maximum (%d > %d)", nvcpus, maxVCPUs(live))
		}
		if config != nil && flags&vcpuMaximum == 0 && int(nvcpus) > maxVCPUs(config) {
			return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "requested cpu amount exceeds maximum (%d > %d)", nvcpus, maxVCPUs(config))
		}
		if nvcpus == 0 {
			return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "a domain needs at least one vcpu")
		}
		if live != nil {
			if flags&vcpuMaximum != 0 {
				return drivers.Errorf(vir.ErrOperationInvalid, vir.FromTest, "cannot change the maximum vcpu count of a running domain: use --config")
			}
			setVCPUs(live, int(nvcpus))
		}
		if config != nil {
			if flags&vcpuMaximum != 0 {
				setMaxVCPUs(config, int(nvcpus))
			} else {
				setVCPUs(config, int(nvcpus))
			}
		}
		return nil
	})
}

// DomainSetVcpus changes the running domain's online vCPU count.
func (c *conn) DomainSetVcpus(ctx context.Context, ref protocol.Domain, nvcpus uint32) error {
	return c.DomainSetVcpusFlags(ctx, ref, nvcpus, affectLive)
}

// DomainGetVcpus answers, for each online vCPU of a running domain, its
// state, the host CPU it last ran on (the highest it may use) and a CPU
// time that grows with the wall clock, as libvirt's test driver makes
// it up; and the maps of the CPUs each may use (drivers.OpDomainGetVcpus).
func (c *conn) DomainGetVcpus(ctx context.Context, ref protocol.Domain, maxinfo, maplen int32) (*protocol.DomainGetVcpusRet, error) {
	if maxinfo < 0 || maxinfo > protocol.RemoteVcpuinfoMax {
		return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "maxinfo %d is outside 0-%d", maxinfo, protocol.RemoteVcpuinfoMax)
	}
	if maplen < 0 || int64(maxinfo)*int64(maplen) > protocol.RemoteCpumapsMax {
		return nil, checkMaps(maxinfo, maplen)
	}
	ret := &protocol.DomainGetVcpusRet{Cpumaps: make([]byte, int(maxinfo)*int(maplen))}
	err := c.drv.withDomain(ref, func(dom *domain) error {
		if !dom.active() {
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromTest, "cannot list vcpus for an inactive domain")
		}
		def := dom.live
		n := min(int(maxinfo), int(def.VCPUs()))
		cpuTime := uint64(time.Now().UnixMicro() / 10)
		for i := 0; i < n; i++ {
			set := vcpuPin(def, uint32(i))
			set.bytes(ret.Cpumaps[i*int(maplen) : (i+1)*int(maplen)])
			ret.Info = append(ret.Info, protocol.VcpuInfo{
				Number: uint32(i), State: int32(vir.VcpuRunning), CPUTime: cpuTime, CPU: set.last(),
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ret, nil
}

// DomainPinVcpuFlags pins an online vCPU of a running domain
// (drivers.OpDomainPinVcpuFlags); like libvirt's test driver, only the
// running definition changes.
func (c *conn) DomainPinVcpuFlags(ctx context.Context, ref protocol.Domain, vcpu uint32, cpumap []byte, flags uint32) error {
	if flags != 0 {
		return badFlags(flags, "testDomainPinVcpuFlags")
	}
	set := cpuSetFromMap(cpumap)
	if err := checkCPUMap(set); err != nil {
		return err
	}
	return c.drv.withDomain(ref, func(dom *domain) error {
		if !dom.active() {
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromTest, "cannot pin vcpus on an inactive domain")
		}
		def := dom.live
		if vcpu >= uint32(def.VCPUs()) {
			return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "requested vcpu '%d' is not present in the domain", vcpu)
		}
		if def.XML.CPUTune == nil {
			def.XML.CPUTune = &libvirtxml.DomainCPUTune{}
		}
		t := def.XML.CPUTune
		for i := range t.VCPUPin {
			if uint32(t.VCPUPin[i].VCPU) == vcpu {
				t.VCPUPin[i].CPUSet = set.String()
				return nil
			}
		}
		t.VCPUPin = append(t.VCPUPin, libvirtxml.DomainCPUTuneVCPUPin{VCPU: uint(vcpu), CPUSet: set.String()})
		return nil
	})
}

// DomainPinVcpu is DomainPinVcpuFlags without flags.
func (c *conn) DomainPinVcpu(ctx context.Context, ref protocol.Domain, vcpu uint32, cpumap []byte) error {
	return c.DomainPinVcpuFlags(ctx, ref, vcpu, cpumap, 0)
}

// DomainGetVcpuPinInfo answers the CPU map of each vCPU up to the
// definition's maximum (drivers.OpDomainGetVcpuPinInfo).
func (c *conn) DomainGetVcpuPinInfo(ctx context.Context, ref protocol.Domain, ncpumaps, maplen int32, flags uint32) (*protocol.DomainGetVcpuPinInfoRet, error) {
	if flags&^(affectLive|affectConfig) != 0 {
		return nil, badFlags(flags, "testDomainGetVcpuPinInfo")
	}
	if err := checkMaps(ncpumaps, maplen); err != nil {
		return nil, err
	}
	ret := &protocol.DomainGetVcpuPinInfoRet{Cpumaps: make([]byte, int(ncpumaps)*int(maplen))}
	err := c.drv.withDomain(ref, func(dom *domain) error {
		def, _, err := oneDef(dom, flags)
		if err != nil {
			return err
		}
		n := min(int(ncpumaps), maxVCPUs(def))
		for i := 0; i < n; i++ {
			vcpuPin(def, uint32(i)).bytes(ret.Cpumaps[i*int(maplen) : (i+1)*int(maplen)])
		}
		ret.Num = int32(n)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ret, nil
}

// DomainGetEmulatorPinInfo answers the CPUs the emulator may use: its
// <emulatorpin>, else the domain's cpuset, else every host CPU
// (drivers.OpDomainGetEmulatorPinInfo).
func (c *conn) DomainGetEmulatorPinInfo(ctx context.Context, ref protocol.Domain, maplen int32, flags uint32) (*protocol.DomainGetEmulatorPinInfoRet, error) {
	if flags&^(affectLive|affectConfig) != 0 {
		return nil, badFlags(flags, "testDomainGetEmulatorPinInfo")
	}
	if err := checkMaps(1, maplen); err != nil {
		return nil, err
	}
	ret := &protocol.DomainGetEmulatorPinInfoRet{Cpumaps: make([]byte, maplen), Ret: 1}
	err := c.drv.withDomain(ref, func(dom *domain) error {
		def, _, err := oneDef(dom, flags)
		if err != nil {
			return err
		}
		set := domainCPUs(def)
		if t := def.XML.CPUTune; t != nil && t.EmulatorPin != nil {
			if s, err := parseCPUSet(t.EmulatorPin.CPUSet); err == nil {
				set = s
			}
		}
		set.bytes(ret.Cpumaps)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ret, nil
}

// DomainPinEmulator pins the emulator of the live or persistent
// definition (drivers.OpDomainPinEmulator).
func (c *conn) DomainPinEmulator(ctx context.Context, ref protocol.Domain, cpumap []byte, flags uint32) error {
	if flags&^(affectLive|affectConfig) != 0 {
		return badFlags(flags, "testDomainPinEmulator")
	}
	set := cpuSetFromMap(cpumap)
	if err := checkCPUMap(set); err != nil {
		return err
	}
	return c.drv.withDomain(ref, func(dom *domain) error {
		def, _, err := oneDef(dom, flags)
		if err != nil {
			return err
		}
		if def.XML.CPUTune == nil {
			def.XML.CPUTune = &libvirtxml.DomainCPUTune{}
		}
		def.XML.CPUTune.EmulatorPin = &libvirtxml.DomainCPUTuneEmulatorPin{CPUSet: set.String()}
		return nil
	})
}
