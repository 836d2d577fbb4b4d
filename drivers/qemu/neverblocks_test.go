package qemu

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/internal/testutil"
	"github.com/govirt/govirtd/vir"
)

// hang bounds a wait against hangs; it is not a timing assertion.
const hang = 90 * time.Second

// TestReadsNeverWaitForDefinitionWrites keeps the QEMU driver's promise
// that state reads never block (they are declared Immediate): while a
// definition write is stalled (the disk, an fsync), lookups, lists,
// state and XML reads of the same domain answer, and a new domain whose
// file is being written is not yet seen. The stall is a seam, not a
// delay: the write waits until the test lets it go.
func TestReadsNeverWaitForDefinitionWrites(t *testing.T) {
	d, c := testDriver(t)
	ctx := context.Background()
	ev := recordEvents(t, c)
	xml := readTestdata(t, "demo.xml")
	dom, err := c.DomainDefineXML(ctx, xml, 0)
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan string, 1), make(chan struct{})
	d.writeDef = func(path string, data []byte, perm os.FileMode) error {
		entered <- path
		<-release
		return writeFileAtomic(path, data, perm)
	}
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	wait := func(what string, done <-chan error) {
		t.Helper()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		case <-time.After(hang):
			t.Fatalf("%s did not return while a definition write was stalled: it waits for the disk", what)
		}
	}
	defined := make(chan error, 2)
	go func() {
		_, err := c.DomainDefineXML(ctx, strings.Replace(xml, "<vcpu>1</vcpu>", "<vcpu>2</vcpu>", 1), 0)
		defined <- err
	}()
	select {
	case <-entered:
	case <-time.After(hang):
		t.Fatal("the redefinition never wrote its file")
	}
	reads := make(chan error, 1)
	go func() {
		reads <- func() error {
			if _, err := c.DomainLookupByName(ctx, "demo"); err != nil {
				return err
			}
			doms, err := c.ConnectListAllDomains(ctx, 0)
			if err != nil || len(doms) != 1 {
				return err
			}
			state, _, err := c.DomainGetState(ctx, dom, 0)
			if err != nil || state != vir.DomainShutoff {
				return err
			}
			if _, err := c.DomainGetXMLDesc(ctx, dom, 0); err != nil {
				return err
			}
			_, err = c.DomainGetAutostart(ctx, dom)
			return err
		}()
	}()
	wait("lookup, list, state and XML of the domain being redefined", reads)

	// A second, new domain is hidden while its file is written.
	released = true
	close(release)
	wait("the redefinition", defined)
	ev.waitFor(t, "demo Defined Added", "demo Defined Updated")
	release2 := make(chan struct{})
	d.writeDef = func(path string, data []byte, perm os.FileMode) error {
		entered <- path
		<-release2
		return writeFileAtomic(path, data, perm)
	}
	other := strings.NewReplacer("<name>demo</name>", "<name>other</name>",
		"3f0e5a2c-9b1d-4c6e-8a7f-1d2e3c4b5a69", "3f0e5a2c-9b1d-4c6e-8a7f-1d2e3c4b5a70").Replace(xml)
	if !strings.Contains(other, "<name>other</name>") || !strings.Contains(other, "5a70") {
		t.Fatal("testdata/qemu/domains/demo.xml changed: no name demo or uuid 3f0e5a2c-…5a69 to replace")
	}
	go func() {
		_, err := c.DomainDefineXML(ctx, other, 0)
		defined <- err
	}()
	select {
	case <-entered:
	case <-time.After(hang):
		close(release2)
		t.Fatal("the new definition never wrote its file")
	}
	go func() {
		reads <- func() error {
			doms, err := c.ConnectListAllDomains(ctx, 0)
			if err != nil {
				return err
			}
			for _, x := range doms {
				if x.Name == "other" {
					return drivers.Errorf(vir.ErrInternalError, vir.FromQEMU, "domain other is listed before its definition is written")
				}
			}
			_, err = c.DomainLookupByName(ctx, "other")
			if drivers.CodeOf(err) != vir.ErrNoDomain {
				return drivers.Errorf(vir.ErrInternalError, vir.FromQEMU, "lookup of other while its file is written: %v, want no domain", err)
			}
			return nil
		}()
	}()
	wait("a list while a new domain's file is written", reads)
	close(release2)
	wait("the new definition", defined)
	if _, err := c.DomainLookupByName(ctx, "other"); err != nil {
		t.Fatalf("other once defined: %v", err)
	}
}

// TestReadsNeverWaitForStatusWrites: while the status file write that
// follows a QMP event (the STOP of a suspend) is stalled, the domain's
// state, info, XML and the list answer, and already show the change; the
// file gets the new state once the write goes on. The stall is a seam.
func TestReadsNeverWaitForStatusWrites(t *testing.T) {
	d, c := testDriver(t)
	ctx := context.Background()
	ev := recordEvents(t, c)
	dom, _ := startDemo(t, c, ev)
	entered, release := make(chan string, 4), make(chan struct{})
	d.writeStatusData = func(path string, data []byte, perm os.FileMode) error {
		entered <- path
		<-release
		return writeFileAtomic(path, data, perm)
	}
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	if err := c.DomainSuspend(ctx, dom); err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered:
	case <-time.After(hang):
		t.Fatal("the suspend never wrote the status file")
	}
	reads := make(chan error, 1)
	go func() {
		reads <- func() error {
			state, _, err := c.DomainGetState(ctx, dom, 0)
			if err != nil {
				return err
			}
			if state != vir.DomainPaused {
				return drivers.Errorf(vir.ErrInternalError, vir.FromQEMU, "state %v while the status write is stalled, want paused", state)
			}
			if _, err := c.DomainGetInfo(ctx, dom); err != nil {
				return err
			}
			if _, err := c.DomainGetXMLDesc(ctx, dom, 0); err != nil {
				return err
			}
			_, err = c.ConnectListAllDomains(ctx, 0)
			return err
		}()
	}()
	select {
	case err := <-reads:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(hang):
		t.Fatal("state, info, XML or list did not answer while a status write was stalled: they wait for the disk")
	}
	released = true
	close(release)
	testutil.WaitFor(t, "the status file to say paused", func() bool {
		b, err := os.ReadFile(d.cfg.statusPath("demo"))
		return err == nil && strings.Contains(string(b), fmt.Sprintf(`"state": %d,`, vir.DomainPaused))
	})
}
