package daemon_test

import (
	"bytes"
	"net"
	"testing"

	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/rpc"
	"github.com/govirt/govirtd/vir"
)

// TestCloseRacingRegistrations: registrations a client pipelines around
// its CONNECT_CLOSE never outlive the connection (they once did, on the
// read-only socket too, each pinning a session and its queue).
func TestCloseRacingRegistrations(t *testing.T) {
	d := startDaemon(t, nil)
	var batch bytes.Buffer
	frame := func(serial uint32, proc protocol.Procedure, args protocol.Encodable) {
		f, err := rpc.EncodeFrame(protocol.Header{Program: protocol.RemoteProgram, Version: 1,
			Procedure: int32(proc), Type: protocol.Call, Serial: serial}, args)
		if err != nil {
			t.Fatal(err)
		}
		batch.Write(f)
	}
	frame(1, protocol.ProcConnectOpen, &protocol.ConnectOpenArgs{Name: ptr("test:///default")})
	for i, proc := range []protocol.Procedure{
		protocol.ProcConnectDomainEventCallbackRegisterAny, protocol.ProcConnectDomainEventCallbackRegisterAny,
		protocol.ProcConnectClose,
		protocol.ProcConnectDomainEventCallbackRegisterAny, protocol.ProcConnectDomainEventCallbackRegisterAny,
	} {
		var args protocol.Encodable
		if proc != protocol.ProcConnectClose {
			args = &protocol.ConnectDomainEventCallbackRegisterAnyArgs{EventID: int32(i)}
		}
		frame(uint32(i+2), proc, args)
	}
	for _, sock := range []string{d.RW(), d.RO()} {
		for range 200 {
			nc, err := net.Dial("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := nc.Write(batch.Bytes()); err != nil {
				t.Fatal(err)
			}
			// Read until the daemon closes the socket after CONNECT_CLOSE.
			for {
				if _, _, err := rpc.ReadFrame(nc); err != nil {
					break
				}
			}
			nc.Close()
		}
	}
	waitFor(t, "every client to go", func() bool { return d.Server().Stats().Clients == 0 })
	if n := d.Driver.Callbacks(); n != 0 {
		t.Fatalf("%d event callbacks outlived their connections", n)
	}
}

// TestFeaturesBeforeOpen: keepalive may be negotiated before CONNECT_OPEN;
// every other feature belongs to an open connection, as in libvirtd.
func TestFeaturesBeforeOpen(t *testing.T) {
	d := startDaemon(t, nil)
	nc, err := net.Dial("unix", d.RW())
	if err != nil {
		t.Fatal(err)
	}
	c := rpc.NewClient(nc, rpc.ClientOptions{})
	defer c.Close()
	w := &wireClient{t: t, c: c}
	var ret protocol.ConnectSupportsFeatureRet
	w.call(protocol.ProcConnectSupportsFeature, &protocol.ConnectSupportsFeatureArgs{Feature: int32(protocol.DrvFeatureProgramKeepalive)}, &ret)
	if ret.Supported != 1 {
		t.Fatalf("keepalive before open: %d", ret.Supported)
	}
	err = w.try(protocol.ProcConnectSupportsFeature, &protocol.ConnectSupportsFeatureArgs{Feature: int32(protocol.DrvFeatureRemoteEventCallback)}, &ret)
	wantCode(t, err, vir.ErrInternalError, "internal error: hypervisor connection not open")
	w.call(protocol.ProcConnectOpen, &protocol.ConnectOpenArgs{Name: ptr("test:///default")}, nil)
	for feature, want := range map[int32]int32{int32(protocol.DrvFeatureRemoteEventCallback): 1, int32(protocol.DrvFeatureRemoteCloseCallback): 1, int32(protocol.DrvFeatureFdPassing): 1, 9999: 0} {
		w.call(protocol.ProcConnectSupportsFeature, &protocol.ConnectSupportsFeatureArgs{Feature: feature}, &ret)
		if ret.Supported != want {
			t.Errorf("feature %d: %d, want %d", feature, ret.Supported, want)
		}
	}
	var uri protocol.ConnectGetURIRet
	w.call(protocol.ProcConnectGetURI, nil, &uri)
	if uri.URI != "test:///default" {
		t.Errorf("GET_URI %q", uri.URI)
	}
}
