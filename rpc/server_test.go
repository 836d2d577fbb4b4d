package rpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/govirt/govirtd/internal/testutil"

	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// checkError compares a decoded remote_error with code, domain and message.
func checkError(t *testing.T, e *protocol.Error, code vir.ErrorNumber, domain vir.ErrorDomain, msg string) {
	t.Helper()
	if e.Code != int32(code) || e.Domain != int32(domain) || e.Message == nil || *e.Message != msg || e.Level != int32(vir.ErrError) {
		got := "<nil>"
		if e.Message != nil {
			got = *e.Message
		}
		t.Errorf("error {code %d, domain %d, level %d, %q}, want {%d, %d, 2, %q}", e.Code, e.Domain, e.Level, got, code, domain, msg)
	}
}

func TestUnknownProgramOrVersion(t *testing.T) {
	h := newHarness(t, ServerConfig{}, false)
	c := h.dialRaw()
	for i, tc := range []struct {
		prog, vers uint32
		msg        string
	}{
		{0x11223344, 1, "Cannot find program 287454020 version 1"},
		{testProg, 2, "Cannot find program 305419896 version 2"},
		// libvirt formats both with %d: a program with the top bit set is negative.
		{0x80000001, 0xffffffff, "Cannot find program -2147483647 version -1"},
		{protocol.RemoteProgram, 1, "Cannot find program 536903814 version 1"},
		// Keepalive has no procedures to call: a CALL to it is no keepalive frame.
		{protocol.KeepaliveProgram, 1, "Cannot find program 1801807216 version 1"},
	} {
		call := protocol.Header{Program: tc.prog, Version: tc.vers, Procedure: 66, Type: protocol.Call, Serial: uint32(10 + i)}
		c.send(call, nil)
		checkError(t, c.recvError(call), vir.ErrRPC, vir.FromRPC, tc.msg)
	}
	// The client is still served.
	c.echo(99, "still here")
}

func TestCallWithBadStatus(t *testing.T) {
	h := newHarness(t, ServerConfig{}, false)
	c := h.dialRaw()
	for _, status := range []protocol.Status{protocol.StatusError, protocol.StatusContinue, 7, -1} {
		call := callHeader(procEcho, 5)
		call.Status = status
		c.send(call, &echoBody{Data: []byte("x")})
		checkError(t, c.recvError(call), vir.ErrRPC, vir.FromRPC, fmt.Sprintf("Unexpected message status %d", uint32(status)))
	}
	c.echo(6, "still here")
}

// TestStrayFramesIgnored: replies, messages and stream packets a client
// sends are dropped without an answer, as libvirtd drops them.
func TestStrayFramesIgnored(t *testing.T) {
	h := newHarness(t, ServerConfig{}, false)
	c := h.dialRaw()
	for _, typ := range []protocol.MessageType{protocol.Reply, protocol.Message, protocol.Stream,
		protocol.ReplyWithFDs, protocol.StreamHole, 9} {
		hd := callHeader(procEcho, 1)
		hd.Type = typ
		c.send(hd, &echoBody{Data: []byte("stray")})
	}
	// A keepalive frame that is not a PING, and a PONG nobody asked for.
	c.sendRaw(keepaliveFrame(int32(protocol.KeepaliveProcPong)))
	c.sendRaw(keepaliveFrame(7))
	// A PING of another keepalive version is not a keepalive frame, and
	// not a call either.
	ping2 := bytes.Clone(pingFrame)
	ping2[11] = 2
	c.sendRaw(ping2)
	// The next frame from the server is the reply to this call.
	c.echo(2, "after the strays")
	if n := h.srv.Stats().Clients; n != 1 {
		t.Errorf("%d clients, want 1", n)
	}
}

func TestCallWithFDsRefused(t *testing.T) {
	h := newHarness(t, ServerConfig{}, false)
	c := h.dialRaw()
	call := callHeader(procEcho, 3)
	call.Type = protocol.CallWithFDs
	c.sendRaw(mustFrame(t, call, []byte{0, 0, 0, 0}))
	want := replyHeader(call, protocol.StatusError)
	hd, body := c.recv()
	if hd != want {
		t.Fatalf("header %v, want %v", hd, want)
	}
	var e protocol.Error
	if err := protocol.Unmarshal(body, &e); err != nil {
		t.Fatal(err)
	}
	checkError(t, &e, vir.ErrRPC, vir.FromRPC, "passing file descriptors is not supported")
	c.echo(4, "ok")
}

