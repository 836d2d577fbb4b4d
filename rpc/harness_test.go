package rpc

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govirt/govirtd/internal/testutil"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// The tests run a real Server on a unix socket in t.TempDir() (or on
// net.Pipe connections, where a test needs a peer that buffers nothing)
// with testSession, a small program of its own. No assertion depends on
// timing: tests wait for behaviour, with generous timeouts against hangs.

const (
	testProg uint32 = 0x12345678
	testVers uint32 = 1
)

// Procedures of the test program.
const (
	procEcho     = 1   // echoBody → the same echoBody
	procBlock    = 2   // blockArgs → blockArgs, once the test releases it
	procKA       = 3   // void → void; enables keepalive for the client
	procClose    = 4   // void → void; sends a message first, closes after the reply
	procFlood    = 5   // floodArgs → floodRet; sends messages until one fails
	procPanic    = 6   // void → never returns: panics
	procError    = 7   // void → an error reply
	procDownload = 8   // blockArgs (a size) → void; then streams that many bytes to the client (streamByte)
	procUpload   = 9   // void → void; then reads the client's stream once the test releases it
	procMsg      = 100 // the messages procClose and procFlood send
)

// streamByte is byte i of the data procDownload sends.
func streamByte(i int) byte { return byte(i*7 + i/4096) }

// streamResult is how a stream procedure's goroutine ended: the bytes
// it moved and its error.
type streamResult struct {
	n   int
	sum uint64 // of the bytes received, for procUpload
	err error
}

// The test program's bodies, with codecs written by hand over the
// protocol package's primitives, as generated ones are.

type echoBody struct {
	Data []byte // at most 1 MiB
}

func (b *echoBody) EncodeXDR(e *protocol.Encoder) error { return e.Opaque(b.Data, 1<<20) }
func (b *echoBody) DecodeXDR(d *protocol.Decoder) (err error) {
	b.Data, err = d.Opaque(1 << 20)
	return err
}

type blockArgs struct{ Tag int32 }

func (b *blockArgs) EncodeXDR(e *protocol.Encoder) error { e.Int32(b.Tag); return nil }
func (b *blockArgs) DecodeXDR(d *protocol.Decoder) (err error) {
	b.Tag, err = d.Int32()
	return err
}

type floodArgs struct {
	N    int32 // messages to send
	Size int32 // bytes of each message's body
}

func (b *floodArgs) EncodeXDR(e *protocol.Encoder) error { e.Int32(b.N); e.Int32(b.Size); return nil }
func (b *floodArgs) DecodeXDR(d *protocol.Decoder) (err error) {
	if b.N, err = d.Int32(); err != nil {
		return err
	}
	b.Size, err = d.Int32()
	return err
}

type floodRet struct{ Sent int32 }

func (b *floodRet) EncodeXDR(e *protocol.Encoder) error { e.Int32(b.Sent); return nil }
func (b *floodRet) DecodeXDR(d *protocol.Decoder) (err error) {
	b.Sent, err = d.Int32()
	return err
}

// hangTimeout bounds every wait: a test that hangs fails instead.
const hangTimeout = 20 * time.Second

type harness struct {
	t   *testing.T
	srv *Server

	sock string        // the unix socket, when serving one
	pipe *pipeListener // the in-memory listener, when serving one

	running atomic.Int32 // procBlock calls running now
	peak    atomic.Int32 // the most procBlock calls ever running at once
	blocked chan int32   // a procBlock call's tag, as it starts waiting
	release chan struct{}

	floodSent chan int32 // what procFlood managed to send

	streams    chan *Stream      // every stream a stream procedure opened
	streamDone chan streamResult // how each ended
	uploadGate chan struct{}     // procUpload reads once this is signalled

	farewell      func(reason error) []byte // makes sessions Farewellers when set
	farewellCalls atomic.Int32
	sessionsOpen  atomic.Int32
	sessions      chan *Peer // every peer, as its session is made
}

// newHarness starts a server with cfg on a unix socket, or on net.Pipe
// connections when pipe is true.
func newHarness(t *testing.T, cfg ServerConfig, pipe bool) *harness {
	return newHarnessWith(t, cfg, pipe, nil)
}

