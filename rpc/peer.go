package rpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
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

// StuckClientError is why a client that left more than MaxQueueBytes of
// replies and events unread for StuckTimeout was disconnected.
type StuckClientError struct {
	Bytes   int64
	Timeout time.Duration
}

func (e *StuckClientError) Error() string {
	return fmt.Sprintf("client is not reading: %d bytes of replies and events waited %v to be written (max_client_queue_bytes, client_stuck_timeout)", e.Bytes, e.Timeout)
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
	// connected is when the client connected, in seconds since the
	// server was made (what libvirt's admin clients list shows): 4
	// bytes in readOnly's padding, so a Peer stays in its size class.
	connected uint32
	listener  string
	// The identity, read once at connect (peercred.go): a unix peer's
	// credentials inline, anything else (TLS, an error) boxed, so that
	// an idle unix client pays 16 bytes for it.
	unixCred  [3]int32 // uid, gid, pid
	unixIdent bool
	ident     *Identity
	session   Session

	// The server's queue bounds when the client connected (Limits).
	maxQueue      int32
	maxQueueBytes int64
	stuckTimeout  time.Duration

	ctx    context.Context // cancelled when the client is closed
	cancel context.CancelFunc

	// out[outHead:] is the ordered, bounded outbound queue, allocated
	// on first use and released when it empties: an idle client holds
	// none. queued counts the frames enqueue accepted that are not yet
	// completely written: those in out and those the writer holds. It
	// never exceeds MaxQueue, so a client that does not read holds at
	// most MaxQueue frames (and one farewell frame) of the daemon's memory.
	outMu    sync.Mutex // guards out, outHead and fdFrames
	out      [][]byte
	outHead  int
	fdFrames []fdFrame // the queued frames that carry files, in queue order (fdpass.go)
	queued   atomic.Int32
	done     chan struct{} // closed when the client starts closing
	flush    bool          // write what is queued before closing the socket; set only as done is closed
	closeMu  sync.Mutex    // guards closeErr, flush and the closing of done
	closeErr error

	// A frame leaves through out, written by the writer goroutine, or,
	// when nothing is queued or being written (queued is 0), straight
	// from the goroutine that made it, with a write that never blocks
	// (send): that saves waking the writer for every reply and event.
	wmu     sync.Mutex    // held while writing to conn
	partial []byte        // the rest of a frame a direct write began, counted in queued; guarded by wmu, written first
	kick    chan struct{} // wakes the writer: a frame was queued, or partial set
	// queuedBytes counts the bytes of the frames in queued (partial's
	// rest included); drained is signalled when writes bring it down.
	queuedBytes atomic.Int64
	drained     chan struct{}
	// frameStart is when the frame being read began (unix nanoseconds),
	// 0 between frames: the server's sweeper reads it.
	frameStart atomic.Int64
	raw        syscall.RawConn // for the direct writes; nil when conn has no fd (then never)

	// rd reads the client's socket; stackGrown says the reader ran a
	// call on its own stack since it last moved. Both belong to the
	// goroutine reading (one at a time: see readLoop). idleSince is when
	// a reader with a grown stack began waiting for a frame (unix ns, 0
	// otherwise); the sweeper kicks one idle for idleMove (kicked, and a
	// read deadline in the past) so that it moves.
	rd         *connReader
	stackGrown bool
	idleSince  atomic.Int64
	kicked     atomic.Bool

	// The writer goroutine runs only while there is something to write or
	// a flush to do: an idle client costs no writer.
	writerMu      sync.Mutex     // guards writerReady, writerRunning and writersClosed
	writerReady   bool           // session is set: a writer may start (it may need the session)
	writerRunning bool           // a writer goroutine runs
	writersClosed bool           // teardown began: no writer starts any more
	writers       sync.WaitGroup // the writer goroutines, for teardown

	callMu    sync.Mutex    // guards running and waiting
	running   int           // calls being dispatched
	waiting   []*Call       // calls read but not yet started, at most MaxClientRequests
	callFreed chan struct{} // signalled when a call finishes, to wake a reader held back
	calls     sync.WaitGroup
	// heldBack is set while the reader waits for a call to finish: the
	// client's PONGs then sit unread, and keepalive must not count them
	// as missing.
	heldBack atomic.Bool

	// st holds the client's streams, made when its first stream opens
	// (stream.go): a client without streams pays a pointer.
	st atomic.Pointer[peerStreams]

	kaMu       sync.Mutex   // guards kaTimer
	kaTimer    Timer        // nil until the client negotiates keepalive
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
		connected: uint32(time.Now().Unix() - s.epoch),
		ctx:       ctx,
		cancel:    cancel,
		done:      make(chan struct{}),
		callFreed: make(chan struct{}, 1),
		kick:      make(chan struct{}, 1),
		drained:   make(chan struct{}, 1),

		maxQueue:      int32(s.maxQueue.Load()),
		maxQueueBytes: s.maxQueueBytes.Load(),
		stuckTimeout:  time.Duration(s.stuckTimeout.Load()),
	}
	if sc, ok := conn.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			p.raw = raw
		}
	}
	p.setIdentity(connIdentity(conn))
	return p
}