func mustFrame(t *testing.T, hd protocol.Header, body []byte) []byte {
	t.Helper()
	f, err := EncodeRawFrame(hd, body)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestErrorAndPanicReplies(t *testing.T) {
	h := newHarness(t, ServerConfig{}, false)
	c := h.dialRaw()
	call := callHeader(procError, 1)
	c.send(call, nil)
	checkError(t, c.recvError(call), vir.ErrNoDomain, vir.FromTest, "Domain not found")

	// A panicking handler fails its call and its client, not the server.
	other := h.dialRaw()
	other.echo(1, "before")
	call = callHeader(procPanic, 2)
	c.send(call, nil)
	checkError(t, c.recvError(call), vir.ErrInternalError, vir.FromRPC, "internal error: procedure 6 failed unexpectedly; see the daemon's log")
	if got := c.expectClosed(); len(got) != 0 {
		t.Errorf("frames after the panic reply: %v", got)
	}
	other.echo(2, "after")
}

func TestCloseAfterReply(t *testing.T) {
	h := newHarness(t, ServerConfig{}, false)
	c := h.dialRaw()
	call := callHeader(procClose, 8)
	c.send(call, nil)
	// The message queued before the reply comes first, then the reply,
	// then the end of the connection.
	hd, body := c.recv()
	if hd.Type != protocol.Message || hd.Procedure != procMsg || hd.Serial != 1 || hd.Status != protocol.StatusOK {
		t.Fatalf("first frame %v, want the message", hd)
	}
	var m echoBody
	if err := protocol.Unmarshal(body, &m); err != nil || string(m.Data) != "before the reply" {
		t.Errorf("message %q, %v", m.Data, err)
	}
	hd, _ = c.recv()
	if want := replyHeader(call, protocol.StatusOK); hd != want {
		t.Fatalf("second frame %v, want %v", hd, want)
	}
	if got := c.expectClosed(); len(got) != 0 {
		t.Errorf("frames after the reply: %v", got)
	}
	waitFor(t, "the session to close", func() bool { return h.sessionsOpen.Load() == 0 })
}

// pingFrameGolden is a keepalive PING as libvirtd sends it: 28 bytes.
var pingFrameGolden = []byte{
	0x00, 0x00, 0x00, 0x1c, // length 28: no body
	0x6b, 0x65, 0x65, 0x70, // program KEEPALIVE, "keep"
	0x00, 0x00, 0x00, 0x01, // version 1
	0x00, 0x00, 0x00, 0x01, // procedure 1 PING
	0x00, 0x00, 0x00, 0x02, // type MESSAGE
	0x00, 0x00, 0x00, 0x00, // serial 0
	0x00, 0x00, 0x00, 0x00, // status OK
}

func TestKeepaliveFramesGolden(t *testing.T) {
	checkGolden(t, "PING", pingFrame, pingFrameGolden)
	pong := bytes.Clone(pingFrameGolden)
	pong[15] = 0x02 // procedure 2 PONG
	checkGolden(t, "PONG", pongFrame, pong)
}

func checkGolden(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s:\n got % x\nwant % x", what, got, want)
	}
}

// readPings reads frames until the connection closes, checking that each
// is a PING, and returns how many came.
func readPings(t *testing.T, c *rawConn) int {
	t.Helper()
	n := 0
	for {
		hd, body, err := c.tryRecv()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("not disconnected after %d pings", n)
			}
			return n
		}
		if !hd.IsKeepalive() || hd.Procedure != int32(protocol.KeepaliveProcPing) || hd.Type != protocol.Message || len(body) != 0 {
			t.Fatalf("frame %v, want a PING", hd)
		}
		n++
	}
}

