package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/drivers/qemu/qmp"
	"github.com/govirt/govirtd/vir"
)

// fakeRunning is a driver with one domain that the driver believes runs
// a qemu (pid 0 does not exist), for tests of the driver's bookkeeping
// without qemu: QMP events are fed to the handler directly.
func fakeRunning(t *testing.T) (*Driver, *conn, *domain, *instance, *eventRecorder) {
	t.Helper()
	d := New(Config{StateDir: t.TempDir(), ConfigDir: t.TempDir(), LogDir: t.TempDir(), JobTimeout: 50 * time.Millisecond}, nil)
	def, err := domxml.Parse(readTestdata(t, "demo.xml"))
	if err != nil {
		t.Fatal(err)
	}
	dom := newDomain(def)
	inst := &instance{pid: 1 << 30, finished: make(chan struct{})}
	dom.persistent, dom.live, dom.proc, dom.id = def, def, inst, 1
	dom.state, dom.reason = vir.DomainRunning, int32(vir.DomainRunningBooted)
	d.add(dom)
	// The status writes its events queue end before the directories go.
	t.Cleanup(d.wg.Wait)
	u, _ := url.Parse("")
	c, _ := d.Open(context.Background(), u, 0)
	return d, c.(*conn), dom, inst, recordEvents(t, c.(*conn))
}

func qmpEvent(name string, data any) qmp.Event {
	raw, _ := json.Marshal(data)
	return qmp.Event{Name: name, Data: raw}
}

// TestEventMapping: what each QMP event does to the domain's state and
// which lifecycle event it raises, including a pause nobody asked the
// driver for.
func TestEventMapping(t *testing.T) {
	d, c, dom, inst, ev := fakeRunning(t)
	on := d.onEvent(dom, inst)
	ref := drivers.Domain{Name: "demo", UUID: dom.uuid}

	on(qmpEvent("STOP", nil)) // someone else paused it
	checkState(t, c, ref, vir.DomainPaused, vir.DomainPausedUnknown)
	on(qmpEvent("STOP", nil)) // repeated: nothing
	on(qmpEvent("RESUME", nil))
	checkState(t, c, ref, vir.DomainRunning, vir.DomainRunningUnpaused)
	on(qmpEvent("RESUME", nil))
	on(qmpEvent("RESET", map[string]any{"guest": true, "reason": "guest-reset"}))
	ev.waitFor(t, "demo Suspended Paused", "demo Resumed Unpaused")

	on(qmpEvent("SHUTDOWN", map[string]any{"guest": false, "reason": "host-signal"}))
	checkState(t, c, ref, vir.DomainShutdown, vir.DomainShutdownUnknown)
	on(qmpEvent("STOP", nil)) // qemu stops the CPUs of a guest that shut down
	on(qmpEvent("SHUTDOWN", map[string]any{"guest": false, "reason": "host-signal"}))
	ev.waitFor(t, "demo Shutdown Finished after host request")

	dom.mu.Lock()
	reason, detail := inst.endReason()
	d.stopped(dom, inst, reason, detail)
	dom.mu.Unlock()
	checkState(t, c, ref, vir.DomainShutoff, vir.DomainShutoffShutdown)
	ev.waitFor(t, "demo Stopped Shutdown")
}

// TestEndReasons: the shut-off reason and STOPPED detail of a qemu that
// ended, by what the driver intended and what qemu said.
func TestEndReasons(t *testing.T) {
	for _, c := range []struct {
		intent      stopKind
		gotShutdown bool
		want        string
	}{
		{stopNone, false, "shut off (crashed) Failed"},
		{stopNone, true, "shut off (shutdown) Shutdown"},
		{stopDestroy, true, "shut off (destroyed) Destroyed"},
		{stopSave, true, "shut off (saved) Saved"},
		{stopAbortStart, false, "shut off (failed) Failed"},
	} {
		inst := &instance{intent: c.intent, gotShutdown: c.gotShutdown}
		reason, detail := inst.endReason()
		reasons := map[vir.DomainShutoffReason]string{vir.DomainShutoffCrashed: "crashed", vir.DomainShutoffShutdown: "shutdown",
			vir.DomainShutoffDestroyed: "destroyed", vir.DomainShutoffSaved: "saved", vir.DomainShutoffFailed: "failed"}
		got := fmt.Sprintf("shut off (%s) %s", reasons[reason], drivers.EventDetailString(vir.DomainEventStopped, int32(detail)))
		if got != c.want {
			t.Errorf("intent %d, shutdown %v: %s, want %s", c.intent, c.gotShutdown, got, c.want)
		}
	}
}