// ID is the client's number, unique for the server's life.
func (p *Peer) ID() uint64 { return p.id }

// Connected is when the client connected (to the second).
func (p *Peer) Connected() time.Time { return time.Unix(p.srv.epoch+int64(p.connected), 0) }

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
// counting those being written; never more than MaxQueue.
func (p *Peer) QueueLen() int { return int(p.queued.Load()) }

// Waiting is how many calls were read and wait for one of the client's
// max_client_requests places.
func (p *Peer) Waiting() int {
	p.callMu.Lock()
	defer p.callMu.Unlock()
	return len(p.waiting)
}

func (p *Peer) start() {
	p.received()
	p.session = p.srv.cfg.NewSession(p)
	// Frames may have been sent to the client from NewSession on; the
	// writer starts only now that it can ask the session for a farewell.
	p.writerMu.Lock()
	p.writerReady = true
	p.writerMu.Unlock()
	select {
	case <-p.done: // closing already: the writer does the flush
		p.startWriter()
	default:
		if p.queued.Load() != 0 {
			p.startWriter()
		}
	}
	p.rd = newConnReader(p.conn, p.raw)
	p.rd.kicked = func() bool { return p.kicked.CompareAndSwap(true, false) }
	go p.runReader()
}

// runReader reads the client's frames until it goes, then tears the
// client down; unless it handed the reading on to a fresh goroutine.
func (p *Peer) runReader() {
	err, moved := p.readLoop()
	if moved {
		return
	}
	p.readerDone(err)
	p.calls.Wait()
	p.endStreams()
	p.writerMu.Lock()
	p.writersClosed = true
	p.writerMu.Unlock()
	p.writers.Wait()
	p.releaseFiles()
	p.stopKeepalive()
	p.session.Close()
	p.srv.remove(p)
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
func (p *Peer) close(reason error, flush bool) bool { return p.drop(reason, flush, nil) }

// drop is close that also counts, in dropped, a close this call made,
// before the client can see its socket closed.
func (p *Peer) drop(reason error, flush bool, dropped *atomic.Uint64) bool {
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
	if dropped != nil {
		dropped.Add(1)
	}
	p.cancel()
	if flush {
		// Bound the flush, and a write already blocked on a client that
		// does not read; the writer does the flush.
		p.conn.SetWriteDeadline(time.Now().Add(p.srv.cfg.FlushTimeout))
		p.startWriter()
	} else {
		p.conn.Close()
	}
	var slow *SlowClientError
	var stuck *StuckClientError
	var partial *PartialFrameError
	switch {
	case errors.As(reason, &slow), errors.As(reason, &stuck), errors.As(reason, &partial):
		p.srv.log.Warn("dropping slow client", "client", p.id, "listener", p.listener, "reason", reason)
	case errors.Is(reason, io.EOF) || errors.Is(reason, ErrServerClosed) || errors.Is(reason, net.ErrClosed):
		p.srv.log.Debug("client disconnected", "client", p.id, "listener", p.listener, "reason", reason)
	default:
		p.srv.log.Info("client disconnected", "client", p.id, "listener", p.listener, "reason", reason)
	}
	return true
}

// readLoop reads and handles frames. A quick call runs on this
// goroutine and may grow its stack to tens of KiB, which the runtime
// keeps while the goroutine waits; so once the client has been quiet for
// idleMove, the sweeper kicks the reader and the reading moves to a fresh
// goroutine, with the smallest stack, and this one ends (moved): an idle
// client costs a few KiB, not what its last call needed. A client that
// keeps calling is never kicked, and pays nothing for it.
func (p *Peer) readLoop() (err error, moved bool) {
	r := p.rd
	for {
		if err := p.waitDrained(); err != nil {
			return err, false
		}
		if p.stackGrown && r.Buffered() == 0 && p.raw != nil {
			p.idleSince.Store(time.Now().UnixNano())
		}
		h, body, reserved, err := p.readFrame(r)
		if p.idleSince.Load() != 0 {
			p.idleSince.Store(0)
		}
		if err != nil && errors.Is(err, os.ErrDeadlineExceeded) && p.kicked.CompareAndSwap(true, false) {
			// Kicked while waiting between frames: go on in a fresh
			// goroutine, with the smallest stack.
			p.conn.SetReadDeadline(time.Time{})
			p.stackGrown = false
			p.srv.readersMoved.Add(1)
			p.srv.reclaim.readerMoved()
			go p.runReader()
			return nil, true
		}
		if err != nil {
			var fe *FrameError
			if errors.As(err, &fe) {
				p.srv.log.Warn("dropping client: malformed frame", "client", p.id, "err", err)
			}
			return err, false
		}
		p.received()
		if isKeepaliveMessage(h) {
			p.releaseFrame(reserved)
			p.handleKeepalive(h)
			continue
		}
		if err := p.handle(h, body, reserved); err != nil {
			return err, false
		}
	}
}

// PartialFrameError is why a client that began a frame and did not
// finish it within FrameTimeout was disconnected.
type PartialFrameError struct{ Timeout time.Duration }

func (e *PartialFrameError) Error() string {
	return fmt.Sprintf("client began a frame and did not finish it within %v (client_frame_timeout)", e.Timeout)
}

// readFrame waits for a frame to begin, as long as the client likes
// (an idle client may stay idle), then notes when it began: the server's
// sweeper drops a client whose frame is not complete FrameTimeout later.
// A deadline per frame would do the same at ~40 µs of timer work a call.
func (p *Peer) readFrame(r *connReader) (protocol.Header, []byte, int64, error) {
	if err := r.Wait(); err != nil {
		return protocol.Header{}, nil, 0, p.partialErr(err)
	}
	p.frameStart.Store(time.Now().UnixNano())
	var reserved int64
	h, body, err := readFrameReserve(r, protocol.NetMessageMax, func(size int) error {
		if size <= largeFrame {
			return nil
		}
		// Waiting for the budget is not the client's stalling: the
		// frame's time starts again once it may be read.
		p.frameStart.Store(0)
		n, ok := p.srv.frames.acquire(int64(size), p.done)
		if !ok {
			return p.Err()
		}
		reserved = n
		p.frameStart.Store(time.Now().UnixNano())
		return nil
	})
	p.frameStart.Store(0)
	if err != nil {
		p.releaseFrame(reserved)
		return h, nil, 0, p.partialErr(err)
	}
	return h, body, reserved, nil
}

// releaseFrame gives a large frame's share of the frame budget back.
func (p *Peer) releaseFrame(n int64) {
	if n > 0 {
		p.srv.frames.release(n)
		p.srv.reclaim.framesFreed(n)
	}
}

// partialErr is err, or the reason the sweeper closed the connection.
func (p *Peer) partialErr(err error) error {
	var pe *PartialFrameError
	if err != nil && errors.As(p.Err(), &pe) {
		return p.Err()
	}
	return err
}

// idleMove is how long a reader with a grown stack waits before it is
// kicked to move to a fresh goroutine.
const idleMove = time.Second

// kickIfIdle kicks the reader if it has waited with a grown stack for
// idleMove: a read deadline in the past ends its wait.
func (p *Peer) kickIfIdle(now time.Time) {
	since := p.idleSince.Load()
	if since == 0 || now.UnixNano()-since < int64(idleMove) || !p.kicked.CompareAndSwap(false, true) {
		return
	}
	p.conn.SetReadDeadline(time.Unix(0, 1))
}

// dropIfStalled drops the client if a frame it began at least timeout
// ago is still not complete.
func (p *Peer) dropIfStalled(now time.Time, timeout time.Duration) {
	start := p.frameStart.Load()
	if start == 0 || now.UnixNano()-start < int64(timeout) {
		return
	}
	p.drop(&PartialFrameError{Timeout: timeout}, false, &p.srv.partialDropped)
}

// waitDrained holds the reader back while more than MaxQueueBytes wait to
// be written to the client, until the queue drains to half of it: the
// client's next calls are then not read, so one that does not read its
// replies cannot make the daemon hold more. A client still over the
// budget after StuckTimeout is disconnected.
func (p *Peer) waitDrained() error {
	budget := p.maxQueueBytes
	if p.queuedBytes.Load() <= budget {
		return nil
	}
	p.heldBack.Store(true)
	defer p.heldBack.Store(false)
	t := time.NewTimer(p.stuckTimeout)
	defer t.Stop()
	for {
		n := p.queuedBytes.Load()
		if n <= budget/2 {
			p.received()
			return nil
		}
		select {
		case <-p.drained:
		case <-p.done:
			return p.Err()
		case <-t.C:
			err := &StuckClientError{Bytes: n, Timeout: p.stuckTimeout}
			p.drop(err, false, &p.srv.stuckDropped)
			return err
		}
	}
}

// addQueued counts n more bytes waiting to be written (n < 0 when they
// were written) and wakes a reader waiting for the queue to drain.
func (p *Peer) addQueued(n int64) {
	v := p.queuedBytes.Add(n)
	if n > 0 {
		p.srv.noteBytesPeak(v)
		return
	}
	select {
	case p.drained <- struct{}{}:
	default:
	}
	p.drainedNotify()
}
