package qemu

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/govirt/govirtd/vir"
)

// TestAutostartOncePerBoot: autostart domains start when the driver
// starts, unless the marker says it already ran this boot.
func TestAutostartOncePerBoot(t *testing.T) {
	d, c := testDriver(t)
	ctx := context.Background()
	dom, err := c.DomainDefineXML(ctx, readTestdata(t, "demo.xml"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.DomainSetAutostart(ctx, dom, true); err != nil {
		t.Fatal(err)
	}
	if on, _ := c.DomainGetAutostart(ctx, dom); !on {
		t.Fatal("autostart not set")
	}
	d.Shutdown(ctx)

	// The marker from the first startup: no autostart.
	d2, c2, ev2 := restarted(t, d)
	d2.wg.Wait() // autostart would run in the background
	checkState(t, c2, dom, vir.DomainShutoff, vir.DomainShutoffUnknown)
	d2.Shutdown(ctx)

	// A new boot (the marker is gone): it starts.
	os.Remove(d.cfg.autostartedMarker())
	_, c3, ev3 := restarted(t, d)
	ev3.waitFor(t, "demo Started Booted")
	checkState(t, c3, dom, vir.DomainRunning, vir.DomainRunningBooted)
	if _, err := os.Stat(d.cfg.autostartedMarker()); err != nil {
		t.Errorf("no marker after autostart: %v", err)
	}
	_ = ev2
}

// TestReload: a definition dropped into the config directory with an
// autostart link is defined and started on reload; a changed one is
// updated; a reload with nothing new raises nothing.
func TestReload(t *testing.T) {
	d, c := testDriver(t)
	ctx := context.Background()
	ev := recordEvents(t, c)
	os.MkdirAll(d.cfg.AutostartDir, 0o755)
	if err := os.WriteFile(d.cfg.definitionPath("dropped"), []byte(demoXML(t, "dropped", 7)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(d.cfg.definitionPath("dropped"), d.cfg.autostartPath("dropped")); err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	ev.waitFor(t, "dropped Defined Added", "dropped Started Booted")

	changed := strings.Replace(demoXML(t, "dropped", 7), "<vcpu>1</vcpu>", "<vcpu>2</vcpu>", 1)
	if err := os.WriteFile(d.cfg.definitionPath("dropped"), []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	ev.waitFor(t, "dropped Defined Updated")
	if err := d.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	ref, _ := c.DomainLookupByName(ctx, "dropped")
	if err := c.DomainDestroy(ctx, ref, 0); err != nil { // an event to wait for
		t.Fatal(err)
	}
	ev.waitFor(t, "dropped Stopped Destroyed")
	xml, _ := c.DomainGetXMLDesc(ctx, ref, uint32(vir.DomainXMLInactive))
	if !strings.Contains(xml, ">2</vcpu>") {
		t.Errorf("the updated definition is not the persistent one:\n%s", xml)
	}
}
