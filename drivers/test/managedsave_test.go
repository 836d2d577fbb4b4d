package test

import (
	"context"
	"testing"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/vir"
)

// TestManagedSave follows a domain through managed save: stopped with
// reason saved and its event, listed as saved, protected from a plain
// undefine, cleared by a start (which boots it afresh, as libvirt's test
// driver does) or by managed-save-remove, and refused for a transient
// domain.
func TestManagedSave(t *testing.T) {
	d := New()
	c, events := open(t, d)
	ctx := context.Background()
	dom := must[drivers.Domain](t)(c.DomainDefineXML(ctx, demoXML, 0))
	must[drivers.Domain](t)(c.DomainCreate(ctx, dom, 0))
	events()

	if err := c.DomainManagedSave(ctx, dom, 0); err != nil {
		t.Fatal(err)
	}
	expect(t, events, "demo Stopped Saved id=-1")
	state, reason := must2(t)(c.DomainGetState(ctx, dom, 0))
	if state != vir.DomainShutoff || reason != int32(vir.DomainShutoffSaved) {
		t.Errorf("state %d reason %d, want shut off (saved)", state, reason)
	}
	if !must[bool](t)(c.DomainHasManagedSaveImage(ctx, dom, 0)) {
		t.Error("no managed save image after managed save")
	}
	saved := must[[]drivers.Domain](t)(c.ConnectListAllDomains(ctx, vir.ConnectListDomainsManagedsave))
	if len(saved) != 1 || saved[0].Name != "demo" {
		t.Errorf("listed with a managed save: %v, want demo", saved)
	}
	wantCode(t, c.DomainManagedSave(ctx, dom, 0), vir.ErrOperationInvalid) // not running
	wantCode(t, c.DomainUndefine(ctx, dom, 0), vir.ErrOperationInvalid)

	must[drivers.Domain](t)(c.DomainCreate(ctx, dom, 0))
	expect(t, events, "demo Started Booted id=3")
	if must[bool](t)(c.DomainHasManagedSaveImage(ctx, dom, 0)) {
		t.Error("the managed save image survived a start")
	}
	if err := c.DomainManagedSave(ctx, dom, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.DomainManagedSaveRemove(ctx, dom, 0); err != nil {
		t.Fatal(err)
	}
	if must[bool](t)(c.DomainHasManagedSaveImage(ctx, dom, 0)) {
		t.Error("the managed save image survived managed-save-remove")
	}
	must[drivers.Domain](t)(c.DomainCreate(ctx, dom, 0))
	if err := c.DomainManagedSave(ctx, dom, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.DomainUndefine(ctx, dom, uint32(vir.DomainUndefineManagedSave)); err != nil {
		t.Fatalf("undefine with --managed-save: %v", err)
	}
	// A domain defined again under the same uuid starts with no image.
	dom = must[drivers.Domain](t)(c.DomainDefineXML(ctx, demoXML, 0))
	if must[bool](t)(c.DomainHasManagedSaveImage(ctx, dom, 0)) {
		t.Error("a redefined domain inherited the old managed save image")
	}

	tr := must[drivers.Domain](t)(c.DomainCreateXML(ctx, `<domain type='test'><name>tr</name><memory>1024</memory></domain>`, 0))
	wantCode(t, c.DomainManagedSave(ctx, tr, 0), vir.ErrOperationInvalid)
	wantCode(t, c.DomainManagedSave(ctx, tr, 1<<5), vir.ErrInvalidArg)
}

func must2(t *testing.T) func(vir.DomainState, int32, error) (vir.DomainState, int32) {
	return func(s vir.DomainState, r int32, err error) (vir.DomainState, int32) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return s, r
	}
}
