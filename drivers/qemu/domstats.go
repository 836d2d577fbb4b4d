package qemu

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/drivers/qemu/qmp"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// Per-domain statistics, for monitoring (the exporters' scrape,
// virsh domstats, Nova's vCPU count): CPU times from /proc, vCPU threads
// from QMP query-cpus-fast, the balloon from query-balloon.

// procTimes are a process's or thread's user and system time (ns) and
// the CPU it last ran on, from its /proc stat file.
type procTimes struct {
	user, system uint64
	cpu          int32
	rssKiB       uint64
}

func readProcTimes(path string) (procTimes, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return procTimes{}, err
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procTimes{}, fmt.Errorf("%s: no command name", path)
	}
	f := strings.Fields(string(data[i+1:]))
	// After the name: state is field 3 of stat, so field N is f[N-3].
	if len(f) < 37 {
		return procTimes{}, fmt.Errorf("%s: %d fields", path, len(f))
	}
	tick := uint64(time.Second / 100) // USER_HZ
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	rss, _ := strconv.ParseUint(f[21], 10, 64)
	cpu, _ := strconv.ParseInt(f[36], 10, 32)
	return procTimes{user: ut * tick, system: st * tick, cpu: int32(cpu), rssKiB: rss * uint64(os.Getpagesize()) / 1024}, nil
}

// schedDelay is the time (ns) a thread spent runnable but waiting for a
// CPU, the second figure of its schedstat file; 0 when unknown.
func schedDelay(path string) uint64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return 0
	}
	v, _ := strconv.ParseUint(f[1], 10, 64)
	return v
}

// schedWait is a thread's se.statistics.wait_sum (ms in its sched file)
// in ns; 0 when the kernel keeps no schedstats (the line is absent).
func schedWait(path string) uint64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(k) != "se.statistics.wait_sum" && strings.TrimSpace(k) != "wait_sum" {
			continue
		}
		ms, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || ms < 0 {
			return 0
		}
		return uint64(ms * 1e6)
	}
	return 0
}

// vcpuThread is one vCPU as query-cpus-fast reports it.
type vcpuThread struct {
	Index  int `json:"cpu-index"`
	Thread int `json:"thread-id"`
}

// vcpuThreads asks qemu for its vCPU threads.
func vcpuThreads(ctx context.Context, mon *qmp.Monitor) ([]vcpuThread, error) {
	var cpus []vcpuThread
	if err := mon.Execute(ctx, "query-cpus-fast", nil, &cpus); err != nil {
		return nil, err
	}
	return cpus, nil
}

// runningInst is dom's running instance with a monitor, or an error
// saying why there is none.
func runningInst(dom *domain) (*instance, error) {
	inst, _, err := dom.running()
	if err != nil {
		return nil, drivers.Errorf(vir.ErrOperationInvalid, vir.FromQEMU, "domain is not running")
	}
	if inst.mon == nil {
		return nil, monitorErr(dom, fmt.Errorf("the driver has no monitor connection to qemu (pid %d): %s", inst.pid, inst.degraded))
	}
	return inst, nil
}

// DomainGetVcpus answers each running vCPU's state, CPU time and host
// CPU, and its affinity as cpumaps of maplen bytes (drivers.OpDomainGetVcpus).
func (c *conn) DomainGetVcpus(ctx context.Context, ref drivers.Domain, maxinfo, maplen int32) (*protocol.DomainGetVcpusRet, error) {
	dom, err := c.drv.find(ref)
	if err != nil {
		return nil, err
	}
	inst, _, err := dom.running()
	if err != nil {
		return nil, drivers.Errorf(vir.ErrOperationInvalid, vir.FromQEMU, "cannot retrieve vcpu information for inactive domain")
	}
	if inst.mon == nil {
		return nil, monitorErr(dom, fmt.Errorf("the driver has no monitor connection to qemu (pid %d): %s", inst.pid, inst.degraded))
	}
	threads, err := vcpuThreads(ctx, inst.mon)
	if err != nil {
		return nil, monitorErr(dom, err)
	}
	ret := &protocol.DomainGetVcpusRet{Info: []protocol.VcpuInfo{}, Cpumaps: []byte{}}
	for _, th := range threads {
		if int32(len(ret.Info)) >= maxinfo {
			break
		}
		t, _ := readProcTimes(fmt.Sprintf("/proc/%d/task/%d/stat", inst.pid, th.Thread))
		ret.Info = append(ret.Info, protocol.VcpuInfo{Number: uint32(th.Index), State: int32(vir.VcpuRunning),
			CPUTime: t.user + t.system, CPU: t.cpu})
		if maplen > 0 {
			m := make([]byte, maplen)
			var set unix.CPUSet
			if unix.SchedGetaffinity(th.Thread, &set) == nil {
				for cpu := 0; cpu < int(maplen)*8; cpu++ {
					if set.IsSet(cpu) {
						m[cpu/8] |= 1 << (cpu % 8)
					}
				}
			}
			ret.Cpumaps = append(ret.Cpumaps, m...)
		}
	}
	return ret, nil
}

