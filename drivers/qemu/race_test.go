package qemu

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/vir"
)

// TestUndefineDuringStart: an undefine that comes while the domain is
// starting must not leave a running guest that no lookup finds: it
// waits for the start's job (and here gives up, naming it).
func TestUndefineDuringStart(t *testing.T) {
	_, c := testDriverWith(t, func(cfg *Config) { cfg.JobTimeout = 200 * time.Millisecond })
	g := newGate(t)
	ctx := context.Background()
	ev := recordEvents(t, c)
	ref, err := c.DomainDefineXML(ctx, g.xml(t, "gated", 1), 0)
	if err != nil {
		t.Fatal(err)
	}
	created := make(chan error, 1)
	go func() { _, err := c.DomainCreate(ctx, ref, 0); created <- err }()
	g.waitHeld(t)
	uerr := c.DomainUndefine(ctx, ref, 0)
	g.release()
	if err := <-created; err != nil {
		t.Fatal(err)
	}
	got, err := c.DomainLookupByName(ctx, "gated")
	if err != nil {
		t.Fatalf("undefine during a start answered %v and left a running guest no lookup finds: %v", uerr, err)
	}
	if drivers.CodeOf(uerr) != vir.ErrOperationTimeout || !strings.Contains(uerr.Error(), "held by virDomainCreate") {
		t.Errorf("undefine during a start: %v, want a timeout naming virDomainCreate", uerr)
	}
	checkState(t, c, got, vir.DomainRunning, vir.DomainRunningBooted)
	if p, _ := c.DomainIsPersistent(ctx, got); !p {
		t.Error("the domain lost its definition")
	}
	ev.waitFor(t, "gated Defined Added", "gated Started Booted")
	if err := c.DomainDestroy(ctx, got, 0); err != nil {
		t.Fatal(err)
	}
}

// TestSaveToPipe: a save streamed into a pipe (or a device such as
// /dev/null) succeeds, since there is no file to sync; a save that
// fails after the guest was paused runs it again; and a failed save
// never removes a file that is not a regular one (as root, saving to
// /dev/null must not delete /dev/null).
func TestSaveToPipe(t *testing.T) {
	_, c := testDriver(t)
	ev := recordEvents(t, c)
	ctx := context.Background()
	dom, _ := startDemo(t, c, ev)
	fifo := filepath.Join(t.TempDir(), "image.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	read := func(limit int64) chan int64 {
		n := make(chan int64, 1)
		go func() {
			f, err := os.Open(fifo)
			if err != nil {
				n <- -1
				return
			}
			got, _ := io.Copy(io.Discard, io.LimitReader(f, limit))
			f.Close()
			n <- got
		}()
		return n
	}

	all := read(1 << 40)
	if err := c.DomainSave(ctx, dom, fifo, "", 0); err != nil {
		t.Errorf("save into a pipe: %v", err)
	}
	if n := <-all; n < 1<<10 {
		t.Errorf("the pipe got %d bytes", n)
	}
	checkFIFO(t, fifo)
	checkState(t, c, dom, vir.DomainShutoff, vir.DomainShutoffSaved)
	ev.waitFor(t, "demo Suspended Paused", "demo Stopped Saved")

	// A reader that goes away after the header: qemu's stream fails.
	if _, err := c.DomainCreate(ctx, dom, 0); err != nil {
		t.Fatal(err)
	}
	ev.waitFor(t, "demo Started Booted")
	short := read(16)
	if err := c.DomainSave(ctx, dom, fifo, "", 0); err == nil {
		t.Error("a save whose reader went away succeeded")
	}
	<-short
	checkFIFO(t, fifo)
	checkState(t, c, dom, vir.DomainRunning, vir.DomainRunningSaveCanceled)
	ev.waitFor(t, "demo Suspended Paused", "demo Resumed Unpaused")
}

func checkFIFO(t *testing.T, path string) {
	t.Helper()
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the pipe the image went to is gone: %v", err)
	}
}

// TestShutdownDuringStart: a start that finishes after the driver shut
// down leaves its guest running and lets go of its monitor, as Shutdown
// does for the others, so the next driver can take the guest over (qemu
// serves one monitor connection at a time).
func TestShutdownDuringStart(t *testing.T) {
	d, c := testDriverWith(t, func(cfg *Config) { cfg.MonitorTimeout = 5 * time.Second })
	g := newGate(t)
	ctx := context.Background()
	ref, err := c.DomainDefineXML(ctx, g.xml(t, "gated", 1), 0)
	if err != nil {
		t.Fatal(err)
	}
	created := make(chan error, 1)
	go func() { _, err := c.DomainCreate(ctx, ref, 0); created <- err }()
	g.waitHeld(t)
	if err := d.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	g.release()
	if err := <-created; err != nil {
		t.Fatal(err)
	}

	_, c2, ev2 := restarted(t, d)
	if err := c2.DomainSuspend(ctx, ref); err != nil {
		t.Fatalf("the next driver cannot manage the guest: %v", err)
	}
	ev2.waitFor(t, "gated Suspended Paused")
}

// TestFailedCreateOfClaimedDomain: two creates of the same new
// transient domain race; the one that did not add the domain fails to
// start while the other still waits for the job. The failure must not
// make the domain, which has neither a definition nor a qemu, visible:
// reads of it would dereference a nil definition.
func TestFailedCreateOfClaimedDomain(t *testing.T) {
	d, c := testDriver(t)
	ctx := context.Background()
	xml := strings.Replace(demoXML(t, "twice", 1), "<on_poweroff>",
		"<devices><disk type='file'><source file='/nonexistent/disk.img'/><target dev='vda'/></disk></devices><on_poweroff>", 1)
	def, err := d.parseDefinition(xml)
	if err != nil {
		t.Fatal(err)
	}
	if _, created, err := d.claim(def, true); err != nil || !created {
		t.Fatal(created, err) // the first create, about to take the job
	}
	if _, err := c.DomainCreateXML(ctx, xml, 0); err == nil {
		t.Fatal("a start with a missing disk succeeded")
	}
	if ref, err := c.DomainLookupByName(ctx, "twice"); err == nil {
		_, _, serr := c.DomainGetState(ctx, ref, 0)
		t.Fatalf("a domain with no definition and no qemu is visible (state: %v)", serr)
	}
}
