package qemu

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/internal/testutil"
	"github.com/govirt/govirtd/vir"
)

// startDemo defines and starts testdata's demo domain.
func startDemo(t *testing.T, c *conn, ev *eventRecorder) (drivers.Domain, *instance) {
	t.Helper()
	ctx := context.Background()
	dom, err := c.DomainDefineXML(ctx, readTestdata(t, "demo.xml"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if dom, err = c.DomainCreate(ctx, dom, 0); err != nil {
		t.Fatal(err)
	}
	ev.waitFor(t, "demo Defined Added", "demo Started Booted")
	x, _ := c.drv.find(dom)
	x.mu.Lock()
	defer x.mu.Unlock()
	return dom, x.proc
}

// TestExternalSignals: qemu killed from outside, with no API call: kill
// -TERM is a host shutdown, kill -9 a crash.
func TestExternalSignals(t *testing.T) {
	_, c := testDriver(t)
	ev := recordEvents(t, c)
	dom, inst := startDemo(t, c, ev)
	syscall.Kill(inst.pid, syscall.SIGTERM)
	ev.waitFor(t, "demo Shutdown Finished after host request", "demo Stopped Shutdown")
	checkState(t, c, dom, vir.DomainShutoff, vir.DomainShutoffShutdown)

	dom, err := c.DomainCreate(context.Background(), dom, 0)
	if err != nil {
		t.Fatal(err)
	}
	ev.waitFor(t, "demo Started Booted")
	x, _ := c.drv.find(dom)
	x.mu.Lock()
	pid := x.proc.pid
	x.mu.Unlock()
	syscall.Kill(pid, syscall.SIGKILL)
	ev.waitFor(t, "demo Stopped Failed")
	checkState(t, c, dom, vir.DomainShutoff, vir.DomainShutoffCrashed)
	// The removal is queued with the stop; it follows it.
	testutil.WaitFor(t, "the status file to go", func() bool {
		_, err := os.Stat(c.drv.cfg.statusPath("demo"))
		return os.IsNotExist(err)
	})
}

// TestStartFailure: qemu refuses to start (a missing disk image); the
// start is undone and the error carries qemu's own words.
func TestStartFailure(t *testing.T) {
	d, c := testDriver(t)
	ev := recordEvents(t, c)
	xml := strings.Replace(readTestdata(t, "demo.xml"), "<on_poweroff>",
		"<devices><disk type='file'><source file='/nonexistent/disk.img'/><target dev='vda'/></disk></devices><on_poweroff>", 1)
	dom, err := c.DomainDefineXML(context.Background(), xml, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.DomainCreate(context.Background(), dom, 0)
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/disk.img") || !strings.Contains(err.Error(), "qemu said") {
		t.Fatalf("got %v, want an error quoting qemu about the missing image", err)
	}
	t.Log(err)
	checkState(t, c, dom, vir.DomainShutoff, vir.DomainShutoffUnknown)
	ev.waitFor(t, "demo Defined Added")
	left, _ := filepath.Glob(filepath.Join(d.cfg.StateDir, "demo.*"))
	if len(left) != 0 {
		t.Errorf("state left behind: %v", left)
	}
}

// TestTransient: a domain created from XML exists while it runs.
func TestTransient(t *testing.T) {
	_, c := testDriver(t)
	ev := recordEvents(t, c)
	ctx := context.Background()
	dom, err := c.DomainCreateXML(ctx, readTestdata(t, "demo.xml"), uint32(vir.DomainStartPaused))
	if err != nil {
		t.Fatal(err)
	}
	ev.waitFor(t, "demo Started Booted", "demo Suspended Paused")
	if p, _ := c.DomainIsPersistent(ctx, dom); p {
		t.Error("a created domain is persistent")
	}
	if err := c.DomainDestroy(ctx, dom, 0); err != nil {
		t.Fatal(err)
	}
	ev.waitFor(t, "demo Stopped Destroyed")
	if _, err := c.DomainLookupByName(ctx, "demo"); drivers.CodeOf(err) != vir.ErrNoDomain {
		t.Errorf("a stopped transient domain is still there: %v", err)
	}
}

// TestStartFlags: the start calls take the virDomainCreateFlags libvirt
// 9.0's QEMU driver takes. RESET_NVRAM (1 << 5) starts the guest as
// libvirt starts one without NVRAM; VALIDATE (1 << 4), which only
// CreateXML takes, and AUTODESTROY are refused by DomainCreate.
func TestStartFlags(t *testing.T) {
	_, c := testDriver(t)
	ev := recordEvents(t, c)
	ctx := context.Background()
	xml := readTestdata(t, "demo.xml")
	dom, err := c.DomainDefineXML(ctx, xml, 0)
	if err != nil {
		t.Fatal(err)
	}
	ev.waitFor(t, "demo Defined Added")
	for _, f := range []vir.DomainCreateFlags{vir.DomainStartValidate, vir.DomainStartAutodestroy} {
		_, err := c.DomainCreate(ctx, dom, uint32(f))
		want := fmt.Sprintf("unsupported flags (0x%x) in function virDomainCreateWithFlags", uint32(f))
		if drivers.CodeOf(err) != vir.ErrInvalidArg || !strings.Contains(err.Error(), want) {
			t.Errorf("DomainCreate with %#x: %v, want VIR_ERR_INVALID_ARG %q", uint32(f), err, want)
		}
	}

	if dom, err = c.DomainCreate(ctx, dom, uint32(vir.DomainStartResetNvram)); err != nil {
		t.Fatalf("DomainCreate with VIR_DOMAIN_START_RESET_NVRAM: %v", err)
	}
	ev.waitFor(t, "demo Started Booted")
	checkState(t, c, dom, vir.DomainRunning, vir.DomainRunningBooted)
	if err := c.DomainDestroy(ctx, dom, 0); err != nil {
		t.Fatal(err)
	}
	ev.waitFor(t, "demo Stopped Destroyed")

	flags := vir.DomainStartResetNvram | vir.DomainStartValidate | vir.DomainStartPaused
	if dom, err = c.DomainCreateXML(ctx, xml, uint32(flags)); err != nil {
		t.Fatalf("DomainCreateXML with RESET_NVRAM|VALIDATE|PAUSED: %v", err)
	}
	ev.waitFor(t, "demo Started Booted", "demo Suspended Paused")
	checkState(t, c, dom, vir.DomainPaused, vir.DomainPausedUser)
	if err := c.DomainDestroy(ctx, dom, 0); err != nil {
		t.Fatal(err)
	}
	ev.waitFor(t, "demo Stopped Destroyed")
}

// TestRefusedAtDefine: what qemu cannot honour is refused when defined.
func TestRefusedAtDefine(t *testing.T) {
	_, c := testDriver(t)
	xml := strings.Replace(readTestdata(t, "demo.xml"), "<on_poweroff>", "<devices><panic model='isa'/></devices><on_poweroff>", 1)
	_, err := c.DomainDefineXML(context.Background(), xml, 0)
	if drivers.CodeOf(err) != vir.ErrConfigUnsupported || !strings.Contains(err.Error(), "panic") {
		t.Fatalf("got %v, want VIR_ERR_CONFIG_UNSUPPORTED naming <panic>", err)
	}
}

// TestConcurrentDomains runs operations on several domains at once while
// other goroutines read, for the race detector.
func TestConcurrentDomains(t *testing.T) {
	_, c := testDriver(t)
	ctx := context.Background()
	stop := make(chan struct{})
	readers := make(chan struct{})
	go func() {
		defer close(readers)
		for {
			select {
			case <-stop:
				return
			default:
			}
			doms, _ := c.ConnectListAllDomains(ctx, 0)
			for _, dom := range doms {
				c.DomainGetInfo(ctx, dom)
				c.DomainGetXMLDesc(ctx, dom, 0)
			}
		}
	}()
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() {
			errs <- func() error {
				name := "par" + string(rune('a'+i))
				dom, err := c.DomainDefineXML(ctx, demoXML(t, name, 100+i), 0)
				if err != nil {
					return err
				}
				for round := 0; round < 2; round++ {
					if dom, err = c.DomainCreate(ctx, dom, 0); err != nil {
						return err
					}
					if err := c.DomainSuspend(ctx, dom); err != nil {
						return err
					}
					if err := c.DomainResume(ctx, dom); err != nil {
						return err
					}
					if err := c.DomainDestroy(ctx, dom, 0); err != nil {
						return err
					}
				}
				return c.DomainUndefine(ctx, dom, 0)
			}()
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	close(stop)
	<-readers
	if doms, _ := c.ConnectListAllDomains(ctx, 0); len(doms) != 0 {
		t.Errorf("domains left: %v", doms)
	}
}
