package rpc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/govirt/govirtd/protocol"
)

// ErrPeerClosed is returned when sending to a client that is gone.
var ErrPeerClosed = errors.New("rpc: client connection closed")

// SlowClientError is why a client whose outbound queue filled up was
// disconnected.
type SlowClientError struct{ Queue int }

func (e *SlowClientError) Error() string {
	return fmt.Sprintf("client is not reading: its outbound queue of %d messages is full (max_client_queue)", e.Queue)
}

// KeepaliveError is why a client that stopped answering pings was
// disconnected.
type KeepaliveError struct {
	Count    int
	Interval time.Duration
}

func (e *KeepaliveError) Error() string {
	return fmt.Sprintf("no keepalive response after %d pings %v apart (keepalive_interval, keepalive_count)", e.Count, e.Interval)
}

// Peer is one connected client.
type Peer struct {
	srv      *Server
	conn     net.Conn
	id       uint64
	readOnly bool
	listener string
	session  Session

	ctx    context.Context // cancelled when the client is closed
	cancel context.CancelFunc

	// out is the ordered, bounded outbound queue. queued counts the
	// frames enqueue accepted that are not yet completely written: those
	// in out and those the writer holds. It never exceeds cap(out), so a
	// send on out never blocks, and a client that does not read holds at
	// most MaxQueue frames (and one farewell frame) of the daemon's memory.
	out      chan []byte
	queued   atomic.Int32
	done     chan struct{} // closed when the client starts closing
	flush    bool          // write what is queued before closing the socket; set only as done is closed
	closeMu  sync.Mutex    // guards closeErr, flush and the closing of done
	closeErr error

	// A frame leaves through out, written by the writer goroutine, or,
	// when nothing is queued or being written (queued is 0), straight
	// from the goroutine that made it, with a write that never blocks
	// (send): that saves waking the writer for every reply and event.
	wmu     sync.Mutex      // held while writing to conn
	partial []byte          // the rest of a frame a direct write began, counted in queued; guarded by wmu, written first
	kick    chan struct{}   // wakes the writer to write partial
	raw     syscall.RawConn // for the direct writes; nil when conn has no fd (then never)

	callMu    sync.Mutex    // guards running and waiting
	running   int           // calls being dispatched
	waiting   []*Call       // calls read but not yet started, at most MaxClientRequests
	callFreed chan struct{} // signalled when a call finishes, to wake a reader held back
	calls     sync.WaitGroup
	// heldBack is set while the reader waits for a call to finish: the
	// client's PONGs then sit unread, and keepalive must not count them
	// as missing.
	heldBack atomic.Bool

	kaMu       sync.Mutex   // guards kaTimer
	kaTimer    *time.Timer  // nil until the client negotiates keepalive
	lastRecv   atomic.Int64 // unix nanoseconds of the last frame received
	unanswered atomic.Int32 // pings sent since then
}

func newPeer(s *Server, conn net.Conn, opts ListenerOptions) *Peer {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Peer{
		srv:       s,
		conn:      conn,
		id:        s.nextID.Add(1),
		readOnly:  opts.ReadOnly,
		listener:  opts.Name,
		ctx:       ctx,
		cancel:    cancel,
		out:       make(chan []byte, s.cfg.MaxQueue),
		done:      make(chan struct{}),
		callFreed: make(chan struct{}, 1),
		kick:      make(chan struct{}, 1),
	}
	if sc, ok := conn.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			p.raw = raw
		}
	}
	return p
}

// ID is the client's number, unique for the server's life.
func (p *Peer) ID() uint64 { return p.id }

// ReadOnly reports whether the client came in on a read-only listener.
func (p *Peer) ReadOnly() bool { return p.readOnly }

// Listener names the listener the client came in on.
func (p *Peer) Listener() string { return p.listener }

// Conn is the client's connection, for peer credentials.
func (p *Peer) Conn() net.Conn { return p.conn }

// Done is closed when the client starts closing.
func (p *Peer) Done() <-chan struct{} { return p.done }

// Err says why the client was closed; nil while it is open.
func (p *Peer) Err() error {
	p.closeMu.Lock()
	defer p.closeMu.Unlock()
	return p.closeErr
}

// QueueLen is how many frames wait to be written to the client,
// counting those being written; never more than MaxQueue, but for the
// rest of a frame a direct write began while others were queued.
func (p *Peer) QueueLen() int { return int(p.queued.Load()) }

