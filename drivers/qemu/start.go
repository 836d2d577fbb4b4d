package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/drivers/qemu/qmp"
	"github.com/govirt/govirtd/vir"
)

// startOpts says how a domain starts.
type startOpts struct {
	paused   bool     // leave the CPUs stopped (VIR_DOMAIN_START_PAUSED)
	incoming *os.File // a save image positioned at its memory: a restore
}

// startDomain runs def for dom. The caller holds dom's job and dom is
// inactive. The steps: qemu started paused (-S) with its monitor on a
// socket it inherits, the QMP handshake, the status file, then `cont`;
// only then is the domain published as running and STARTED raised. A
// failure undoes every step and the error quotes qemu's log.
func (d *Driver) startDomain(ctx context.Context, dom *domain, def *domxml.Def, o startOpts) error {
	began := time.Now() // the steps' times go into the "domain started" line
	// What the previous run left queued (the removal of its status file
	// and monitor socket) is done before this run makes its own.
	d.flushStatus(dom)
	if _, err := os.Lstat(d.cfg.statusPath(dom.name)); err == nil {
		// Stopping removes the status file; one that is still there was
		// not readable at startup, and its guest may be running.
		return drivers.Errorf(vir.ErrOperationInvalid, vir.FromQEMU,
			"domain '%s' has a status file the driver could not use (%s): its guest may still run; check it and remove the file",
			dom.name, d.cfg.statusPath(dom.name))
	}
	live := def.Copy()
	if err := d.cfg.channelPaths(live, dom.name, true); err != nil {
		return err
	}
	releasePorts, err := d.graphicsPorts.assign(live)
	if err != nil {
		return err
	}
	defer releasePorts() // qemu listens on them once it runs
	withFiles, err := d.resolveVolumes(ctx, live)
	if err != nil {
		return err
	}
	// The taps are made on the definition that is kept live (their
	// names show in its <target dev>), then copied into withFiles.
	taps, err := d.plugInterfaces(ctx, live)
	if err != nil {
		return err
	}
	defer closeFiles(taps) // qemu holds its own copies once it runs
	setInterfaceAliases(live.XML)
	setDeviceAliases(live.XML)
	if live.XML.Devices != nil && withFiles.XML.Devices != nil {
		copy(withFiles.XML.Devices.Interfaces, live.XML.Devices.Interfaces)
	}
	files, l := fdsFor(o.incoming, taps)
	l.emulator, l.monitorFD = d.binary, 3
	cmd, err := buildCommand(withFiles, l)
	if err != nil {
		return err
	}
	m, _ := machineOf(live.XML)
	if m.accel == "kvm" && !kvmAvailable() {
		return unsupported("domain type 'kvm' needs /dev/kvm, which this host lacks: use <domain type='qemu'> (TCG)")
	}
	monPath, err := d.cfg.monitorPath(dom.name, dom.uuid.String())
	if err != nil {
		return drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "%w", err)
	}
	logPath := d.cfg.logPath(dom.name)
	built := time.Now()
	inst, logStart, err := spawn(cmd.Args(), monPath, logPath, files)
	if err != nil {
		return drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "cannot start domain '%s': %w", dom.name, err)
	}
	inst.accel = m.accel
	fail := func(step string, cause error) error {
		d.undoStart(dom, inst)
		return startError(dom.name, step, cause, logPath, logStart)
	}
	spawned := time.Now()
	inst.mon, err = qmp.Dial(ctx, monPath, qmp.Options{OnEvent: d.onEvent(dom, inst), Timeout: d.cfg.MonitorTimeout})
	if err != nil {
		return fail("connect to its monitor", err)
	}
	negotiated := time.Now()
	if o.incoming != nil {
		if err := waitIncoming(ctx, inst.mon); err != nil {
			return fail("load the saved memory", err)
		}
	}
	if err := d.prepareGuest(ctx, inst.mon, live); err != nil {
		return fail("prepare the guest", err)
	}
	id := d.nextID.Add(1) - 1
	state, reason := startState(o)
	prepared := time.Now()
	if err := d.writeStatusFile(dom, inst, live, id, state, reason); err != nil {
		return fail("record its status", err)
	}
	recorded := time.Now()
	if !o.paused {
		if err := inst.mon.Execute(ctx, "cont", nil, nil); err != nil {
			return fail("start its CPUs", err)
		}
	}
	continued := time.Now()
	d.publish(dom, inst, live, id, o)
	// Where a start's time went, step by step (README, measure 9).
	d.log.Info("domain started", "domain", dom.name, "pid", inst.pid, "accelerator", inst.accel,
		"argv", built.Sub(began), "spawn", spawned.Sub(built), "qmp", negotiated.Sub(spawned),
		"prepare", prepared.Sub(negotiated), "status", recorded.Sub(prepared), "cont", continued.Sub(recorded),
		"publish", time.Since(continued))
	return nil
}

