package rpc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/govirt/govirtd/protocol"
)

// ErrClientClosed is the reason of a client closed by its own Close.
var ErrClientClosed = errors.New("rpc: connection closed by the client")

// ClientOptions configures a Client.
type ClientOptions struct {
	// OnMessage receives every MESSAGE frame that is not keepalive (events).
	// It runs on the reader goroutine, in arrival order, and must not block
	// or call back into the Client: queue the message and return.
	OnMessage func(h protocol.Header, body []byte)
	// Clock times keepalive; nil is the wall clock. Tests pass a
	// *ManualClock.
	Clock Clock
}

// Client is the calling side of one connection: calls are matched to
// replies by serial, so any number may be in flight, answered in any
// order.
type Client struct {
	conn      net.Conn
	onMessage func(protocol.Header, []byte)

	// wsem serialises writes to conn (a token is held across a Write that
	// may block); a channel, so that a call waiting behind a blocked
	// write can give up when its context ends.
	wsem   chan struct{}
	serial atomic.Uint32

	// Keepalive frames to send (ctlPing, ctlPong bits). The reader and
	// the keepalive timer only set a bit and wake ctlLoop, which writes
	// them: neither ever waits for wsem, so a call whose write is blocked
	// on a server that stopped reading holds up no reading. A second
	// PING answered before the first PONG left is answered once: any
	// frame proves the client alive.
	ctl        atomic.Uint32
	ctlWake    chan struct{} // a token when ctl gains a bit
	writerDone chan struct{} // closed when ctlLoop returns

	mu      sync.Mutex // guards pending, streams and err
	pending map[uint32]*pendingCall
	streams map[uint32]*ClientStream // by the serial of the call that opened each
	err     error
	closed  chan struct{}

	clock      Clock
	lastRecv   atomic.Int64 // unix nanoseconds (of clock) of the last frame received
	unanswered atomic.Int32 // keepalive pings sent since then
	kaTimer    Timer        // guarded by mu
	readerDone chan struct{}
}

const (
	ctlPing = 1 << iota
	ctlPong
)

type pendingCall struct {
	prog uint32
	proc int32
	done chan reply
}

type reply struct {
	h    protocol.Header
	body []byte
	prog uint32 // what the call was
	proc int32
}

// NewClient starts a client on conn; it owns conn from now on.
func NewClient(conn net.Conn, opts ClientOptions) *Client {
	clock := opts.Clock
	if clock == nil {
		clock = SystemClock{}
	}
	c := &Client{
		conn:       conn,
		onMessage:  opts.OnMessage,
		pending:    map[uint32]*pendingCall{},
		closed:     make(chan struct{}),
		readerDone: make(chan struct{}),
		ctlWake:    make(chan struct{}, 1),
		wsem:       make(chan struct{}, 1),
		writerDone: make(chan struct{}),
		clock:      clock,
	}
	c.lastRecv.Store(clock.Now().UnixNano())
	go c.readLoop()
	go c.ctlLoop()
	return c
}

// Done is closed when the connection is closed, for whatever reason.
func (c *Client) Done() <-chan struct{} { return c.closed }

// Err says why the connection closed: io.EOF when the server closed it,
// ErrClientClosed after Close, a *KeepaliveError, or the I/O error.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the connection and fails the calls in flight. It waits for
// the reader and keepalive writer goroutines, so it must not be called
// from OnMessage.
func (c *Client) Close() error {
	c.shutdown(ErrClientClosed)
	<-c.readerDone
	<-c.writerDone
	return nil
}

func (c *Client) shutdown(reason error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = reason
	pending := c.pending
	c.pending = nil
	streams := c.streams
	c.streams = nil
	if c.kaTimer != nil {
		c.kaTimer.Stop()
	}
	close(c.closed)
	c.mu.Unlock()
	c.conn.Close()
	for _, p := range pending {
		close(p.done)
	}
	for _, s := range streams {
		s.end(&ClosedError{Reason: reason})
	}
}

