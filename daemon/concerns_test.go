package daemon_test

import (
	"testing"

	libvirt "github.com/digitalocean/go-libvirt"
)

// TestConcernRouting checks that test:///default is a connection whose
// network and storage calls reach the test driver's network and storage
// concerns, with go-libvirt and real virsh as clients, and that the old
// list calls derived from them agree.
func TestConcernRouting(t *testing.T) {
	d := startDaemon(t, nil)
	l := dialGoLibvirt(t, d.RW())

	nets, n, err := l.ConnectListAllNetworks(1, 0)
	if err != nil || n != 1 || len(nets) != 1 || nets[0].Name != "default" {
		t.Fatalf("ConnectListAllNetworks: %v (%d), %v; want the test driver's network default", nets, n, err)
	}
	if nets[0].UUID != (libvirt.UUID{0xdd, 0x8f, 0xe8, 0x84, 0x6c, 0x02, 0x60, 0x1e, 0x75, 0x51, 0xcc, 0xa9, 0x7d, 0xf1, 0xc5, 0xdf}) {
		t.Errorf("network default has uuid %x, want libvirt's test driver's dd8fe884-…", nets[0].UUID)
	}
	if nets, _, err := l.ConnectListAllNetworks(1, libvirt.ConnectListNetworksInactive); err != nil || len(nets) != 0 {
		t.Errorf("inactive networks %v, %v; want none", nets, err)
	}
	if names, err := l.ConnectListNetworks(10); err != nil || len(names) != 1 || names[0] != "default" {
		t.Errorf("ConnectListNetworks: %v, %v; want [default]", names, err)
	}
	pools, n, err := l.ConnectListAllStoragePools(1, 0)
	if err != nil || n != 1 || len(pools) != 1 || pools[0].Name != "default-pool" {
		t.Fatalf("ConnectListAllStoragePools: %v (%d), %v; want the test driver's pool default-pool", pools, n, err)
	}
	if pools, _, err := l.ConnectListAllStoragePools(1, libvirt.ConnectListStoragePoolsAutostart); err != nil || len(pools) != 0 {
		t.Errorf("autostarted pools %v, %v; want none", pools, err)
	}
	// A concern whose driver lacks the call is NO_SUPPORT in the API's
	// error domain, never a crash; the connection serves on.
	_, _, err = l.ConnectListAllNwfilters(1, 0)
	wantLibvirtErr(t, err, uint32(libvirt.ErrNoSupport), "this function is not supported by the connection driver: virConnectListAllNWFilters")
	if _, _, err := l.ConnectListAllDomains(1, 0); err != nil {
		t.Fatalf("the connection stopped serving after NO_SUPPORT: %v", err)
	}

	v := func(args ...string) virshResult { return runVirsh(t, d.URI(), args...) }
	// --name prints what the list call returned, nothing of the calls
	// about each network (the test driver's breadth).
	v("net-list", "--all", "--name").lines(t, "default")
	v("pool-list", "--all", "--name").ok(t, "default-pool")
}