func TestKeepalive(t *testing.T) {
	const count = 3
	h := newHarness(t, ServerConfig{KeepaliveInterval: 20 * time.Millisecond, KeepaliveCount: count}, false)

	// A client that never asks for keepalive; it is checked at the end,
	// after the others have seen many intervals pass.
	quiet := h.dialRaw()
	quiet.echo(1, "hello")

	// PING is answered with PONG whether or not keepalive was negotiated.
	quiet.sendRaw(pingFrame)
	hd, body := quiet.recv()
	if !hd.IsKeepalive() || hd.Procedure != int32(protocol.KeepaliveProcPong) || hd.Type != protocol.Message || hd.Serial != 0 || len(body) != 0 {
		t.Fatalf("answer to PING: %v, want a PONG", hd)
	}

	// A client that negotiates and then stays silent gets count PINGs and
	// is dropped.
	silent := h.dialRaw()
	silent.send(callHeader(procKA, 1), nil)
	if hd, _ := silent.recv(); hd.Type != protocol.Reply {
		t.Fatalf("reply %v", hd)
	}
	if n := readPings(t, silent); n != count {
		t.Errorf("silent client got %d pings before being dropped, want %d", n, count)
	}
	waitFor(t, "the keepalive drop to be counted and the client gone", func() bool {
		st := h.srv.Stats()
		return st.KeepaliveDrops == 1 && st.Clients == 1
	})

	// Many intervals have passed: the client that never negotiated got
	// no PING, so the next frame it reads is its reply.
	quiet.echo(3, "never pinged")
	if st := h.srv.Stats(); st.KeepaliveDrops != 1 || st.Clients != 1 {
		t.Errorf("stats %+v, want 1 keepalive drop and 1 client", st)
	}
}

// TestKeepaliveAnswered: a client that answers every PING stays, however
// many PINGs it gets. The count is large so that a test goroutine starved
// of CPU for a while is not taken for a dead client.
func TestKeepaliveAnswered(t *testing.T) {
	const count = 10
	h := newHarness(t, ServerConfig{KeepaliveInterval: 20 * time.Millisecond, KeepaliveCount: count}, false)
	c := h.dialRaw()
	c.send(callHeader(procKA, 1), nil)
	c.recv()
	for pings := 0; pings < count+2; {
		hd, _ := c.recv()
		if hd.IsKeepalive() && hd.Procedure == int32(protocol.KeepaliveProcPing) {
			pings++
			c.sendRaw(pongFrame)
		}
	}
	if st := h.srv.Stats(); st.KeepaliveDrops != 0 || st.Clients != 1 {
		t.Errorf("stats %+v, want the client still there", st)
	}
}

// TestKeepaliveCountZero: keepalive_count 0 closes after one idle interval, unpinged.
func TestKeepaliveCountZero(t *testing.T) {
	h := newHarness(t, ServerConfig{KeepaliveInterval: 20 * time.Millisecond, KeepaliveCount: 0}, false)
	c := h.dialRaw()
	c.send(callHeader(procKA, 1), nil)
	c.recv()
	if n := readPings(t, c); n != 0 {
		t.Errorf("got %d pings, want none", n)
	}
}

func TestMaxClients(t *testing.T) {
	h := newHarness(t, ServerConfig{MaxClients: 2}, false)
	a, b := h.dialRaw(), h.dialRaw()
	a.echo(1, "a")
	b.echo(1, "b")

	over := h.dialRaw()
	call := protocol.Header{Program: protocol.RemoteProgram, Version: 1, Procedure: 66, Type: protocol.Call, Serial: 0}
	over.send(call, nil)
	e := over.recvError(call)
	if e.Code != int32(vir.ErrRPC) || e.Domain != int32(vir.FromRPC) || e.Message == nil || !strings.Contains(*e.Message, "max_clients") {
		t.Errorf("refusal %+v does not name max_clients", e)
	}
	if got := over.expectClosed(); len(got) != 0 {
		t.Errorf("frames after the refusal: %v", got)
	}
	a.echo(2, "a")
	b.echo(2, "b")
	if st := h.srv.Stats(); st.Rejected != 1 || st.Clients != 2 || st.Accepted != 2 {
		t.Errorf("stats %+v", st)
	}

	// A slot freed is a slot taken.
	a.Close()
	waitFor(t, "the client to leave", func() bool { return h.srv.Stats().Clients == 1 })
	c := h.dialRaw()
	c.echo(1, "c")
	b.echo(3, "b")
}

