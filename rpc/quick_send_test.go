package rpc_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/rpc"
)

// Tests of the shortcuts of the hot path: quick calls run on the
// client's reader goroutine.

const (
	qsProcSlow  = 1 // waits until released; not quick
	qsProcQuick = 2 // answers at once; quick
	qsProcBig   = 3 // answers a large body; quick
)

// qsBody is a reply or message body: a sequence number and padding.
type qsBody struct {
	Seq uint32
	Pad string
}

// qsSession is a session whose calls are qsProc*.
type qsSession struct {
	peer    *rpc.Peer
	release chan struct{} // closed to let slow calls return
	bigPad  string
}

func (s *qsSession) Quick(h protocol.Header) bool { return h.Procedure != qsProcSlow }

func (s *qsSession) Dispatch(ctx context.Context, c *rpc.Call) (any, error) {
	switch c.Header.Procedure {
	case qsProcSlow:
		select {
		case <-s.release:
		case <-ctx.Done():
		}
		return &qsBody{Seq: c.Header.Serial}, nil
	case qsProcBig:
		return &qsBody{Seq: c.Header.Serial, Pad: s.bigPad}, nil
	}
	return &qsBody{Seq: c.Header.Serial}, nil
}

func (s *qsSession) Close() {}

// qsServe serves qsSessions on a unix socket and returns its path and
// the sessions made so far.
func qsServe(t *testing.T, maxRequests int, bigPad string, sndbuf int) (string, func() []*qsSession) {
	t.Helper()
	dir, err := os.MkdirTemp("", "rpc-qs-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var (
		mu       sync.Mutex
		sessions []*qsSession
		release  = make(chan struct{})
	)
	srv := rpc.NewServer(rpc.ServerConfig{
		MaxClientRequests: maxRequests,
		MaxQueue:          100000,
		Programs:          []rpc.Program{{Number: protocol.RemoteProgram, Version: protocol.RemoteVersion}},
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
		NewSession: func(p *rpc.Peer) rpc.Session {
			if sndbuf > 0 {
				// A small socket buffer makes most direct writes partial.
				p.Conn().(*net.UnixConn).SetWriteBuffer(sndbuf)
			}
			s := &qsSession{peer: p, release: release, bigPad: bigPad}
			mu.Lock()
			sessions = append(sessions, s)
			mu.Unlock()
			return s
		},
	})
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l, rpc.ListenerOptions{Name: sock})
	t.Cleanup(func() {
		close(release)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return sock, func() []*qsSession {
		mu.Lock()
		defer mu.Unlock()
		return append([]*qsSession(nil), sessions...)
	}
}

// TestQuickCallsPassSlowOnes checks that a quick call is answered while
// the client's only call slot is taken by a slow call and another slow
// call waits for it: quick calls do not count against
// max_client_requests and do not wait behind the queue.
func TestQuickCallsPassSlowOnes(t *testing.T) {
	sock, _ := qsServe(t, 1, "", 0)
	nc, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	c := rpc.NewClient(nc, rpc.ClientOptions{})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	slowDone := make(chan error, 2)
	for range 2 {
		go func() {
			slowDone <- c.Call(ctx, protocol.RemoteProgram, protocol.RemoteVersion, qsProcSlow, nil, &qsBody{})
		}()
	}
	time.Sleep(50 * time.Millisecond) // let both slow calls arrive
	for i := range 100 {
		var ret qsBody
		if err := c.Call(ctx, protocol.RemoteProgram, protocol.RemoteVersion, qsProcQuick, nil, &ret); err != nil {
			t.Fatalf("quick call %d: %v", i, err)
		}
	}
	select {
	case err := <-slowDone:
		t.Fatalf("a slow call returned before it was released: %v", err)
	default:
	}
}
