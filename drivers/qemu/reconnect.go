package qemu

import (
	"bytes"
	"context"
	"os"
	"sync"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/drivers/qemu/qmp"
)

// reconnectAll re-attaches to the guests the status files describe, all
// in parallel, each bounded by the monitor timeout, so one hung qemu
// does not hold up the others. It returns when every attempt ended.
func (d *Driver) reconnectAll(ctx context.Context) {
	var wg sync.WaitGroup
	maxID := int32(0)
	for _, st := range d.readStatusFiles() {
		dom, inst, err := d.adopt(st)
		if err != nil {
			d.log.Error("cannot use a status file: the guest it describes, if any, is not managed",
				"file", d.cfg.statusPath(st.Name), "pid", st.PID, "err", err)
			continue
		}
		maxID = max(maxID, st.ID)
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.reconnect(ctx, dom, inst, st)
		}()
	}
	wg.Wait()
	if d.nextID.Load() <= maxID {
		d.nextID.Store(maxID + 1)
	}
}

// adopt makes the domain of a status file run its qemu again in the
// driver's books: the persistent domain of the same uuid, or a
// transient one.
func (d *Driver) adopt(st statusFile) (*domain, *instance, error) {
	live, err := domxml.Parse(st.Live)
	if err != nil {
		return nil, nil, err
	}
	dom := d.findBy(func(x *domain) bool { return x.uuid == live.UUID })
	if dom == nil {
		if dom, _, err = d.claim(live, false); err != nil {
			return nil, nil, err
		}
	}
	inst := &instance{pid: st.PID, monitorPath: st.Monitor, logPath: st.Log, accel: st.Accel, finished: make(chan struct{})}
	dom.mu.Lock()
	defer dom.mu.Unlock()
	dom.proc, dom.live, dom.id = inst, live, st.ID
	dom.state, dom.reason = drivers.DomainState(st.State), st.Reason
	return dom, inst, nil
}

// reconnect checks that the qemu of a status file still runs (and is
// the one for this domain), connects to its monitor and brings the
// domain's state up to date, raising events for what changed meanwhile.
// A guest that died meanwhile is marked shut off. Nothing here kills a
// guest because the driver could not reach it.
func (d *Driver) reconnect(ctx context.Context, dom *domain, inst *instance, st statusFile) {
	log := d.log.With("domain", dom.name, "pid", inst.pid)
	if !alive(inst.pid) || !isOurQemu(inst.pid, st.UUID) {
		reason, detail := diedAwayReason(st.Log)
		dom.mu.Lock()
		d.stopped(dom, inst, reason, detail)
		dom.mu.Unlock()
		log.Warn("guest ended while the daemon was away", "shutoff reason", reason)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.MonitorTimeout)
	defer cancel()
	mon, err := qmp.Dial(ctx, inst.monitorPath, qmp.Options{OnEvent: d.onEvent(dom, inst), Timeout: d.cfg.MonitorTimeout})
	var s qemuStatus
	if err == nil {
		if s, err = queryStatus(ctx, mon); err != nil {
			mon.Close()
		}
	}
	if err != nil {
		dom.mu.Lock()
		inst.degraded = "cannot reach its monitor: " + err.Error()
		dom.mu.Unlock()
		log.Error("guest left running without a monitor connection; destroy still works", "err", err)
		d.background(func() { d.watch(dom, inst) })
		return
	}
	dom.mu.Lock()
	inst.mon = mon
	d.refresh(dom, inst, s.Status)
	dom.mu.Unlock()
	d.background(func() { d.watch(dom, inst) })
	log.Info("reconnected to guest", "status", s.Status)
}

// refresh sets dom's state from qemu's run state, raising an event for
// each change that happened while the daemon was away. dom.mu held.
func (d *Driver) refresh(dom *domain, inst *instance, status string) {
	switch status {
	case "running":
		if dom.state == drivers.DomainPaused {
			dom.state, dom.reason = drivers.DomainRunning, drivers.RunningUnpaused
			d.emit(dom, drivers.EventResumed, drivers.EventResumedUnpaused)
		}
	case "shutdown":
		// The guest powered off; qemu waits (-no-shutdown): finish it.
		inst.gotShutdown = true
		if dom.state != drivers.DomainShutdown {
			dom.state, dom.reason = drivers.DomainShutdown, drivers.ReasonUnknown
			d.emit(dom, drivers.EventShutdown, drivers.EventShutdownFinished)
		}
		d.goKill(dom, inst)
	case "prelaunch", "inmigrate":
		// A start the daemon did not finish: the guest never ran. Undo it.
		inst.intent = stopAbortStart
		d.goKill(dom, inst)
	default: // paused, and the states qemu pauses in (io-error, postmigrate, ...)
		if dom.state == drivers.DomainRunning {
			dom.state, dom.reason = drivers.DomainPaused, drivers.ReasonUnknown
			d.emit(dom, drivers.EventSuspended, drivers.EventSuspendedPaused)
		}
	}
	d.saveStatus(dom)
}

// goKill ends inst's qemu in the background; its monitor's EOF then
// marks the domain shut off.
func (d *Driver) goKill(dom *domain, inst *instance) {
	d.background(func() {
		if err := inst.kill(d.cfg.DestroyGrace, false); err != nil {
			d.log.Error("cannot stop qemu", "domain", dom.name, "err", err)
		}
	})
}

// diedAwayReason guesses how a qemu that ended while the daemon was away
// ended, from its log: a signal that asked it to quit (kill -TERM) is a
// shutdown, anything else (kill -9, a crash) a crash.
func diedAwayReason(logPath string) (int32, int32) {
	data, _ := os.ReadFile(logPath)
	if i := bytes.LastIndex(data, []byte(": starting up\n")); i >= 0 {
		data = data[i:]
	}
	if bytes.Contains(data, []byte("terminating on signal")) {
		return drivers.ShutoffShutdown, drivers.EventStoppedShutdown
	}
	return drivers.ShutoffCrashed, drivers.EventStoppedFailed
}
