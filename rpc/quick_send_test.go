package rpc_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govirt/govirtd/internal/testutil"

	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/rpc"
)

// Tests of the two shortcuts of the hot path: quick calls run on the
// client's reader goroutine, and frames written straight to an idle
// socket without blocking.

const (
	qsProcSlow  = 1 // waits until released; not quick
	qsProcQuick = 2 // answers at once; quick
	qsProcBig   = 3 // answers a large body; quick
)

// qsBody is a reply or message body: a sequence number and padding.
type qsBody = testutil.SeqBody

// qsSession is a session whose calls are qsProc*.
type qsSession struct {
	peer    *rpc.Peer
	release chan struct{} // closed to let slow calls return
	bigPad  string
	slow    atomic.Int32 // slow calls started
}

func (s *qsSession) Quick(h protocol.Header) bool { return h.Procedure != qsProcSlow }

func (s *qsSession) Dispatch(ctx context.Context, c *rpc.Call) (protocol.Encodable, error) {
	switch c.Header.Procedure {
	case qsProcSlow:
		s.slow.Add(1)
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
		Programs:          []rpc.Program{{Number: protocol.RemoteProgram, Version: protocol.RemoteProtocolVersion}},
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
	sock, sessions := qsServe(t, 1, "", 0)
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
			slowDone <- c.Call(ctx, protocol.RemoteProgram, protocol.RemoteProtocolVersion, qsProcSlow, nil, &qsBody{})
		}()
	}
	// Both slow calls arrived: one runs, one waits (max_client_requests 1).
	testutil.WaitFor(t, "the first slow call to run", func() bool {
		ss := sessions()
		return len(ss) == 1 && ss[0].slow.Load() == 1
	})
	testutil.WaitFor(t, "the second slow call to be read", func() bool { return sessions()[0].peer.Waiting() == 1 })
	for i := range 100 {
		var ret qsBody
		if err := c.Call(ctx, protocol.RemoteProgram, protocol.RemoteProtocolVersion, qsProcQuick, nil, &ret); err != nil {
			t.Fatalf("quick call %d: %v", i, err)
		}
	}
	select {
	case err := <-slowDone:
		t.Fatalf("a slow call returned before it was released: %v", err)
	default:
	}
}

// TestSendKeepsFramesWholeAndInOrder has the server write large replies
// and events to a client that does not read at first, so that direct
// writes stop part way through a frame and the rest is queued, while
// events are sent from another goroutine. Every frame must arrive whole,
// every reply once, and the events in the order they were sent.
func TestSendKeepsFramesWholeAndInOrder(t *testing.T) {
	const (
		calls  = 64
		events = 3000
	)
	sock, sessions := qsServe(t, 5, strings.Repeat("x", 200<<10), 0)
	nc, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var s *qsSession
	for deadline := time.Now().Add(5 * time.Second); s == nil; {
		if ss := sessions(); len(ss) > 0 {
			s = ss[0]
		} else if time.Now().After(deadline) {
			t.Fatal("no session")
		}
		time.Sleep(time.Millisecond)
	}
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		pad := strings.Repeat("e", 4<<10)
		for i := range events {
			if i%20 == 0 {
				// Keep sending while the client drains its socket, so
				// that direct writes meet a queue being written.
				time.Sleep(200 * time.Microsecond)
			}
			if err := s.peer.SendMessage(protocol.RemoteProgram, protocol.RemoteProtocolVersion, 999, &qsBody{Seq: uint32(i), Pad: pad}); err != nil {
				t.Errorf("event %d: %v", i, err)
				return
			}
		}
	}()
	for i := range calls {
		f, err := rpc.EncodeFrame(protocol.Header{Program: protocol.RemoteProgram, Version: protocol.RemoteProtocolVersion,
			Procedure: qsProcBig, Type: protocol.Call, Serial: uint32(i)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := nc.Write(f); err != nil {
			t.Fatal(err)
		}
	}
	testutil.WaitFor(t, "the socket buffer to fill and replies to queue", func() bool { return s.peer.QueueLen() > 0 })
	nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	replies := map[uint32]bool{}
	next := uint32(0)
	for len(replies) < calls || next < events {
		h, body, err := rpc.ReadFrame(nc)
		if err != nil {
			t.Fatalf("after %d replies and %d events: %v", len(replies), next, err)
		}
		var b qsBody
		if err := protocol.Unmarshal(body, &b); err != nil {
			t.Fatalf("frame %v: %v", h, err)
		}
		switch h.Type {
		case protocol.Reply:
			if b.Seq != h.Serial || replies[h.Serial] || len(b.Pad) != 200<<10 {
				t.Fatalf("reply %d: body seq %d, pad %d bytes, seen before %v", h.Serial, b.Seq, len(b.Pad), replies[h.Serial])
			}
			replies[h.Serial] = true
		case protocol.Message:
			if b.Seq != next {
				t.Fatalf("event %d arrived when %d was due", b.Seq, next)
			}
			next++
		default:
			t.Fatalf("unexpected frame %v", h)
		}
	}
	<-sent
}

// TestSendAfterPartialWriteNeverInterleaves checks the bytes themselves:
// goroutines send frames of many sizes at once through a small socket
// buffer, so that direct writes end part way through a frame while other
// frames are being queued. Every frame read must have a sane length,
// header and body, and each sender's frames must arrive in order.
func TestSendAfterPartialWriteNeverInterleaves(t *testing.T) {
	sock, sessions := qsServe(t, 5, "", 4096)
	nc, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var s *qsSession
	for s == nil {
		if ss := sessions(); len(ss) > 0 {
			s = ss[0]
		}
		time.Sleep(time.Millisecond)
	}
	const senders, each = 8, 400
	var wg sync.WaitGroup
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				pad := strings.Repeat(fmt.Sprint(g), 1+(g*7919+i*104729)%(16<<10))
				if err := s.peer.SendMessage(protocol.RemoteProgram, protocol.RemoteProtocolVersion, int32(1000+g), &qsBody{Seq: uint32(i), Pad: pad}); err != nil {
					t.Errorf("sender %d, frame %d: %v", g, i, err)
					return
				}
				if i%4 == g%4 {
					// Let the queue run empty now and then: only then
					// are frames written directly.
					time.Sleep(50 * time.Microsecond)
				}
			}
		}()
	}
	nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(nc)
	seq := make([]uint32, senders)
	for n := 0; n < senders*each; n++ {
		var lenbuf [4]byte
		if _, err := io.ReadFull(r, lenbuf[:]); err != nil {
			t.Fatal(err)
		}
		size := binary.BigEndian.Uint32(lenbuf[:])
		if size < protocol.MinFrame || size > 1<<20 {
			t.Fatalf("frame %d: length word %#x: the stream is corrupt", n, size)
		}
		msg := make([]byte, size-4)
		if _, err := io.ReadFull(r, msg); err != nil {
			t.Fatal(err)
		}
		h, _ := protocol.ParseHeader(msg)
		g := int(h.Procedure) - 1000
		var b qsBody
		if h.Type != protocol.Message || g < 0 || g >= senders || protocol.Unmarshal(msg[protocol.HeaderSize:], &b) != nil {
			t.Fatalf("frame %d: %v: the stream is corrupt", n, h)
		}
		if b.Seq != seq[g] || strings.Trim(b.Pad, fmt.Sprint(g)) != "" {
			t.Fatalf("frame %d from sender %d: seq %d, want %d", n, g, b.Seq, seq[g])
		}
		seq[g]++
	}
	wg.Wait()
}
