package qemu

import (
	"testing"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
)

// TestHasRunningGuests: a defined domain does not keep the daemon up, a
// domain whose qemu runs does, until it is gone.
func TestHasRunningGuests(t *testing.T) {
	var _ drivers.GuestRunner = (*Driver)(nil)
	d := New(Config{}, nil)
	if d.HasRunningGuests() {
		t.Fatal("no domains, yet running guests")
	}
	def, err := domxml.Parse(`<domain type='qemu'><name>idle</name><memory>65536</memory><os><type>hvm</type></os></domain>`)
	if err != nil {
		t.Fatal(err)
	}
	dom := newDomain(def)
	d.domains.Add(dom)
	if d.HasRunningGuests() {
		t.Fatal("an inactive domain counts as running")
	}
	dom.mu.Lock()
	dom.proc = &instance{pid: 1}
	dom.mu.Unlock()
	if !d.HasRunningGuests() {
		t.Fatal("a domain whose qemu runs does not count")
	}
	dom.mu.Lock()
	dom.proc = nil
	dom.mu.Unlock()
	if d.HasRunningGuests() {
		t.Fatal("a stopped domain still counts")
	}
}
