package test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

const demoXML = `<domain type='test'><name>demo</name><uuid>0b0e1f2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b</uuid>
<memory unit='MiB'>512</memory><vcpu>2</vcpu></domain>`

// open returns a connection and a function returning the lifecycle events
// raised since the last call, as "Type Detail" strings.
func open(t *testing.T, d *Driver) (*conn, func() []string) {
	t.Helper()
	u, _ := url.Parse("test:///default")
	c, err := d.Open(context.Background(), u, 0)
	if err != nil {
		t.Fatal(err)
	}
	var evs []string
	ctx := context.Background()
	for _, id := range []vir.DomainEventID{vir.DomainEventIDLifecycle, vir.DomainEventIDReboot} {
		if _, err := c.(*conn).ConnectDomainEventRegisterAny(ctx, nil, id, func(_ int, ev drivers.DomainEvent) {
			switch e := ev.(type) {
			case drivers.LifecycleEvent:
				evs = append(evs, fmt.Sprintf("%s %s %s id=%d", e.Dom.Name, drivers.EventTypeString(e.Event), drivers.EventDetailString(e.Event, e.Detail), e.Dom.ID))
			case drivers.RebootEvent:
				evs = append(evs, fmt.Sprintf("%s Reboot id=%d", e.Dom.Name, e.Dom.ID))
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	return c.(*conn), func() []string { out := evs; evs = nil; return out }
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func expect(t *testing.T, events func() []string, want ...string) {
	t.Helper()
	if got := events(); strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Fatalf("events:\n  %s\nwant:\n  %s", strings.Join(got, "; "), strings.Join(want, "; "))
	}
}

// TestEventsPerOperation: every state change raises exactly the event
// libvirt's test driver raises, carrying the id after the change.
func TestEventsPerOperation(t *testing.T) {
	ctx := context.Background()
	c, events := open(t, New())
	dom := must[drivers.Domain](t)(c.DomainDefineXML(ctx, demoXML, 0))
	expect(t, events, "demo Defined Added id=-1")
	must[drivers.Domain](t)(c.DomainDefineXML(ctx, demoXML, 0))
	expect(t, events, "demo Defined Updated id=-1")

	dom = must[drivers.Domain](t)(c.DomainCreate(ctx, dom, 0))
	expect(t, events, "demo Started Booted id=2")
	if dom.ID != 2 {
		t.Fatalf("started domain has id %d, want 2", dom.ID)
	}
	for _, step := range []struct {
		op   func() error
		want string
	}{
		{func() error { return c.DomainSuspend(ctx, dom) }, "demo Suspended Paused id=2"},
		{func() error { return c.DomainResume(ctx, dom) }, "demo Resumed Unpaused id=2"},
		{func() error { return c.DomainReboot(ctx, dom, 0) }, "demo Reboot id=2"},
		{func() error { return c.DomainShutdown(ctx, dom, 0) }, "demo Stopped Shutdown id=-1"},
		{func() error { _, err := c.DomainCreate(ctx, dom, 0); return err }, "demo Started Booted id=3"},
		{func() error { return c.DomainDestroy(ctx, dom, 0) }, "demo Stopped Destroyed id=-1"},
		{func() error { _, err := c.DomainCreate(ctx, dom, uint32(vir.DomainStartPaused)); return err }, "demo Started Booted id=4; demo Suspended Paused id=4"},
		{func() error { return c.DomainSave(ctx, dom, filepath.Join(t.TempDir(), "x"), "", 0) }, "demo Stopped Saved id=-1"},
		{func() error { return c.DomainUndefine(ctx, dom, 0) }, "demo Undefined Removed id=-1"},
	} {
		if err := step.op(); err != nil {
			t.Fatalf("%s: %v", step.want, err)
		}
		expect(t, events, strings.Split(step.want, "; ")...)
	}
	if _, err := c.DomainLookupByName(ctx, "demo"); drivers.CodeOf(err) != vir.ErrNoDomain {
		t.Fatalf("undefined domain still found: %v", err)
	}
}

// TestSaveRestore: a saved domain restores with its definition, as
// STARTED/RESTORED, and a save image is checked before use.
func TestSaveRestore(t *testing.T) {
	ctx := context.Background()
	c, events := open(t, New())
	dom := must[drivers.Domain](t)(c.DomainCreateXML(ctx, demoXML, 0))
	image := filepath.Join(t.TempDir(), "demo.save")
	if err := c.DomainSave(ctx, dom, image, "", 0); err != nil {
		t.Fatal(err)
	}
	// A transient domain is gone once stopped.
	if _, err := c.DomainLookupByName(ctx, "demo"); drivers.CodeOf(err) != vir.ErrNoDomain {
		t.Fatalf("transient domain survived its save: %v", err)
	}
	if err := c.DomainRestore(ctx, image, "", 0); err != nil {
		t.Fatal(err)
	}
	expect(t, events, "demo Started Booted id=2", "demo Stopped Saved id=-1", "demo Started Restored id=3")
	state, reason, _ := c.DomainGetState(ctx, dom, 0)
	if state != vir.DomainRunning || reason != int32(vir.DomainRunningRestored) {
		t.Fatalf("restored state %v/%d", state, reason)
	}
	if err := c.DomainRestore(ctx, image, "", 0); drivers.CodeOf(err) != vir.ErrOperationInvalid {
		t.Fatalf("restoring over a running domain: %v", err)
	}
	junk := filepath.Join(t.TempDir(), "junk")
	os.WriteFile(junk, []byte("not a save image"), 0o600)
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// A device or FIFO is refused before anything is read from it (they
	// once took the daemon's memory, or its call, for ever).
	for path, msg := range map[string]string{junk: "not a test driver save image", "/dev/zero": "not a regular file", fifo: "not a regular file"} {
		if err := c.DomainRestore(ctx, path, "", 0); drivers.CodeOf(err) != vir.ErrOperationFailed || !strings.Contains(err.Error(), msg) {
			t.Errorf("restoring %s: %v, want %q", path, err, msg)
		}
	}
	// Saving onto a FIFO replaces it rather than blocking on it.
	dom = must[drivers.Domain](t)(c.DomainLookupByName(ctx, "demo"))
	if err := c.DomainSave(ctx, dom, fifo, "", 0); err != nil {
		t.Fatal(err)
	}
	if err := c.DomainRestore(ctx, fifo, "", 0); err != nil {
		t.Fatalf("restore of an image saved over a FIFO: %v", err)
	}
}

// TestDefinitionRules covers what libvirt refuses and how a running
// domain's definitions behave.
func TestDefinitionRules(t *testing.T) {
	ctx := context.Background()
	c, _ := open(t, New())
	for _, c2 := range []struct {
		xml  string
		code vir.ErrorNumber
		msg  string
	}{
		{"<domain type='test'><name>x</name>", vir.ErrXMLError, "XML error: cannot parse domain definition"},
		{"<domain type='test'><memory>1</memory></domain>", vir.ErrXMLError, "missing domain name"},
		{"<domain type='test'><name>x</name></domain>", vir.ErrXMLError, "missing memory size"},
		{"<domain type='kvm'><name>x</name><memory>1</memory></domain>", vir.ErrConfigUnsupported, "domain type 'kvm' is not supported by the test driver"},
		{"<domain type='test'><name>test</name><memory>1</memory></domain>", vir.ErrOperationFailed, "domain 'test' already exists with uuid 6695eb01-f6a4-8304-79aa-97f2502e193f"},
		{"<domain type='test'><name>other</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid><memory>1</memory></domain>", vir.ErrOperationFailed, "domain 'test' is already defined with uuid"},
		{"<network/>", vir.ErrXMLError, "expected element type <domain> but have <network>"},
	} {
		_, err := c.DomainDefineXML(ctx, c2.xml, 0)
		if drivers.CodeOf(err) != c2.code || !strings.Contains(err.Error(), c2.msg) {
			t.Errorf("define %s: %v, want code %d with %q", c2.xml, err, c2.code, c2.msg)
		}
	}
	test := must[drivers.Domain](t)(c.DomainLookupByID(ctx, 1))
	// Undefining a running domain leaves it running, transient.
	if err := c.DomainUndefine(ctx, test, 0); err != nil {
		t.Fatal(err)
	}
	if p, _ := c.DomainIsPersistent(ctx, test); p {
		t.Fatal("undefined running domain is still persistent")
	}
	if err := c.DomainSetAutostart(ctx, test, true); drivers.CodeOf(err) != vir.ErrOperationInvalid {
		t.Fatalf("autostart of a transient domain: %v", err)
	}
	if err := c.DomainDestroy(ctx, test, 0); err != nil {
		t.Fatal(err)
	}
	if doms := must[[]drivers.Domain](t)(c.ConnectListAllDomains(ctx, 0)); len(doms) != 0 {
		t.Fatalf("domains left: %v", doms)
	}
}

// TestInactiveXML: the live definition carries the id; --inactive gives
// the persistent one, which a redefinition changes without touching the
// running instance.
func TestInactiveXML(t *testing.T) {
	ctx := context.Background()
	c, _ := open(t, New())
	dom := must[drivers.Domain](t)(c.DomainDefineXML(ctx, demoXML, 0))
	dom = must[drivers.Domain](t)(c.DomainCreate(ctx, dom, 0))
	must[drivers.Domain](t)(c.DomainDefineXML(ctx, strings.Replace(demoXML, "<vcpu>2</vcpu>", "<vcpu>4</vcpu>", 1), 0))
	live := must[string](t)(c.DomainGetXMLDesc(ctx, dom, 0))
	inactive := must[string](t)(c.DomainGetXMLDesc(ctx, dom, uint32(vir.DomainXMLInactive)))
	if !strings.Contains(live, `id="2"`) || !strings.Contains(live, "<vcpu>2</vcpu>") {
		t.Fatalf("live XML:\n%s", live)
	}
	if strings.Contains(inactive, "id=") || !strings.Contains(inactive, "<vcpu>4</vcpu>") {
		t.Fatalf("inactive XML:\n%s", inactive)
	}
	info := must[drivers.DomainInfo](t)(c.DomainGetInfo(ctx, dom))
	if info.NrVirtCPU != 2 || info.MaxMem != 524288 {
		t.Fatalf("info %+v", info)
	}
}

func TestOpenURIs(t *testing.T) {
	d := New()
	for _, c := range []struct {
		uri  string
		err  error           // a sentinel error, or
		code vir.ErrorNumber // a libvirt error code (ErrOk: no error)
	}{
		{"test:///default", nil, vir.ErrOk},
		{"qemu:///system", drivers.ErrDeclined, vir.ErrOk},
		{"test:///etc/some.xml", nil, vir.ErrNoSupport},
	} {
		u, _ := url.Parse(c.uri)
		_, err := d.Open(context.Background(), u, 0)
		ok := drivers.CodeOf(err) == c.code && (err == nil) == (c.err == nil && c.code == vir.ErrOk)
		if c.err != nil {
			ok = errors.Is(err, c.err)
		}
		if !ok {
			t.Errorf("Open(%s): %v, want %v / %v", c.uri, err, c.err, c.code)
		}
	}
}

func TestImmediate(t *testing.T) {
	c, _ := open(t, New())
	for proc, want := range map[protocol.Procedure]bool{
		protocol.ProcDomainSuspend: true, protocol.ProcDomainDefineXML: true, protocol.ProcDomainGetInfo: true,
		protocol.ProcDomainLookupByName: true, protocol.ProcConnectListAllDomains: true,
		protocol.ProcDomainSave: false, protocol.ProcDomainSaveFlags: false, protocol.ProcDomainRestoreFlags: false,
		protocol.ProcDomainGetHostname: false,
	} {
		if got := c.Immediate(proc); got != want {
			t.Errorf("Immediate(%s) = %v, want %v", proc, got, want)
		}
	}
}

// TestSaveWritesWithoutTheLock: while a save writes its image (here held
// on purpose, as a slow disk would), the driver answers other calls, and
// a destroy meanwhile makes the save fail without leaving an image.
func TestSaveWritesWithoutTheLock(t *testing.T) {
	ctx := context.Background()
	c, events := open(t, New())
	writing, release := make(chan struct{}), make(chan struct{})
	writeImage = func(to, content string) error {
		close(writing)
		<-release
		return writeImageFile(to, content)
	}
	defer func() { writeImage = writeImageFile }()
	test := must[drivers.Domain](t)(c.DomainLookupByName(ctx, "test"))
	image := filepath.Join(t.TempDir(), "test.save")
	saved := make(chan error, 1)
	go func() { saved <- c.DomainSave(ctx, test, image, "", 0) }()
	<-writing
	// The lock is free: lookups, a second save and a destroy are answered.
	must[drivers.Domain](t)(c.DomainLookupByName(ctx, "test"))
	if err := c.DomainSave(ctx, test, image+"2", "", 0); drivers.CodeOf(err) != vir.ErrOperationInvalid {
		t.Fatalf("second save during a save: %v", err)
	}
	if err := c.DomainDestroy(ctx, test, 0); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-saved; drivers.CodeOf(err) != vir.ErrOperationInvalid {
		t.Fatalf("save of a domain destroyed meanwhile: %v", err)
	}
	if _, err := os.Stat(image); !os.IsNotExist(err) {
		t.Fatalf("image left behind: %v", err)
	}
	expect(t, events, "test Stopped Destroyed id=-1")
}