// TestMaxClientsFlood: clients over the limit that send nothing cost a
// bounded number of goroutines, and all are closed.
func TestMaxClientsFlood(t *testing.T) {
	h := newHarness(t, ServerConfig{MaxClients: 1}, false)
	a := h.dialRaw()
	a.echo(1, "a")
	base := runtime.NumGoroutine()
	const flood = maxRefusing + 40
	var conns []*rawConn
	for range flood {
		conns = append(conns, h.dialRaw())
	}
	waitFor(t, "every extra client to be refused", func() bool { return h.srv.Stats().Rejected == flood })
	if n := runtime.NumGoroutine() - base; n > maxRefusing+5 {
		t.Errorf("%d goroutines for %d refused clients; want at most %d", n, flood, maxRefusing)
	}
	a.echo(2, "a")
	// Those past maxRefusing were closed at once; the others are waiting
	// for a first call, and answer it. All end closed.
	refusals := 0
	for _, c := range conns {
		call := protocol.Header{Program: protocol.RemoteProgram, Version: 1, Procedure: 66, Type: protocol.Call}
		f, _ := EncodeFrame(call, nil)
		c.Write(f) // fails for those already closed
		for _, hd := range c.expectClosed() {
			if hd != replyHeader(call, protocol.StatusError) {
				t.Errorf("refused client got %v", hd)
			}
			refusals++
		}
	}
	if refusals == 0 || refusals > maxRefusing {
		t.Errorf("%d refused clients were answered, want 1 to %d", refusals, maxRefusing)
	}
}

func TestMaxClientRequests(t *testing.T) {
	const limit = 3
	h := newHarness(t, ServerConfig{MaxClientRequests: limit}, false)
	c := h.dialRaw()

	// limit calls run, as many more wait.
	for i := 1; i <= 2*limit; i++ {
		c.send(callHeader(procBlock, uint32(i)), &blockArgs{Tag: int32(i)})
	}
	h.waitBlocked(limit)

	// With every slot taken and the waiting room full, keepalive is still
	// answered, and nothing else has been sent.
	c.sendRaw(pingFrame)
	if hd, _ := c.recv(); !hd.IsKeepalive() || hd.Procedure != int32(protocol.KeepaliveProcPong) {
		t.Fatalf("got %v, want a PONG", hd)
	}
	// One call more is read and held until a slot frees.
	c.send(callHeader(procBlock, 100), &blockArgs{Tag: 100})

	// Release the calls one by one: each frees a slot for a waiting call.
	serials := map[uint32]bool{}
	for i := 0; i < 2*limit+1; i++ {
		h.releaseOne()
		hd, body := c.recv()
		var a blockArgs
		if err := protocol.Unmarshal(body, &a); err != nil || hd.Type != protocol.Reply || hd.Status != protocol.StatusOK || uint32(a.Tag) != hd.Serial {
			t.Fatalf("reply %v tag %d, %v", hd, a.Tag, err)
		}
		serials[hd.Serial] = true
	}
	if len(serials) != 2*limit+1 {
		t.Errorf("replies to %d distinct calls, want %d", len(serials), 2*limit+1)
	}
	if p := h.peak.Load(); p != limit {
		t.Errorf("at most %d calls ran at once, want exactly max_client_requests=%d", p, limit)
	}
	c.echo(200, "done")
}

