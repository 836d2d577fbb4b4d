package qemu_test

import (
	"strings"
	"testing"
)

// TestNoNetworkDriver: the QEMU driver has no network table of its own
// and govirtd has no shared network driver yet, so a qemu:/// connection
// answers network calls NO_SUPPORT, as libvirtd does for a concern no
// driver serves, and goes on serving its domains and (through the
// storage driver) its pools.
func TestNoNetworkDriver(t *testing.T) {
	d := newTestDaemon(t)
	d.start()
	out, err := d.virsh("net-list", "--all")
	if err == nil {
		t.Fatalf("virsh net-list succeeded on a connection without a network driver:\n%s", out)
	}
	if !strings.Contains(out, "this function is not supported by the connection driver: virConnect") {
		t.Fatalf("virsh net-list: %v, want libvirt's NO_SUPPORT message:\n%s", err, out)
	}
	// The storage concern is the shared storage driver's
	// (drivers/storage), so pools are served beside the missing network.
	out, err = d.virsh("pool-list", "--all")
	if err != nil || !strings.Contains(out, "Name") {
		t.Fatalf("virsh pool-list through the storage driver: %v\n%s", err, out)
	}
	d.mustVirsh("list", "--all")
	d.mustVirsh("uri")
}