// DomainMemoryStats answers a running domain's balloon size (with a
// balloon device) and qemu's resident memory, in KiB
// (drivers.OpDomainMemoryStats).
func (c *conn) DomainMemoryStats(ctx context.Context, ref drivers.Domain, maxStats, flags uint32) ([]protocol.DomainMemoryStat, error) {
	if flags != 0 {
		return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "unsupported flags (0x%x) in function qemuDomainMemoryStats", flags)
	}
	dom, err := c.drv.find(ref)
	if err != nil {
		return nil, err
	}
	inst, err := runningInst(dom)
	if err != nil {
		return nil, err
	}
	out, err := memoryStats(ctx, dom, inst)
	if err != nil {
		return nil, monitorErr(dom, err)
	}
	if uint32(len(out)) > maxStats {
		out = out[:maxStats]
	}
	return out, nil
}

// guestStatTags are the balloon driver's statistics (QOM property
// guest-stats of the balloon device) by qemu's name, in libvirt's
// order, and whether qemu counts bytes (answered in KiB).
var guestStatTags = []struct {
	name  string
	tag   vir.DomainMemoryStatTags
	bytes bool
}{
	{"stat-swap-in", vir.DomainMemoryStatSwapIn, true},
	{"stat-swap-out", vir.DomainMemoryStatSwapOut, true},
	{"stat-major-faults", vir.DomainMemoryStatMajorFault, false},
	{"stat-minor-faults", vir.DomainMemoryStatMinorFault, false},
	{"stat-free-memory", vir.DomainMemoryStatUnused, true},
	{"stat-total-memory", vir.DomainMemoryStatAvailable, true},
	{"stat-available-memory", vir.DomainMemoryStatUsable, true},
	{"stat-disk-caches", vir.DomainMemoryStatDiskCaches, true},
	{"stat-htlb-pgalloc", vir.DomainMemoryStatHugetlbPgalloc, false},
	{"stat-htlb-pgfail", vir.DomainMemoryStatHugetlbPgfail, false},
}

// memoryStats are a running domain's memory statistics as libvirt
// answers them: with a balloon device its size, the guest's own
// figures that its balloon driver reported (those it never reported,
// which qemu gives as all ones, left out) and when it last did; then
// qemu's resident memory.
func memoryStats(ctx context.Context, dom *domain, inst *instance) ([]protocol.DomainMemoryStat, error) {
	var out []protocol.DomainMemoryStat
	if hasBalloon(dom) {
		actual, err := balloonKiB(ctx, inst.mon)
		if err != nil {
			return nil, err
		}
		out = append(out, protocol.DomainMemoryStat{Tag: int32(vir.DomainMemoryStatActualBalloon), Val: actual})
		var gs struct {
			Stats      map[string]uint64 `json:"stats"`
			LastUpdate uint64            `json:"last-update"`
		}
		// The balloon's id is balloon0 (command_devices.go); a qemu too
		// old for guest-stats has only the size.
		if err := inst.mon.Execute(ctx, "qom-get", map[string]string{"path": "/machine/peripheral/balloon0", "property": "guest-stats"}, &gs); err == nil {
			for _, t := range guestStatTags {
				v, ok := gs.Stats[t.name]
				if !ok || v == ^uint64(0) {
					continue
				}
				if t.bytes {
					v /= 1024
				}
				out = append(out, protocol.DomainMemoryStat{Tag: int32(t.tag), Val: v})
			}
			out = append(out, protocol.DomainMemoryStat{Tag: int32(vir.DomainMemoryStatLastUpdate), Val: gs.LastUpdate})
		}
	}
	if t, err := readProcTimes(fmt.Sprintf("/proc/%d/stat", inst.pid)); err == nil {
		out = append(out, protocol.DomainMemoryStat{Tag: int32(vir.DomainMemoryStatRss), Val: t.rssKiB})
	}
	return out, nil
}

