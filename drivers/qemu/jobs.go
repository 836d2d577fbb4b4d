package qemu

import (
	"context"
	"errors"
	"time"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// Jobs with progress (virDomainGetJobInfo, virDomainGetJobStats,
// virDomainAbortJob): the driver's one long operation that qemu reports
// on is a save, whose figures are qemu's migration statistics
// (query-migrate). The last finished one's figures are kept for
// VIR_DOMAIN_JOB_STATS_COMPLETED until read, and a save that completed
// raises JOB_COMPLETED with them, as libvirt does. Other operations
// (start, suspend, hotplug) hold the domain's job lock but are no job
// here, as libvirt counts only its asynchronous jobs.

// jobState is a domain's job reporting; guarded by the domain's mu.
type jobState struct {
	active    *activeJob // the running save; nil otherwise
	completed *jobResult // the last finished one's, until read
}

// activeJob is a running save. Its fields are guarded by the domain's
// mu.
type activeJob struct {
	op      vir.DomainJobOperation
	started time.Time
	inst    *instance
	// migrating: qemu's migration runs, so query-migrate has figures and
	// migrate_cancel stops it.
	migrating bool
	aborted   bool // virDomainAbortJob asked
}

// jobResult is a finished job's figures.
type jobResult struct {
	typ     vir.DomainJobType // completed, failed or cancelled
	op      vir.DomainJobOperation
	elapsed time.Duration
	mig     *migrationStats // qemu's at the end; nil if it never ran
}

// errJobAborted is a save stopped by virDomainAbortJob.
var errJobAborted = errors.New("canceled by client")

// migrationStats is what query-migrate reports.
type migrationStats struct {
	Status    string  `json:"status"`
	ErrorDesc string  `json:"error-desc"`
	TotalTime *uint64 `json:"total-time"`
	Downtime  *uint64 `json:"downtime"`
	SetupTime *uint64 `json:"setup-time"`
	RAM       *struct {
		Transferred      uint64  `json:"transferred"`
		Remaining        uint64  `json:"remaining"`
		Total            uint64  `json:"total"`
		Duplicate        uint64  `json:"duplicate"`
		Normal           uint64  `json:"normal"`
		NormalBytes      uint64  `json:"normal-bytes"`
		DirtyPagesRate   uint64  `json:"dirty-pages-rate"`
		Mbps             float64 `json:"mbps"`
		DirtySyncCount   uint64  `json:"dirty-sync-count"`
		PostcopyRequests uint64  `json:"postcopy-requests"`
		PageSize         uint64  `json:"page-size"`
	} `json:"ram"`
}

// params are a job's typed parameters, named as libvirt names them.
func jobParams(op vir.DomainJobOperation, elapsed time.Duration, m *migrationStats, done bool) []protocol.TypedParam {
	p := []protocol.TypedParam{
		drivers.ParamInt("operation", int32(op)),
		drivers.ParamUllong("time_elapsed", uint64(elapsed.Milliseconds())),
	}
	if m == nil {
		return p
	}
	if done && m.Downtime != nil {
		p = append(p, drivers.ParamUllong("downtime", *m.Downtime))
	}
	if m.SetupTime != nil {
		p = append(p, drivers.ParamUllong("setup_time", *m.SetupTime))
	}
	if r := m.RAM; r != nil {
		p = append(p,
			drivers.ParamUllong("data_total", r.Total),
			drivers.ParamUllong("data_processed", r.Transferred),
			drivers.ParamUllong("data_remaining", r.Remaining),
			drivers.ParamUllong("memory_total", r.Total),
			drivers.ParamUllong("memory_processed", r.Transferred),
			drivers.ParamUllong("memory_remaining", r.Remaining),
		)
		if bps := uint64(r.Mbps * 1e6 / 8); bps > 0 {
			p = append(p, drivers.ParamUllong("memory_bps", bps)) // as libvirt: only a measured bandwidth
		}
		p = append(p,
			drivers.ParamUllong("memory_constant", r.Duplicate),
			drivers.ParamUllong("memory_normal", r.Normal),
			drivers.ParamUllong("memory_normal_bytes", r.NormalBytes),
			drivers.ParamUllong("memory_dirty_rate", r.DirtyPagesRate),
			drivers.ParamUllong("memory_iteration", r.DirtySyncCount),
			drivers.ParamUllong("memory_postcopy_requests", r.PostcopyRequests),
			drivers.ParamUllong("memory_page_size", r.PageSize),
		)
	}
	return p
}

// startJob records a save of inst as dom's running job.
func (d *Driver) startJob(dom *domain, inst *instance, op vir.DomainJobOperation) *activeJob {
	j := &activeJob{op: op, started: time.Now(), inst: inst}
	dom.mu.Lock()
	dom.jobs.active = j
	dom.mu.Unlock()
	return j
}

// finishJob ends j with err (nil: it completed, with qemu's final
// figures m) and keeps its result; a completed job raises JOB_COMPLETED.
func (d *Driver) finishJob(dom *domain, j *activeJob, err error, m *migrationStats) {
	dom.mu.Lock()
	defer dom.mu.Unlock()
	if dom.jobs.active == j {
		dom.jobs.active = nil
	}
	r := &jobResult{typ: vir.DomainJobCompleted, op: j.op, elapsed: time.Since(j.started), mig: m}
	switch {
	case errors.Is(err, errJobAborted):
		r.typ = vir.DomainJobCancelled
	case err != nil:
		r.typ = vir.DomainJobFailed
	}
	dom.jobs.completed = r
	if err != nil {
		return
	}
	ev := dom.ref()
	params := jobParams(r.op, r.elapsed, m, true)
	d.events.Emit(drivers.WireEvent{ID: vir.DomainEventIDJobCompleted, Dom: ev, Msg: func() protocol.CallbackMsg {
		return &protocol.DomainEventCallbackJobCompletedMsg{Dom: ev, Params: params}
	}})
}

// migrationStarted marks j's migration as running, unless an abort came
// first.
func (d *Driver) migrationStarted(dom *domain, j *activeJob) error {
	dom.mu.Lock()
	defer dom.mu.Unlock()
	if j.aborted {
		return errJobAborted
	}
	j.migrating = true
	return nil
}

// jobAborted reports whether an abort was asked for j.
func (d *Driver) jobAborted(dom *domain, j *activeJob) bool {
	dom.mu.Lock()
	defer dom.mu.Unlock()
	return j.aborted
}

// jobNow is a job's type and parameters for DomainGetJobStats: with
// completed the last finished one's (dropped unless keep), else the
// running one's, asking qemu for its figures. It waits for no lock but
// the domain's mu, and for qemu at most a monitor timeout.
func (d *Driver) jobNow(ctx context.Context, ref drivers.Domain, completed, keep bool) (vir.DomainJobType, []protocol.TypedParam, error) {
	dom, err := d.find(ref)
	if err != nil {
		return 0, nil, err
	}
	dom.mu.Lock()
	if completed {
		defer dom.mu.Unlock()
		r := dom.jobs.completed
		if r == nil {
			return vir.DomainJobNone, nil, nil
		}
		if !keep {
			dom.jobs.completed = nil
		}
		return r.typ, jobParams(r.op, r.elapsed, r.mig, true), nil
	}
	if !dom.active() {
		dom.mu.Unlock()
		return 0, nil, drivers.Errorf(vir.ErrOperationInvalid, vir.FromQEMU, "domain is not running")
	}
	j := dom.jobs.active
	if j == nil {
		dom.mu.Unlock()
		return vir.DomainJobNone, nil, nil
	}
	op, started, migrating, inst := j.op, j.started, j.migrating, j.inst
	dom.mu.Unlock()
	var m *migrationStats
	if migrating && inst.mon != nil {
		qctx, cancel := context.WithTimeout(ctx, d.cfg.MonitorTimeout)
		defer cancel()
		var st migrationStats
		if err := inst.mon.Execute(qctx, "query-migrate", nil, &st); err == nil {
			m = &st
		}
	}
	return vir.DomainJobUnbounded, jobParams(op, time.Since(started), m, false), nil
}

// DomainGetJobStats answers the running job's progress or, with
// VIR_DOMAIN_JOB_STATS_COMPLETED, the last finished one's
// (drivers.OpDomainGetJobStats).
func (c *conn) DomainGetJobStats(ctx context.Context, ref drivers.Domain, flags uint32) (*protocol.DomainGetJobStatsRet, error) {
	if err := badFlags("qemuDomainGetJobStats", flags, vir.DomainJobStatsCompleted|vir.DomainJobStatsKeepCompleted); err != nil {
		return nil, err
	}
	completed := flags&uint32(vir.DomainJobStatsCompleted) != 0
	keep := flags&uint32(vir.DomainJobStatsKeepCompleted) != 0
	typ, params, err := c.drv.jobNow(ctx, ref, completed, keep)
	if err != nil {
		return nil, err
	}
	if typ == vir.DomainJobNone {
		params = nil
	}
	return &protocol.DomainGetJobStatsRet{Type: int32(typ), Params: params}, nil
}

// DomainGetJobInfo answers the running job's progress in the fixed
// form (drivers.OpDomainGetJobInfo): a save is UNBOUNDED with qemu's
// figures; anything else is no job (all zero), as libvirt answers.
func (c *conn) DomainGetJobInfo(ctx context.Context, ref drivers.Domain) (*protocol.DomainGetJobInfoRet, error) {
	typ, params, err := c.drv.jobNow(ctx, ref, false, false)
	if err != nil {
		return nil, err
	}
	ret := &protocol.DomainGetJobInfoRet{Type: int32(typ)}
	if typ == vir.DomainJobNone {
		return ret, nil
	}
	for _, p := range params {
		v := p.Value.Ul
		switch p.Field {
		case "time_elapsed":
			ret.TimeElapsed = v
		case "data_total":
			ret.DataTotal = v
		case "data_processed":
			ret.DataProcessed = v
		case "data_remaining":
			ret.DataRemaining = v
		case "memory_total":
			ret.MemTotal = v
		case "memory_processed":
			ret.MemProcessed = v
		case "memory_remaining":
			ret.MemRemaining = v
		}
	}
	return ret, nil
}

// DomainAbortJob stops a running save (drivers.OpDomainAbortJob): qemu
// cancels its migration, the save fails and the guest runs on as
// before; the save's result is CANCELLED.
func (c *conn) DomainAbortJob(ctx context.Context, ref drivers.Domain) error {
	return c.DomainAbortJobFlags(ctx, ref, 0)
}

// DomainAbortJobFlags is DomainAbortJob; no flag is served
// (drivers.OpDomainAbortJobFlags).
func (c *conn) DomainAbortJobFlags(ctx context.Context, ref drivers.Domain, flags uint32) error {
	if err := badFlags("qemuDomainAbortJobFlags", flags, uint32(0)); err != nil {
		return err
	}
	d := c.drv
	dom, err := d.find(ref)
	if err != nil {
		return err
	}
	dom.mu.Lock()
	if !dom.active() {
		dom.mu.Unlock()
		return drivers.Errorf(vir.ErrOperationInvalid, vir.FromQEMU, "domain is not running")
	}
	j := dom.jobs.active
	if j == nil {
		dom.mu.Unlock()
		return drivers.Errorf(vir.ErrOperationInvalid, vir.FromQEMU, "no job is active on the domain")
	}
	j.aborted = true
	migrating, inst := j.migrating, j.inst
	dom.mu.Unlock()
	if !migrating || inst.mon == nil {
		return nil // the save sees the abort before it starts qemu's migration
	}
	qctx, cancel := context.WithTimeout(ctx, d.cfg.MonitorTimeout)
	defer cancel()
	if err := inst.mon.Execute(qctx, "migrate_cancel", nil, nil); err != nil {
		return drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "cannot abort the save of domain '%s': %v", dom.name, err)
	}
	return nil
}

var (
	_ drivers.OpDomainGetJobInfo    = (*conn)(nil)
	_ drivers.OpDomainGetJobStats   = (*conn)(nil)
	_ drivers.OpDomainAbortJob      = (*conn)(nil)
	_ drivers.OpDomainAbortJobFlags = (*conn)(nil)
)