func (p *Peer) start() {
	p.received()
	p.session = p.srv.cfg.NewSession(p)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		p.writeLoop()
	}()
	go func() {
		err := p.readLoop()
		p.readerDone(err)
		p.calls.Wait()
		<-writerDone
		p.stopKeepalive()
		p.session.Close()
		p.srv.remove(p)
	}()
}

// Close disconnects the client at once; frames still queued are dropped.
// It does not wait, so it may be called from any goroutine, even one
// holding locks the client's teardown takes.
func (p *Peer) Close(reason error) { p.close(reason, false) }

// readerDone closes the client when its reader stops, unless a flush is
// under way: the reader also stops when the client is closing, and the
// writer then closes the socket once the flush is over, within
// FlushTimeout; cutting it short would lose the last replies and the
// farewell.
func (p *Peer) readerDone(err error) {
	p.closeMu.Lock()
	flushing := p.flush
	p.closeMu.Unlock()
	if !flushing {
		p.Close(err)
	}
}

// closeAfterFlush disconnects the client after writing what is queued.
func (p *Peer) closeAfterFlush(reason error) { p.close(reason, true) }

// close starts closing the client and reports whether this call did (a
// client closes once; later calls can only cut a flush short).
func (p *Peer) close(reason error, flush bool) bool {
	p.closeMu.Lock()
	select {
	case <-p.done:
		p.closeMu.Unlock()
		if !flush {
			// A flush still under way is cut short.
			p.conn.Close()
		}
		return false
	default:
	}
	if reason == nil {
		reason = io.EOF
	}
	p.closeErr = reason
	p.flush = flush
	close(p.done)
	p.closeMu.Unlock()
	p.cancel()
	if flush {
		// Bound the flush, and a write already blocked on a client that
		// does not read.
		p.conn.SetWriteDeadline(time.Now().Add(p.srv.cfg.FlushTimeout))
	} else {
		p.conn.Close()
	}
	var slow *SlowClientError
	switch {
	case errors.As(reason, &slow):
		p.srv.log.Warn("dropping slow client", "client", p.id, "listener", p.listener, "reason", reason)
	case errors.Is(reason, io.EOF) || errors.Is(reason, ErrServerClosed) || errors.Is(reason, net.ErrClosed):
		p.srv.log.Debug("client disconnected", "client", p.id, "listener", p.listener, "reason", reason)
	default:
		p.srv.log.Info("client disconnected", "client", p.id, "listener", p.listener, "reason", reason)
	}
	return true
}

// enqueue puts a frame on the outbound queue without ever blocking. A
// client whose queue is full is dropped: it is closed in flush mode, so
// that what is queued, and the session's farewell, still reach it if it
// reads within FlushTimeout.
func (p *Peer) enqueue(frame []byte) error {
	select {
	case <-p.done:
		return ErrPeerClosed
	default:
	}
	n := p.queued.Load()
	for {
		if n >= int32(cap(p.out)) {
			err := &SlowClientError{Queue: cap(p.out)}
			if p.close(err, true) {
				p.srv.slowDropped.Add(1)
			}
			return err
		}
		if p.queued.CompareAndSwap(n, n+1) {
			break
		}
		n = p.queued.Load()
	}
	p.srv.notePeak(int(n + 1))
	p.out <- frame // never blocks: len(out) ≤ queued ≤ cap(out)
	return nil
}