func newHarnessWith(t *testing.T, cfg ServerConfig, pipe bool, farewell func(error) []byte) *harness {
	t.Helper()
	h := &harness{
		t:         t,
		blocked:   make(chan int32, 1000),
		release:   make(chan struct{}, 1000),
		floodSent: make(chan int32, 100),
		farewell:  farewell,
		sessions:  make(chan *Peer, 5000),

		streams:    make(chan *Stream, 10),
		streamDone: make(chan streamResult, 10),
		uploadGate: make(chan struct{}, 10),
	}
	cfg.Programs = []Program{{Number: testProg, Version: testVers}}
	cfg.NewSession = h.newSession
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h.srv = NewServer(cfg)
	var l net.Listener
	if pipe {
		h.pipe = newPipeListener()
		l = h.pipe
	} else {
		h.sock = filepath.Join(t.TempDir(), "sock")
		ul, err := net.Listen("unix", h.sock)
		if err != nil {
			t.Fatal(err)
		}
		l = ul
	}
	served := make(chan error, 1)
	go func() { served <- h.srv.Serve(l, ListenerOptions{Name: "test"}) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), hangTimeout)
		defer cancel()
		if err := h.srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
		if n := h.sessionsOpen.Load(); n != 0 {
			t.Errorf("%d sessions not closed after Shutdown", n)
		}
	})
	return h
}

func (h *harness) newSession(p *Peer) Session {
	h.sessionsOpen.Add(1)
	h.sessions <- p
	s := &testSession{h: h, peer: p}
	if h.farewell != nil {
		return &farewellSession{s}
	}
	return s
}