// ClosedError is returned by calls on a connection that closed.
type ClosedError struct{ Reason error }

func (e *ClosedError) Error() string {
	return fmt.Sprintf("connection closed: %v", e.Reason)
}

func (e *ClosedError) Unwrap() error { return e.Reason }

// Call sends a CALL of procedure proc with args (nil for void) and decodes
// the reply into ret (nil for void). An ERROR reply is returned as a
// *protocol.Error.
func (c *Client) Call(ctx context.Context, prog, vers uint32, proc int32, args protocol.Encodable, ret protocol.Decodable) error {
	return c.callSerial(ctx, c.serial.Add(1), prog, vers, proc, args, ret)
}

func (c *Client) callSerial(ctx context.Context, serial uint32, prog, vers uint32, proc int32, args protocol.Encodable, ret protocol.Decodable) error {
	frame, err := EncodeFrame(protocol.Header{
		Program: prog, Version: vers, Procedure: proc,
		Type: protocol.Call, Serial: serial, Status: protocol.StatusOK,
	}, args)
	if err != nil {
		return err
	}
	p := &pendingCall{prog: prog, proc: proc, done: make(chan reply, 1)}
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return &ClosedError{Reason: err}
	}
	c.pending[serial] = p
	c.mu.Unlock()

	if err := c.write(ctx, frame); err != nil {
		c.forget(serial)
		if errors.Is(err, errNotSent) {
			// Nothing of the frame was written: the stream is intact.
			return ctx.Err()
		}
		// A server that closed may have written frames not read yet
		// (events, a farewell saying why): let the reader take them and
		// learn how the connection ended, within a bound, rather than
		// discard them by closing now.
		t := time.NewTimer(time.Second)
		select {
		case <-c.readerDone:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		c.shutdown(err)
		return &ClosedError{Reason: c.Err()}
	}
	select {
	case r, ok := <-p.done:
		if !ok {
			return &ClosedError{Reason: c.Err()}
		}
		return decodeReply(r, ret)
	case <-ctx.Done():
		c.forget(serial)
		return ctx.Err()
	}
}

func decodeReply(r reply, ret protocol.Decodable) error {
	if r.h.Program != r.prog || r.h.Procedure != r.proc {
		// The serial matched but the reply is to something else: say so
		// rather than decode it as what it is not (libvirt's client
		// refuses such replies too).
		return fmt.Errorf("reply with serial %d is for program %#x procedure %d, not the call's program %#x procedure %d",
			r.h.Serial, r.h.Program, r.h.Procedure, r.prog, r.proc)
	}
	switch r.h.Status {
	case protocol.StatusOK:
		if ret == nil {
			return nil
		}
		return protocol.Unmarshal(r.body, ret)
	case protocol.StatusError:
		var e protocol.Error
		if err := protocol.Unmarshal(r.body, &e); err != nil {
			return fmt.Errorf("undecodable error reply to %s: %w", protocol.Procedure(r.h.Procedure), err)
		}
		return &e
	}
	return fmt.Errorf("reply to %s has unexpected status %s", protocol.Procedure(r.h.Procedure), r.h.Status)
}

func (c *Client) forget(serial uint32) {
	c.mu.Lock()
	delete(c.pending, serial)
	c.mu.Unlock()
}

// errNotSent: the call's context ended while it waited for its turn to
// write; nothing of its frame was written.
var errNotSent = errors.New("rpc: call not sent")

// write sends frame whole, giving up at ctx's deadline; a frame cut short
// leaves the stream unusable, so any error but errNotSent ends the
// connection.
func (c *Client) write(ctx context.Context, frame []byte) error {
	select {
	case c.wsem <- struct{}{}:
	case <-ctx.Done():
		return errNotSent
	case <-c.closed:
		return net.ErrClosed
	}
	defer func() { <-c.wsem }()
	deadline, _ := ctx.Deadline() // zero: no deadline
	c.conn.SetWriteDeadline(deadline)
	_, err := c.conn.Write(frame)
	return err
}

