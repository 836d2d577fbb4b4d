package xen

import (
	"context"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/xen/internal/xstest"
	"github.com/govirt/govirtd/vir"
)

// buildXLSim builds the xl simulator into dir.
func buildXLSim(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "xl-sim")
	cmd := exec.Command("go", "build", "-o", out, "github.com/govirt/govirtd/drivers/xen/internal/xlsim")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build xlsim: %v\n%s", err, b)
	}
	return out
}

type harness struct {
	x    *xstest.Xenstored
	xl   string
	d    *Driver
	c    *conn
	evs  chan string
	cfgs string
}

func start(t *testing.T) *harness {
	t.Helper()
	x := xstest.Start(t)
	bin := t.TempDir()
	h := &harness{x: x, xl: buildXLSim(t, bin), cfgs: t.TempDir(), evs: make(chan string, 100)}
	h.d = New(Config{Socket: x.Socket, XL: h.xl, ConfigDir: h.cfgs}, nil)
	if err := h.d.Startup(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.d.Shutdown(context.Background()) })
	u, _ := url.Parse("xen:///system")
	c, err := h.d.Open(context.Background(), u, 0)
	if err != nil {
		t.Fatal(err)
	}
	h.c = c.(*conn)
	t.Cleanup(func() { h.c.Close() })
	_, err = h.c.ConnectDomainEventRegisterAny(context.Background(), nil, vir.DomainEventIDLifecycle, func(_ int, ev drivers.DomainEvent) {
		h.evs <- ev.(drivers.LifecycleEvent).String()
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) want(t *testing.T, evs ...string) {
	t.Helper()
	for _, w := range evs {
		if got := <-h.evs; got != w {
			t.Fatalf("event %q, want %q", got, w)
		}
	}
}

func (h *harness) xlsim(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(h.xl, args...)
	cmd.Env = h.x.Env()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("xl-sim %v: %v\n%s", args, err, b)
	}
}

const guestXML = `<domain type='xen'><name>g1</name><uuid>11111111-2222-3333-4444-555555555555</uuid>
<memory unit='MiB'>256</memory><vcpu>2</vcpu><os><type>linux</type></os></domain>`

func TestLifecycle(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	ref, err := h.c.DomainDefineXML(ctx, guestXML, 0)
	if err != nil {
		t.Fatal(err)
	}
	h.want(t, "lifecycle g1 Defined Added")
	if b, _ := os.ReadFile(filepath.Join(h.cfgs, "g1.cfg")); !strings.Contains(string(b), "memory = 256") {
		t.Fatalf("g1.cfg:\n%s", b)
	}
	if ref, err = h.c.DomainCreate(ctx, ref, 0); err != nil {
		t.Fatal(err)
	}
	h.want(t, "lifecycle g1 Started Booted")
	if ref.ID <= 0 {
		t.Fatalf("started domain has id %d", ref.ID)
	}
	info, err := h.c.DomainGetInfo(ctx, ref)
	if err != nil || info.State != vir.DomainRunning || info.Memory != 256*1024 || info.NrVirtCPU != 2 {
		t.Fatalf("info %+v, %v", info, err)
	}
	// Debian's xenstore-read sees the domain xl-sim wrote.
	cmd := exec.Command("xenstore-read", "/local/domain/"+itoa(ref.ID)+"/name")
	cmd.Env = h.x.Env()
	if b, err := cmd.Output(); err != nil || string(b) != "g1\n" {
		t.Fatalf("xenstore-read: %q %v", b, err)
	}
	if err := h.c.DomainSuspend(ctx, ref); err != nil {
		t.Fatal(err)
	}
	h.want(t, "lifecycle g1 Suspended Paused")
	if err := h.c.DomainResume(ctx, ref); err != nil {
		t.Fatal(err)
	}
	h.want(t, "lifecycle g1 Resumed Unpaused")
	if err := h.c.DomainShutdown(ctx, ref, 0); err != nil {
		t.Fatal(err)
	}
	h.want(t, "lifecycle g1 Stopped Shutdown")
	if _, err := h.c.DomainCreate(ctx, ref, 0); err != nil {
		t.Fatal(err)
	}
	h.want(t, "lifecycle g1 Started Booted")
	img := filepath.Join(t.TempDir(), "g1.save")
	if err := h.c.DomainSave(ctx, ref, img, "", 0); err != nil {
		t.Fatal(err)
	}
	h.want(t, "lifecycle g1 Stopped Saved")
	if err := h.c.DomainRestore(ctx, img, "", 0); err != nil {
		t.Fatal(err)
	}
	h.want(t, "lifecycle g1 Started Restored")
	if err := h.c.DomainDestroy(ctx, ref, 0); err != nil {
		t.Fatal(err)
	}
	h.want(t, "lifecycle g1 Stopped Destroyed")
	if err := h.c.DomainUndefine(ctx, ref, 0); err != nil {
		t.Fatal(err)
	}
	h.want(t, "lifecycle g1 Undefined Removed")
	if l, _ := h.c.ConnectListAllDomains(ctx, 0); len(l) != 0 {
		t.Fatalf("list after undefine: %v", l)
	}
}

func itoa(i int32) string { return strconv.Itoa(int(i)) }

// TestOutsideXL: a domain created and destroyed with xl-sim directly,
// govirtd not involved, appears, raises STARTED, leaves, raises STOPPED.
func TestOutsideXL(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	cfg := filepath.Join(t.TempDir(), "ext.cfg")
	os.WriteFile(cfg, []byte("name = \"ext\"\nuuid = \"aaaaaaaa-2222-3333-4444-555555555555\"\nmemory = 64\n"), 0o600)
	h.xlsim(t, "create", cfg)
	h.want(t, "lifecycle ext Started Booted")
	l, err := h.c.ConnectListAllDomains(ctx, 0)
	if err != nil || len(l) != 1 || l[0].Name != "ext" {
		t.Fatalf("list %v %v", l, err)
	}
	h.xlsim(t, "destroy", "ext")
	h.want(t, "lifecycle ext Stopped Destroyed")
}

// TestXenstoredRestart: while xenstored is down calls fail clearly; once
// it is back the driver resyncs (the domain it lost raises STOPPED) and
// events flow again.
func TestXenstoredRestart(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	cfg := filepath.Join(t.TempDir(), "ext.cfg")
	os.WriteFile(cfg, []byte("name = \"ext\"\nuuid = \"aaaaaaaa-2222-3333-4444-555555555555\"\n"), 0o600)
	h.xlsim(t, "create", cfg)
	h.want(t, "lifecycle ext Started Booted")
	h.x.Stop()
	for h.d.store.xs.Connected() { // until the client has read the EOF
		time.Sleep(time.Millisecond)
	}
	_, err := h.c.ConnectListAllDomains(ctx, 0)
	if err == nil || !strings.Contains(err.Error(), "is xenstored running?") {
		t.Fatalf("list while xenstored is down: %v", err)
	}
	var de *drivers.Error
	if !errors.As(err, &de) {
		t.Fatalf("error %T", err)
	}
	// Lookups and domain calls too: the last list known is no answer.
	if _, err := h.c.DomainLookupByName(ctx, "ext"); err == nil || !strings.Contains(err.Error(), "is xenstored running?") {
		t.Errorf("lookup while xenstored is down: %v", err)
	}
	os.Remove(filepath.Join(h.x.Dir, "xlsim-state.json")) // the fake hypervisor restarts empty with the store
	h.x.Restart(t)
	h.want(t, "lifecycle ext Stopped Destroyed")
	h.xlsim(t, "create", cfg)
	h.want(t, "lifecycle ext Started Booted")
}