// balloonStatNames are the balloon group's names of the memory
// statistics (the size is balloon.current).
var balloonStatNames = map[vir.DomainMemoryStatTags]string{
	vir.DomainMemoryStatSwapIn: "swap_in", vir.DomainMemoryStatSwapOut: "swap_out",
	vir.DomainMemoryStatMajorFault: "major_fault", vir.DomainMemoryStatMinorFault: "minor_fault",
	vir.DomainMemoryStatUnused: "unused", vir.DomainMemoryStatAvailable: "available",
	vir.DomainMemoryStatUsable: "usable", vir.DomainMemoryStatRss: "rss",
	vir.DomainMemoryStatLastUpdate: "last-update", vir.DomainMemoryStatDiskCaches: "disk_caches",
	vir.DomainMemoryStatHugetlbPgalloc: "hugetlb_pgalloc", vir.DomainMemoryStatHugetlbPgfail: "hugetlb_pgfail",
}

func hasBalloon(dom *domain) bool {
	dom.mu.Lock()
	defer dom.mu.Unlock()
	def := dom.def()
	if def == nil || def.XML.Devices == nil || def.XML.Devices.MemBalloon == nil {
		return false
	}
	return def.XML.Devices.MemBalloon.Model == "virtio"
}

func balloonKiB(ctx context.Context, mon *qmp.Monitor) (uint64, error) {
	var b struct {
		Actual uint64 `json:"actual"`
	}
	if err := mon.Execute(ctx, "query-balloon", nil, &b); err != nil {
		return 0, err
	}
	return b.Actual / 1024, nil
}

// The stats groups the QEMU driver fills.
const (
	qStatsState   = uint32(vir.DomainStatsState)
	qStatsCPU     = uint32(vir.DomainStatsCPUTotal)
	qStatsBalloon = uint32(vir.DomainStatsBalloon)
	qStatsVcpu    = uint32(vir.DomainStatsVcpu)
	qStatsBlock   = uint32(vir.DomainStatsBlock)
	qStatsNet     = uint32(vir.DomainStatsInterface)
	qStatsServed  = qStatsState | qStatsCPU | qStatsBalloon | qStatsVcpu | qStatsBlock | qStatsNet

	qStatsListFlags = uint32(vir.ConnectListDomainsActive | vir.ConnectListDomainsInactive |
		vir.ConnectListDomainsPersistent | vir.ConnectListDomainsTransient |
		vir.ConnectListDomainsRunning | vir.ConnectListDomainsPaused |
		vir.ConnectListDomainsShutoff | vir.ConnectListDomainsOther)
	qStatsEnforce = uint32(vir.ConnectGetAllDomainsStatsEnforceStats)
	qStatsFlags   = qStatsListFlags | qStatsEnforce |
		uint32(vir.ConnectGetAllDomainsStatsNowait|vir.ConnectGetAllDomainsStatsBacking)
)