// fdsFor lays out the files qemu inherits after its monitor (fd 3): the
// migration stream, then the taps; l says which fd is which.
func fdsFor(incoming *os.File, taps []*os.File) (files []*os.File, l launch) {
	next := 4
	if incoming != nil {
		files = append(files, incoming)
		l.incomingFD = next
		next++
	}
	l.tapFDs = make([]int, len(taps))
	for i, t := range taps {
		if t != nil {
			files = append(files, t)
			l.tapFDs[i] = next
			next++
		}
	}
	return files, l
}

// startState is the state a started domain is in.
func startState(o startOpts) (vir.DomainState, int32) {
	switch {
	case o.paused:
		return vir.DomainPaused, int32(vir.DomainPausedUser)
	case o.incoming != nil:
		return vir.DomainRunning, int32(vir.DomainRunningRestored)
	}
	return vir.DomainRunning, int32(vir.DomainRunningBooted)
}

// publish makes dom run inst, raises STARTED (and SUSPENDED when it
// starts paused) and watches inst. If the driver shut down during the
// start, it lets go of the monitor as Shutdown did for the others: the
// guest runs on, and qemu serves the next daemon's connection.
func (d *Driver) publish(dom *domain, inst *instance, live *domxml.Def, id int32, o startOpts) {
	dom.mu.Lock()
	watched := d.publishLocked(dom, inst, live, id, o)
	dom.mu.Unlock()
	if !watched {
		inst.mon.Close() // outside mu: Close waits for the reader, which may wait for mu
	}
}

func (d *Driver) publishLocked(dom *domain, inst *instance, live *domxml.Def, id int32, o startOpts) bool {
	dom.proc, dom.live, dom.id, dom.hidden = inst, live, id, false
	dom.state, dom.reason = startState(o)
	detail := vir.DomainEventStartedBooted
	if o.incoming != nil {
		detail = vir.DomainEventStartedRestored
	}
	d.emit(dom, vir.DomainEventStarted, int32(detail))
	if o.paused {
		pausedDetail := vir.DomainEventSuspendedPaused
		if o.incoming != nil {
			pausedDetail = vir.DomainEventSuspendedRestored
		}
		d.emit(dom, vir.DomainEventSuspended, int32(pausedDetail))
	}
	return d.background(func() { d.watch(dom, inst) })
}

// undoStart kills a qemu that never became the domain's and removes
// what was written for it.
func (d *Driver) undoStart(dom *domain, inst *instance) {
	if inst.mon != nil {
		inst.mon.Close()
	}
	inst.signal(syscall.SIGKILL)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if !inst.waitExit(ctx) {
		d.log.Error("qemu of a failed start did not exit after SIGKILL", "domain", dom.name, "pid", inst.pid)
	}
	d.removeStatus(dom, inst, false)
	d.flushStatus(dom) // the failed start leaves nothing behind once it returns
}

