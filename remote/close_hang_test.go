package remote_test

// Close returns although a call's write is blocked on a daemon that does
// not read (found in review: Close waited on that write for ever). The
// daemon here is an rpc.Server whose calls never return, standing in for
// one whose calls wait on hung storage.

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govirt/govirtd/internal/testutil"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/remote"
	"github.com/govirt/govirtd/rpc"
)

// stuckSession answers the handshake and blocks every domain call until
// the client goes away (a daemon whose calls wait on slow storage).
type stuckSession struct{}

func (stuckSession) Dispatch(ctx context.Context, c *rpc.Call) (protocol.Encodable, error) {
	switch protocol.Procedure(c.Header.Procedure) {
	case protocol.ProcConnectOpen, protocol.ProcConnectRegisterCloseCallback, protocol.ProcConnectClose:
		return nil, nil
	}
	<-ctx.Done()
	return nil, ctx.Err()
}
func (stuckSession) Close() {}

// countingConn counts the writes that completed and tells bigWrite when
// a write of more than 1 MiB starts.
type countingConn struct {
	net.Conn
	written  atomic.Int32
	bigWrite chan struct{}
}

func (c *countingConn) Write(p []byte) (int, error) {
	if len(p) > 1<<20 {
		close(c.bigWrite)
	}
	n, err := c.Conn.Write(p)
	c.written.Add(1)
	return n, err
}

func TestCloseHangs(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := rpc.NewServer(rpc.ServerConfig{MaxClientRequests: 1,
		Programs:   []rpc.Program{{Number: protocol.RemoteProgram, Version: protocol.RemoteProtocolVersion}},
		NewSession: func(*rpc.Peer) rpc.Session { return stuckSession{} },
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil))})
	go srv.Serve(l, rpc.ListenerOptions{Name: sock})
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	ctx := context.Background()
	var conn *countingConn
	c, err := remote.DialOptions(ctx, "test+unix:///default?socket="+sock, remote.Options{
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			conn = &countingConn{Conn: nc, bigWrite: make(chan struct{})}
			return conn, err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	// One call runs, one waits, the third holds the daemon's reader back.
	dom := remote.Domain{Name: "test"}
	before := conn.written.Load()
	for range 3 {
		go c.DomainSuspend(ctx, dom)
	}
	testutil.WaitFor(t, "the three calls written", func() bool { return conn.written.Load() == before+3 })
	// A large call now fills the socket and its write blocks.
	go func() {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		c.DomainDefineXML(cctx, strings.Repeat("x", 4<<20), 0)
	}()
	select {
	case <-conn.bigWrite:
	case <-time.After(testutil.HangTimeout):
		t.Fatal("the large call was never written")
	}
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	select {
	case err := <-closed:
		t.Logf("Close returned %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("Close hung (it bounds CONNECT_CLOSE by 5 s)")
	}
}