// sendControl asks ctlLoop to send the keepalive frames of bits; it
// never blocks.
func (c *Client) sendControl(bits uint32) {
	c.ctl.Or(bits)
	select {
	case c.ctlWake <- struct{}{}:
	default:
	}
}

// ctlLoop writes the keepalive frames asked for, PONG first, between the
// calls' frames, until the connection closes. A write of its own that
// blocks (the server reads nothing) ends when the connection is closed,
// by Close or by keepalive giving up.
func (c *Client) ctlLoop() {
	defer close(c.writerDone)
	for {
		select {
		case <-c.ctlWake:
		case <-c.closed:
			return
		}
		select {
		case c.wsem <- struct{}{}:
		case <-c.closed:
			return
		}
		bits := c.ctl.Swap(0)
		var frames []byte
		if bits&ctlPong != 0 {
			frames = append(frames, pongFrame...)
		}
		if bits&ctlPing != 0 {
			frames = append(frames, pingFrame...)
		}
		var err error
		if len(frames) > 0 {
			c.conn.SetWriteDeadline(time.Time{})
			_, err = c.conn.Write(frames)
		}
		<-c.wsem
		if err != nil {
			c.shutdown(err)
			return
		}
	}
}

// ReaderDone is closed when the reader goroutine has stopped: every frame
// the server sent has been handed on.
func (c *Client) ReaderDone() <-chan struct{} { return c.readerDone }

func (c *Client) readLoop() {
	defer close(c.readerDone)
	r := bufio.NewReaderSize(c.conn, 16*1024)
	for {
		h, body, err := ReadFrame(r)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				err = io.EOF
			}
			c.shutdown(err)
			return
		}
		c.lastRecv.Store(c.clock.Now().UnixNano())
		c.unanswered.Store(0)
		switch {
		case isKeepaliveMessage(h):
			if h.Procedure == int32(protocol.KeepaliveProcPing) {
				c.sendControl(ctlPong)
			}
		case h.Type == protocol.Reply:
			c.deliver(h, body)
		case h.Type == protocol.Stream || h.Type == protocol.StreamHole:
			c.streamPacket(h, body)
		case h.Type == protocol.Message:
			if c.onMessage != nil {
				c.onMessage(h, body)
			}
		}
	}
}

// deliver hands a reply to the call with its serial. A reply to no call
// in flight (one given up on, or a confused server) is dropped.
func (c *Client) deliver(h protocol.Header, body []byte) {
	c.mu.Lock()
	p := c.pending[h.Serial]
	delete(c.pending, h.Serial)
	c.mu.Unlock()
	if p != nil {
		p.done <- reply{h: h, body: body, prog: p.prog, proc: p.proc}
	}
}

// StartKeepalive pings the server when it has been silent for interval
// and closes the connection after count unanswered pings. Call it only
// when the server supports keepalive (feature 10). The timer never waits
// for a write: a ping is handed to the keepalive writer, so a server that
// stopped reading is still given up on after count intervals.
func (c *Client) StartKeepalive(interval time.Duration, count int) {
	if interval <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil || c.kaTimer != nil {
		return
	}
	tick := func() {
		idle := c.clock.Now().Sub(time.Unix(0, c.lastRecv.Load()))
		next := interval
		switch {
		case idle < interval:
			next = interval - idle
		case int(c.unanswered.Load()) >= count:
			c.shutdown(&KeepaliveError{Count: int(c.unanswered.Load()), Interval: interval})
			return
		default:
			c.unanswered.Add(1)
			c.sendControl(ctlPing)
		}
		c.mu.Lock()
		if c.err == nil {
			c.kaTimer.Reset(next)
		}
		c.mu.Unlock()
	}
	c.kaTimer = c.clock.AfterFunc(interval, tick)
}