// startError says which step failed, why, and what qemu said about it.
func startError(name, step string, cause error, logPath string, logStart int64) error {
	var de *qmp.DisconnectedError
	msg := fmt.Sprintf("domain '%s' did not start: cannot %s: %v", name, step, cause)
	if errors.As(cause, &de) || errors.Is(cause, syscall.ECONNRESET) || errors.Is(cause, syscall.EPIPE) {
		msg = fmt.Sprintf("domain '%s' did not start: qemu exited while the driver tried to %s", name, step)
	}
	if tail := logTail(logPath, logStart); tail != "" {
		msg += "; qemu said: " + tail
	}
	return drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "%s (log: %s)", msg, logPath)
}

type qemuStatus struct {
	Status  string `json:"status"`
	Running bool   `json:"running"`
}

func queryStatus(ctx context.Context, mon *qmp.Monitor) (qemuStatus, error) {
	var s qemuStatus
	err := mon.Execute(ctx, "query-status", nil, &s)
	return s, err
}

// waitIncoming waits until qemu has loaded a migration stream. When the
// load fails qemu exits, which the monitor reports.
func waitIncoming(ctx context.Context, mon *qmp.Monitor) error {
	for {
		s, err := queryStatus(ctx, mon)
		if err != nil {
			return err
		}
		if s.Status != "inmigrate" {
			return nil
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// prepareGuest does what the command line cannot before the guest runs
// (the balloon target) and records in live what qemu chose (pty paths,
// the VNC port).
func (d *Driver) prepareGuest(ctx context.Context, mon *qmp.Monitor, live *domxml.Def) error {
	if cur, max := live.CurMemKiB(), live.MaxMemKiB(); cur < max {
		if err := mon.Execute(ctx, "balloon", map[string]any{"value": cur * 1024}, nil); err != nil {
			return err
		}
	}
	devs := live.XML.Devices
	if devs == nil {
		return nil
	}
	if mb := devs.MemBalloon; mb != nil && mb.Stats != nil && mb.Stats.Period > 0 {
		if err := mon.Execute(ctx, "qom-set", map[string]any{"path": "/machine/peripheral/balloon0", "property": "guest-stats-polling-interval", "value": mb.Stats.Period}, nil); err != nil {
			return err
		}
	}
	for i, n := range devs.Interfaces {
		if n.Link != nil && n.Link.State == "down" {
			if err := mon.Execute(ctx, "set_link", map[string]any{"name": fmt.Sprintf("net%d", i), "up": false}, nil); err != nil {
				return err
			}
		}
	}
	if len(devs.Serials) > 0 || len(devs.Consoles) > 0 {
		var chardevs []struct{ Label, Filename string }
		if err := mon.Execute(ctx, "query-chardev", nil, &chardevs); err != nil {
			return err
		}
		for _, c := range chardevs {
			if p, ok := strings.CutPrefix(c.Filename, "pty:"); ok {
				setPtyPath(devs, c.Label, p)
			}
		}
	}
	if len(devs.Graphics) > 0 && devs.Graphics[0].VNC != nil {
		var vnc struct{ Service string }
		if err := mon.Execute(ctx, "query-vnc", nil, &vnc); err != nil {
			return err
		}
		fmt.Sscan(vnc.Service, &devs.Graphics[0].VNC.Port)
	}
	return nil
}

// setPtyPath records the pty qemu opened for serial port label
// (charserialN) in the live definition, and on the console that shows it.
func setPtyPath(devs *libvirtxml.DomainDeviceList, label, path string) {
	var n int
	if _, err := fmt.Sscanf(label, "charserial%d", &n); err != nil {
		return
	}
	pty := &libvirtxml.DomainChardevSource{Pty: &libvirtxml.DomainChardevSourcePty{Path: path}}
	if n < len(devs.Serials) {
		devs.Serials[n].Source = pty
	}
	if n == 0 && len(devs.Consoles) > 0 {
		if c := &devs.Consoles[0]; c.Source == nil || c.Source.Pty != nil {
			c.Source, c.TTY = pty, path
		}
	}
}
