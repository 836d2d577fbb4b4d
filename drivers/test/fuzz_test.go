package test

import (
	"context"
	"errors"
	"testing"

	"github.com/govirt/govirtd/drivers"
)

// FuzzDefineXML sends arbitrary XML through the test driver's define
// path, as DOMAIN_DEFINE_XML does. It must never panic and must refuse
// only with a *drivers.Error. A definition it accepts can be looked up
// by name with the same uuid; its XML, as the driver formats it, defines
// again (an update of the same domain); it starts, or is refused with a
// *drivers.Error, and a started one destroys; and it undefines, leaving
// the driver with its one default domain.
//
// Seeds: testdata/fuzz/FuzzDefineXML, the definitions of
// testdata/domains and testdata/qemuxml2argv.
//
//	go test ./drivers/test -run '^$' -fuzz '^FuzzDefineXML$' -fuzztime 30s
func FuzzDefineXML(f *testing.F) {
	f.Add(demoXML)
	f.Add(`<domain type='test'><name>test</name><memory>1</memory></domain>`) // the default domain's name, another uuid
	f.Fuzz(func(t *testing.T, xml string) {
		c, _ := open(t, New())
		ctx := context.Background()
		dom, err := c.DomainDefineXML(ctx, xml, 0)
		if err != nil {
			var e *drivers.Error
			if !errors.As(err, &e) {
				t.Fatalf("define error %v (%T) is not a *drivers.Error", err, err)
			}
			return
		}
		got, err := c.DomainLookupByName(ctx, dom.Name)
		if err != nil || got.UUID != dom.UUID {
			t.Fatalf("lookup of defined %q: %+v, %v; define returned %+v", dom.Name, got, err, dom)
		}
		out, err := c.DomainGetXMLDesc(ctx, dom, 0)
		if err != nil {
			t.Fatalf("dumpxml of defined %q: %v", dom.Name, err)
		}
		again, err := c.DomainDefineXML(ctx, out, 0)
		if err != nil || again.UUID != dom.UUID || again.Name != dom.Name {
			t.Fatalf("redefining from its own XML: %+v, %v\n%s", again, err, out)
		}
		if dom.Name == "test" {
			return // redefined the running default domain: it stays
		}
		if started, err := c.DomainCreate(ctx, dom, 0); err == nil {
			if err := c.DomainDestroy(ctx, started, 0); err != nil {
				t.Fatalf("destroy %q after it started: %v", dom.Name, err)
			}
		} else if !errors.As(err, new(*drivers.Error)) {
			t.Fatalf("start error %v (%T) is not a *drivers.Error", err, err)
		}
		if err := c.DomainUndefine(ctx, dom, 0); err != nil {
			t.Fatalf("undefine %q: %v", dom.Name, err)
		}
		if _, err := c.DomainLookupByName(ctx, dom.Name); drivers.CodeOf(err) == 0 {
			t.Fatalf("%q still found after undefine", dom.Name)
		}
	})
}
