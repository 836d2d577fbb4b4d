package test

import (
	"context"
	"strings"
	"testing"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

func strp(s string) *string { return &s }

// TestMetadata stores elements of two namespaces, reads one back as it
// was set, replaces and removes it, and checks the event each change
// raises and the errors libvirt gives.
func TestMetadata(t *testing.T) {
	d := New()
	c, _ := open(t, d)
	ctx := context.Background()
	dom := must[drivers.Domain](t)(c.DomainLookupByName(ctx, "test"))
	var events []string
	if _, err := c.ConnectDomainEventRegisterAny(ctx, nil, vir.DomainEventIDMetadataChange, func(_ int, ev drivers.DomainEvent) {
		m := ev.Wire().(*protocol.DomainEventCallbackMetadataChangeMsg)
		u := ""
		if m.Nsuri != nil {
			u = *m.Nsuri
		}
		events = append(events, ev.EventDomain().Name+" "+vir.DomainMetadataType(m.Type).String()+" "+u)
	}); err != nil {
		t.Fatal(err)
	}
	el := int32(vir.DomainMetadataElement)
	const ns, other = "http://example.org/ns", "http://example.org/other"
	_, err := c.DomainGetMetadata(ctx, dom, el, strp(ns), 0)
	wantCode(t, err, vir.ErrNoDomainMetadata)

	if err := c.DomainSetMetadata(ctx, dom, el, strp(`<item a="x"><sub/>2</item>`), strp("ex"), strp(ns), 0); err != nil {
		t.Fatal(err)
	}
	if err := c.DomainSetMetadata(ctx, dom, el, strp(`<o/>`), strp("ot"), strp(other), 0); err != nil {
		t.Fatal(err)
	}
	got := must[string](t)(c.DomainGetMetadata(ctx, dom, el, strp(ns), 0))
	if got != `<item a="x"><sub></sub>2</item>` {
		t.Errorf("got %q, want the element as set, without prefix", got)
	}
	xml := must[string](t)(c.DomainGetXMLDesc(ctx, dom, 0))
	if !strings.Contains(xml, `<ex:item xmlns:ex="http://example.org/ns" a="x"><ex:sub></ex:sub>2</ex:item>`) || !strings.Contains(xml, `<ot:o xmlns:ot="http://example.org/other">`) {
		t.Errorf("domain XML lacks the prefixed elements:\n%s", xml)
	}
	if err := c.DomainSetMetadata(ctx, dom, el, strp(`<item>3</item>`), strp("ex"), strp(ns), 0); err != nil {
		t.Fatal(err)
	}
	if got := must[string](t)(c.DomainGetMetadata(ctx, dom, el, strp(ns), 0)); got != `<item>3</item>` {
		t.Errorf("after replacing, got %q", got)
	}
	if err := c.DomainSetMetadata(ctx, dom, el, nil, nil, strp(ns), 0); err != nil {
		t.Fatal(err)
	}
	_, err = c.DomainGetMetadata(ctx, dom, el, strp(ns), 0)
	wantCode(t, err, vir.ErrNoDomainMetadata)
	if got := must[string](t)(c.DomainGetMetadata(ctx, dom, el, strp(other), 0)); got != `<o></o>` {
		t.Errorf("the other namespace's element is %q after removing the first", got)
	}

	wantCode(t, c.DomainSetMetadata(ctx, dom, el, strp(`<a/><b/>`), strp("ex"), strp(ns), 0), vir.ErrXMLError)
	wantCode(t, c.DomainSetMetadata(ctx, dom, el, strp(`<a>`), strp("ex"), strp(ns), 0), vir.ErrXMLError)
	wantCode(t, c.DomainSetMetadata(ctx, dom, int32(vir.DomainMetadataTitle), strp("a\nb"), nil, nil, 0), vir.ErrInvalidArg)

	title := int32(vir.DomainMetadataTitle)
	if err := c.DomainSetMetadata(ctx, dom, title, strp("T"), nil, nil, affectConfig); err != nil {
		t.Fatal(err)
	}
	if got := must[string](t)(c.DomainGetMetadata(ctx, dom, title, nil, affectConfig)); got != "T" {
		t.Errorf("config title %q", got)
	}
	_, err = c.DomainGetMetadata(ctx, dom, title, nil, affectLive)
	wantCode(t, err, vir.ErrNoDomainMetadata)

	E, T := "test VIR_DOMAIN_METADATA_ELEMENT ", "test VIR_DOMAIN_METADATA_TITLE "
	want := E + ns + "; " + E + other + "; " + E + ns + "; " + E + ns + "; " + T
	if strings.Join(events, "; ") != want {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(events, "; "), want)
	}
}
