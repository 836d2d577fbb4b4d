package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"

	"github.com/govirt/govirtd/vir"
)

// The restart phase: qemu guests run (TCG) under the QEMU driver; the
// daemon is killed with SIGKILL again and again, and in some cycles a
// guest is killed too while the daemon is down. After each restart every
// surviving guest must be re-attached with the same qemu pid, the killed
// one shut off (crashed), no domain lost or doubled; the killed one is
// started again, which must raise STARTED BOOTED. At the end every
// guest is destroyed and no qemu of the run may be left.
//
// A guest killed while the daemon is down is found dead during the
// daemon's startup, before it listens, so no client can receive that
// STOPPED FAILED event over the wire; the phase checks the state and
// reason the driver records for it (drivers/qemu's TestReconnect checks
// the event itself, in process).

type restartOptions struct {
	guests, cycles, guestKills int
}

func qemuURI() string {
	if os.Geteuid() == 0 {
		return string(libvirt.QEMUSystem)
	}
	return string(libvirt.QEMUSession)
}

func dialQemu(sock string) (*libvirt.Libvirt, error) {
	lv := libvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(sock), dialers.WithLocalTimeout(hang)))
	if err := lv.ConnectToURI(libvirt.ConnectURI(qemuURI())); err != nil {
		return nil, fmt.Errorf("go-libvirt ConnectToURI(%s): %w", qemuURI(), err)
	}
	return lv, nil
}

// statusPIDs reads the QEMU driver's status files: guest name → qemu pid.
func statusPIDs(d *daemon) map[string]int {
	pids := map[string]int{}
	files, _ := filepath.Glob(filepath.Join(d.dir, "run", "*.status"))
	for _, f := range files {
		var st struct {
			Name string `json:"name"`
			PID  int    `json:"pid"`
		}
		data, err := os.ReadFile(f)
		if err == nil && json.Unmarshal(data, &st) == nil {
			pids[st.Name] = st.PID
		}
	}
	return pids
}

// waitEvent waits for a lifecycle event of name.
func waitEvent(ch <-chan libvirt.DomainEventLifecycleMsg, name string, typ vir.DomainEventType, detail int32) error {
	t := time.NewTimer(hang)
	defer t.Stop()
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return fmt.Errorf("event stream closed before %s's event %d/%d", name, typ, detail)
			}
			if ev.Dom.Name == name && ev.Event == int32(typ) && ev.Detail == detail {
				return nil
			}
		case <-t.C:
			return fmt.Errorf("no event %d/%d for %s within %v", typ, detail, name, hang)
		}
	}
}