// TestSlowClientFarewell: a client that stops reading is dropped when its
// queue is full; what was queued, then the farewell, still reach it if
// it reads again within FlushTimeout. net.Pipe buffers nothing, so which
// frames were queued is exact.
func TestSlowClientFarewell(t *testing.T) {
	const maxQueue = 8
	farewell, err := EncodeFrame(protocol.Header{Program: testProg, Version: testVers, Procedure: 999,
		Type: protocol.Message, Serial: 1}, &echoBody{Data: []byte("you were too slow")})
	if err != nil {
		t.Fatal(err)
	}
	var reasons []error
	var mu sync.Mutex
	h := newHarnessWith(t, ServerConfig{MaxQueue: maxQueue, FlushTimeout: hangTimeout}, true, func(reason error) []byte {
		mu.Lock()
		reasons = append(reasons, reason)
		mu.Unlock()
		return farewell
	})

	good := h.dialRaw()
	good.echo(1, "before")
	<-h.sessions

	slow := h.dialRaw()
	slow.echo(1, "before")
	// The reply counts against the queue until its write returns, which
	// can be just after the client has read it.
	slowPeer := <-h.sessions
	waitFor(t, "the reply to leave the queue", func() bool { return slowPeer.QueueLen() == 0 })
	slow.send(callHeader(procFlood, 2), &floodArgs{N: 1000, Size: 64})
	// The flood's SendMessage never blocks: it returns although nothing is read.
	var sent int32
	select {
	case sent = <-h.floodSent:
	case <-time.After(hangTimeout):
		t.Fatal("the session blocked sending to a client that does not read")
	}
	if sent != maxQueue {
		t.Errorf("%d messages queued, want max_client_queue=%d", sent, maxQueue)
	}
	good.echo(2, "while the slow client is dropped")

	// Now read: the queued messages in order, the farewell, the end.
	for i := int32(0); i < sent; i++ {
		hd, body := slow.recv()
		var m echoBody
		if err := protocol.Unmarshal(body, &m); err != nil || hd.Procedure != procMsg || len(m.Data) < 4 || m.Data[3] != byte(i) {
			t.Fatalf("frame %d: %v %v %v", i, hd, m.Data, err)
		}
	}
	hd, body := slow.recv()
	var m echoBody
	if err := protocol.Unmarshal(body, &m); err != nil || hd.Procedure != 999 || string(m.Data) != "you were too slow" {
		t.Fatalf("last frame %v %q, want the farewell", hd, m.Data)
	}
	if got := slow.expectClosed(); len(got) != 0 {
		t.Errorf("frames after the farewell: %v", got)
	}

	waitFor(t, "the slow client to go", func() bool { return h.srv.Stats().Clients == 1 })
	st := h.srv.Stats()
	if st.SlowDropped != 1 || st.QueuePeak > maxQueue {
		t.Errorf("stats %+v: want 1 slow drop and a queue peak of at most %d", st, maxQueue)
	}
	mu.Lock()
	var sce *SlowClientError
	if len(reasons) != 1 || !errors.As(reasons[0], &sce) || sce.Queue != maxQueue {
		t.Errorf("Farewell called with %v, want one *SlowClientError", reasons)
	}
	mu.Unlock()
	good.echo(3, "after")
}

