package test

import (
	"context"
	"strconv"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// IOThreads live in two places, as in libvirt's test driver: the ids in
// the definition the flags designate (<iothreadids>), and the polling
// settings in the domain's run state (runstate.go), which an add always
// extends and a delete always shrinks, whichever definition it changed.
// domstats reports the latter for a running domain.

func uitoa(v uint32) string { return strconv.FormatUint(uint64(v), 10) }

func noIOThreadID() error {
	return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "invalid value of 0 for iothread_id")
}

// iothreadIndex is the position of id in def's <iothreadids>, -1 when
// absent.
func iothreadIndex(def *domxml.Def, id uint32) int {
	if def.XML.IOThreadIDs == nil {
		return -1
	}
	for i, t := range def.XML.IOThreadIDs.IOThreads {
		if uint32(t.ID) == id {
			return i
		}
	}
	return -1
}

// iothreadPin is the cpuset IOThread id is pinned to in def, "" when it
// is not.
func iothreadPin(def *domxml.Def, id uint32) string {
	if def.XML.CPUTune == nil {
		return ""
	}
	for _, p := range def.XML.CPUTune.IOThreadPin {
		if uint32(p.IOThread) == id {
			return p.CPUSet
		}
	}
	return ""
}

// setIOThreadIDs writes the id list back, keeping <iothreads> its count.
func setIOThreadIDs(def *domxml.Def, list []libvirtxml.DomainIOThread) {
	def.XML.IOThreads = uint(len(list))
	if len(list) == 0 {
		def.XML.IOThreadIDs = nil
		return
	}
	def.XML.IOThreadIDs = &libvirtxml.DomainIOThreadIDs{IOThreads: list}
}

