package domxml

import (
	"strings"
	"testing"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/vir"
)

func TestScaleKiB(t *testing.T) {
	for _, c := range []struct {
		v    uint
		unit string
		want uint64
	}{
		{512, "", 512}, {512, "KiB", 512}, {512, "k", 512}, {1000, "KB", 977},
		{512, "MiB", 524288}, {1, "M", 1024}, {1, "MB", 977}, {2, "GiB", 2097152},
		{1, "G", 1048576}, {1, "TiB", 1073741824}, {4096, "bytes", 4}, {1, "b", 1},
	} {
		got, err := ScaleKiB(c.v, c.unit)
		if err != nil || got != c.want {
			t.Errorf("ScaleKiB(%d, %q) = %d, %v; want %d", c.v, c.unit, got, err, c.want)
		}
	}
	if _, err := ScaleKiB(1, "furlongs"); err == nil {
		t.Error("an unknown unit was accepted")
	}
}

func TestParse(t *testing.T) {
	d, err := Parse(`<domain type='test'><name>a</name><memory unit='MiB'>64</memory>
		<currentMemory unit='MiB'>32</currentMemory><vcpu current='1'>4</vcpu></domain>`)
	if err != nil {
		t.Fatal(err)
	}
	if d.UUID == (drivers.UUID{}) || d.XML.UUID != d.UUID.String() {
		t.Fatalf("no uuid generated: %v %q", d.UUID, d.XML.UUID)
	}
	if d.MaxMemKiB() != 65536 || d.CurMemKiB() != 32768 || d.VCPUs() != 1 || d.OSType() != "hvm" {
		t.Fatalf("facts: %d %d %d %s", d.MaxMemKiB(), d.CurMemKiB(), d.VCPUs(), d.OSType())
	}
	live, err := d.Format(3)
	if err != nil || !strings.Contains(live, `<domain type="test" id="3">`) {
		t.Fatalf("Format(3): %v\n%s", err, live)
	}
	cp := d.Copy()
	cp.XML.Name = "b"
	if d.XML.Name != "a" {
		t.Fatal("Copy shares the definition")
	}

	for _, c := range []struct{ xml, msg string }{
		{"", "empty domain definition"},
		{"<domain><name>x</name>", "cannot parse domain definition"},
		{"<domain><memory>1</memory></domain>", "missing domain name"},
		{"<domain><name>a/b</name><memory>1</memory></domain>", "must not contain '/'"},
		{"<domain><name>x</name><uuid>nope</uuid><memory>1</memory></domain>", "<uuid>: malformed uuid"},
		{"<domain><name>x</name></domain>", "missing memory size"},
		{"<domain><name>x</name><memory unit='parsec'>1</memory></domain>", `<memory>: unknown unit "parsec"`},
	} {
		_, err := Parse(c.xml)
		if drivers.CodeOf(err) != vir.ErrXMLError || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("Parse(%q): %v, want an XML error containing %q", c.xml, err, c.msg)
		}
	}
}

// TestDescribeLeavesSecretsOut: without secure, graphics passwords and
// disk cookies are left out, and the definition itself keeps them.
func TestDescribeLeavesSecretsOut(t *testing.T) {
	d, err := Parse(`<domain type='kvm'><name>s</name><memory>1024</memory>
<devices>
  <disk type='network' device='disk'><source protocol='http' name='/img'><host name='example.org'/><cookies><cookie name='session'>c00kie</cookie></cookies></source><target dev='vda'/></disk>
  <graphics type='vnc' passwd='pw-vnc'/><graphics type='spice' passwd='pw-spice'/><graphics type='rdp' passwd='pw-rdp'/>
</devices></domain>`)
	if err != nil {
		t.Fatal(err)
	}
	public, err := d.Describe(-1, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"pw-vnc", "pw-spice", "pw-rdp", "c00kie"} {
		if strings.Contains(public, secret) {
			t.Errorf("%q in the XML without secure:\n%s", secret, public)
		}
	}
	full, err := d.Describe(-1, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"pw-vnc", "pw-spice", "pw-rdp", "c00kie"} {
		if !strings.Contains(full, secret) {
			t.Errorf("%q missing from the secure XML:\n%s", secret, full)
		}
	}
}
