package qemu

import (
	"context"
	"fmt"
	"time"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/vir"
)

// The virDomainCreateFlags each start call accepts: those libvirt 9.0's
// QEMU driver accepts, but AUTODESTROY, refused as unknown (the driver
// does not tie a guest to a client connection). The driver has no managed
// save and no NVRAM (validate refuses <loader> and <nvram>), so
// BYPASS_CACHE, FORCE_BOOT and RESET_NVRAM change nothing; VALIDATE is
// what the driver always does. CreateXML also takes BYPASS_CACHE, which
// libvirt's refuses there.
const (
	createFlags    = vir.DomainStartPaused | vir.DomainStartBypassCache | vir.DomainStartForceBoot | vir.DomainStartResetNvram
	createXMLFlags = vir.DomainStartPaused | vir.DomainStartBypassCache | vir.DomainStartValidate | vir.DomainStartResetNvram
)

func notRunning(name string) error {
	return drivers.Errorf(vir.ErrOperationInvalid, vir.FromQEMU, "domain '%s' is not running", name)
}

// badFlags refuses flags outside known, one of vir's flag sets, as
// libvirt's virCheckFlags does.
func badFlags[F ~uint32](api string, flags uint32, known F) error {
	if bad := flags &^ uint32(known); bad != 0 {
		return drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "unsupported flags (0x%x) in function %s", bad, api)
	}
	return nil
}

// withJob runs f on ref's domain holding its job. ctx is detached from
// the client: an operation that started completes (or undoes itself)
// even if the client goes away.
func (d *Driver) withJob(ctx context.Context, ref drivers.Domain, api string, f func(context.Context, *domain) error) error {
	dom, err := d.find(ref)
	if err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	if err := dom.job.acquire(ctx, api, d.cfg.JobTimeout); err != nil {
		return err
	}
	defer dom.job.release()
	dom.mu.Lock()
	removed := dom.removed
	dom.mu.Unlock()
	if removed {
		return drivers.Errorf(vir.ErrNoDomain, vir.FromQEMU, "domain '%s' was removed", dom.name)
	}
	return f(ctx, dom)
}

// running returns dom's qemu, or an error naming dom when it is not
// running.
func (dom *domain) running() (*instance, vir.DomainState, error) {
	dom.mu.Lock()
	defer dom.mu.Unlock()
	if dom.proc == nil {
		return nil, 0, notRunning(dom.name)
	}
	return dom.proc, dom.state, nil
}

func (c *conn) DomainCreate(ctx context.Context, ref drivers.Domain, flags uint32) (drivers.Domain, error) {
	if err := badFlags("virDomainCreateWithFlags", flags, createFlags); err != nil {
		return drivers.Domain{}, err
	}
	var out drivers.Domain
	err := c.drv.withJob(ctx, ref, "virDomainCreate", func(ctx context.Context, dom *domain) error {
		dom.mu.Lock()
		active, def := dom.active(), dom.persistent
		dom.mu.Unlock()
		switch {
		case active:
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromQEMU, "domain '%s' is already running", dom.name)
		case def == nil:
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromQEMU, "domain '%s' has no persistent definition to start", dom.name)
		}
		if err := c.drv.startDomain(ctx, dom, def, startOpts{paused: flags&uint32(vir.DomainStartPaused) != 0}); err != nil {
			return err
		}
		dom.mu.Lock()
		out = dom.ref()
		dom.mu.Unlock()
		return nil
	})
	return out, err
}

func (c *conn) DomainCreateXML(ctx context.Context, xml string, flags uint32) (drivers.Domain, error) {
	if err := badFlags("virDomainCreateXML", flags, createXMLFlags); err != nil {
		return drivers.Domain{}, err
	}
	def, err := c.drv.parseDefinition(xml)
	if err != nil {
		return drivers.Domain{}, err
	}
	c.drv.canonicalMachine(ctx, def)
	return c.drv.runTransient(ctx, def, "virDomainCreateXML", startOpts{paused: flags&uint32(vir.DomainStartPaused) != 0})
}

// runTransient starts def: as a new transient domain, or as the running
// definition of the inactive domain with its name and uuid (create and
// restore share it).
func (d *Driver) runTransient(ctx context.Context, def *domxml.Def, api string, o startOpts) (drivers.Domain, error) {
	ctx = context.WithoutCancel(ctx)
	dom, created, err := d.claim(def, true)
	if err != nil {
		return drivers.Domain{}, err
	}
	if err := dom.job.acquire(ctx, api, d.cfg.JobTimeout); err != nil {
		return drivers.Domain{}, err
	}
	defer dom.job.release()
	dom.mu.Lock()
	active, removed := dom.active(), dom.removed
	dom.mu.Unlock()
	switch {
	case removed:
		return drivers.Domain{}, drivers.Errorf(vir.ErrNoDomain, vir.FromQEMU, "domain '%s' was removed", dom.name)
	case active:
		return drivers.Domain{}, drivers.Errorf(vir.ErrOperationInvalid, vir.FromQEMU, "domain '%s' is already active", dom.name)
	}
	err = d.startDomain(ctx, dom, def, o)
	dom.mu.Lock()
	defer dom.mu.Unlock()
	if err != nil {
		// A new transient domain goes away with its failed start. One
		// another create added stays hidden: that create decides.
		if created && dom.persistent == nil {
			d.remove(dom)
		}
		return drivers.Domain{}, err
	}
	return dom.ref(), nil
}

