package daemon_test

import (
	"context"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/govirt/govirtd/daemon"
	"github.com/govirt/govirtd/drivers"
	testdriver "github.com/govirt/govirtd/drivers/test"
	"github.com/govirt/govirtd/internal/testdaemon"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/remote"
	"github.com/govirt/govirtd/rpc"
)

// gateDriver serves slow:/// connections whose ConnectGetHostname waits
// until the test lets it return.
type gateDriver struct {
	started chan struct{}
	gate    chan struct{}
}

func (g *gateDriver) Name() string { return "slow" }

func (g *gateDriver) Open(_ context.Context, u *url.URL, _ uint32) (drivers.Conn, error) {
	if u.Scheme != "slow" {
		return nil, drivers.ErrDeclined
	}
	return gateConn{g}, nil
}

type gateConn struct{ g *gateDriver }

func (gateConn) Close() error                                      { return nil }
func (gateConn) ConnectGetType(context.Context) (string, error)    { return "slow", nil }
func (gateConn) ConnectGetVersion(context.Context) (uint64, error) { return 1, nil }
func (gateConn) ConnectGetCapabilities(context.Context) (string, error) {
	return "<capabilities/>", nil
}
func (c gateConn) ConnectGetHostname(ctx context.Context) (string, error) {
	c.g.started <- struct{}{}
	select {
	case <-c.g.gate:
		return "slow-host", nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// sendCall writes a call without waiting for its reply.
func sendCall(t *testing.T, nc net.Conn, serial uint32, proc protocol.Procedure) {
	t.Helper()
	f, err := rpc.EncodeFrame(protocol.Header{Program: protocol.RemoteProgram, Version: 1,
		Procedure: int32(proc), Type: protocol.Call, Serial: serial}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Write(f); err != nil {
		t.Fatal(err)
	}
}

// pingPong sends a keepalive PING and reads up to its PONG: the daemon
// has then read every call sent before it. Nothing else may arrive.
func pingPong(t *testing.T, nc net.Conn) {
	t.Helper()
	f, err := rpc.EncodeFrame(protocol.Header{Program: protocol.KeepaliveProgram, Version: protocol.KeepaliveProtocolVersion,
		Procedure: int32(protocol.KeepaliveProcPing), Type: protocol.Message}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Write(f); err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	defer nc.SetReadDeadline(time.Time{})
	h, _, err := rpc.ReadFrame(nc)
	if err != nil || !h.IsKeepalive() || h.Procedure != int32(protocol.KeepaliveProcPong) {
		t.Fatalf("waiting for a PONG: got %v, %v", h, err)
	}
}

func waitStarted(t *testing.T, g *gateDriver, n int) {
	t.Helper()
	for i := range n {
		select {
		case <-g.started:
		case <-time.After(20 * time.Second):
			t.Fatalf("only %d of %d slow calls started", i, n)
		}
	}
}

// TestHangupMaxClientRequests: max_client_requests changed in the file
// and applied by Hangup (what SIGHUP runs) bounds a connected client's
// next calls: with 2, the third slow call waits; after the reload to 4,
// new calls run up to 4 and the fifth waits. A file then broken is
// rejected with its line and key, the limit stays 4, and every call of
// the client completes on the same connection.
func TestHangupMaxClientRequests(t *testing.T) {
	g := &gateDriver{started: make(chan struct{}, 16), gate: make(chan struct{})}
	d := testdaemon.Start(t, testdaemon.Options{
		Drivers: []drivers.Driver{g, testdriver.New()},
		Config:  "max_client_requests = 2\n",
	})
	nc, err := net.Dial("unix", d.RW())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	rawCall(t, nc, 1, protocol.ProcConnectOpen, &protocol.ConnectOpenArgs{Name: ptr("slow:///")})

	calls := func() (int, int) {
		st := d.Server().Stats()
		return st.CallsRunning, st.CallsWaiting
	}
	for serial := uint32(10); serial < 13; serial++ {
		sendCall(t, nc, serial, protocol.ProcConnectGetHostname)
	}
	waitStarted(t, g, 2)
	pingPong(t, nc)
	if r, w := calls(); r != 2 || w != 1 {
		t.Fatalf("max_client_requests = 2: %d calls run, %d wait; want 2 and 1", r, w)
	}

	d.WriteConfig("max_client_requests = 4\n")
	if err := d.Hangup(context.Background()); err != nil {
		t.Fatalf("Hangup: %v", err)
	}
	for serial := uint32(13); serial < 15; serial++ {
		sendCall(t, nc, serial, protocol.ProcConnectGetHostname)
	}
	waitStarted(t, g, 2) // the call that waited, and the first new one
	pingPong(t, nc)
	if r, w := calls(); r != 4 || w != 1 {
		t.Fatalf("after the reload to 4: %d calls run, %d wait; want 4 and 1", r, w)
	}

	d.WriteConfig("max_client_requests = 0\n")
	err = d.Hangup(context.Background())
	if err == nil || !strings.Contains(err.Error(), d.ConfigFile+":2: max_client_requests: 0 is out of range") {
		t.Fatalf("Hangup with max_client_requests = 0: %v; want the file, line 2 and the key", err)
	}
	if got := d.Server().Limits().MaxClientRequests; got != 4 {
		t.Fatalf("after a rejected file max_client_requests is %d, want 4 still", got)
	}

	close(g.gate)
	nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	for got := 0; got < 5; {
		h, _, err := rpc.ReadFrame(nc)
		if err != nil {
			t.Fatalf("after %d replies: %v", got, err)
		}
		if h.Type == protocol.Reply {
			if h.Status != protocol.StatusOK {
				t.Fatalf("reply %v", h)
			}
			got++
		}
	}
	nc.SetReadDeadline(time.Time{})
	rawCall(t, nc, 20, protocol.ProcConnectGetType, nil)
}

// keyDriver owns one configuration key and records what it is handed.
type keyDriver struct{ set []string }

func (k *keyDriver) Name() string { return "keys" }
func (k *keyDriver) Open(context.Context, *url.URL, uint32) (drivers.Conn, error) {
	return nil, drivers.ErrDeclined
}
func (k *keyDriver) ConfigKeys() []drivers.ConfigKey {
	return []drivers.ConfigKey{{Name: "keys_dir", Type: drivers.ConfigAbsPath,
		SetString: func(s string) error { k.set = append(k.set, s); return nil }}}
}

// TestCheckConfigHandsDriversNothing: the file SIGHUP reads is checked
// against the drivers' keys but hands them nothing (a changed driver key
// needs a restart); LoadConfig, at start, hands them their values.
func TestCheckConfigHandsDriversNothing(t *testing.T) {
	k := &keyDriver{}
	f := t.TempDir() + "/c.conf"
	os.WriteFile(f, []byte("keys_dir = \"/a\"\n"), 0o600)
	if _, err := daemon.LoadConfig(f, k); err != nil || len(k.set) != 1 {
		t.Fatalf("LoadConfig: %v, driver given %q", err, k.set)
	}
	os.WriteFile(f, []byte("keys_dir = \"/b\"\n"), 0o600)
	if _, err := daemon.CheckConfig(f, k); err != nil || len(k.set) != 1 {
		t.Fatalf("CheckConfig: %v, driver given %q; want nothing more", err, k.set)
	}
	os.WriteFile(f, []byte("\nkeys_dir = \"relative\"\n"), 0o600)
	if _, err := daemon.CheckConfig(f, k); err == nil || !strings.Contains(err.Error(), f+":2: keys_dir:") {
		t.Fatalf("CheckConfig of a relative keys_dir: %v; want the file, line 2 and the key", err)
	}
}

// TestHangupROLimitAndRestartKeys: a raised max_ro_clients lets the next
// read-only client in, while a changed socket mode (a restart key) keeps
// its running value, on this reload and the next.
func TestHangupROLimitAndRestartKeys(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{Config: "max_ro_clients = 1\n"})
	ctx := context.Background()
	first, err := remote.Dial(ctx, d.ROURI())
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if c, err := remote.Dial(ctx, d.ROURI()); err == nil {
		c.Close()
		t.Fatal("a second read-only client was let in with max_ro_clients = 1")
	}
	d.WriteConfig("max_ro_clients = 2\nunix_sock_rw_perms = \"0770\"\n")
	for range 2 {
		if err := d.Hangup(ctx); err != nil {
			t.Fatalf("Hangup: %v", err)
		}
	}
	second, err := remote.Dial(ctx, d.ROURI())
	if err != nil {
		t.Fatalf("after raising max_ro_clients to 2: %v", err)
	}
	defer second.Close()
	if _, err := first.ConnectGetHostname(ctx); err != nil {
		t.Fatalf("the read-only client connected before the reload: %v", err)
	}
	st, err := os.Stat(d.RW())
	if err != nil {
		t.Fatal(err)
	}
	if m := st.Mode().Perm(); m != 0o700 {
		t.Fatalf("read-write socket mode %04o after the reload; a restart key must keep 0700", m)
	}
}
