package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/qemu/qmp"
)

// onEvent returns the QMP event handler of inst, dom's qemu. It runs on
// the monitor's reading goroutine, so it never talks to qemu itself.
// Until inst is published (the start finished) only what inst learns is
// recorded; the domain's state is the start's to set.
func (d *Driver) onEvent(dom *domain, inst *instance) func(qmp.Event) {
	return func(ev qmp.Event) {
		dom.mu.Lock()
		defer dom.mu.Unlock()
		switch ev.Name {
		case "SHUTDOWN":
			var data struct {
				Guest  bool   `json:"guest"`
				Reason string `json:"reason"`
			}
			json.Unmarshal(ev.Data, &data)
			d.onShutdown(dom, inst, data.Guest)
		case "STOP":
			d.onStop(dom, inst)
		case "RESUME":
			d.onResume(dom, inst)
		case "RESET":
			if dom.proc == inst {
				d.events.Emit(drivers.RebootEvent{Dom: dom.ref()})
			}
		}
	}
}

// shutdownDetail is the SHUTDOWN event's detail for a qemu SHUTDOWN, as
// libvirt 9.0 has it: who asked for the power-off.
func shutdownDetail(guest bool) int32 {
	if guest {
		return drivers.EventShutdownGuest
	}
	return drivers.EventShutdownHost
}

// onShutdown: the guest powered off (guest true; qemu stays alive, since
// it runs with -no-shutdown) or qemu was told to quit (a signal, `quit`).
// dom.mu held.
func (d *Driver) onShutdown(dom *domain, inst *instance, guest bool) {
	inst.gotShutdown = true
	if dom.proc != inst || dom.state == drivers.DomainShutdown || inst.intent != stopNone {
		return // not ours yet, repeated, or the driver is stopping it
	}
	if guest && (inst.fakeReboot || dom.live.XML.OnPoweroff == "restart") {
		inst.fakeReboot, inst.resetting = false, true
		d.goResetGuest(dom, inst)
		return
	}
	dom.state, dom.reason = drivers.DomainShutdown, drivers.ReasonUnknown
	d.emit(dom, drivers.EventShutdown, shutdownDetail(guest))
	d.saveStatus(dom)
	if guest {
		d.goKill(dom, inst) // on_poweroff destroy
	}
}

// goResetGuest restarts a guest that powered off for a reboot: reset,
// then continue. The STOP and RESUME this causes are not shown.
func (d *Driver) goResetGuest(dom *domain, inst *instance) {
	d.background(func() {
		ctx, cancel := context.WithTimeout(context.Background(), d.cfg.MonitorTimeout)
		defer cancel()
		err := inst.mon.Execute(ctx, "system_reset", nil, nil)
		if err == nil {
			err = inst.mon.Execute(ctx, "cont", nil, nil)
		}
		dom.mu.Lock()
		inst.resetting = false
		dom.mu.Unlock()
		if err != nil && !errors.Is(err, qmp.ErrDisconnected) && !errors.Is(err, qmp.ErrClosed) {
			d.log.Error("cannot restart the guest after its reboot", "domain", dom.name, "err", err)
		}
	})
}

// onStop: the guest's CPUs stopped (our `stop`, someone else's, or an
// error). dom.mu held.
func (d *Driver) onStop(dom *domain, inst *instance) {
	reason := inst.pausedReason
	inst.pausedReason = drivers.ReasonUnknown
	if dom.proc != inst || inst.resetting || dom.state != drivers.DomainRunning {
		return
	}
	dom.state, dom.reason = drivers.DomainPaused, reason
	d.emit(dom, drivers.EventSuspended, drivers.EventSuspendedPaused)
	d.saveStatus(dom)
}

// onResume: the guest's CPUs run again. dom.mu held.
func (d *Driver) onResume(dom *domain, inst *instance) {
	reason := inst.runningReason
	inst.runningReason = drivers.ReasonUnknown
	if reason == drivers.ReasonUnknown {
		reason = drivers.RunningUnpaused
	}
	if dom.proc != inst || inst.resetting || dom.state != drivers.DomainPaused {
		return
	}
	dom.state, dom.reason = drivers.DomainRunning, reason
	d.emit(dom, drivers.EventResumed, drivers.EventResumedUnpaused)
	d.saveStatus(dom)
}

// watch waits for the end of inst, dom's published qemu: the monitor's
// EOF (or, for a guest without monitor, its process gone), then the
// process's exit, and marks the domain shut off. A driver shutdown ends
// the watch without touching the guest.
func (d *Driver) watch(dom *domain, inst *instance) {
	if inst.mon != nil {
		select {
		case <-inst.mon.Done():
		case <-d.closing:
			return
		}
		if errors.Is(inst.mon.Err(), qmp.ErrClosed) {
			return // we closed it: the driver is shutting down
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-d.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	if inst.mon != nil {
		// qemu closed its monitor: it is exiting. Give it time to.
		t := time.AfterFunc(d.cfg.DestroyGrace+30*time.Second, cancel)
		defer t.Stop()
	}
	if !inst.waitExit(ctx) {
		select {
		case <-d.closing:
		default:
			d.markDegraded(dom, inst, "qemu closed its monitor but keeps running")
		}
		return
	}
	dom.mu.Lock()
	defer dom.mu.Unlock()
	reason, detail := inst.endReason()
	d.stopped(dom, inst, reason, detail)
}

// endReason is the shut-off reason and STOPPED detail for a qemu that
// ended: what the driver meant, else what qemu said before it closed
// (a SHUTDOWN: a power-off or a signal), else a crash (killed with
// SIGKILL, or qemu failed). dom.mu held.
func (inst *instance) endReason() (int32, int32) {
	switch {
	case inst.intent == stopDestroy:
		return drivers.ShutoffDestroyed, drivers.EventStoppedDestroyed
	case inst.intent == stopSave:
		return drivers.ShutoffSaved, drivers.EventStoppedSaved
	case inst.intent == stopAbortStart:
		return drivers.ShutoffFailed, drivers.EventStoppedFailed
	case inst.gotShutdown:
		return drivers.ShutoffShutdown, drivers.EventStoppedShutdown
	}
	return drivers.ShutoffCrashed, drivers.EventStoppedFailed
}

// stopped marks dom shut off after inst ended, raises STOPPED, removes
// the status file and forgets a transient domain. dom.mu held.
func (d *Driver) stopped(dom *domain, inst *instance, reason, detail int32) {
	if dom.proc != inst {
		return
	}
	dom.state, dom.reason = drivers.DomainShutoff, reason
	dom.proc = nil
	d.emit(dom, drivers.EventStopped, detail)
	dom.live, dom.id = nil, -1
	d.removeStatus(dom.name, inst)
	if inst.mon != nil {
		go inst.mon.Close() // Close waits for the reader, which may wait for mu
	}
	if dom.persistent == nil {
		d.remove(dom)
	}
	close(inst.finished)
	d.log.Info("domain stopped", "domain", dom.name, "pid", inst.pid, "reason", reason)
}

func (d *Driver) markDegraded(dom *domain, inst *instance, why string) {
	dom.mu.Lock()
	defer dom.mu.Unlock()
	inst.degraded = why
	d.log.Error("guest not fully managed", "domain", dom.name, "pid", inst.pid, "why", why)
}
