package daemon_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/govirt/govirtd/internal/testutil"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/rpc"
)

// adminCall makes one admin-program call on c.
func adminCall(ctx context.Context, c *rpc.Client, proc protocol.AdminProcedure, args protocol.Encodable, ret protocol.Decodable) error {
	return c.Call(ctx, protocol.AdminProgram, protocol.AdminProtocolVersion, int32(proc), args, ret)
}

// TestAdminProgramCalls speaks the admin program with the project's own
// client, byte for byte as virt-admin does: calls before CONNECT_OPEN
// are refused, an unknown server and client are named, and 300 admin
// connections that open, list and close leave no goroutine or fd behind.
func TestAdminProgramCalls(t *testing.T) {
	d := startDaemon(t, nil)
	ctx := context.Background()
	dial := func() *rpc.Client {
		conn, err := net.Dial("unix", d.AdminSocket())
		if err != nil {
			t.Fatal(err)
		}
		return rpc.NewClient(conn, rpc.ClientOptions{})
	}
	c := dial()
	var perr *protocol.Error
	err := adminCall(ctx, c, protocol.AdminProcConnectListServers, &protocol.AdminConnectListServersArgs{NeedResults: 1}, &protocol.AdminConnectListServersRet{})
	if !errors.As(err, &perr) || perr.Message == nil || !strings.HasSuffix(*perr.Message, "admin connection not open") {
		t.Fatalf("a call before CONNECT_OPEN: %v", err)
	}
	if err := adminCall(ctx, c, protocol.AdminProcConnectOpen, &protocol.AdminConnectOpenArgs{}, nil); err != nil {
		t.Fatal(err)
	}
	err = adminCall(ctx, c, protocol.AdminProcConnectLookupServer, &protocol.AdminConnectLookupServerArgs{Name: "libvirtd"}, &protocol.AdminConnectLookupServerRet{})
	if !errors.As(err, &perr) || perr.Message == nil || !strings.Contains(*perr.Message, "no server named 'libvirtd' (govirtd has govirtd and admin)") {
		t.Fatalf("an unknown server: %v", err)
	}
	var clients protocol.AdminServerListClientsRet
	if err := adminCall(ctx, c, protocol.AdminProcServerListClients, &protocol.AdminServerListClientsArgs{Srv: protocol.AdminServer{Name: "admin"}, NeedResults: 1}, &clients); err != nil {
		t.Fatal(err)
	}
	if clients.Ret != 1 || len(clients.Clients) != 1 || clients.Clients[0].Transport != 0 {
		t.Fatalf("the admin server's clients, this one alone: %+v", clients)
	}
	err = adminCall(ctx, c, protocol.AdminProcClientClose, &protocol.AdminClientCloseArgs{Clnt: clients.Clients[0]}, nil)
	if !errors.As(err, &perr) {
		t.Fatalf("an admin client closing itself: %v", err)
	}
	c.Close()

	cycle := func() {
		c := dial()
		defer c.Close()
		if err := adminCall(ctx, c, protocol.AdminProcConnectOpen, &protocol.AdminConnectOpenArgs{}, nil); err != nil {
			t.Fatal(err)
		}
		var ret protocol.AdminConnectListServersRet
		if err := adminCall(ctx, c, protocol.AdminProcConnectListServers, &protocol.AdminConnectListServersArgs{NeedResults: 1}, &ret); err != nil || len(ret.Servers) != 2 {
			t.Fatalf("list servers: %+v, %v", ret, err)
		}
		if err := adminCall(ctx, c, protocol.AdminProcConnectClose, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	for range 10 {
		cycle()
	}
	leaks := testutil.Baseline(t)
	for range 300 {
		cycle()
	}
	leaks.Check(2)
}