func runRestart(bin, guestXML, dir string, o restartOptions) *result {
	r := &result{name: "restart"}
	began := time.Now()
	defer func() { r.took = time.Since(began) }()
	tmpl, err := os.ReadFile(guestXML)
	if err != nil {
		r.fault("guest definition: %v (run from the repository's root, or pass -guest-xml)", err)
		return r
	}
	d, err := newDaemon(bin, filepath.Join(dir, "restart"), true, nil)
	if err != nil {
		r.fault("%v", err)
		return r
	}
	defer func() {
		d.stop()
		for _, pid := range d.ownQemus() { // only on failure: qemus this run started
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}()
	lv, err := dialQemu(d.sock())
	if err != nil {
		r.fault("%v", err)
		return r
	}
	var names []string
	for i := range o.guests {
		name := fmt.Sprintf("soak%d", i)
		xml := strings.Replace(string(tmpl), "<name>demo</name>", "<name>"+name+"</name>", 1)
		xml = strings.Replace(xml, "3f0e5a2c-9b1d-4c6e-8a7f-1d2e3c4b5a69", fmt.Sprintf("3f0e5a2c-9b1d-4c6e-8a7f-%012d", i), 1)
		dom, err := lv.DomainDefineXML(xml)
		if err == nil {
			err = lv.DomainCreate(dom)
		}
		if err != nil {
			r.fault("define and start %s: %v; the daemon's log:\n%s", name, err, d.tail(2000))
			lv.Disconnect()
			return r
		}
		names = append(names, name)
	}
	lv.Disconnect()
	pids := statusPIDs(d)
	if len(pids) != o.guests {
		r.fault("%d status files after starting %d guests", len(pids), o.guests)
		return r
	}

	reattached, shutOff := 0, 0
	var worstStart time.Duration
	// Guest kills are spread over the cycles: with 10 and 3, the 3rd, 6th
	// and 9th.
	stride := max(1, o.cycles/max(1, o.guestKills))
	for cycle := range o.cycles {
		victim := ""
		if o.guestKills > 0 && (cycle+1)%stride == 0 && (cycle+1)/stride <= o.guestKills {
			victim = names[cycle%len(names)]
		}
		d.kill9()
		if victim != "" {
			syscall.Kill(pids[victim], syscall.SIGKILL)
			for wait := time.Now().Add(hang); !processGone(pids[victim]) && time.Now().Before(wait); {
				time.Sleep(5 * time.Millisecond)
			}
		}
		for _, name := range names {
			if name != victim && processGone(pids[name]) {
				r.fault("cycle %d: %s (qemu pid %d) died with the daemon", cycle, name, pids[name])
			}
		}
		took, err := d.start()
		if err != nil {
			r.fault("cycle %d: restart: %v", cycle, err)
			return r
		}
		worstStart = max(worstStart, took)
		reattached += checkCycle(r, d, cycle, names, pids, victim)
		if victim != "" {
			shutOff++
		}
	}
	r.fig("%d guests, %d kill -9 cycles, %d guests killed meanwhile", o.guests, o.cycles, shutOff)
	r.fig("%d re-attachments with the same pid, worst restart to listening %.0f ms", reattached, float64(worstStart.Microseconds())/1000)

	// The end: destroy everything; no qemu of the run may be left.
	if lv, err = dialQemu(d.sock()); err != nil {
		r.fault("%v", err)
		return r
	}
	for _, name := range names {
		dom, err := lv.DomainLookupByName(name)
		if err == nil {
			err = lv.DomainDestroy(dom)
		}
		if err != nil {
			r.fault("destroy %s: %v", name, err)
		}
	}
	lv.Disconnect()
	d.stop()
	raceCheck(r, d)
	left := d.ownQemus()
	for wait := time.Now().Add(hang); len(left) > 0 && time.Now().Before(wait); left = d.ownQemus() {
		time.Sleep(10 * time.Millisecond)
	}
	r.fig("qemu left %d", len(left))
	if len(left) > 0 {
		r.fault("qemu processes %v of the run are still running after every guest was destroyed and the daemon stopped", left)
	}
	return r
}

// checkCycle checks one restarted daemon: every domain once, the
// survivors running on their old pid, the victim shut off (crashed) and
// started again. It returns how many guests were re-attached.
func checkCycle(r *result, d *daemon, cycle int, names []string, pids map[string]int, victim string) int {
	lv, err := dialQemu(d.sock())
	if err != nil {
		r.fault("cycle %d: %v", cycle, err)
		return 0
	}
	defer lv.Disconnect()
	doms, _, err := lv.ConnectListAllDomains(1, 0)
	if err != nil {
		r.fault("cycle %d: list: %v", cycle, err)
		return 0
	}
	seen := map[string]int{}
	for _, dom := range doms {
		seen[dom.Name]++
	}
	for _, name := range names {
		if seen[name] != 1 {
			r.fault("cycle %d: %s listed %d times", cycle, name, seen[name])
		}
	}
	if len(doms) != len(names) {
		r.fault("cycle %d: %d domains listed, want %d", cycle, len(doms), len(names))
	}
	now := statusPIDs(d)
	n := 0
	for _, name := range names {
		dom, err := lv.DomainLookupByName(name)
		if err != nil {
			r.fault("cycle %d: lookup %s: %v", cycle, name, err)
			continue
		}
		state, reason, err := lv.DomainGetState(dom, 0)
		switch {
		case err != nil:
			r.fault("cycle %d: state of %s: %v", cycle, name, err)
		case name == victim:
			if state != int32(vir.DomainShutoff) || reason != int32(vir.DomainShutoffCrashed) {
				r.fault("cycle %d: %s, killed while the daemon was down, is in state %d reason %d, want shut off (crashed)", cycle, name, state, reason)
			}
		case state != int32(vir.DomainRunning):
			r.fault("cycle %d: %s is in state %d reason %d after the restart, want running", cycle, name, state, reason)
		case now[name] != pids[name]:
			r.fault("cycle %d: %s runs as pid %d, was %d: not re-attached", cycle, name, now[name], pids[name])
		default:
			n++
		}
	}
	if victim == "" {
		return n
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := lv.LifecycleEvents(ctx)
	if err != nil {
		r.fault("cycle %d: LifecycleEvents: %v", cycle, err)
		return n
	}
	dom, _ := lv.DomainLookupByName(victim)
	if err := lv.DomainCreate(dom); err != nil {
		r.fault("cycle %d: starting %s again: %v", cycle, victim, err)
		return n
	}
	if err := waitEvent(ch, victim, vir.DomainEventStarted, int32(vir.DomainEventStartedBooted)); err != nil {
		r.fault("cycle %d: %v", cycle, err)
	}
	pids[victim] = statusPIDs(d)[victim]
	if pids[victim] == 0 {
		r.fault("cycle %d: %s started again but has no status file", cycle, victim)
	}
	return n
}
