package daemon_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDomainXMLKeepsSecretsFromClients: as libvirtd, a domain's graphics
// password leaves the daemon only with --security-info
// (VIR_DOMAIN_XML_SECURE), which read-only clients may not ask for:
// real virsh on the read-only socket never sees it, live or inactive.
func TestDomainXMLKeepsSecretsFromClients(t *testing.T) {
	d := startDaemon(t, nil)
	xml := strings.Replace(demoXML(t), "<devices>",
		"<devices>\n    <graphics type='vnc' port='-1' autoport='yes' passwd='s3cret-vnc'/>\n    <graphics type='spice' autoport='yes' passwd='s3cret-spice'/>", 1)
	file := filepath.Join(t.TempDir(), "demo.xml")
	if err := os.WriteFile(file, []byte(xml), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runVirsh(t, d.URI(), "define", file); r.code != 0 {
		t.Fatal(r)
	}
	if r := runVirsh(t, d.URI(), "start", "demo"); r.code != 0 {
		t.Fatal(r)
	}
	for _, c := range []struct {
		uri  string
		args []string
	}{
		{d.ROURI(), []string{"dumpxml", "demo"}},
		{d.ROURI(), []string{"dumpxml", "--inactive", "demo"}},
		{d.URI(), []string{"dumpxml", "demo"}},
		{d.URI(), []string{"dumpxml", "--inactive", "demo"}},
	} {
		r := runVirsh(t, c.uri, c.args...)
		if r.code != 0 || !strings.Contains(r.stdout, "<graphics type=\"vnc\"") && !strings.Contains(r.stdout, "<graphics type='vnc'") {
			t.Fatalf("no graphics in the XML:\n%v", r)
		}
		if strings.Contains(r.stdout, "s3cret") {
			t.Errorf("a password without --security-info:\n%v", r)
		}
	}
	r := runVirsh(t, d.URI(), "dumpxml", "--security-info", "demo")
	if r.code != 0 || !strings.Contains(r.stdout, "s3cret-vnc") || !strings.Contains(r.stdout, "s3cret-spice") {
		t.Errorf("read-write --security-info lacks the passwords:\n%v", r)
	}
	r = runVirsh(t, d.ROURI(), "dumpxml", "--security-info", "demo")
	if r.code == 0 || strings.Contains(r.stdout, "s3cret") || !strings.Contains(r.stderr, "operation forbidden: virDomainGetXMLDesc with secure flag") {
		t.Errorf("read-only --security-info was not refused:\n%v", r)
	}
}
