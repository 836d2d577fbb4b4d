package domxml

import (
	"strings"
	"testing"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/vir"
)

func metaDef(t *testing.T, inner string) *Def {
	t.Helper()
	d, err := Parse(`<domain type='qemu'><name>m</name><memory>65536</memory>` + inner + `</domain>`)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func strp(s string) *string { return &s }

func elementType() int32 { return int32(vir.DomainMetadataElement) }

// TestMetadataElement: an element set under a prefix is stored with
// the prefix on every element and the namespace declared on the root,
// written as libvirt writes it (indented where an element holds only
// elements, text left as it is, entities escaped), and comes back
// without the prefix; setting the same namespace again replaces it;
// other namespaces stay; an empty value removes it.
func TestMetadataElement(t *testing.T) {
	d := metaDef(t, `<metadata><app1:foo xmlns:app1="http://app1/">bar</app1:foo></metadata>`)
	m, err := CheckMetadata(elementType(), strp(`<thing a="1" b='x&amp;"y'>  <x/> <y>t &lt; u</y><z><w/></z></thing>`), strp("app2"), strp("http://app2/"), vir.FromQEMU)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SetMetadata(m); err != nil {
		t.Fatal(err)
	}
	wantStored := `
    <app1:foo xmlns:app1="http://app1/">bar</app1:foo>
    <app2:thing xmlns:app2="http://app2/" a="1" b="x&amp;&quot;y">
      <app2:x/>
      <app2:y>t &lt; u</app2:y>
      <app2:z>
        <app2:w/>
      </app2:z>
    </app2:thing>
  `
	if got := d.XML.Metadata.XML; got != wantStored {
		t.Errorf("stored:\n%q\nwant:\n%q", got, wantStored)
	}
	got, err := d.GetMetadata(elementType(), strp("http://app2/"), vir.FromQEMU)
	if err != nil {
		t.Fatal(err)
	}
	want := "<thing a=\"1\" b=\"x&amp;&quot;y\">\n  <x/>\n  <y>t &lt; u</y>\n  <z>\n    <w/>\n  </z>\n</thing>"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if got, _ := d.GetMetadata(elementType(), strp("http://app1/"), vir.FromQEMU); got != "<foo>bar</foo>" {
		t.Errorf("app1: %q", got)
	}

	m, _ = CheckMetadata(elementType(), strp("<v>2</v>"), strp("n"), strp("http://app2/"), vir.FromQEMU)
	d.SetMetadata(m)
	if got, _ := d.GetMetadata(elementType(), strp("http://app2/"), vir.FromQEMU); got != "<v>2</v>" {
		t.Errorf("replaced: %q", got)
	}
	for _, uri := range []string{"http://app2/", "http://app1/"} {
		m, _ = CheckMetadata(elementType(), nil, nil, strp(uri), vir.FromQEMU)
		d.SetMetadata(m)
		if _, err := d.GetMetadata(elementType(), strp(uri), vir.FromQEMU); drivers.CodeOf(err) != vir.ErrNoDomainMetadata {
			t.Errorf("after removing %s: %v", uri, err)
		}
	}
	if d.XML.Metadata != nil {
		t.Errorf("<metadata> left after removing every element: %q", d.XML.Metadata.XML)
	}
}

// TestMetadataRefused: what virDomainSetMetadata refuses.
func TestMetadataRefused(t *testing.T) {
	for _, c := range []struct {
		typ             int32
		value, key, uri *string
		code            vir.ErrorNumber
		words           string
	}{
		{int32(vir.DomainMetadataTitle), strp("a\nb"), nil, nil, vir.ErrInvalidArg, "newlines"},
		{elementType(), strp("<a/>"), strp("k"), nil, vir.ErrInvalidArg, "namespace URI"},
		{elementType(), strp("<a/>"), nil, strp("u"), vir.ErrInvalidArg, "prefix"},
		{elementType(), strp("<a/>"), strp("1k"), strp("u"), vir.ErrInvalidArg, "prefix"},
		{elementType(), strp("<a/><b/>"), strp("k"), strp("u"), vir.ErrXMLError, "more than one"},
		{elementType(), strp("<a>"), strp("k"), strp("u"), vir.ErrXMLError, "well-formed"},
		{elementType(), strp("text"), strp("k"), strp("u"), vir.ErrXMLError, "text outside"},
		{7, strp("x"), nil, nil, vir.ErrInvalidArg, "unknown metadata type"},
	} {
		_, err := CheckMetadata(c.typ, c.value, c.key, c.uri, vir.FromQEMU)
		if drivers.CodeOf(err) != c.code || err == nil || !strings.Contains(err.Error(), c.words) {
			t.Errorf("CheckMetadata(%d, %v): %v; want code %v with %q", c.typ, c.value, err, c.code, c.words)
		}
	}
}

// FuzzMetadata: whatever element CheckMetadata accepts is stored so
// that the definition still formats and parses, and comes back as an
// element that, set again, is stored the same way.
func FuzzMetadata(f *testing.F) {
	for _, s := range []string{"<a/>", `<a x="1"><b>t</b><c/></a>`, "<a>&amp;&lt;</a>", `<p:a xmlns:p="u"><p:b/></p:a>`, `<a xmlns="d"> <b/> </a>`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		m, err := CheckMetadata(elementType(), &value, strp("k"), strp("http://u/"), vir.FromQEMU)
		if err != nil || m.Value == "" { // refused, or a removal
			return
		}
		d := &Def{XML: metaDef(t, "").XML}
		if err := d.SetMetadata(m); err != nil {
			t.Fatal(err)
		}
		stored := d.XML.Metadata.XML
		doc, err := d.Format(-1)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse(doc)
		if err != nil {
			t.Fatalf("%q stored as %q does not parse back: %v", value, stored, err)
		}
		got, err := back.GetMetadata(elementType(), strp("http://u/"), vir.FromQEMU)
		if err != nil {
			t.Fatalf("%q stored as %q: %v", value, stored, err)
		}
		m2, err := CheckMetadata(elementType(), &got, strp("k"), strp("http://u/"), vir.FromQEMU)
		if err != nil {
			t.Fatalf("%q came back as %q, refused: %v", value, got, err)
		}
		d2 := &Def{XML: metaDef(t, "").XML}
		d2.SetMetadata(m2)
		if d2.XML.Metadata.XML != stored {
			t.Fatalf("%q: stored %q, then %q", value, stored, d2.XML.Metadata.XML)
		}
	})
}