// TestSlowClientHalfClosed: a dropped client that shuts its side of the
// socket ends the server's reader; the flush and farewell still go on
// for as long as the client reads.
func TestSlowClientHalfClosed(t *testing.T) {
	h := newHarnessWith(t, ServerConfig{MaxQueue: 4, FlushTimeout: hangTimeout}, false,
		func(error) []byte { return pingFrame })
	c := h.dialRaw()
	c.send(callHeader(procFlood, 1), &floodArgs{N: 1 << 20, Size: 32 << 10})
	sent := <-h.floodSent // the queue is full and the client is being dropped
	if err := c.Conn.(*net.UnixConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got := c.expectClosed()
	if len(got) == 0 || !got[len(got)-1].IsKeepalive() {
		t.Fatalf("got %d frames, the last not the farewell", len(got))
	}
	// Everything sent arrived, then the farewell.
	if int32(len(got)-1) != sent {
		t.Errorf("%d messages arrived, %d were sent", len(got)-1, sent)
	}
}

// TestSlowClientFarewellOutlivesKeepalive: a keepalive tick during the
// flush of a dropped client does not cut the flush short.
func TestSlowClientFarewellOutlivesKeepalive(t *testing.T) {
	const (
		interval = 10 * time.Millisecond
		maxQueue = 4
	)
	clock := NewManualClock(time.Now())
	h := newHarnessWith(t, ServerConfig{MaxQueue: maxQueue, MaxClientRequests: 1, FlushTimeout: hangTimeout,
		KeepaliveInterval: interval, KeepaliveCount: 0, Clock: clock}, true,
		func(error) []byte { return pingFrame })
	c := h.dialRaw()
	// Keepalive on, then the flood, in one write: the calls run in
	// order (one at a time), so the reply to the first takes one place
	// in the queue and the flood the rest, however slowly this test runs.
	ka, _ := EncodeFrame(callHeader(procKA, 1), nil)
	flood, _ := EncodeFrame(callHeader(procFlood, 2), &floodArgs{N: 100, Size: 8})
	c.sendRaw(append(ka, flood...))
	if sent := <-h.floodSent; sent != maxQueue-1 {
		t.Fatalf("%d messages queued, want %d", sent, maxQueue-1)
	}
	// The keepalive timer fires while the flush waits for the client.
	for range 10 {
		clock.Advance(interval)
	}
	got := c.expectClosed()
	if len(got) != maxQueue+1 || got[0].Type != protocol.Reply || !got[maxQueue].IsKeepalive() {
		t.Errorf("got %v, want the reply, %d messages and the farewell", got, maxQueue-1)
	}
	if st := h.srv.Stats(); st.KeepaliveDrops != 0 || st.SlowDropped != 1 {
		t.Errorf("stats %+v, want one slow drop and no keepalive drop", st)
	}
}

// TestSlowClientNeverReads: a client that never reads again is cut off
// after FlushTimeout, without its farewell, and the server forgets it.
func TestSlowClientNeverReads(t *testing.T) {
	h := newHarnessWith(t, ServerConfig{MaxQueue: 4, FlushTimeout: 20 * time.Millisecond}, true,
		func(error) []byte { return pingFrame })
	good := h.dialRaw()
	slow := h.dialRaw()
	slow.echo(1, "x")
	slow.send(callHeader(procFlood, 2), &floodArgs{N: 100, Size: 16})
	<-h.floodSent
	waitFor(t, "the slow client to go", func() bool { return h.srv.Stats().Clients == 1 })
	if n := h.farewellCalls.Load(); n != 0 {
		t.Errorf("Farewell called %d times for a client that never read its queue", n)
	}
	// What it reads now is at most the end of a frame cut short: never a farewell.
	slow.expectClosed()
	good.echo(1, "fine")
	if st := h.srv.Stats(); st.SlowDropped != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestSlowClientUnix: over a real socket, with kernel buffers in the way,
// a flood to a client that does not read ends in its drop, the queue
// never above its bound, while another client works throughout.
func TestSlowClientUnix(t *testing.T) {
	const maxQueue = 16
	h := newHarness(t, ServerConfig{MaxQueue: maxQueue, FlushTimeout: 50 * time.Millisecond}, false)

	// The well-behaved client calls all along.
	conn, err := net.Dial("unix", h.sock)
	if err != nil {
		t.Fatal(err)
	}
	good := NewClient(conn, ClientOptions{})
	defer good.Close()
	stop := make(chan struct{})
	goodErr := make(chan error, 1)
	var goodCalls int
	go func() {
		for {
			select {
			case <-stop:
				goodErr <- nil
				return
			default:
			}
			var ret echoBody
			if err := good.Call(context.Background(), testProg, testVers, procEcho, &echoBody{Data: []byte("hi")}, &ret); err != nil {
				goodErr <- err
				return
			}
			goodCalls++
		}
	}()

	if err := good.Call(context.Background(), testProg, testVers, procEcho, &echoBody{}, nil); err != nil {
		t.Fatal(err)
	}
	<-h.sessions // the good client's
	slow := h.dialRaw()
	slow.echo(1, "x")
	// Watch the slow client's queue while it fills.
	slowPeer := <-h.sessions
	sampled := make(chan int, 1)
	go func() {
		most := 0
		for {
			most = max(most, slowPeer.QueueLen())
			select {
			case <-slowPeer.Done():
				sampled <- most
				return
			default:
				runtime.Gosched()
			}
		}
	}()
	slow.send(callHeader(procFlood, 2), &floodArgs{N: 1 << 20, Size: 32 << 10})
	if sent := <-h.floodSent; sent == 1<<20 {
		t.Fatal("the whole flood was queued")
	}
	if most := <-sampled; most > maxQueue {
		t.Errorf("the queue held %d frames, more than max_client_queue=%d", most, maxQueue)
	}
	waitFor(t, "the slow client to be dropped", func() bool {
		st := h.srv.Stats()
		return st.SlowDropped == 1 && st.Clients == 1
	})
	close(stop)
	if err := <-goodErr; err != nil {
		t.Errorf("the well-behaved client failed: %v", err)
	}
	if st := h.srv.Stats(); st.QueuePeak > maxQueue {
		t.Errorf("queue peak %d over max_client_queue=%d", st.QueuePeak, maxQueue)
	}
	t.Logf("the good client made %d calls meanwhile", goodCalls)
}

// TestShutdownClosesEveryClient: Shutdown cancels calls in flight, closes
// every client and their sessions, and refuses to serve again
// (TestShutdownWritesWhatIsQueued checks the flush).
func TestShutdownClosesEveryClient(t *testing.T) {
	h := newHarness(t, ServerConfig{}, false)
	c := h.dialRaw()
	call := callHeader(procBlock, 1)
	c.send(call, &blockArgs{Tag: 1})
	h.waitBlocked(1)
	idle := h.dialRaw()
	idle.echo(1, "idle")
	ctx, cancel := context.WithTimeout(context.Background(), hangTimeout)
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	c.expectClosed()
	idle.expectClosed()
	if n := h.sessionsOpen.Load(); n != 0 {
		t.Errorf("%d sessions open after Shutdown", n)
	}
	// Serving again is refused.
	l, err := net.Listen("unix", h.sock+"2")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.srv.Serve(l, ListenerOptions{}); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown: %v", err)
	}
}

// TestNoLeaks: connecting and disconnecting many times leaves no
// goroutine and no file descriptor behind.
func TestNoLeaks(t *testing.T) {
	h := newHarness(t, ServerConfig{}, false)
	// Warm up whatever the runtime and the server start once.
	cycle(t, h, 0)
	waitFor(t, "the warm-up client to go", func() bool { return h.srv.Stats().Clients == 0 })
	runtime.GC()
	leaks := testutil.Baseline(t)

	const cycles = 1000
	for i := 1; i <= cycles; i++ {
		cycle(t, h, i)
	}
	waitFor(t, "every client to go", func() bool { return h.srv.Stats().Clients == 0 })
	if st := h.srv.Stats(); st.Accepted != cycles+1 {
		t.Errorf("accepted %d clients, want %d", st.Accepted, cycles+1)
	}
	leaks.Check(0)
	if n := h.sessionsOpen.Load(); n != 0 {
		t.Errorf("%d sessions still open", n)
	}
}

// cycle connects, calls and disconnects; every tenth time it hangs up
// with a call still running, and every tenth+1 the server hangs up.
func cycle(t *testing.T, h *harness, i int) {
	t.Helper()
	conn, err := net.Dial("unix", h.sock)
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(conn, ClientOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), hangTimeout)
	defer cancel()
	var ret echoBody
	if err := c.Call(ctx, testProg, testVers, procEcho, &echoBody{Data: []byte{byte(i)}}, &ret); err != nil {
		t.Fatalf("cycle %d: %v", i, err)
	}
	switch i % 10 {
	case 1:
		// Hang up with a call running on the server.
		done := make(chan error, 1)
		go func() { done <- c.Call(ctx, testProg, testVers, procBlock, &blockArgs{Tag: 1}, nil) }()
		h.waitBlocked(1)
		c.Close()
		if err := <-done; !errors.Is(err, ErrClientClosed) {
			t.Fatalf("cycle %d: pending call returned %v", i, err)
		}
		return
	case 2:
		// The server hangs up.
		if err := c.Call(ctx, testProg, testVers, procClose, nil, nil); err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		<-c.Done()
	}
	c.Close()
}

