package daemon_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"
)

// dialGoLibvirt connects github.com/digitalocean/go-libvirt, an
// independent implementation of the client side, to socket.
func dialGoLibvirt(t testing.TB, socket string) *libvirt.Libvirt {
	t.Helper()
	l := libvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(socket), dialers.WithLocalTimeout(5*time.Second)))
	if err := l.ConnectToURI("test:///default"); err != nil {
		t.Fatalf("go-libvirt connect to %s: %v", socket, err)
	}
	t.Cleanup(func() { l.Disconnect() })
	return l
}

// wantLibvirtErr asserts err is a libvirt error with code and a message
// containing msg.
func wantLibvirtErr(t testing.TB, err error, code uint32, msg string) {
	t.Helper()
	var le libvirt.Error
	if !errors.As(err, &le) {
		t.Fatalf("got %v (%T), want a libvirt error with code %d", err, err, code)
	}
	if le.Code != code || !strings.Contains(le.Message, msg) {
		t.Fatalf("got code %d %q, want code %d containing %q", le.Code, le.Message, code, msg)
	}
}

// TestGoLibvirtLifecycle drives the lifecycle of testdata/domains/demo.xml
// with go-libvirt as the client.
func TestGoLibvirtLifecycle(t *testing.T) {
	d := startDaemon(t, nil)
	l := dialGoLibvirt(t, d.RW())

	doms, _, err := l.ConnectListAllDomains(1, libvirt.ConnectListDomainsActive|libvirt.ConnectListDomainsInactive)
	if err != nil || len(doms) != 1 || doms[0].Name != "test" || doms[0].ID != 1 {
		t.Fatalf("initial domains %v, %v; want only test with id 1", doms, err)
	}
	xml, err := os.ReadFile(testdata("demo.xml"))
	if err != nil {
		t.Fatal(err)
	}
	dom, err := l.DomainDefineXML(string(xml))
	if err != nil {
		t.Fatal(err)
	}
	if dom.Name != "demo" || dom.ID != -1 {
		t.Fatalf("defined %+v, want demo with id -1", dom)
	}
	state := func(wantState libvirt.DomainState, wantReason int32) {
		t.Helper()
		s, r, err := l.DomainGetState(dom, 0)
		if err != nil || libvirt.DomainState(s) != wantState || r != wantReason {
			t.Fatalf("state %d/%d, %v; want %d/%d", s, r, err, wantState, wantReason)
		}
	}
	state(libvirt.DomainShutoff, 0)

	if err := l.DomainCreate(dom); err != nil {
		t.Fatal(err)
	}
	state(libvirt.DomainRunning, int32(libvirt.DomainRunningBooted))
	wantLibvirtErr(t, l.DomainCreate(dom), uint32(libvirt.ErrOperationInvalid), "already running")

	if err := l.DomainSuspend(dom); err != nil {
		t.Fatal(err)
	}
	state(libvirt.DomainPaused, int32(libvirt.DomainPausedUser))
	if err := l.DomainResume(dom); err != nil {
		t.Fatal(err)
	}
	st, maxMem, mem, vcpus, _, err := l.DomainGetInfo(dom)
	if err != nil || libvirt.DomainState(st) != libvirt.DomainRunning || maxMem != 524288 || mem != 262144 || vcpus != 2 {
		t.Fatalf("info %d %d %d %d, %v", st, maxMem, mem, vcpus, err)
	}

	image := filepath.Join(t.TempDir(), "demo.save")
	if err := l.DomainSave(dom, image); err != nil {
		t.Fatal(err)
	}
	state(libvirt.DomainShutoff, int32(libvirt.DomainShutoffSaved))
	if err := l.DomainRestore(image); err != nil {
		t.Fatal(err)
	}
	state(libvirt.DomainRunning, int32(libvirt.DomainRunningRestored))

	if err := l.DomainSetAutostart(dom, 1); err != nil {
		t.Fatal(err)
	}
	if a, err := l.DomainGetAutostart(dom); err != nil || a != 1 {
		t.Fatalf("autostart %d, %v", a, err)
	}
	if err := l.DomainSetAutostart(dom, 0); err != nil {
		t.Fatal(err)
	}
	desc, err := l.DomainGetXMLDesc(dom, 0)
	if err != nil || !strings.Contains(desc, "<name>demo</name>") {
		t.Fatalf("XML %q, %v", desc, err)
	}

	if err := l.DomainShutdown(dom); err != nil {
		t.Fatal(err)
	}
	state(libvirt.DomainShutoff, int32(libvirt.DomainShutoffShutdown))
	wantLibvirtErr(t, l.DomainDestroy(dom), uint32(libvirt.ErrOperationInvalid), "domain is not running")
	if err := l.DomainUndefineFlags(dom, 0); err != nil {
		t.Fatal(err)
	}
	_, err = l.DomainLookupByName("demo")
	wantLibvirtErr(t, err, uint32(libvirt.ErrNoDomain), "Domain not found")
	if !libvirt.IsNotFound(err) {
		t.Fatalf("IsNotFound(%v) = false", err)
	}

	_, err = l.DomainDefineXML("<domain type='test'><name>x")
	wantLibvirtErr(t, err, uint32(libvirt.ErrXMLError), "XML error")

	// A procedure no driver provides is VIR_ERR_NO_SUPPORT naming the
	// API, as libvirtd answers it for libvirt's own test driver.
	_, err = l.ConnectNumOfSecrets()
	wantLibvirtErr(t, err, uint32(libvirt.ErrNoSupport), "this function is not supported by the connection driver: virConnectNumOfSecrets")

	// The read-only socket refuses changes and allows reads.
	ro := dialGoLibvirt(t, d.RO())
	test, err := ro.DomainLookupByName("test")
	if err != nil {
		t.Fatal(err)
	}
	wantLibvirtErr(t, ro.DomainSuspend(test), uint32(libvirt.ErrOperationDenied), "read only access prevents virDomainSuspend")
}