// send writes frame at once when nothing is queued or being written,
// without blocking: what the socket does not take at once is kept in
// partial for the writer goroutine, which writes it before anything
// queued meanwhile. Otherwise frame is queued behind the others. Either
// way send never blocks, and frames leave whole and in send order.
func (p *Peer) send(frame []byte) error {
	if p.raw == nil || p.queued.Load() != 0 || !p.wmu.TryLock() {
		return p.enqueue(frame)
	}
	defer p.wmu.Unlock()
	if p.queued.Load() != 0 {
		return p.enqueue(frame)
	}
	select {
	case <-p.done:
		return ErrPeerClosed
	default:
	}
	n, err := p.writeNonblock(frame)
	if err != nil {
		p.Close(err)
		return err
	}
	if n < len(frame) {
		p.partial = frame[n:]
		p.queued.Add(1)
		select {
		case p.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

// writeNonblock writes what the socket takes of b now; the socket is in
// non-blocking mode, so a full socket buffer ends it early.
func (p *Peer) writeNonblock(b []byte) (int, error) {
	n := 0
	var werr error
	err := p.raw.Write(func(fd uintptr) bool {
		for n < len(b) {
			m, err := syscall.Write(int(fd), b[n:])
			if m > 0 {
				n += m
			}
			if err == syscall.EINTR {
				continue
			}
			if err != syscall.EAGAIN {
				werr = err
			}
			if err != nil || m <= 0 {
				break
			}
		}
		return true // never wait for the socket: the writer goroutine does
	})
	if err == nil {
		err = werr
	}
	return n, err
}

// SendMessage queues an asynchronous MESSAGE (an event) for the client,
// with the header libvirtd uses: status OK, serial 1. It never blocks.
func (p *Peer) SendMessage(prog, vers uint32, proc int32, body any) error {
	f, err := EncodeFrame(protocol.Header{
		Program: prog, Version: vers, Procedure: proc,
		Type: protocol.Message, Serial: 1, Status: protocol.StatusOK,
	}, body)
	if err != nil {
		return err
	}
	return p.send(f)
}

// SendFrame queues an encoded frame for the client. It never blocks.
func (p *Peer) SendFrame(frame []byte) error { return p.send(frame) }

// writeLoop writes what send could not: frames leave whole and in
// queue order, after the rest of a frame a direct write began. On a
// flush close it writes what is queued, then the session's farewell,
// within the write deadline close set.
func (p *Peer) writeLoop() {
	// backing[0] is for the rest of a frame a direct write began.
	var backing [17][]byte
	for {
		bufs := net.Buffers(backing[1:1])
		select {
		case f := <-p.out:
			bufs = append(bufs, f)
		case <-p.kick:
		case <-p.done:
			p.closeMu.Lock()
			flush := p.flush
			p.closeMu.Unlock()
			if flush {
				p.flushAndClose()
			}
			return
		}
		// Write what is queued now in one system call.
	drain:
		for len(bufs) < len(backing)-1 {
			select {
			case f := <-p.out:
				bufs = append(bufs, f)
			default:
				break drain
			}
		}
		p.wmu.Lock()
		if p.partial != nil {
			backing[0] = p.partial
			bufs = backing[:len(bufs)+1]
			p.partial = nil
		}
		n := len(bufs)
		_, err := bufs.WriteTo(p.conn)
		p.queued.Add(-int32(n))
		p.wmu.Unlock()
		clear(backing[:])
		if err != nil {
			p.Close(err)
			return
		}
	}
}

// flushAndClose writes the frames still queued and then the farewell,
// stopping at the first failed write: after a partial frame nothing more
// may be written, or the client would read garbage as a frame.
func (p *Peer) flushAndClose() {
	defer p.conn.Close()
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if p.partial != nil {
		_, err := p.conn.Write(p.partial)
		p.partial = nil
		p.queued.Add(-1)
		if err != nil {
			return
		}
	}
	for {
		select {
		case f := <-p.out:
			_, err := p.conn.Write(f)
			p.queued.Add(-1)
			if err != nil {
				return
			}
		default:
			if f := p.farewell(); f != nil {
				p.conn.Write(f)
			}
			return
		}
	}
}

// farewell asks the session for a last frame when the client is being
// dropped for not reading. It runs on the writer goroutine, never on the
// one that found the queue full, so the session may take its locks.
func (p *Peer) farewell() (frame []byte) {
	var slow *SlowClientError
	if !errors.As(p.Err(), &slow) {
		return nil
	}
	fw, ok := p.session.(Fareweller)
	if !ok {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			p.srv.log.Error("panic in the session's Farewell", "client", p.id, "panic", r, "stack", string(debug.Stack()))
			frame = nil
		}
	}()
	return fw.Farewell(p.Err())
}

func (p *Peer) readLoop() error {
	r := bufio.NewReaderSize(p.conn, 16*1024)
	for {
		h, body, err := ReadFrame(r)
		if err != nil {
			var fe *FrameError
			if errors.As(err, &fe) {
				p.srv.log.Warn("dropping client: malformed frame", "client", p.id, "err", err)
			}
			return err
		}
		p.received()
		if isKeepaliveMessage(h) {
			p.handleKeepalive(h)
			continue
		}
		if err := p.handle(h, body); err != nil {
			return err
		}
	}
}

// handle answers what the transport can answer itself and hands calls
// to the session.
func (p *Peer) handle(h protocol.Header, body []byte) error {
	if h.Type != protocol.Call && h.Type != protocol.CallWithFDs {
		// libvirtd drops stray replies, messages and stream packets.
		p.srv.log.Debug("ignoring unexpected message", "client", p.id, "header", h)
		return nil
	}
	var rerr *protocol.Error
	switch {
	case !p.srv.serves(h.Program, h.Version):
		rerr = protocol.RPCError("Cannot find program %d version %d", int32(h.Program), int32(h.Version))
	case h.Status != protocol.StatusOK:
		rerr = protocol.RPCError("Unexpected message status %d", h.Status)
	case h.Type == protocol.CallWithFDs:
		rerr = protocol.RPCError("passing file descriptors is not supported")
	}
	if rerr != nil {
		return p.reply(h, nil, rerr, false)
	}
	return p.startCall(&Call{Header: h, Body: body})
}

// startCall runs a quick call on the reader goroutine; any other call at
// once on its own goroutine if fewer than MaxClientRequests run, else
// queues it; while the queue is full it holds the reader back.
func (p *Peer) startCall(c *Call) error {
	if qs, ok := p.session.(QuickSession); ok && qs.Quick(c.Header) {
		p.calls.Add(1)
		p.dispatch(c)
		p.calls.Done()
		return nil
	}
	limit := p.srv.cfg.MaxClientRequests
	for {
		p.callMu.Lock()
		if p.running < limit {
			p.running++
			p.calls.Add(1)
			p.callMu.Unlock()
			go p.runCalls(c)
			return nil
		}
		if len(p.waiting) < limit {
			p.waiting = append(p.waiting, c)
			p.callMu.Unlock()
			return nil
		}
		p.callMu.Unlock()
		p.heldBack.Store(true)
		select {
		case <-p.callFreed:
		case <-p.done:
			p.heldBack.Store(false)
			return p.Err()
		}
		p.heldBack.Store(false)
		p.received()
	}
}

// runCalls dispatches c, then any calls that queued up meanwhile.
func (p *Peer) runCalls(c *Call) {
	defer p.calls.Done()
	for c != nil {
		p.dispatch(c)
		p.callMu.Lock()
		if len(p.waiting) > 0 {
			c = p.waiting[0]
			p.waiting[0] = nil
			p.waiting = p.waiting[1:]
		} else {
			c = nil
			p.running--
		}
		p.callMu.Unlock()
		select {
		case p.callFreed <- struct{}{}:
		default:
		}
	}
}

func (p *Peer) dispatch(c *Call) {
	select {
	case <-p.done:
		return
	default:
	}
	ret, err := p.callSession(c)
	if err := p.reply(c.Header, ret, err, c.closeAfterReply); err != nil && !errors.Is(err, ErrPeerClosed) {
		p.srv.log.Warn("cannot send reply", "client", p.id, "header", c.Header, "err", err)
	}
}

// callSession runs the session's Dispatch. A panic fails that call with
// an internal error and closes the client once the reply is written,
// rather than taking every other client down with the daemon.
func (p *Peer) callSession(c *Call) (ret any, err error) {
	defer func() {
		if r := recover(); r != nil {
			proc := c.Header.Procedure
			p.srv.log.Error("panic while dispatching a call; closing the client", "client", p.id,
				"header", c.Header, "panic", r, "stack", string(debug.Stack()))
			ret = nil
			err = protocol.NewError(protocol.CodeInternalError, protocol.DomainRPC,
				fmt.Sprintf("internal error: procedure %d failed unexpectedly; see the daemon's log", proc))
			c.closeAfterReply = true
		}
	}()
	return p.session.Dispatch(p.ctx, c)
}

func (p *Peer) reply(call protocol.Header, ret any, err error, closeAfter bool) error {
	var frame []byte
	if err == nil {
		frame, err = EncodeFrame(replyHeader(call, protocol.StatusOK), ret)
		if err != nil {
			err = fmt.Errorf("encode reply to %s: %w", protocol.Procedure(call.Procedure), err)
		}
	}
	if err != nil {
		var rerr *protocol.Error
		if !errors.As(err, &rerr) || rerr == nil {
			rerr = protocol.NewError(protocol.CodeInternalError, protocol.DomainRPC, "internal error: "+err.Error())
		}
		if frame, err = EncodeFrame(replyHeader(call, protocol.StatusError), rerr); err != nil {
			return err
		}
	}
	if err := p.send(frame); err != nil {
		return err
	}
	if closeAfter {
		p.closeAfterFlush(io.EOF)
	}
	return nil
}
