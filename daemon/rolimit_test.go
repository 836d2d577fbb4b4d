package daemon_test

import (
	"net"
	"strings"
	"testing"

	"github.com/govirt/govirtd/daemon"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/rpc"
)

// TestReadOnlyClientsCannotFillMaxClients: clients of the world-writable
// read-only socket are refused past max_ro_clients, naming the key, and
// root still gets in on the read-write socket.
func TestReadOnlyClientsCannotFillMaxClients(t *testing.T) {
	d := startDaemon(t, func(c *daemon.Config) { c.MaxClients, c.MaxROClients = 4, 2 })
	openRaw(t, d.RO())
	openRaw(t, d.RO())
	nc, err := net.Dial("unix", d.RO())
	if err != nil {
		t.Fatal(err)
	}
	c := rpc.NewClient(nc, rpc.ClientOptions{})
	defer c.Close()
	uri := "test:///default"
	err = remoteCall(c, protocol.ProcConnectOpen, &protocol.ConnectOpenArgs{Name: &uri}, nil)
	if err == nil || !strings.Contains(err.Error(), "raise max_ro_clients") {
		t.Fatalf("a third read-only client: %v, want the max_ro_clients refusal", err)
	}
	rw := openRaw(t, d.RW())
	if err := remoteCall(rw, protocol.ProcConnectGetLibVersion, nil, &protocol.ConnectGetLibVersionRet{}); err != nil {
		t.Fatalf("the read-write socket: %v", err)
	}
}
