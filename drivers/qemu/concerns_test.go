package qemu_test

import (
	"strings"
	"testing"
)

// TestSharedConcerns: a qemu:/// connection's networks are the network
// driver's (drivers/network) and its pools the storage driver's
// (drivers/storage), beside the QEMU driver's domains. With
// network_define_default = 0, as the test daemons outside a network
// namespace run, a first start defines no network.
func TestSharedConcerns(t *testing.T) {
	d := newTestDaemon(t)
	d.start()
	out := d.mustVirsh("net-list", "--all")
	if !strings.Contains(out, "Name") || strings.Contains(out, "default") {
		t.Fatalf("virsh net-list --all through the network driver, without the default network:\n%s", out)
	}
	out, err := d.virsh("pool-list", "--all")
	if err != nil || !strings.Contains(out, "Name") {
		t.Fatalf("virsh pool-list through the storage driver: %v\n%s", err, out)
	}
	d.mustVirsh("list", "--all")
	d.mustVirsh("uri")
}
