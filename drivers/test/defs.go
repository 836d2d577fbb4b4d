package test

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// hostCPUs is the number of CPUs of the test host as libvirt counts
// them for pinning (nodes × sockets × cores × threads of nodeinfo).
const hostCPUs = 16

// affect is the live-or-config choice of virDomainModificationImpact.
const (
	affectLive   = uint32(vir.DomainAffectLive)
	affectConfig = uint32(vir.DomainAffectConfig)
)

// oneDef is the definition flags (VIR_DOMAIN_AFFECT_*) designate, as
// libvirt picks it: the running one or the persistent one, current
// meaning the running one of an active domain; asking for both, for the
// running definition of an inactive domain or for the persistent one
// of a transient domain is an error. live says which was picked. mu
// must be held.
func oneDef(dom *domain, flags uint32) (def *domxml.Def, live bool, err error) {
	switch flags & (affectLive | affectConfig) {
	case affectLive | affectConfig:
		return nil, false, drivers.Errorf(vir.ErrInvalidArg, vir.FromDomain,
			"flags 'affect live' and 'affect config' are mutually exclusive: give one of them")
	case affectLive:
		if !dom.active() {
			return nil, false, notRunning()
		}
		return dom.live, true, nil
	case affectConfig:
		if dom.persistent == nil {
			return nil, false, drivers.Errorf(vir.ErrOperationInvalid, vir.FromDomain,
				"transient domains do not have any persistent config")
		}
		return dom.persistent, false, nil
	}
	if dom.active() {
		return dom.live, true, nil
	}
	return dom.persistent, false, nil
}

// bothDefs are the definitions a change with flags applies to, as
// virDomainObjGetDefs picks them: either may be nil. mu must be held.
func bothDefs(dom *domain, flags uint32) (live, config *domxml.Def, err error) {
	if flags&(affectLive|affectConfig) == 0 {
		if dom.active() {
			flags |= affectLive
		} else {
			flags |= affectConfig
		}
	}
	if flags&affectLive != 0 {
		if !dom.active() {
			return nil, nil, notRunning()
		}
		live = dom.live
	}
	if flags&affectConfig != 0 {
		if dom.persistent == nil {
			return nil, nil, drivers.Errorf(vir.ErrOperationInvalid, vir.FromDomain,
				"transient domains do not have any persistent config")
		}
		config = dom.persistent
	}
	return live, config, nil
}

// cpuSet is a set of host CPUs, bit i for CPU i.
type cpuSet uint64

// allCPUs is every CPU of the test host.
const allCPUs = cpuSet(1<<hostCPUs - 1)

// parseCPUSet parses libvirt's cpuset syntax ("0-3,^2,5").
func parseCPUSet(s string) (cpuSet, error) {
	var set cpuSet
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		neg := strings.HasPrefix(part, "^")
		part = strings.TrimPrefix(part, "^")
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || a < 0 || b < a || b >= 64 {
			return 0, drivers.Errorf(vir.ErrInvalidArg, vir.FromDomain, "invalid cpuset %q: want a list such as 0-3,5", s)
		}
		for i := a; i <= b; i++ {
			if neg {
				set &^= 1 << i
			} else {
				set |= 1 << i
			}
		}
	}
	return set, nil
}

// String formats the set as libvirt does: ranges, comma separated.
func (s cpuSet) String() string {
	var parts []string
	for i := 0; i < 64; {
		if s&(1<<i) == 0 {
			i++
			continue
		}
		j := i
		for j+1 < 64 && s&(1<<(j+1)) != 0 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(i))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", i, j))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// last is the highest CPU of the set, -1 when empty.
func (s cpuSet) last() int32 { return int32(63 - bits.LeadingZeros64(uint64(s))) }

// bytes writes the set into a cpumap of maplen bytes, CPU i at bit i%8
// of byte i/8, dropping what does not fit.
func (s cpuSet) bytes(buf []byte) {
	for i := range buf {
		if i < 8 {
			buf[i] = byte(s >> (8 * i))
		}
	}
}

// cpuSetFromMap reads a cpumap; CPUs past the host's are kept so that a
// pin to them is refused by the caller, not silently narrowed.
func cpuSetFromMap(m []byte) cpuSet {
	var s cpuSet
	for i, b := range m {
		if i < 8 {
			s |= cpuSet(b) << (8 * i)
		} else if b != 0 {
			s |= 1 << 63
		}
	}
	return s
}

// typed params, as the wire carries them (drivers.Param*).
var (
	paramInt    = drivers.ParamInt
	paramUint   = drivers.ParamUint
	paramUllong = drivers.ParamUllong
	paramString = drivers.ParamString
	paramBool   = drivers.ParamBool
)

// firstParams is the first n of params when a client asks for n of
// them (libvirt fills what fits), all of them when n is larger.
func firstParams(params []protocol.TypedParam, n int32) []protocol.TypedParam {
	if int(n) < len(params) && n >= 0 {
		return params[:n]
	}
	return params
}
