package rpc

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/govirt/govirtd/protocol"
)

// fakeServer is the far end of a Client's net.Pipe, driven by the test.
type fakeServer struct {
	t *testing.T
	net.Conn
	r *bufio.Reader
}

func newClientPair(t *testing.T, opts ClientOptions) (*Client, *fakeServer) {
	cc, sc := net.Pipe()
	c := NewClient(cc, opts)
	t.Cleanup(func() { c.Close(); sc.Close() })
	return c, &fakeServer{t: t, Conn: sc, r: bufio.NewReader(sc)}
}

func (s *fakeServer) readCall() (protocol.Header, []byte) {
	s.t.Helper()
	s.SetReadDeadline(time.Now().Add(hangTimeout))
	hd, body, err := ReadFrame(s.r)
	if err != nil {
		s.t.Fatalf("fake server: %v", err)
	}
	return hd, body
}

func (s *fakeServer) write(hd protocol.Header, body protocol.Encodable) {
	s.t.Helper()
	f, err := EncodeFrame(hd, body)
	if err != nil {
		s.t.Fatal(err)
	}
	s.SetWriteDeadline(time.Now().Add(hangTimeout))
	if _, err := s.Write(f); err != nil {
		s.t.Fatalf("fake server: %v", err)
	}
}

type callResult struct {
	data string
	err  error
}

// TestClientOutOfOrder: the fake server answers three calls in reverse
// order; each call gets its own reply.
func TestClientOutOfOrder(t *testing.T) {
	c, s := newClientPair(t, ClientOptions{})
	results := make([]chan callResult, 3)
	for i := range results {
		results[i] = make(chan callResult, 1)
	}
	var calls []protocol.Header
	for i := range 3 {
		go func() {
			var r echoBody
			err := c.Call(context.Background(), testProg, testVers, procEcho, &echoBody{Data: []byte{byte('a' + i)}}, &r)
			results[i] <- callResult{string(r.Data), err}
		}()
		hd, body := s.readCall()
		var a echoBody
		if err := protocol.Unmarshal(body, &a); err != nil || string(a.Data) != string(rune('a'+i)) {
			t.Fatalf("call %d: %q, %v", i, a.Data, err)
		}
		calls = append(calls, hd)
	}
	if calls[0].Serial == calls[1].Serial || calls[1].Serial == calls[2].Serial {
		t.Fatalf("serials not distinct: %v", calls)
	}
	// A reply to a serial nobody waits for is dropped, and so is a message
	// with no OnMessage.
	s.write(protocol.Header{Program: testProg, Version: testVers, Procedure: procEcho, Type: protocol.Reply, Serial: 9999}, &echoBody{Data: []byte("nobody")})
	s.write(protocol.Header{Program: testProg, Version: testVers, Procedure: procMsg, Type: protocol.Message, Serial: 1}, &echoBody{})
	for i := 2; i >= 0; i-- {
		s.write(replyHeader(calls[i], protocol.StatusOK), &echoBody{Data: []byte("reply " + string(rune('a'+i)))})
	}
	for i := range 3 {
		select {
		case r := <-results[i]:
			if want := "reply " + string(rune('a'+i)); r.err != nil || r.data != want {
				t.Errorf("call %d: %q, %v; want %q", i, r.data, r.err, want)
			}
		case <-time.After(hangTimeout):
			t.Fatalf("call %d never returned", i)
		}
	}
}

// TestClientReplyForOtherProcedure: a reply whose serial matches but whose
// procedure does not fails the call instead of being decoded as its reply.
func TestClientReplyForOtherProcedure(t *testing.T) {
	c, s := newClientPair(t, ClientOptions{})
	res := make(chan error, 1)
	go func() { res <- c.Call(context.Background(), testProg, testVers, procEcho, &echoBody{}, &echoBody{}) }()
	hd, _ := s.readCall()
	wrong := replyHeader(hd, protocol.StatusOK)
	wrong.Procedure = procBlock
	s.write(wrong, &blockArgs{})
	if err := <-res; err == nil {
		t.Error("a reply to another procedure was accepted")
	}
}

func TestClientServerHangsUp(t *testing.T) {
	c, s := newClientPair(t, ClientOptions{})
	res := make(chan error, 2)
	for range 2 {
		go func() { res <- c.Call(context.Background(), testProg, testVers, procEcho, &echoBody{}, nil) }()
		s.readCall()
	}
	s.Close()
	for range 2 {
		err := <-res
		var ce *ClosedError
		if !errors.As(err, &ce) || !errors.Is(err, io.EOF) {
			t.Errorf("pending call: %v, want a ClosedError with io.EOF", err)
		}
	}
	<-c.Done()
	if !errors.Is(c.Err(), io.EOF) {
		t.Errorf("Err() = %v", c.Err())
	}
	if err := c.Call(context.Background(), testProg, testVers, procEcho, nil, nil); !errors.Is(err, io.EOF) {
		t.Errorf("call after the end: %v", err)
	}
}

