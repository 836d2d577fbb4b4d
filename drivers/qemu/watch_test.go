package qemu

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/qemu/qmp"
	"github.com/govirt/govirtd/vir"
)

// fakeMonitor is a monitor whose qemu greets, negotiates, then closes
// the connection although its process runs on.
func fakeMonitor(t *testing.T) *qmp.Monitor {
	t.Helper()
	server, client := net.Pipe()
	go func() {
		defer server.Close()
		server.Write([]byte(`{"QMP":{"version":{"qemu":{"major":7,"minor":2,"micro":0}},"capabilities":[]}}` + "\n"))
		line, err := bufio.NewReader(server).ReadBytes('\n')
		if err != nil {
			return
		}
		var cmd struct{ ID json.RawMessage }
		json.Unmarshal(line, &cmd)
		server.Write([]byte(`{"return":{},"id":` + string(cmd.ID) + "}\n"))
	}()
	m, err := qmp.Connect(context.Background(), client, qmp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestGuestOutlivesItsMonitor: a qemu that closed its monitor but does
// not exit is marked degraded, and still watched: when it does exit the
// domain is shut off with STOPPED (else it would show running forever,
// and a destroy would time out waiting for it).
func TestGuestOutlivesItsMonitor(t *testing.T) {
	d, c, dom, _, ev := fakeRunning(t)
	d.cfg.DestroyGrace, d.cfg.MonitorTimeout = 50*time.Millisecond, 50*time.Millisecond
	t.Cleanup(func() { d.Shutdown(context.Background()) })
	sleep := exec.Command("sleep", "600")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleep.Process.Kill() })
	inst := &instance{pid: sleep.Process.Pid, exited: make(chan struct{}), finished: make(chan struct{})}
	go func() { sleep.Wait(); close(inst.exited) }()
	inst.mon = fakeMonitor(t)
	dom.mu.Lock()
	dom.proc = inst
	dom.mu.Unlock()
	d.background(func() { d.watch(dom, inst) })

	deadline := time.Now().Add(60 * time.Second)
	for degraded := ""; degraded == ""; {
		if time.Now().After(deadline) {
			t.Fatal("a qemu that closed its monitor but runs on is not marked degraded")
		}
		time.Sleep(10 * time.Millisecond)
		dom.mu.Lock()
		degraded = inst.degraded
		dom.mu.Unlock()
	}
	sleep.Process.Kill()
	ev.waitFor(t, "demo Stopped Failed")
	checkState(t, c, drivers.Domain{Name: "demo", UUID: dom.uuid}, vir.DomainShutoff, vir.DomainShutoffCrashed)
}

// TestCrashAfterReboot: a guest that rebooted (its power-off turned
// into a reset) and later dies without a SHUTDOWN, as with kill -9,
// crashed: the reboot's SHUTDOWN does not make its end a clean one.
func TestCrashAfterReboot(t *testing.T) {
	d, _, dom, inst, ev := fakeRunning(t)
	t.Cleanup(func() { d.Shutdown(context.Background()) })
	inst.mon = fakeMonitor(t) // the reset's commands fail: no matter here
	on := d.onEvent(dom, inst)
	dom.mu.Lock()
	inst.fakeReboot = true // virsh reboot
	dom.mu.Unlock()
	on(qmpEvent("SHUTDOWN", map[string]any{"guest": true, "reason": "guest-shutdown"}))

	dom.mu.Lock()
	reason, detail := inst.endReason()
	dom.mu.Unlock()
	if reason != vir.DomainShutoffCrashed || detail != vir.DomainEventStoppedFailed {
		t.Errorf("a rebooted guest that died: reason %d, STOPPED %s; want crashed, Failed",
			reason, drivers.EventDetailString(vir.DomainEventStopped, int32(detail)))
	}
	ev.waitFor(t) // no lifecycle event for the reboot
}
