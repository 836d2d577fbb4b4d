package qemu

import (
	"bytes"
	"context"
	"os"
	"sync"

	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/drivers/hostinfo"
	"github.com/govirt/govirtd/drivers/qemu/qmp"
	"github.com/govirt/govirtd/vir"
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
	dom.state, dom.reason = vir.DomainState(st.State), st.Reason
	return dom, inst, nil
}

// reconnect checks that the qemu of a status file still runs (and is
// the one for this domain), connects to its monitor and brings the
// domain's state up to date, raising events for what changed meanwhile.
// A guest that died meanwhile is marked shut off. Nothing here kills a
// guest because the driver could not reach it.
func (d *Driver) reconnect(ctx context.Context, dom *domain, inst *instance, st statusFile) {
	log := d.log.With("domain", dom.name, "pid", inst.pid)
	if !hostinfo.Alive(inst.pid) || !isOurQemu(inst.pid, st.UUID) {
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
		// Recorded at once: the events that arrive from now on may need it.
		dom.mu.Lock()
		inst.mon = mon
		dom.mu.Unlock()
		if s, err = queryStatus(ctx, mon); err != nil {
			dom.mu.Lock()
			inst.mon = nil
			dom.mu.Unlock()
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
		if dom.state == vir.DomainPaused {
			dom.state, dom.reason = vir.DomainRunning, int32(vir.DomainRunningUnpaused)
			d.emit(dom, vir.DomainEventResumed, int32(vir.DomainEventResumedUnpaused))
		}
	case "shutdown":
		// The guest powered off; qemu waits (-no-shutdown). Restart it
		// if its definition says so, as onShutdown would have; else
		// finish it.
		if dom.live.XML.OnPoweroff == "restart" {
			if !inst.resetting { // else its SHUTDOWN event began the reset
				inst.resetting = true
				d.goResetGuest(dom, inst)
			}
			break
		}
		inst.gotShutdown = true
		if dom.state != vir.DomainShutdown {
			dom.state, dom.reason = vir.DomainShutdown, int32(vir.DomainShutdownUnknown)
			d.emit(dom, vir.DomainEventShutdown, int32(vir.DomainEventShutdownFinished))
		}
		d.goKill(dom, inst)
	case "prelaunch", "inmigrate":
		// qemu never ran the guest. A domain started paused is left so
		// (its status file says paused). Otherwise the status file was
		// written just before the start's `cont`, which the daemon did
		// not live to send: undo that start.
		if dom.state != vir.DomainPaused {
			inst.intent = stopAbortStart
			d.goKill(dom, inst)
		}
	default: // paused, and the states qemu pauses in (io-error, postmigrate, ...)
		if dom.state == vir.DomainRunning {
			dom.state, dom.reason = vir.DomainPaused, int32(vir.DomainPausedUnknown)
			d.emit(dom, vir.DomainEventSuspended, int32(vir.DomainEventSuspendedPaused))
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
func diedAwayReason(logPath string) (vir.DomainShutoffReason, vir.DomainEventStoppedDetailType) {
	data, _ := os.ReadFile(logPath)
	if i := bytes.LastIndex(data, []byte(": starting up\n")); i >= 0 {
		data = data[i:]
	}
	if bytes.Contains(data, []byte("terminating on signal")) {
		return vir.DomainShutoffShutdown, vir.DomainEventStoppedShutdown
	}
	return vir.DomainShutoffCrashed, vir.DomainEventStoppedFailed
}
