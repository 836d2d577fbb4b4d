package domxml

import (
	"errors"
	"testing"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/vir"
)

// FuzzParse parses arbitrary domain XML. Parse must never panic and
// must refuse only with a *drivers.Error VIR_ERR_XML_ERROR in the domain
// error domain. What it accepts has a valid name, a uuid that matches
// its text, a memory size; it formats, the formatted XML parses back to
// the same name, uuid and sizes, formats again to the same bytes, and
// Copy (which panics when re-marshalling fails) copies it.
//
// Seeds: testdata/fuzz/FuzzParse, the definitions of testdata/domains
// and testdata/qemuxml2argv.
//
//	go test ./drivers/domxml -run '^$' -fuzz '^FuzzParse$' -fuzztime 30s
func FuzzParse(f *testing.F) {
	f.Add(`<domain type='test'><name>a</name><memory>1</memory></domain>`)
	f.Add(`<domain><name>a,b</name><uuid>00000000-0000-0000-0000-000000000000</uuid><memory unit='GiB'>1</memory><currentMemory unit='bytes'>1</currentMemory></domain>`)
	f.Fuzz(func(t *testing.T, doc string) {
		def, err := Parse(doc)
		if err != nil {
			var e *drivers.Error
			if !errors.As(err, &e) || e.Code != vir.ErrXMLError || e.Domain != vir.FromDomain {
				t.Fatalf("Parse error %v (%T) is not VIR_ERR_XML_ERROR from the domain", err, err)
			}
			return
		}
		if def.Name() == "" || !validName.MatchString(def.Name()) {
			t.Fatalf("accepted name %q", def.Name())
		}
		if def.XML.UUID != def.UUID.String() {
			t.Fatalf("uuid text %q, parsed %s", def.XML.UUID, def.UUID)
		}
		if def.MaxMemKiB() == 0 {
			t.Fatal("accepted a definition with no memory")
		}
		out, err := def.Format(-1)
		if err != nil {
			return // a value libvirtxml reads but cannot write back: refused at format, not a crash
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("formatted definition does not parse: %v\n%s", err, out)
		}
		if again.Name() != def.Name() || again.UUID != def.UUID || again.MaxMemKiB() != def.MaxMemKiB() ||
			again.CurMemKiB() != def.CurMemKiB() || again.VCPUs() != def.VCPUs() {
			t.Fatalf("round trip changed the definition:\n%s", out)
		}
		out2, err := again.Format(-1)
		if err != nil || out2 != out {
			t.Fatalf("formatting is not stable (%v):\n%s\nthen:\n%s", err, out, out2)
		}
		if c := def.Copy(); c.Name() != def.Name() || c.UUID != def.UUID {
			t.Fatalf("Copy changed name or uuid")
		}
	})
}