// TestGoLibvirtLifecycleEvents checks that go-libvirt's LifecycleEvents
// receives, in order, the events of changes another connection makes.
func TestGoLibvirtLifecycleEvents(t *testing.T) {
	d := startDaemon(t, nil)
	sub := dialGoLibvirt(t, d.RW())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, err := sub.LifecycleEvents(ctx)
	if err != nil {
		t.Fatal(err)
	}

	l := dialGoLibvirt(t, d.RW())
	xml, err := os.ReadFile(testdata("demo.xml"))
	if err != nil {
		t.Fatal(err)
	}
	dom, err := l.DomainDefineXML(string(xml))
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []func(libvirt.Domain) error{l.DomainCreate, l.DomainSuspend, l.DomainResume, l.DomainDestroy} {
		if err := op(dom); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.DomainUndefine(dom); err != nil {
		t.Fatal(err)
	}

	want := []struct{ event, detail int32 }{
		{int32(libvirt.DomainEventDefined), int32(libvirt.DomainEventDefinedAdded)},
		{int32(libvirt.DomainEventStarted), int32(libvirt.DomainEventStartedBooted)},
		{int32(libvirt.DomainEventSuspended), int32(libvirt.DomainEventSuspendedPaused)},
		{int32(libvirt.DomainEventResumed), int32(libvirt.DomainEventResumedUnpaused)},
		{int32(libvirt.DomainEventStopped), int32(libvirt.DomainEventStoppedDestroyed)},
		{int32(libvirt.DomainEventUndefined), int32(libvirt.DomainEventUndefinedRemoved)},
	}
	for i, w := range want {
		select {
		case ev := <-events:
			if ev.Dom.Name != "demo" || ev.Event != w.event || ev.Detail != w.detail {
				t.Fatalf("event %d: %s %d/%d, want demo %d/%d", i, ev.Dom.Name, ev.Event, ev.Detail, w.event, w.detail)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("event %d (%d/%d) did not arrive", i, w.event, w.detail)
		}
	}
}