// DomainGetIothreadInfo answers the IOThreads of the definition flags
// designate with their CPU affinity: the pin, else the domain's
// cpuset, else all of the domain's vCPUs' numbers
// (drivers.OpDomainGetIothreadInfo).
func (c *conn) DomainGetIothreadInfo(ctx context.Context, ref protocol.Domain, flags uint32) (*protocol.DomainGetIothreadInfoRet, error) {
	ret := &protocol.DomainGetIothreadInfoRet{Info: []protocol.DomainIothreadInfo{}}
	err := c.readDef(ref, flags, affectLive|affectConfig, "testDomainGetIOThreadInfo", func(def *domxml.Def) error {
		if def.XML.IOThreadIDs == nil {
			return nil
		}
		for _, t := range def.XML.IOThreadIDs.IOThreads {
			id := uint32(t.ID)
			set := cpuSet(1)<<def.VCPUs() - 1
			cpus := iothreadPin(def, id)
			if cpus == "" && def.XML.VCPU != nil {
				cpus = def.XML.VCPU.CPUSet
			}
			if cpus != "" {
				s, err := parseCPUSet(cpus)
				if err != nil {
					return err
				}
				set = s
			}
			n := int(set.last())/8 + 1
			m := make([]byte, max(n, 1))
			set.bytes(m)
			ret.Info = append(ret.Info, protocol.DomainIothreadInfo{IothreadID: id, Cpumap: m})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	ret.Ret = uint32(len(ret.Info))
	return ret, nil
}

// DomainAddIothread adds IOThread id to the definition flags designate,
// and its default polling settings to the domain's run state
// (drivers.OpDomainAddIothread).
func (c *conn) DomainAddIothread(ctx context.Context, ref protocol.Domain, id uint32, flags uint32) error {
	if flags&^(affectLive|affectConfig) != 0 {
		return badFlags(flags, "testDomainAddIOThread")
	}
	if id == 0 {
		return noIOThreadID()
	}
	return c.drv.withDomain(ref, func(dom *domain) error {
		def, _, err := oneDef(dom, flags)
		if err != nil {
			return err
		}
		if iothreadIndex(def, id) >= 0 {
			return drivers.Errorf(vir.ErrInvalidArg, vir.FromDomain, "an IOThread is already using iothread_id '%d'", id)
		}
		var list []libvirtxml.DomainIOThread
		if def.XML.IOThreadIDs != nil {
			list = def.XML.IOThreadIDs.IOThreads
		}
		setIOThreadIDs(def, append(list, libvirtxml.DomainIOThread{ID: uint(id)}))
		r := &c.drv.ext(dom).run
		r.iothreads = append(r.iothreads, iothreadRun{id: id, pollMaxNs: defaultPollMaxNs})
		return nil
	})
}

// DomainDelIothread removes IOThread id from the definition flags
// designate, refusing one a disk uses, and its polling settings from
// the run state (drivers.OpDomainDelIothread).
func (c *conn) DomainDelIothread(ctx context.Context, ref protocol.Domain, id uint32, flags uint32) error {
	if flags&^(affectLive|affectConfig) != 0 {
		return badFlags(flags, "testDomainDelIOThread")
	}
	if id == 0 {
		return noIOThreadID()
	}
	return c.drv.withDomain(ref, func(dom *domain) error {
		def, _, err := oneDef(dom, flags)
		if err != nil {
			return err
		}
		i := iothreadIndex(def, id)
		if i < 0 {
			return drivers.Errorf(vir.ErrInvalidArg, vir.FromDomain, "cannot find IOThread '%d' in iothreadids list", id)
		}
		if def.XML.Devices != nil {
			for _, d := range def.XML.Devices.Disks {
				if d.Driver != nil && d.Driver.IOThread != nil && uint32(*d.Driver.IOThread) == id {
					return drivers.Errorf(vir.ErrInvalidArg, vir.FromDomain,
						"cannot remove IOThread %d since it is being used by disk '%s'", id, d.Target.Dev)
				}
			}
		}
		list := def.XML.IOThreadIDs.IOThreads
		setIOThreadIDs(def, append(list[:i:i], list[i+1:]...))
		if def.XML.CPUTune != nil {
			pins := def.XML.CPUTune.IOThreadPin[:0]
			for _, p := range def.XML.CPUTune.IOThreadPin {
				if uint32(p.IOThread) != id {
					pins = append(pins, p)
				}
			}
			def.XML.CPUTune.IOThreadPin = pins
		}
		r := &c.drv.ext(dom).run
		for j := range r.iothreads {
			if r.iothreads[j].id == id {
				r.iothreads = append(r.iothreads[:j], r.iothreads[j+1:]...)
				break
			}
		}
		return nil
	})
}

// DomainSetIothreadParams sets an IOThread's polling settings
// (poll_max_ns, poll_grow, poll_shrink) in the run state; the IOThread
// must be in the definition flags designate (drivers.OpDomainSetIothreadParams).
func (c *conn) DomainSetIothreadParams(ctx context.Context, ref protocol.Domain, id uint32, params []protocol.TypedParam, flags uint32) error {
	if flags&^affectLive != 0 {
		return badFlags(flags, "testDomainSetIOThreadParams")
	}
	if id == 0 {
		return noIOThreadID()
	}
	types := map[string]vir.TypedParameterType{"poll_max_ns": vir.TypedParamUllong, "poll_grow": vir.TypedParamUint, "poll_shrink": vir.TypedParamUint}
	for _, p := range params {
		t, ok := types[p.Field]
		if !ok {
			return drivers.Errorf(vir.ErrArgumentUnsupported, vir.FromTest, "parameter '%s' not supported: give poll_max_ns, poll_grow or poll_shrink", p.Field)
		}
		if p.Value.Type != int32(t) {
			return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "invalid type for parameter '%s', expected '%s'", p.Field, t)
		}
	}
	return c.drv.withDomain(ref, func(dom *domain) error {
		def, _, err := oneDef(dom, flags)
		if err != nil {
			return err
		}
		if iothreadIndex(def, id) < 0 {
			return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "cannot find IOThread '%d' in iothreadids", id)
		}
		it := c.drv.ext(dom).run.iothread(id)
		if it == nil {
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromTest, "IOThread %d has no polling settings: it was not added through the API", id)
		}
		for _, p := range params {
			switch p.Field {
			case "poll_max_ns":
				it.pollMaxNs = p.Value.Ul
			case "poll_grow":
				it.pollGrow = p.Value.Ui
			case "poll_shrink":
				it.pollShrk = p.Value.Ui
			}
		}
		return nil
	})
}

// DomainPinIothread pins an IOThread of the definition flags designate
// to the CPUs of cpumap (drivers.OpDomainPinIothread).
func (c *conn) DomainPinIothread(ctx context.Context, ref protocol.Domain, id uint32, cpumap []byte, flags uint32) error {
	if flags&^(affectLive|affectConfig) != 0 {
		return badFlags(flags, "testDomainPinIOThread")
	}
	set := cpuSetFromMap(cpumap)
	return c.drv.withDomain(ref, func(dom *domain) error {
		def, _, err := oneDef(dom, flags)
		if err != nil {
			return err
		}
		if set == 0 {
			return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "Empty iothread cpumap list for pinning")
		}
		if iothreadIndex(def, id) < 0 {
			return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "iothreadid %d not found", id)
		}
		if def.XML.CPUTune == nil {
			def.XML.CPUTune = &libvirtxml.DomainCPUTune{}
		}
		for i, p := range def.XML.CPUTune.IOThreadPin {
			if uint32(p.IOThread) == id {
				def.XML.CPUTune.IOThreadPin[i].CPUSet = set.String()
				return nil
			}
		}
		def.XML.CPUTune.IOThreadPin = append(def.XML.CPUTune.IOThreadPin, libvirtxml.DomainCPUTuneIOThreadPin{IOThread: uint(id), CPUSet: set.String()})
		return nil
	})
}
