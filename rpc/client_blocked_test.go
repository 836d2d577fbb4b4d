package rpc

// A call whose write is blocked (the server stopped reading the client's
// socket) holds up neither the reader nor keepalive: replies and messages
// keep arriving, PINGs are answered as soon as the socket takes bytes
// again, and a silent server is still given up on.

import (
	"bufio"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/govirt/govirtd/protocol"
)

// enteringConn tells entered each time a Write starts, before it can
// block: on a net.Pipe a Write blocks until the far end reads.
type enteringConn struct {
	net.Conn
	entered chan int // the length of each Write
}

func (c *enteringConn) Write(p []byte) (int, error) {
	c.entered <- len(p)
	return c.Conn.Write(p)
}

func newEnteringPair(t *testing.T, opts ClientOptions) (*Client, *fakeServer, *enteringConn) {
	cc, sc := net.Pipe()
	ec := &enteringConn{Conn: cc, entered: make(chan int, 16)}
	c := NewClient(ec, opts)
	t.Cleanup(func() { c.Close(); sc.Close() })
	return c, &fakeServer{t: t, Conn: sc, r: bufio.NewReader(sc)}, ec
}

func waitEntered(t *testing.T, ec *enteringConn, what string) {
	t.Helper()
	select {
	case <-ec.entered:
	case <-time.After(hangTimeout):
		t.Fatalf("the client never started writing %s", what)
	}
}

func TestClientReadsWhileWriteBlocked(t *testing.T) {
	msgs := make(chan protocol.Header, 4)
	c, s, ec := newEnteringPair(t, ClientOptions{OnMessage: func(h protocol.Header, _ []byte) { msgs <- h }})
	results := map[string]chan error{"a": make(chan error, 1), "b": make(chan error, 1)}
	call := func(name string) {
		results[name] <- c.Call(context.Background(), testProg, testVers, procEcho, &echoBody{Data: []byte(name)}, nil)
	}
	go call("a")
	waitEntered(t, ec, "call a")
	callA, _ := s.readCall()
	// b's write starts and blocks: the server reads nothing more for now.
	go call("b")
	waitEntered(t, ec, "call b")

	// The server goes on talking. Before the fix the reader, having read
	// the PING, waited for b's write to take the lock for its PONG, and
	// the reply below could not be delivered (s.write fails on its
	// deadline).
	s.SetWriteDeadline(time.Now().Add(hangTimeout))
	s.Write(pingFrame)
	s.write(replyHeader(callA, protocol.StatusOK), &echoBody{})
	select {
	case err := <-results["a"]:
		if err != nil {
			t.Fatalf("call a: %v", err)
		}
	case <-time.After(hangTimeout):
		t.Fatal("call a's reply was not delivered while call b's write was blocked")
	}
	s.write(protocol.Header{Program: testProg, Version: testVers, Procedure: procMsg, Type: protocol.Message}, &echoBody{})
	select {
	case h := <-msgs:
		if h.Procedure != procMsg {
			t.Fatalf("message %v", h)
		}
	case <-time.After(hangTimeout):
		t.Fatal("a message was not delivered while call b's write was blocked")
	}
	if _, err := s.Write(pingFrame); err != nil {
		t.Fatalf("second PING: %v", err)
	}

	// The server reads again: b's frame, whole, then the PONG (one or
	// two: PINGs not yet answered are answered together).
	callB, _ := s.readCall()
	if callB.Type != protocol.Call || callB.Serial == callA.Serial {
		t.Fatalf("after the blocked write: %v, want call b", callB)
	}
	if hd, _ := s.readCall(); !hd.IsKeepalive() || hd.Procedure != int32(protocol.KeepaliveProcPong) {
		t.Fatalf("after call b: %v, want the PONG", hd)
	}
	s.write(replyHeader(callB, protocol.StatusOK), &echoBody{})
	if err := <-results["b"]; err != nil {
		t.Fatalf("call b: %v", err)
	}
}

// TestClientKeepaliveWhileWriteBlocked: a server that reads nothing and
// says nothing is given up on after count pings although a call's write
// is blocked (before the fix the keepalive timer waited for that write
// to send its PING, and never counted on).
func TestClientKeepaliveWhileWriteBlocked(t *testing.T) {
	clock := NewManualClock(time.Unix(1000, 0))
	c, _, ec := newEnteringPair(t, ClientOptions{Clock: clock})
	res := make(chan error, 1)
	go func() { res <- c.Call(context.Background(), testProg, testVers, procEcho, &echoBody{}, nil) }()
	waitEntered(t, ec, "the call")

	const count, interval = 3, time.Minute
	c.StartKeepalive(interval, count)
	advanced := make(chan struct{})
	go func() {
		for range count + 1 {
			clock.Advance(interval)
		}
		close(advanced)
	}()
	select {
	case <-advanced:
	case <-time.After(hangTimeout):
		t.Fatal("the keepalive timer blocked behind the call's write")
	}
	select {
	case err := <-res:
		var ke *KeepaliveError
		if !errors.As(err, &ke) || ke.Count != count {
			t.Fatalf("the blocked call: %v, want a ClosedError for keepalive after %d pings", err, count)
		}
	case <-time.After(hangTimeout):
		t.Fatal("the blocked call outlived keepalive")
	}
}

// TestClientCallGivesUpBeforeWriting: a call whose context ends while it
// waits behind a blocked write returns the context's error and leaves
// the connection working; its frame is never sent.
func TestClientCallGivesUpBeforeWriting(t *testing.T) {
	c, s, ec := newEnteringPair(t, ClientOptions{})
	call := func(ctx context.Context, data string) chan error {
		res := make(chan error, 1)
		go func() { res <- c.Call(ctx, testProg, testVers, procEcho, &echoBody{Data: []byte(data)}, nil) }()
		return res
	}
	a := call(context.Background(), "a")
	waitEntered(t, ec, "call a") // and blocked: the server reads nothing

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	select {
	case err := <-call(ctx, "b"):
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("call b: %v, want context.Canceled", err)
		}
	case <-time.After(hangTimeout):
		t.Fatal("call b waited for call a's write in spite of its context")
	}
	select {
	case <-c.Done():
		t.Fatalf("the connection closed: %v", c.Err())
	default:
	}

	hd, _ := s.readCall()
	s.write(replyHeader(hd, protocol.StatusOK), &echoBody{})
	if err := <-a; err != nil {
		t.Fatalf("call a: %v", err)
	}
	cres := call(context.Background(), "c")
	hd, body := s.readCall()
	var got echoBody
	if err := protocol.Unmarshal(body, &got); err != nil || string(got.Data) != "c" {
		t.Fatalf("the frame after call a: %q %v, want call c (b was never to be sent)", got.Data, err)
	}
	s.write(replyHeader(hd, protocol.StatusOK), &echoBody{})
	if err := <-cres; err != nil {
		t.Fatalf("call c: %v", err)
	}
}
