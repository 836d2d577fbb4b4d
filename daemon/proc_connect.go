package daemon

import (
	"context"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// LibVersion is the libvirt version govirtd reports
// (virConnectGetLibVersion): the protocol release it implements, 9.0.0.
const LibVersion = 9_000_000

func authList(ctx context.Context, r *request) (*protocol.AuthListRet, error) {
	return &protocol.AuthListRet{Types: []protocol.AuthType{protocol.RemoteAuthNone}}, nil
}

// supportsFeature answers the transport features the daemon implements.
// Keepalive is asked before CONNECT_OPEN and starts the pings.
func supportsFeature(ctx context.Context, r *request, a *protocol.ConnectSupportsFeatureArgs) (*protocol.ConnectSupportsFeatureRet, error) {
	if protocol.DrvFeature(a.Feature) == protocol.DrvFeatureProgramKeepalive {
		r.s.peer.EnableKeepalive()
		return &protocol.ConnectSupportsFeatureRet{Supported: 1}, nil
	}
	// Every other feature is a property of the open connection.
	if r.conns == nil {
		return nil, errNotOpen()
	}
	switch protocol.DrvFeature(a.Feature) {
	case protocol.DrvFeatureRemoteEventCallback, protocol.DrvFeatureRemoteCloseCallback:
		return &protocol.ConnectSupportsFeatureRet{Supported: 1}, nil
	case protocol.DrvFeatureFdPassing:
		// libvirtd says yes on every transport; files can only go over
		// a unix socket, so a TLS client is told no and gets libvirt's
		// own clear refusal instead of a failing call.
		if r.s.peer.CanPassFiles() {
			return &protocol.ConnectSupportsFeatureRet{Supported: 1}, nil
		}
		return &protocol.ConnectSupportsFeatureRet{Supported: 0}, nil
	}
	// The rest are the hypervisor driver's to answer (libvirt's test
	// driver says yes to NETWORK_UPDATE_HAS_CORRECT_ORDER, which decides
	// the order of virNetworkUpdate's arguments on the wire); a driver
	// that does not answer supports none.
	if c, ok := r.conn.(drivers.OpConnectSupportsFeature); ok {
		v, err := c.ConnectSupportsFeature(ctx, a.Feature)
		if err != nil {
			return nil, err
		}
		return &protocol.ConnectSupportsFeatureRet{Supported: v}, nil
	}
	return &protocol.ConnectSupportsFeatureRet{Supported: 0}, nil
}

func connectOpen(ctx context.Context, r *request, a *protocol.ConnectOpenArgs) error {
	if r.conns != nil {
		return drivers.Errorf(vir.ErrInternalError, vir.FromRPC, "connection already open")
	}
	name := ""
	if a.Name != nil {
		name = *a.Name
	}
	conns, err := r.s.d.registry.Open(ctx, name, a.Flags)
	if err != nil {
		return err
	}
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns != nil {
		// Another CONNECT_OPEN of this client won the race.
		conns.Close()
		return drivers.Errorf(vir.ErrInternalError, vir.FromRPC, "connection already open")
	}
	s.conns, s.uri = conns, conns.URI.String()
	if a.Flags&uint32(vir.ConnectRo) != 0 {
		s.readOnly = true
	}
	s.log.Debug("connection opened", "uri", s.uri, "readonly", s.readOnly)
	return nil
}

// connectClose asks the transport to close the socket once the reply is
// written, as libvirtd does. The driver connection is closed with the
// session, after every call of the client has returned: closing it here
// would race the client's other calls, and a registration made by one of
// them after the close would outlive the connection.
func connectClose(ctx context.Context, r *request) error {
	r.call.CloseAfterReply()
	return nil
}

func registerCloseCallback(ctx context.Context, r *request) error {
	r.s.mu.Lock()
	r.s.closeCB = true
	r.s.mu.Unlock()
	return nil
}

func unregisterCloseCallback(ctx context.Context, r *request) error {
	r.s.mu.Lock()
	r.s.closeCB = false
	r.s.mu.Unlock()
	return nil
}

func connectGetType(ctx context.Context, r *request) (*protocol.ConnectGetTypeRet, error) {
	c, err := need[drivers.ConnectInfo](r)
	if err != nil {
		return nil, err
	}
	t, err := c.ConnectGetType(ctx)
	return &protocol.ConnectGetTypeRet{Type: t}, err
}

func connectGetVersion(ctx context.Context, r *request) (*protocol.ConnectGetVersionRet, error) {
	c, err := need[drivers.ConnectInfo](r)
	if err != nil {
		return nil, err
	}
	v, err := c.ConnectGetVersion(ctx)
	return &protocol.ConnectGetVersionRet{HvVer: v}, err
}

func connectGetLibVersion(ctx context.Context, r *request) (*protocol.ConnectGetLibVersionRet, error) {
	return &protocol.ConnectGetLibVersionRet{LibVer: LibVersion}, nil
}

func connectGetHostname(ctx context.Context, r *request) (*protocol.ConnectGetHostnameRet, error) {
	c, err := need[drivers.ConnectInfo](r)
	if err != nil {
		return nil, err
	}
	h, err := c.ConnectGetHostname(ctx)
	return &protocol.ConnectGetHostnameRet{Hostname: h}, err
}

// connectGetURI answers the driver's canonical URI, which matters when
// the client let the daemon probe (CONNECT_OPEN with no name); a driver
// that cannot say gets the URI the client opened.
func connectGetURI(ctx context.Context, r *request) (*protocol.ConnectGetURIRet, error) {
	if c, ok := r.conn.(drivers.URIGetter); ok {
		uri, err := c.ConnectGetURI(ctx)
		return &protocol.ConnectGetURIRet{URI: uri}, err
	}
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	return &protocol.ConnectGetURIRet{URI: r.s.uri}, nil
}

func connectGetCapabilities(ctx context.Context, r *request) (*protocol.ConnectGetCapabilitiesRet, error) {
	c, err := need[drivers.ConnectInfo](r)
	if err != nil {
		return nil, err
	}
	caps, err := c.ConnectGetCapabilities(ctx)
	return &protocol.ConnectGetCapabilitiesRet{Capabilities: caps}, err
}

func nodeGetInfo(ctx context.Context, r *request) (*protocol.NodeGetInfoRet, error) {
	c, err := need[drivers.NodeInfoGetter](r)
	if err != nil {
		return nil, err
	}
	n, err := c.NodeGetInfo(ctx)
	if err != nil {
		return nil, err
	}
	ret := &protocol.NodeGetInfoRet{
		Memory: n.Memory, CPUs: n.CPUs, MHz: n.MHz, Nodes: n.Nodes,
		Sockets: n.Sockets, Cores: n.Cores, Threads: n.Threads,
	}
	for i := 0; i < len(n.Model) && i < len(ret.Model)-1; i++ {
		ret.Model[i] = int8(n.Model[i])
	}
	return ret, nil
}

func listNetworksFiltered(ctx context.Context, r *request, flags vir.ConnectListAllNetworksFlags) ([]drivers.Network, error) {
	c, err := need[drivers.NetworkLister](r)
	if err != nil {
		return nil, err
	}
	return c.ConnectListAllNetworks(ctx, flags)
}

func listAllNetworks(ctx context.Context, r *request, a *protocol.ConnectListAllNetworksArgs) (*protocol.ConnectListAllNetworksRet, error) {
	nets, err := listNetworksFiltered(ctx, r, vir.ConnectListAllNetworksFlags(a.Flags))
	if err != nil {
		return nil, err
	}
	ret := &protocol.ConnectListAllNetworksRet{Ret: uint32(len(nets))}
	if a.NeedResults != 0 {
		for _, n := range nets {
			ret.Nets = append(ret.Nets, protocol.Network{Name: n.Name, UUID: protocol.UUID(n.UUID)})
		}
	}
	return ret, nil
}

// The older network calls are derived from ConnectListAllNetworks.

func numOfNetworks(ctx context.Context, r *request) (*protocol.ConnectNumOfNetworksRet, error) {
	nets, err := listNetworksFiltered(ctx, r, vir.ConnectListNetworksActive)
	return &protocol.ConnectNumOfNetworksRet{Num: int32(len(nets))}, err
}

func numOfDefinedNetworks(ctx context.Context, r *request) (*protocol.ConnectNumOfDefinedNetworksRet, error) {
	nets, err := listNetworksFiltered(ctx, r, vir.ConnectListNetworksInactive)
	return &protocol.ConnectNumOfDefinedNetworksRet{Num: int32(len(nets))}, err
}

func networkNames(ctx context.Context, r *request, flags vir.ConnectListAllNetworksFlags, maxNames int32) ([]string, error) {
	nets, err := listNetworksFiltered(ctx, r, flags)
	if err != nil {
		return nil, err
	}
	names := []string{}
	for _, n := range nets[:min(len(nets), max(int(maxNames), 0))] {
		names = append(names, n.Name)
	}
	return names, nil
}

func listNetworks(ctx context.Context, r *request, a *protocol.ConnectListNetworksArgs) (*protocol.ConnectListNetworksRet, error) {
	names, err := networkNames(ctx, r, vir.ConnectListNetworksActive, a.Maxnames)
	return &protocol.ConnectListNetworksRet{Names: names}, err
}

func listDefinedNetworks(ctx context.Context, r *request, a *protocol.ConnectListDefinedNetworksArgs) (*protocol.ConnectListDefinedNetworksRet, error) {
	names, err := networkNames(ctx, r, vir.ConnectListNetworksInactive, a.Maxnames)
	return &protocol.ConnectListDefinedNetworksRet{Names: names}, err
}