func TestClientCloseFailsPending(t *testing.T) {
	c, s := newClientPair(t, ClientOptions{})
	res := make(chan error, 1)
	go func() { res <- c.Call(context.Background(), testProg, testVers, procEcho, &echoBody{}, nil) }()
	s.readCall()
	c.Close()
	if err := <-res; !errors.Is(err, ErrClientClosed) {
		t.Errorf("pending call: %v, want ErrClientClosed", err)
	}
	c.Close() // a second Close is harmless
}

func TestClientCallContext(t *testing.T) {
	c, s := newClientPair(t, ClientOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() { res <- c.Call(ctx, testProg, testVers, procEcho, &echoBody{}, nil) }()
	hd, _ := s.readCall()
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled call: %v", err)
	}
	// Its late reply is dropped; the connection goes on.
	s.write(replyHeader(hd, protocol.StatusOK), &echoBody{})
	go func() { res <- c.Call(context.Background(), testProg, testVers, procEcho, &echoBody{}, nil) }()
	hd, _ = s.readCall()
	s.write(replyHeader(hd, protocol.StatusOK), &echoBody{})
	if err := <-res; err != nil {
		t.Errorf("next call: %v", err)
	}
}

// TestClientKeepalive: the client answers PINGs, and pings a silent
// server until it gives up after count, on a ManualClock: each Advance
// past the interval is one more unanswered ping.
func TestClientKeepalive(t *testing.T) {
	clock := NewManualClock(time.Unix(1000, 0))
	c, s := newClientPair(t, ClientOptions{Clock: clock})
	s.SetWriteDeadline(time.Now().Add(hangTimeout))
	s.Write(pingFrame)
	hd, _ := s.readCall()
	if !hd.IsKeepalive() || hd.Procedure != int32(protocol.KeepaliveProcPong) {
		t.Fatalf("answer to PING: %v", hd)
	}

	const count, interval = 2, 5 * time.Second
	c.StartKeepalive(interval, count)
	clock.Advance(interval - time.Nanosecond)
	select {
	case <-c.Done():
		t.Fatal("keepalive closed the connection before the interval passed")
	default:
	}
	for i := range count {
		clock.Advance(interval)
		hd, _ := s.readCall()
		if !hd.IsKeepalive() || hd.Procedure != int32(protocol.KeepaliveProcPing) {
			t.Fatalf("frame %d: %v, want a PING", i, hd)
		}
	}
	clock.Advance(interval)
	select {
	case <-c.Done():
	case <-time.After(hangTimeout):
		t.Fatal("the connection outlived count unanswered pings")
	}
	var ke *KeepaliveError
	if !errors.As(c.Err(), &ke) || ke.Count != count || ke.Interval != interval {
		t.Errorf("Err() = %v, want a KeepaliveError after %d pings %v apart", c.Err(), count, interval)
	}
}

// TestClientKeepaliveReset: any frame from the server proves it alive:
// pings left unanswered before it no longer count.
func TestClientKeepaliveReset(t *testing.T) {
	clock := NewManualClock(time.Unix(1000, 0))
	msgs := make(chan struct{}, 1)
	c, s := newClientPair(t, ClientOptions{Clock: clock, OnMessage: func(protocol.Header, []byte) { msgs <- struct{}{} }})
	const count, interval = 2, time.Second
	c.StartKeepalive(interval, count)
	for round := range 3 {
		// count pings go unanswered (one more Advance would close)...
		for range count {
			clock.Advance(interval)
			if hd, _ := s.readCall(); hd.Procedure != int32(protocol.KeepaliveProcPing) {
				t.Fatalf("round %d: %v, want a PING", round, hd)
			}
		}
		// ...then an event arrives, which restarts the count.
		s.write(protocol.Header{Program: testProg, Version: testVers, Procedure: procMsg, Type: protocol.Message}, &echoBody{})
		select {
		case <-msgs:
		case <-time.After(hangTimeout):
			t.Fatal("the event was not delivered")
		}
		select {
		case <-c.Done():
			t.Fatalf("round %d: closed although the server spoke: %v", round, c.Err())
		default:
		}
	}
}