// ConnectGetAllDomainStats answers a record per domain (the given ones,
// or all, filtered as a domain list is) of the groups asked (0: every
// group served): state; cpu-total (qemu's CPU time from /proc); balloon
// (current and maximum, and qemu's RSS while running); vcpu (current and
// maximum, and each running vCPU's state, time, wait and delay); block
// (a running guest's disks: name, path, read, write and flush counters
// and times, the file's size; a stopped guest's disk files: name, path,
// capacity and size); interface (a running guest's tapped interfaces:
// name and the tap's counters as the guest sees them). Groups not served
// are left out, or refused with ENFORCE_STATS
// (drivers.OpConnectGetAllDomainStats).
func (c *conn) ConnectGetAllDomainStats(ctx context.Context, doms []protocol.Domain, stats, flags uint32) ([]protocol.DomainStatsRecord, error) {
	if flags&^qStatsFlags != 0 {
		return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "unsupported flags (0x%x) in function qemuConnectGetAllDomainStats", flags&^qStatsFlags)
	}
	if stats == 0 {
		stats = qStatsServed
	} else if flags&qStatsEnforce != 0 && stats&^qStatsServed != 0 {
		return nil, drivers.Errorf(vir.ErrArgumentUnsupported, vir.FromQEMU,
			"Stats types bits 0x%x are not supported by this daemon", stats&^qStatsServed)
	}
	var objs []*domain
	if len(doms) > 0 {
		for _, ref := range doms {
			if dom, err := c.drv.find(ref); err == nil {
				objs = append(objs, dom)
			}
		}
	} else {
		objs = c.drv.list()
	}
	out := []protocol.DomainStatsRecord{}
	for _, dom := range objs {
		snap := dom.DomainSnapshot()
		if !snap.Visible || !snap.Entry.Matches(vir.ConnectListAllDomainsFlags(flags&qStatsListFlags)) {
			continue
		}
		out = append(out, protocol.DomainStatsRecord{Dom: snap.Ref, Params: c.domainStats(ctx, dom, stats)})
	}
	return out, nil
}

// domainStats is one domain's record. What the monitor cannot answer
// (a guest stopping meanwhile) is left out rather than failing the
// whole scrape, as libvirt does.
func (c *conn) domainStats(ctx context.Context, dom *domain, stats uint32) []protocol.TypedParam {
	dom.mu.Lock()
	state, reason := dom.state, dom.reason
	def := dom.def()
	inst := dom.proc
	dom.mu.Unlock()
	params := []protocol.TypedParam{}
	if stats&qStatsState != 0 {
		params = append(params, drivers.ParamInt("state.state", int32(state)), drivers.ParamInt("state.reason", reason))
	}
	var self procTimes
	var selfErr error = fmt.Errorf("not running")
	if inst != nil {
		self, selfErr = readProcTimes(fmt.Sprintf("/proc/%d/stat", inst.pid))
	}
	if stats&qStatsCPU != 0 && selfErr == nil {
		params = append(params, drivers.ParamUllong("cpu.time", self.user+self.system),
			drivers.ParamUllong("cpu.user", self.user), drivers.ParamUllong("cpu.system", self.system),
			// The driver sets up no resctrl cache monitors; libvirt
			// counts them for every running guest.
			drivers.ParamUint("cpu.cache.monitor.count", 0))
	}
	if stats&qStatsBalloon != 0 && def != nil {
		cur := def.CurMemKiB()
		var mem []protocol.DomainMemoryStat
		if inst != nil && inst.mon != nil {
			mem, _ = memoryStats(ctx, dom, inst)
		}
		if mem == nil && selfErr == nil {
			mem = []protocol.DomainMemoryStat{{Tag: int32(vir.DomainMemoryStatRss), Val: self.rssKiB}}
		}
		for _, m := range mem {
			if m.Tag == int32(vir.DomainMemoryStatActualBalloon) {
				cur = m.Val
			}
		}
		params = append(params, drivers.ParamUllong("balloon.current", cur), drivers.ParamUllong("balloon.maximum", def.MaxMemKiB()))
		for _, m := range mem {
			if name, ok := balloonStatNames[vir.DomainMemoryStatTags(m.Tag)]; ok {
				params = append(params, drivers.ParamUllong("balloon."+name, m.Val))
			}
		}
	}
	if stats&qStatsVcpu != 0 && def != nil {
		n := uint32(def.VCPUs())
		params = append(params, drivers.ParamUint("vcpu.current", n), drivers.ParamUint("vcpu.maximum", n))
		if inst != nil && inst.mon != nil {
			if threads, err := vcpuThreads(ctx, inst.mon); err == nil {
				for _, th := range threads {
					t, err := readProcTimes(fmt.Sprintf("/proc/%d/task/%d/stat", inst.pid, th.Thread))
					if err != nil {
						continue
					}
					p := "vcpu." + strconv.Itoa(th.Index) + "."
					task := fmt.Sprintf("/proc/%d/task/%d/", inst.pid, th.Thread)
					params = append(params, drivers.ParamInt(p+"state", int32(vir.VcpuRunning)), drivers.ParamUllong(p+"time", t.user+t.system),
						drivers.ParamUllong(p+"wait", schedWait(task+"sched")), drivers.ParamUllong(p+"delay", schedDelay(task+"schedstat")))
				}
			}
		}
	}
	if stats&qStatsNet != 0 && def != nil && inst != nil {
		params = append(params, interfaceGroup(def.XML)...)
	}
	switch {
	case stats&qStatsBlock == 0 || def == nil:
	case inst != nil && inst.mon != nil:
		params = append(params, blockGroup(ctx, inst.mon, def.XML)...)
	case inst == nil:
		params = append(params, inactiveBlockGroup(def.XML)...)
	}
	return params
}