func TestClientAgainstServer(t *testing.T) {
	h := newHarness(t, ServerConfig{MaxClientRequests: 2}, false)
	conn, err := net.Dial("unix", h.sock)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	var mu sync.Mutex
	c := NewClient(conn, ClientOptions{OnMessage: func(hd protocol.Header, body []byte) {
		var m echoBody
		protocol.Unmarshal(body, &m)
		mu.Lock()
		msgs = append(msgs, string(m.Data))
		mu.Unlock()
	}})
	defer c.Close()
	ctx := context.Background()

	// A call that blocks does not hold up a later one: replies come out
	// of order and each finds its call.
	blocked := make(chan error, 1)
	var blockRet blockArgs
	go func() { blocked <- c.Call(ctx, testProg, testVers, procBlock, &blockArgs{Tag: 7}, &blockRet) }()
	h.waitBlocked(1)
	var ret echoBody
	if err := c.Call(ctx, testProg, testVers, procEcho, &echoBody{Data: []byte("second")}, &ret); err != nil || string(ret.Data) != "second" {
		t.Fatalf("echo: %q, %v", ret.Data, err)
	}
	h.releaseOne()
	if err := <-blocked; err != nil || blockRet.Tag != 7 {
		t.Fatalf("blocked call: %+v, %v", blockRet, err)
	}

	// Many concurrent calls, each matched to its own reply.
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := fmt.Sprintf("call %d", i)
			var r echoBody
			if err := c.Call(ctx, testProg, testVers, procEcho, &echoBody{Data: []byte(want)}, &r); err != nil || string(r.Data) != want {
				errs <- fmt.Errorf("%s: got %q, %v", want, r.Data, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// An error reply is a *protocol.Error.
	err = c.Call(ctx, testProg, testVers, procError, nil, nil)
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != int32(vir.ErrNoDomain) {
		t.Errorf("error call: %v", err)
	}

	// Messages reach OnMessage; the server closing fails later calls with io.EOF.
	if err := c.Call(ctx, testProg, testVers, procClose, nil, nil); err != nil {
		t.Fatal(err)
	}
	<-c.Done()
	mu.Lock()
	if len(msgs) != 1 || msgs[0] != "before the reply" {
		t.Errorf("messages %q", msgs)
	}
	mu.Unlock()
	err = c.Call(ctx, testProg, testVers, procEcho, &echoBody{}, nil)
	var ce *ClosedError
	if !errors.As(err, &ce) || !errors.Is(err, io.EOF) {
		t.Errorf("call after close: %v", err)
	}
}

// TestShutdownWritesWhatIsQueued: replies queued for a client that was not
// reading when the server shut down still reach it, before the close, if
// it reads within FlushTimeout (calls not yet answered are cancelled).
func TestShutdownWritesWhatIsQueued(t *testing.T) {
	h := newHarness(t, ServerConfig{FlushTimeout: 20 * time.Second}, false)
	c := h.dialRaw()
	const calls = 8
	payload := strings.Repeat("x", 256<<10) // more than the socket buffers hold
	for i := range calls {
		c.send(callHeader(procEcho, uint32(i+1)), &echoBody{Data: []byte(payload)})
	}
	// Each reply is larger than the socket buffers: none is written whole
	// while the client does not read, so all of them stay queued.
	waitFor(t, "every reply to be queued", func() bool {
		peers := h.srv.Peers()
		return len(peers) == 1 && peers[0].QueueLen() == calls
	})
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), hangTimeout)
		defer cancel()
		done <- h.srv.Shutdown(ctx)
	}()
	got := c.expectClosed()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(got) != calls {
		t.Fatalf("%d replies before the close, want %d", len(got), calls)
	}
	// Calls run concurrently, so their replies come in any order.
	seen := map[uint32]bool{}
	for _, hd := range got {
		if hd.Status != protocol.StatusOK || hd.Serial < 1 || hd.Serial > calls || seen[hd.Serial] {
			t.Fatalf("unexpected reply %v among %v", hd, got)
		}
		seen[hd.Serial] = true
	}
}