func (c *conn) DomainDestroy(ctx context.Context, ref drivers.Domain, flags uint32) error {
	if err := badFlags("virDomainDestroyFlags", flags, vir.DomainDestroyGraceful); err != nil {
		return err
	}
	dom, err := c.drv.find(ref)
	if err != nil {
		return err
	}
	return c.drv.destroy(dom, flags&uint32(vir.DomainDestroyGraceful) != 0)
}

// destroy stops dom's qemu: SIGTERM, then SIGKILL after the grace
// period. It needs no job, so it also ends a guest whose job hangs; the
// job's monitor commands then fail.
func (d *Driver) destroy(dom *domain, graceful bool) error {
	dom.mu.Lock()
	inst := dom.proc
	if inst == nil {
		dom.mu.Unlock()
		return notRunning(dom.name)
	}
	inst.intent = stopDestroy
	dom.mu.Unlock()
	if err := inst.kill(d.cfg.DestroyGrace, graceful); err != nil {
		return drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "cannot destroy domain '%s': %w", dom.name, err)
	}
	return d.waitFinished(dom, inst)
}

// waitFinished waits until the driver marked dom shut off after its qemu
// inst exited.
func (d *Driver) waitFinished(dom *domain, inst *instance) error {
	select {
	case <-inst.finished:
		return nil
	case <-d.closing:
		return drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "domain '%s': the driver is shutting down", dom.name)
	case <-time.After(d.cfg.DestroyGrace + time.Minute):
		return drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "domain '%s': qemu (pid %d) exited but the driver did not see its monitor close", dom.name, inst.pid)
	}
}

func (c *conn) DomainShutdown(ctx context.Context, ref drivers.Domain, flags uint32) error {
	return c.powerButton(ctx, ref, flags, "virDomainShutdownFlags", false)
}

// DomainReboot presses the power button and, when the guest powers off,
// resets and continues it instead of stopping it (libvirt's "fake
// reboot"), raising a reboot event.
func (c *conn) DomainReboot(ctx context.Context, ref drivers.Domain, flags uint32) error {
	return c.powerButton(ctx, ref, flags, "virDomainReboot", true)
}

// powerButton presses the guest's ACPI power button; the guest decides.
func (c *conn) powerButton(ctx context.Context, ref drivers.Domain, flags uint32, api string, reboot bool) error {
	acpi := uint32(vir.DomainShutdownAcpiPowerBtn)
	if reboot {
		acpi = uint32(vir.DomainRebootAcpiPowerBtn)
	}
	if flags&^acpi != 0 {
		return drivers.Errorf(vir.ErrOperationUnsupported, vir.FromQEMU, "%s: only the ACPI power button mode is supported", api)
	}
	return c.drv.withJob(ctx, ref, api, func(ctx context.Context, dom *domain) error {
		inst, _, err := dom.running()
		if err != nil {
			return err
		}
		dom.mu.Lock()
		inst.fakeReboot = reboot
		dom.mu.Unlock()
		return monitorErr(dom, inst.execute(ctx, "system_powerdown"))
	})
}

func (c *conn) DomainSuspend(ctx context.Context, ref drivers.Domain) error {
	return c.drv.withJob(ctx, ref, "virDomainSuspend", func(ctx context.Context, dom *domain) error {
		inst, state, err := dom.running()
		if err != nil || state == vir.DomainPaused {
			return err // suspending a paused domain does nothing, as in libvirt
		}
		return c.drv.pause(ctx, dom, inst, vir.DomainPausedUser)
	})
}

// pause stops the guest's CPUs; the STOP event marks the domain paused
// with reason and raises SUSPENDED before `stop` returns.
func (d *Driver) pause(ctx context.Context, dom *domain, inst *instance, reason vir.DomainPausedReason) error {
	dom.mu.Lock()
	inst.pausedReason = reason
	dom.mu.Unlock()
	return monitorErr(dom, inst.execute(ctx, "stop"))
}

func (c *conn) DomainResume(ctx context.Context, ref drivers.Domain) error {
	return c.drv.withJob(ctx, ref, "virDomainResume", func(ctx context.Context, dom *domain) error {
		inst, state, err := dom.running()
		switch {
		case err != nil:
			return err
		case state == vir.DomainRunning:
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromQEMU, "domain '%s' is already running", dom.name)
		case state != vir.DomainPaused:
			return nil
		}
		return c.drv.unpause(ctx, dom, inst, vir.DomainRunningUnpaused)
	})
}

// unpause runs the guest's CPUs; the RESUME event marks it running.
func (d *Driver) unpause(ctx context.Context, dom *domain, inst *instance, reason vir.DomainRunningReason) error {
	dom.mu.Lock()
	inst.runningReason = reason
	dom.mu.Unlock()
	return monitorErr(dom, inst.execute(ctx, "cont"))
}

// execute runs a command without arguments on inst's monitor.
func (inst *instance) execute(ctx context.Context, cmd string) error {
	if inst.mon == nil {
		return fmt.Errorf("the driver has no monitor connection to qemu (pid %d): %s", inst.pid, inst.degraded)
	}
	return inst.mon.Execute(ctx, cmd, nil, nil)
}

// monitorErr reports a failed monitor command as an operation failure
// of dom.
func monitorErr(dom *domain, err error) error {
	if err == nil {
		return nil
	}
	return drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "domain '%s': %w", dom.name, err)
}