// TestReadsDoNotWaitForJob: while an operation holds a domain's job,
// reads answer from the driver's state, and another operation gives up
// with an error naming the holder.
func TestReadsDoNotWaitForJob(t *testing.T) {
	_, c, dom, _, _ := fakeRunning(t)
	ctx := context.Background()
	if err := dom.job.acquire(ctx, "virDomainSave", time.Second); err != nil {
		t.Fatal(err)
	}
	defer dom.job.release()
	ref := drivers.Domain{Name: "demo", UUID: dom.uuid}
	done := make(chan error, 1)
	go func() {
		_, err := c.DomainGetInfo(ctx, ref)
		if err == nil {
			_, _, err = c.DomainGetState(ctx, ref, 0)
		}
		if err == nil {
			_, err = c.DomainGetXMLDesc(ctx, ref, 0)
		}
		if err == nil {
			_, err = c.ConnectListAllDomains(ctx, 0)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("reads wait behind the job")
	}
	err := c.DomainSuspend(ctx, ref)
	if drivers.CodeOf(err) != vir.ErrOperationTimeout || !strings.Contains(err.Error(), "held by virDomainSave") {
		t.Fatalf("got %v, want a timeout naming virDomainSave", err)
	}
}

// TestSkipWithoutQemu: without a qemu binary the driver skips, saying
// why.
func TestSkipWithoutQemu(t *testing.T) {
	d := New(Config{Binary: "/nonexistent/qemu-system-x86_64", StateDir: t.TempDir()}, nil)
	err := d.Startup(context.Background())
	var skip *drivers.SkipError
	if !errors.As(err, &skip) || !strings.Contains(skip.Reason, "qemu_binary") {
		t.Fatalf("got %v, want a SkipError naming qemu_binary", err)
	}
}

// TestOpenURIs: the driver takes the URI of the daemon's user only.
func TestOpenURIs(t *testing.T) {
	d := New(Config{}, nil)
	own, other := "qemu:///system", "qemu:///session"
	if !privileged() {
		own, other = other, own
	}
	for uri, want := range map[string]vir.ErrorNumber{own: 0, other: vir.ErrNoConnect, "qemu://host/system": vir.ErrNoConnect, "": 0} {
		u, _ := url.Parse(uri)
		_, err := d.Open(context.Background(), u, 0)
		if drivers.CodeOf(err) != want {
			t.Errorf("Open(%q) = %v, want code %d", uri, err, want)
		}
	}
	u, _ := url.Parse("test:///default")
	if _, err := d.Open(context.Background(), u, 0); err != drivers.ErrDeclined {
		t.Errorf("Open(test:///default) = %v, want ErrDeclined", err)
	}
}

// TestDeviceRemovalFailed: qemu's DEVICE_UNPLUG_GUEST_ERROR (the guest
// refused an unplug) raises DEVICE_REMOVAL_FAILED naming the device's
// alias, for the running qemu only. Fed directly: a guest that refuses
// an unplug cannot be made on demand.
func TestDeviceRemovalFailed(t *testing.T) {
	d, c, dom, inst, _ := fakeRunning(t)
	got := make(chan string, 2)
	if _, err := c.ConnectDomainEventRegisterAny(context.Background(), nil, vir.DomainEventIDDeviceRemovalFailed, func(_ int, ev drivers.DomainEvent) {
		got <- ev.(drivers.DeviceRemovalFailedEvent).Alias
	}); err != nil {
		t.Fatal(err)
	}
	d.onEvent(dom, &instance{finished: make(chan struct{})})(qmpEvent("DEVICE_UNPLUG_GUEST_ERROR", map[string]any{"device": "stale0"}))
	d.onEvent(dom, inst)(qmpEvent("DEVICE_UNPLUG_GUEST_ERROR", map[string]any{"device": "virtio-disk1", "path": "/machine/peripheral/virtio-disk1"}))
	select {
	case alias := <-got:
		if alias != "virtio-disk1" {
			t.Errorf("DEVICE_REMOVAL_FAILED for %q, want virtio-disk1 (and none for an old qemu's event)", alias)
		}
	case <-time.After(hang):
		t.Fatal("no DEVICE_REMOVAL_FAILED")
	}
}
