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
	"testing"
	"time"

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
	c, err := remote.Dial(ctx, "test+unix:///default?socket="+sock)
	if err != nil {
		t.Fatal(err)
	}
	// One call runs, one waits, the third holds the daemon's reader back.
	dom := remote.Domain{Name: "test"}
	for range 3 {
		go c.DomainSuspend(ctx, dom)
	}
	time.Sleep(200 * time.Millisecond)
	// A large call now fills the socket and its write blocks.
	go func() {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		c.DomainDefineXML(cctx, strings.Repeat("x", 4<<20), 0)
	}()
	time.Sleep(200 * time.Millisecond)
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	select {
	case err := <-closed:
		t.Logf("Close returned %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("Close hung (it bounds CONNECT_CLOSE by 5 s)")
	}
}