// dial connects a new client.
func (h *harness) dial() net.Conn {
	h.t.Helper()
	if h.pipe != nil {
		return h.pipe.dial()
	}
	c, err := net.Dial("unix", h.sock)
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// releaseOne lets one procBlock call return.
func (h *harness) releaseOne() { h.release <- struct{}{} }

// waitBlocked waits for n procBlock calls to start waiting and returns their tags.
func (h *harness) waitBlocked(n int) []int32 {
	h.t.Helper()
	var tags []int32
	for len(tags) < n {
		select {
		case tag := <-h.blocked:
			tags = append(tags, tag)
		case <-time.After(hangTimeout):
			h.t.Fatalf("only %d of %d blocking calls started", len(tags), n)
		}
	}
	return tags
}

// waitFor polls cond until it holds; see testutil.WaitFor.
func waitFor(t *testing.T, what string, cond func() bool) { testutil.WaitFor(t, what, cond) }

type testSession struct {
	h    *harness
	peer *Peer
}

func (s *testSession) Dispatch(ctx context.Context, call *Call) (protocol.Encodable, error) {
	h := s.h
	switch call.Header.Procedure {
	case procEcho:
		var a echoBody
		if err := protocol.Unmarshal(call.Body, &a); err != nil {
			return nil, err
		}
		return &a, nil
	case procBlock:
		var a blockArgs
		if err := protocol.Unmarshal(call.Body, &a); err != nil {
			return nil, err
		}
		n := h.running.Add(1)
		for {
			p := h.peak.Load()
			if n <= p || h.peak.CompareAndSwap(p, n) {
				break
			}
		}
		h.blocked <- a.Tag
		defer h.running.Add(-1)
		select {
		case <-h.release:
			return &a, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	case procKA:
		s.peer.EnableKeepalive()
		return nil, nil
	case procClose:
		if err := s.peer.SendMessage(testProg, testVers, procMsg, &echoBody{Data: []byte("before the reply")}); err != nil {
			return nil, err
		}
		call.CloseAfterReply()
		return nil, nil
	case procFlood:
		var a floodArgs
		if err := protocol.Unmarshal(call.Body, &a); err != nil {
			return nil, err
		}
		var sent int32
		for sent < a.N {
			body := make([]byte, a.Size)
			if len(body) >= 4 {
				body[0], body[1], body[2], body[3] = byte(sent>>24), byte(sent>>16), byte(sent>>8), byte(sent)
			}
			if s.peer.SendMessage(testProg, testVers, procMsg, &echoBody{Data: body}) != nil {
				break
			}
			sent++
		}
		h.floodSent <- sent
		return &floodRet{Sent: sent}, nil
	case procDownload:
		var a blockArgs
		if err := protocol.Unmarshal(call.Body, &a); err != nil {
			return nil, err
		}
		st := call.OpenStream(false)
		h.streams <- st
		go func() {
			ctx := context.Background()
			data := make([]byte, a.Tag)
			for i := range data {
				data[i] = streamByte(i)
			}
			n, err := st.Write(data)
			if err == nil {
				err = st.CloseWrite(ctx)
			}
			if err == nil {
				err = st.Finish(ctx)
			}
			if err != nil {
				st.Abort(nil)
			}
			h.streamDone <- streamResult{n: n, err: err}
		}()
		return nil, nil
	case procUpload:
		st := call.OpenStream(false)
		h.streams <- st
		go func() {
			<-h.uploadGate
			var r streamResult
			buf := make([]byte, 100000)
			for {
				n, err := st.Read(buf)
				for _, b := range buf[:n] {
					r.sum += uint64(b)
				}
				r.n += n
				if err == io.EOF {
					r.err = st.Finish(context.Background())
					break
				}
				if err != nil {
					r.err = err
					break
				}
			}
			h.streamDone <- r
		}()
		return nil, nil
	case procPanic:
		panic("the handler fell over")
	case procError:
		return nil, protocol.NewError(int32(vir.ErrNoDomain), int32(vir.FromTest), "Domain not found")
	}
	return nil, protocol.RPCError("unknown procedure: %d", call.Header.Procedure)
}

func (s *testSession) Close() { s.h.sessionsOpen.Add(-1) }

// farewellSession says goodbye with the harness's farewell.
type farewellSession struct{ *testSession }

func (s *farewellSession) Farewell(reason error) []byte {
	s.h.farewellCalls.Add(1)
	return s.h.farewell(reason)
}

// rawConn is a client that speaks frames by hand, to send what no
// well-behaved client would.
type rawConn struct {
	t *testing.T
	net.Conn
	r *bufio.Reader
}

func (h *harness) dialRaw() *rawConn {
	h.t.Helper()
	c := h.dial()
	h.t.Cleanup(func() { c.Close() })
	return &rawConn{t: h.t, Conn: c, r: bufio.NewReader(c)}
}

func callHeader(proc int32, serial uint32) protocol.Header {
	return protocol.Header{Program: testProg, Version: testVers, Procedure: proc, Type: protocol.Call, Serial: serial}
}

// send writes a frame with header hd and body (nil for empty).
func (c *rawConn) send(hd protocol.Header, body protocol.Encodable) {
	c.t.Helper()
	f, err := EncodeFrame(hd, body)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(f)
}

func (c *rawConn) sendRaw(b []byte) {
	c.t.Helper()
	c.SetWriteDeadline(time.Now().Add(hangTimeout))
	if _, err := c.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// recv reads the next frame.
func (c *rawConn) recv() (protocol.Header, []byte) {
	c.t.Helper()
	hd, body, err := c.tryRecv()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return hd, body
}

func (c *rawConn) tryRecv() (protocol.Header, []byte, error) {
	c.SetReadDeadline(time.Now().Add(hangTimeout))
	return ReadFrame(c.r)
}

// expectClosed reads until the server closes the connection, and
// returns the headers of the frames that came first.
func (c *rawConn) expectClosed() []protocol.Header {
	c.t.Helper()
	var got []protocol.Header
	for {
		hd, _, err := c.tryRecv()
		if err == nil {
			got = append(got, hd)
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatalf("the server did not close the connection (after %d frames)", len(got))
		}
		return got
	}
}

// recvError reads a frame that must be an ERROR reply to hd's call and
// returns its error.
func (c *rawConn) recvError(call protocol.Header) *protocol.Error {
	c.t.Helper()
	hd, body := c.recv()
	want := replyHeader(call, protocol.StatusError)
	if hd != want {
		c.t.Fatalf("reply header %v, want %v", hd, want)
	}
	var e protocol.Error
	if err := protocol.Unmarshal(body, &e); err != nil {
		c.t.Fatal(err)
	}
	return &e
}

// echo makes an echo call with serial and checks its reply.
func (c *rawConn) echo(serial uint32, data string) {
	c.t.Helper()
	c.send(callHeader(procEcho, serial), &echoBody{Data: []byte(data)})
	hd, body := c.recv()
	if want := replyHeader(callHeader(procEcho, serial), protocol.StatusOK); hd != want {
		c.t.Fatalf("echo reply header %v, want %v", hd, want)
	}
	var got echoBody
	if err := protocol.Unmarshal(body, &got); err != nil || string(got.Data) != data {
		c.t.Fatalf("echo returned %q, %v; want %q", got.Data, err, data)
	}
}

// pipeListener hands out the server ends of net.Pipe connections: a
// client that does not read blocks the server's writer at once, with no
// kernel buffer in between.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *pipeListener) dial() net.Conn {
	c, s := net.Pipe()
	select {
	case l.conns <- s:
	case <-l.closed:
		s.Close()
	}
	return c
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

var _ io.Reader = (*rawConn)(nil)
