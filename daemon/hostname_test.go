package daemon_test

import (
	"strings"
	"testing"
)

// TestDomainGetHostname drives virDomainGetHostname with the real virsh:
// the test driver's answer for a running domain, its refusal for an
// inactive one, and the read-only socket's refusal.
func TestDomainGetHostname(t *testing.T) {
	d := startDaemon(t, nil)
	if r := runVirsh(t, d.URI(), "domhostname", "test"); r.code != 0 || r.stdout != "testhost\n\n" {
		t.Fatalf("want testhost\n%s", r)
	}
	if r := runVirsh(t, d.URI(), "domhostname", "test", "--source", "lease"); r.code == 0 {
		t.Fatalf("a source the driver does not know succeeded\n%s", r)
	}
	if r := runVirsh(t, d.ROURI(), "domhostname", "test"); r.code == 0 ||
		!strings.Contains(r.stderr, "read only access prevents virDomainGetHostname") {
		t.Fatalf("want the read-only refusal\n%s", r)
	}
	runVirsh(t, d.URI(), "destroy", "test")
	if r := runVirsh(t, d.URI(), "domhostname", "test"); r.code == 0 || !strings.Contains(r.stderr, "domain is not running") {
		t.Fatalf("want domain is not running\n%s", r)
	}
}