// defFor is the definition flags (VIR_DOMAIN_AFFECT_*) choose, as
// libvirt chooses it: the live one of a running domain or the
// persistent one of a stopped domain (CURRENT), the live one (LIVE), the
// persistent one (CONFIG).
func defFor(dom *domain, flags uint32) (*domxml.Def, error) {
	live, config := flags&uint32(vir.DomainAffectLive) != 0, flags&uint32(vir.DomainAffectConfig) != 0
	if live && config {
		return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromDomain, "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive")
	}
	dom.mu.Lock()
	defer dom.mu.Unlock()
	switch {
	case live && dom.live == nil:
		return nil, drivers.Errorf(vir.ErrOperationInvalid, vir.FromDomain, "domain is not running")
	case config && dom.persistent == nil:
		return nil, drivers.Errorf(vir.ErrOperationInvalid, vir.FromDomain, "transient domains do not have any persistent config")
	case config:
		return dom.persistent, nil
	}
	return dom.def(), nil
}

// maxVCPUs is a definition's maximum number of vCPUs (<vcpu>), of which
// VCPUs are online.
func maxVCPUs(def *domxml.Def) int32 {
	n := int32(def.VCPUs())
	if v := def.XML.VCPU; v != nil && int32(v.Value) > n {
		n = int32(v.Value)
	}
	return n
}

// vcpusFlags are the flags of virDomainGetVcpusFlags.
const vcpusFlags = vir.DomainVcpuLive | vir.DomainVcpuConfig | vir.DomainVcpuMaximum | vir.DomainVcpuGuest

// DomainGetVcpusFlags answers the vCPU count of the definition flags
// choose: its current count, or its maximum with VCPU_MAXIMUM. The
// count the guest itself sees (VCPU_GUEST) needs the guest agent, which
// the driver does not speak (drivers.OpDomainGetVcpusFlags).
func (c *conn) DomainGetVcpusFlags(ctx context.Context, ref drivers.Domain, flags uint32) (int32, error) {
	if err := badFlags("qemuDomainGetVcpusFlags", flags, vcpusFlags); err != nil {
		return 0, err
	}
	dom, err := c.drv.find(ref)
	if err != nil {
		return 0, err
	}
	def, err := defFor(dom, flags&uint32(vir.DomainVcpuLive|vir.DomainVcpuConfig))
	if err != nil {
		return 0, err
	}
	if flags&uint32(vir.DomainVcpuGuest) != 0 {
		dom.mu.Lock()
		running := dom.live != nil
		dom.mu.Unlock()
		if !running || flags&uint32(vir.DomainVcpuConfig) != 0 {
			return 0, drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "vCPU count provided by the guest agent can only be requested for live domains")
		}
		return 0, drivers.Errorf(vir.ErrArgumentUnsupported, vir.FromQEMU, "the vCPU count the guest sees (VIR_DOMAIN_VCPU_GUEST) needs the QEMU guest agent, which this daemon does not talk to")
	}
	if flags&uint32(vir.DomainVcpuMaximum) != 0 {
		return maxVCPUs(def), nil
	}
	return int32(def.VCPUs()), nil
}

