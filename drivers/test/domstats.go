package test

import (
	"context"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// The stats groups libvirt's test driver fills: state and iothread.
const (
	statsState    = uint32(vir.DomainStatsState)
	statsIOThread = uint32(vir.DomainStatsIothread)
	statsServed   = statsState | statsIOThread

	// statsListFlags are the list filters of virConnectListAllDomains
	// that virConnectGetAllDomainStats shares: active, persistent and
	// state.
	statsListFlags = uint32(vir.ConnectListDomainsActive | vir.ConnectListDomainsInactive |
		vir.ConnectListDomainsPersistent | vir.ConnectListDomainsTransient |
		vir.ConnectListDomainsRunning | vir.ConnectListDomainsPaused |
		vir.ConnectListDomainsShutoff | vir.ConnectListDomainsOther)
	statsEnforce = uint32(vir.ConnectGetAllDomainsStatsEnforceStats)
	statsFlags   = statsListFlags | statsEnforce |
		uint32(vir.ConnectGetAllDomainsStatsNowait|vir.ConnectGetAllDomainsStatsBacking)
)

// ConnectGetAllDomainStats answers one record per domain, of the given
// domains (those that no longer exist are skipped) or of all of them,
// filtered by flags as a domain list is: "state.state" and
// "state.reason", and for a running domain with IOThreads
// "iothread.count" and each one's polling settings. stats 0 means every
// group served; groups asked that are not served are left out, unless
// ENFORCE_STATS makes that an error (drivers.OpConnectGetAllDomainStats).
func (c *conn) ConnectGetAllDomainStats(ctx context.Context, doms []protocol.Domain, stats uint32, flags uint32) ([]protocol.DomainStatsRecord, error) {
	if flags&^statsFlags != 0 {
		return nil, badFlags(flags&^statsFlags, "testConnectGetAllDomainStats")
	}
	if stats == 0 {
		stats = statsServed
	} else if flags&statsEnforce != 0 && stats&^statsServed != 0 {
		return nil, drivers.Errorf(vir.ErrArgumentUnsupported, vir.FromTest,
			"Stats types bits 0x%x are not supported by this daemon", stats&^statsServed)
	}
	d := c.drv
	d.mu.Lock()
	defer d.mu.Unlock()
	var objs []*domain
	if len(doms) > 0 {
		for _, ref := range doms {
			if dom := d.findUUID(ref.UUID); dom != nil {
				objs = append(objs, dom)
			}
		}
	} else {
		objs = d.domains.Objects()
	}
	out := []protocol.DomainStatsRecord{}
	for _, dom := range objs {
		e := drivers.DomainListEntry{State: dom.state, Persistent: dom.persistent != nil, Autostart: dom.autostart}
		if !e.Matches(vir.ConnectListAllDomainsFlags(flags & statsListFlags)) {
			continue
		}
		out = append(out, protocol.DomainStatsRecord{Dom: dom.ref(), Params: d.domainStats(dom, stats)})
	}
	return out, nil
}

// domainStats is dom's record of the groups in stats; mu must be held.
func (d *Driver) domainStats(dom *domain, stats uint32) []protocol.TypedParam {
	params := []protocol.TypedParam{}
	if stats&statsState != 0 {
		params = append(params, paramInt("state.state", int32(dom.state)), paramInt("state.reason", dom.reason))
	}
	if stats&statsIOThread != 0 && dom.active() {
		if its := d.ext(dom).run.iothreads; len(its) > 0 {
			params = append(params, paramUint("iothread.count", uint32(len(its))))
			for _, it := range its {
				p := "iothread." + uitoa(it.id) + "."
				params = append(params, paramUllong(p+"poll-max-ns", it.pollMaxNs),
					paramUint(p+"poll-grow", it.pollGrow), paramUint(p+"poll-shrink", it.pollShrk))
			}
		}
	}
	return params
}

// The test domain's CPU time as libvirt's test driver reports it: fixed,
// split evenly over the host's cores (2) for the per-CPU figures, each
// CPU's vCPU time 1234567890 ns less than its CPU time, the later CPU
// getting one more nanosecond.
const (
	testTotalCPUTime = 48772617035
	testUserTime     = 5540000000
	testSystemTime   = 6460000000
	testStatCPUs     = 2
	testVCPUTimeLess = 1234567890
)

// DomainGetCPUStats answers a running domain's CPU times: start_cpu -1
// the totals (cpu_time, user_time, system_time), otherwise cpu_time and
// vcpu_time of ncpus CPUs from start_cpu; nparams 0 asks how many
// parameters there are, ncpus 0 how many CPUs (drivers.OpDomainGetCPUStats).
func (c *conn) DomainGetCPUStats(ctx context.Context, ref protocol.Domain, nparams uint32, startCPU int32, ncpus uint32, flags uint32) (*protocol.DomainGetCPUStatsRet, error) {
	if flags&^stringOkay != 0 {
		return nil, badFlags(flags&^stringOkay, "testDomainGetCPUStats")
	}
	if nparams > protocol.RemoteNodeCPUStatsMax {
		return nil, drivers.Errorf(vir.ErrInternalError, vir.FromRemote, "nparams too large: at most %d", protocol.RemoteNodeCPUStatsMax)
	}
	if ncpus > protocol.RemoteDomainGetCPUStatsNcpusMax {
		return nil, drivers.Errorf(vir.ErrInternalError, vir.FromRemote, "ncpus too large: at most %d", protocol.RemoteDomainGetCPUStatsNcpusMax)
	}
	err := c.drv.withDomain(ref, func(dom *domain) error {
		if !dom.active() {
			return notRunning()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	ret := &protocol.DomainGetCPUStatsRet{Params: []protocol.TypedParam{}}
	if startCPU == -1 {
		all := []protocol.TypedParam{
			paramUllong("cpu_time", testTotalCPUTime),
			paramUllong("user_time", testUserTime),
			paramUllong("system_time", testSystemTime),
		}
		if nparams == 0 {
			ret.Nparams = int32(len(all))
			return ret, nil
		}
		ret.Params = firstParams(all, int32(nparams))
		ret.Nparams = int32(len(ret.Params))
		return ret, nil
	}
	switch {
	case startCPU < -1:
		return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromDomain, "start_cpu %d is invalid: give -1 for the totals or a CPU number", startCPU)
	case ncpus == 0:
		ret.Nparams = testStatCPUs
		return ret, nil
	case nparams == 0:
		ret.Nparams = 2
		return ret, nil
	case startCPU >= testStatCPUs:
		return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "start_cpu %d larger than maximum of %d", startCPU, testStatCPUs-1)
	}
	per := uint64(testTotalCPUTime / testStatCPUs)
	n := int32(1)
	if nparams > 1 {
		n = 2
	}
	for i := startCPU; i < min(testStatCPUs, startCPU+int32(ncpus)); i++ {
		ret.Params = append(ret.Params, paramUllong("cpu_time", per+uint64(i)))
		if n > 1 {
			ret.Params = append(ret.Params, paramUllong("vcpu_time", per+uint64(i)-testVCPUTimeLess))
		}
	}
	ret.Nparams = n
	return ret, nil
}
