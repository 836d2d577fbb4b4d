package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/qemu/qmp"
	"github.com/govirt/govirtd/vir"
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
		case "DEVICE_DELETED":
			var data struct {
				Device string `json:"device"`
			}
			json.Unmarshal(ev.Data, &data)
			if data.Device != "" {
				d.deviceDeleted(dom, inst, data.Device)
			}
		case "DEVICE_UNPLUG_GUEST_ERROR":
			// The guest refused an unplug (qemu reports it where the
			// machine's hotplug can say so); the device stays.
			var data struct {
				Device string `json:"device"`
			}
			json.Unmarshal(ev.Data, &data)
			if data.Device != "" && dom.proc == inst {
				d.events.Emit(drivers.DeviceRemovalFailedEvent{Dom: dom.ref(), Alias: data.Device})
			}
		case "BALLOON_CHANGE":
			d.onBalloonChange(dom, inst, ev.Data)
		case "VSERPORT_CHANGE":
			d.onVserportChange(dom, inst, ev.Data)
		case "RESET":
			if dom.proc == inst {
				d.events.Emit(drivers.RebootEvent{Dom: dom.ref()})
			}
		}
	}
}

// shutdownDetail is the SHUTDOWN event's detail for a qemu SHUTDOWN, as
// libvirt 9.0 has it: who asked for the power-off.
func shutdownDetail(guest bool) vir.DomainEventShutdownDetailType {
	if guest {
		return vir.DomainEventShutdownGuest
	}
	return vir.DomainEventShutdownHost
}

// onShutdown: the guest powered off (guest true; qemu stays alive, since
// it runs with -no-shutdown) or qemu was told to quit (a signal, `quit`).
// dom.mu held.
func (d *Driver) onShutdown(dom *domain, inst *instance, guest bool) {
	// Not ours yet, repeated, or the driver is stopping it: only note it.
	ours := dom.proc == inst && dom.state != vir.DomainShutdown && inst.intent == stopNone
	if ours && guest && (inst.fakeReboot || dom.live.XML.OnPoweroff == "restart") {
		// A reboot: the guest goes on, so this SHUTDOWN does not make a
		// later end (a kill -9) a clean shutdown.
		inst.fakeReboot, inst.resetting = false, true
		d.goResetGuest(dom, inst)
		return
	}
	inst.gotShutdown = true
	if !ours {
		return
	}
	dom.state, dom.reason = vir.DomainShutdown, int32(vir.DomainShutdownUnknown)
	d.emit(dom, vir.DomainEventShutdown, int32(shutdownDetail(guest)))
	d.saveStatus(dom)
	if guest {
		d.goKill(dom, inst) // on_poweroff destroy
	}
}

// goResetGuest restarts a guest that powered off for a reboot: reset,
// then continue. The STOP and RESUME this causes are not shown. dom.mu
// held.
func (d *Driver) goResetGuest(dom *domain, inst *instance) {
	mon := inst.mon
	if mon == nil {
		// A reconnection that has not recorded the monitor yet: its
		// query-status finds qemu powered off, and refresh restarts it.
		inst.resetting = false
		return
	}
	d.background(func() {
		ctx, cancel := context.WithTimeout(context.Background(), d.cfg.MonitorTimeout)
		defer cancel()
		err := mon.Execute(ctx, "system_reset", nil, nil)
		if err == nil {
			err = mon.Execute(ctx, "cont", nil, nil)
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
	inst.pausedReason = vir.DomainPausedUnknown
	if dom.proc != inst || inst.resetting || dom.state != vir.DomainRunning {
		return
	}
	dom.state, dom.reason = vir.DomainPaused, int32(reason)
	d.emit(dom, vir.DomainEventSuspended, int32(vir.DomainEventSuspendedPaused))
	d.saveStatus(dom)
}

// onResume: the guest's CPUs run again. dom.mu held.
func (d *Driver) onResume(dom *domain, inst *instance) {
	reason := inst.runningReason
	inst.runningReason = vir.DomainRunningUnknown
	if reason == vir.DomainRunningUnknown {
		reason = vir.DomainRunningUnpaused
	}
	if dom.proc != inst || inst.resetting || dom.state != vir.DomainPaused {
		return
	}
	dom.state, dom.reason = vir.DomainRunning, int32(reason)
	d.emit(dom, vir.DomainEventResumed, int32(vir.DomainEventResumedUnpaused))
	d.saveStatus(dom)
}

// watch waits for the end of inst, dom's published qemu: the monitor's
// EOF (or, for a guest without monitor, its process gone), then the
// process's exit, and marks the domain shut off. A qemu that closed its
// monitor but is still there after the destroy grace and the monitor
// timeout is marked degraded, and watched on. A driver shutdown ends the
// watch without touching the guest.
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
		why := fmt.Sprintf("its monitor ended (%v) but qemu keeps running", inst.mon.Err())
		t := time.AfterFunc(d.cfg.DestroyGrace+d.cfg.MonitorTimeout, func() { d.markDegraded(dom, inst, why) })
		defer t.Stop()
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
	if !inst.waitExit(ctx) {
		return // the driver is shutting down
	}
	dom.mu.Lock()
	reason, detail := inst.endReason()
	d.stopped(dom, inst, reason, detail)
	dom.mu.Unlock()
	if inst.mon != nil {
		inst.mon.Close() // outside mu: Close waits for the reader, which may wait for mu
	}
}

// endReason is the shut-off reason and STOPPED detail for a qemu that
// ended: what the driver meant, else what qemu said before it closed
// (a SHUTDOWN: a power-off or a signal), else a crash (killed with
// SIGKILL, or qemu failed). dom.mu held.
func (inst *instance) endReason() (vir.DomainShutoffReason, vir.DomainEventStoppedDetailType) {
	switch {
	case inst.intent == stopDestroy:
		return vir.DomainShutoffDestroyed, vir.DomainEventStoppedDestroyed
	case inst.intent == stopSave:
		return vir.DomainShutoffSaved, vir.DomainEventStoppedSaved
	case inst.intent == stopAbortStart:
		return vir.DomainShutoffFailed, vir.DomainEventStoppedFailed
	case inst.gotShutdown:
		return vir.DomainShutoffShutdown, vir.DomainEventStoppedShutdown
	}
	return vir.DomainShutoffCrashed, vir.DomainEventStoppedFailed
}

// stopped marks dom shut off after inst ended, raises STOPPED, removes
// the status file and forgets a transient domain. dom.mu held; the
// caller closes inst's monitor after releasing it.
func (d *Driver) stopped(dom *domain, inst *instance, reason vir.DomainShutoffReason, detail vir.DomainEventStoppedDetailType) {
	if dom.proc != inst {
		return
	}
	dom.state, dom.reason = vir.DomainShutoff, int32(reason)
	dom.proc = nil
	d.emit(dom, vir.DomainEventStopped, int32(detail))
	dom.live, dom.id = nil, -1
	d.removeStatus(dom, inst, true)
	if dom.persistent == nil {
		d.remove(dom)
	}
	close(inst.finished)
	d.log.Info("domain stopped", "domain", dom.name, "pid", inst.pid, "reason", reason)
}

// markDegraded records why the driver cannot fully manage inst, unless
// it ended meanwhile.
func (d *Driver) markDegraded(dom *domain, inst *instance, why string) {
	dom.mu.Lock()
	defer dom.mu.Unlock()
	if dom.proc != inst {
		return
	}
	inst.degraded = why
	d.log.Error("guest not fully managed", "domain", dom.name, "pid", inst.pid, "why", why)
}