// DomainGetMaxVcpus answers a running domain's maximum vCPU count, as
// libvirt's QEMU driver does (VCPU_LIVE | VCPU_MAXIMUM: a stopped
// domain is refused) (drivers.OpDomainGetMaxVcpus).
func (c *conn) DomainGetMaxVcpus(ctx context.Context, ref drivers.Domain) (int32, error) {
	return c.DomainGetVcpusFlags(ctx, ref, uint32(vir.DomainVcpuLive|vir.DomainVcpuMaximum))
}

// vcpuPinFlags are the flags of virDomainGetVcpuPinInfo.
const vcpuPinFlags = vir.DomainAffectLive | vir.DomainAffectConfig

// DomainGetVcpuPinInfo answers the affinity each vCPU of the definition
// flags choose is given, as cpumaps of maplen bytes, for up to ncpumaps
// vCPUs (its maximum count). The driver serves no pinning (<cputune>
// and <vcpu cpuset> are refused at define), so every vCPU may run on
// every online host CPU, which is what libvirt answers for an unpinned
// guest (drivers.OpDomainGetVcpuPinInfo).
func (c *conn) DomainGetVcpuPinInfo(ctx context.Context, ref drivers.Domain, ncpumaps, maplen int32, flags uint32) (*protocol.DomainGetVcpuPinInfoRet, error) {
	if err := badFlags("qemuDomainGetVcpuPinInfo", flags, vcpuPinFlags); err != nil {
		return nil, err
	}
	if ncpumaps < 1 || maplen < 1 {
		return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "ncpumaps (%d) and maplen (%d) must be positive", ncpumaps, maplen)
	}
	if int64(ncpumaps)*int64(maplen) > protocol.RemoteCpumapsMax {
		return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "maxinfo * maplen > REMOTE_CPUMAPS_MAX (%d)", protocol.RemoteCpumapsMax)
	}
	dom, err := c.drv.find(ref)
	if err != nil {
		return nil, err
	}
	def, err := defFor(dom, flags)
	if err != nil {
		return nil, err
	}
	_, online, _, err := host.CPUMap()
	if err != nil {
		return nil, nodeErr(err)
	}
	n := min(maxVCPUs(def), ncpumaps)
	ret := &protocol.DomainGetVcpuPinInfoRet{Cpumaps: make([]byte, int(n)*int(maplen)), Num: n}
	for i := 0; i < int(n); i++ {
		copy(ret.Cpumaps[i*int(maplen):(i+1)*int(maplen)], online)
	}
	return ret, nil
}

// DomainGetEmulatorPinInfo answers the affinity of qemu's own threads
// (all but the vCPUs') in the definition flags choose, as a cpumap of
// maplen bytes: every online host CPU, the driver serving no
// <emulatorpin> (drivers.OpDomainGetEmulatorPinInfo).
func (c *conn) DomainGetEmulatorPinInfo(ctx context.Context, ref drivers.Domain, maplen int32, flags uint32) (*protocol.DomainGetEmulatorPinInfoRet, error) {
	if err := badFlags("qemuDomainGetEmulatorPinInfo", flags, vcpuPinFlags); err != nil {
		return nil, err
	}
	if maplen < 1 || maplen > protocol.RemoteCpumapsMax {
		return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "maplen (%d) must be between 1 and REMOTE_CPUMAPS_MAX (%d)", maplen, protocol.RemoteCpumapsMax)
	}
	dom, err := c.drv.find(ref)
	if err != nil {
		return nil, err
	}
	if _, err := defFor(dom, flags); err != nil {
		return nil, err
	}
	_, online, _, err := host.CPUMap()
	if err != nil {
		return nil, nodeErr(err)
	}
	m := make([]byte, maplen)
	copy(m, online)
	return &protocol.DomainGetEmulatorPinInfoRet{Cpumaps: m, Ret: 1}, nil
}
