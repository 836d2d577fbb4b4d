package daemon_test

import "testing"

// TestObjectEventRegistrations: network, pool, node device and secret
// event registrations go to the driver of their concern and the daemon
// keeps each class's ids apart: an id libvirt 9.0 does not define and a
// callback never registered get libvirtd's errors, a class the test
// driver does not serve (secrets) gets NO_SUPPORT, and the connection
// serves on.
func TestObjectEventRegistrations(t *testing.T) {
	d := startDaemon(t, nil)
	l := dialGoLibvirt(t, d.RW())

	_, err := l.ConnectNetworkEventRegisterAny(1, nil)
	wantLibvirtErr(t, err, 1, "unsupported network event ID 1")
	_, err = l.ConnectStoragePoolEventRegisterAny(2, nil)
	wantLibvirtErr(t, err, 1, "unsupported storage pool event ID 2")
	_, err = l.ConnectSecretEventRegisterAny(0, nil)
	wantLibvirtErr(t, err, 3, "virConnectSecretEventRegisterAny")

	net, err := l.ConnectNetworkEventRegisterAny(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := l.ConnectStoragePoolEventRegisterAny(1, nil)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := l.ConnectNodeDeviceEventRegisterAny(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A pool's id is no network's, unless the numbers happen to agree.
	if pool != net {
		wantLibvirtErr(t, l.ConnectNetworkEventDeregisterAny(pool), 1, "network event callback")
	}
	for _, step := range []struct {
		name string
		f    func() error
	}{
		{"network", func() error { return l.ConnectNetworkEventDeregisterAny(net) }},
		{"storage pool", func() error { return l.ConnectStoragePoolEventDeregisterAny(pool) }},
		{"node device", func() error { return l.ConnectNodeDeviceEventDeregisterAny(dev) }},
	} {
		if err := step.f(); err != nil {
			t.Fatalf("deregistering the %s callback: %v", step.name, err)
		}
		wantLibvirtErr(t, step.f(), 1, step.name+" event callback")
	}
	if n, err := l.ConnectNumOfNetworks(); err != nil || n != 1 {
		t.Fatalf("after the registrations, ConnectNumOfNetworks = %d, %v; want 1", n, err)
	}
}
