package drivers

import (
	"context"

	"github.com/govirt/govirtd/protocol"
)

// NetworkAttachment is where a guest interface of a virtual network is
// plugged: the network's live bridge and its MTU (0: the bridge's own).
type NetworkAttachment struct {
	Bridge string
	MTU    int
}

// NetworkResolver is what a hypervisor driver asks the network driver
// when it plugs a guest's <interface type='network'> in, and when a
// client asks for a guest's addresses from the DHCP leases
// (DOMAIN_INTERFACE_ADDRESSES, source lease). The network driver
// implements it; the hypervisor driver is given one (as it is given a
// VolumeResolver) and works without networks when it has none.
type NetworkResolver interface {
	// AttachNetwork returns the bridge of the active network name; an
	// inactive or unknown network is an error naming it
	// (ErrOperationInvalid, ErrNoNetwork).
	AttachNetwork(ctx context.Context, name string) (NetworkAttachment, error)
	// NetworkLeases returns the network's current DHCP leases, only
	// those of mac when mac is not empty.
	NetworkLeases(ctx context.Context, name, mac string) ([]protocol.NetworkDhcpLease, error)
}
