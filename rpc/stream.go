package rpc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// Streams (virStream) as libvirt's protocol carries them: the call that
// opens one (DOMAIN_SCREENSHOT, STORAGE_VOL_UPLOAD, DOMAIN_OPEN_CONSOLE,
// …) is answered first; then both sides send STREAM messages (type 3)
// with that call's program, procedure and serial. Status CONTINUE carries
// data, an empty CONTINUE is the end of the data, OK asks to finish (from
// the client) or confirms it (from the daemon), ERROR aborts (the
// daemon's carries a remote_error). STREAM_HOLE (type 6) skips a hole in
// a sparse stream.
//
// Flow control. Data to the client waits while the client's outbound
// queue holds StreamWindow bytes or more, so a client that reads slowly
// slows only what it is sent, and never grows the daemon's memory; the
// replies to its other calls are queued as usual. Data from the client
// is queued on its stream up to StreamWindow bytes; past that the
// client's reader waits for the stream's user to take some, as the
// client's socket carries everything it sends in order (libvirtd holds
// the client back the same way, through max_client_requests). Other
// clients are never held back.

// StreamChunk is the most data one STREAM message carries
// (VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX), the size libvirt sends and what
// the daemon sends.
const StreamChunk = 262120

// StreamWindow bounds a stream's data in flight each way: to the client,
// the bytes in its outbound queue before Write waits; from it, the bytes
// of packets its stream holds before the reader waits.
const StreamWindow = 1 << 20

// ErrStreamAborted is returned by a Stream's operations once the client
// aborted it (virStreamAbort).
var ErrStreamAborted = errors.New("the client aborted the stream")

// packetKind is what one packet from the client says.
type packetKind int

const (
	packetData   packetKind = iota // status CONTINUE, with data
	packetHole                     // STREAM_HOLE
	packetFinish                   // status OK
	packetAbort                    // status ERROR
)

type streamPacket struct {
	kind     packetKind
	data     []byte
	hole     int64
	reserved int64 // its frame's share of the server's frame budget
}

type streamKey struct {
	prog   uint32
	proc   int32
	serial uint32
}

// Stream is one stream of a client, opened by a call (Call.OpenStream).
// Its methods may be called from one goroutine at a time for each
// direction: one writer (Write, SendHole, CloseWrite) and one reader
// (Recv, Read); Finish, Abort and Close from either.
type Stream struct {
	p       *Peer
	key     streamKey
	vers    uint32
	sparse  bool          // holes are allowed (VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM …)
	started chan struct{} // closed once the opening call's reply is queued

	// sendMu orders the stream's messages to the client: one is sent at
	// a time, and none after the stream ended. Taken before mu.
	sendMu sync.Mutex

	mu      sync.Mutex
	in      []streamPacket // the client's packets not yet taken
	inBytes int64
	arrived chan struct{} // signalled when a packet is queued
	taken   chan struct{} // signalled when packets are taken
	ended   chan struct{} // closed when the stream is removed
	endErr  error         // why it was removed
	aborted bool          // the client aborted it
}

// OpenStream opens the stream the call starts. Its data flows once the
// call's reply has been queued; if the call fails, the stream is removed
// without a message. sparse says whether holes may be sent and received.
func (c *Call) OpenStream(sparse bool) *Stream {
	p := c.peer
	s := &Stream{
		p:       p,
		key:     streamKey{c.Header.Program, c.Header.Procedure, c.Header.Serial},
		vers:    c.Header.Version,
		sparse:  sparse,
		started: make(chan struct{}),
		arrived: make(chan struct{}, 1),
		taken:   make(chan struct{}, 1),
		ended:   make(chan struct{}),
	}
	ps := p.streamState()
	ps.mu.Lock()
	if old := ps.m[s.key]; old != nil {
		old.end(errors.New("another call reused the stream's serial"))
	}
	ps.m[s.key] = s
	ps.mu.Unlock()
	c.streams = append(c.streams, s)
	return s
}

// begin lets the stream's data flow after its call was answered, or
// removes it when the call failed.
func (s *Stream) begin(ok bool) {
	if ok {
		close(s.started)
		return
	}
	s.end(errors.New("the call that opened the stream failed"))
}

// Done is closed when the stream ends: finished, aborted, or its client
// gone.
func (s *Stream) Done() <-chan struct{} { return s.ended }

// end removes the stream: it takes no more packets and its waiting
// operations return err. The packets it held give their budget back.
func (s *Stream) end(err error) {
	if ps := s.p.st.Load(); ps != nil {
		ps.mu.Lock()
		if ps.m[s.key] == s {
			delete(ps.m, s.key)
		}
		ps.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.ended:
		return
	default:
	}
	s.endErr = err
	for _, pk := range s.in {
		s.p.releaseFrame(pk.reserved)
	}
	s.in, s.inBytes = nil, 0
	close(s.ended)
}

func (s *Stream) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.aborted {
		return ErrStreamAborted
	}
	return s.endErr
}

// waitStarted waits for the opening call's reply.
func (s *Stream) waitStarted(ctx context.Context) error {
	select {
	case <-s.started:
		return nil
	case <-s.ended:
		return s.err()
	case <-s.p.done:
		return ErrPeerClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// header is the header of the daemon's STREAM messages of this stream.
func (s *Stream) header(typ protocol.MessageType, status protocol.Status) protocol.Header {
	return protocol.Header{Program: s.key.prog, Version: s.vers, Procedure: s.key.proc,
		Type: typ, Serial: s.key.serial, Status: status}
}

// sendPacket queues one message of the stream once the client's queue
// is below StreamWindow.
func (s *Stream) sendPacket(ctx context.Context, h protocol.Header, body []byte) error {
	if err := s.waitStarted(ctx); err != nil {
		return err
	}
	for {
		ch := s.p.drainWaiter()
		if s.p.queuedBytes.Load() < StreamWindow {
			break
		}
		select {
		case <-ch:
		case <-s.ended:
			return s.err()
		case <-s.p.done:
			return ErrPeerClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	frame, err := EncodeRawFrame(h, body)
	if err != nil {
		return err
	}
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	select {
	case <-s.ended:
		return s.err()
	default:
	}
	return s.p.send(frame)
}

// Write sends p to the client as data, in messages of at most
// StreamChunk bytes, waiting while the client's queue is full. It fails
// with ErrStreamAborted once the client aborted the stream.
func (s *Stream) Write(p []byte) (int, error) { return s.WriteContext(context.Background(), p) }

// WriteContext is Write, given up when ctx is done.
func (s *Stream) WriteContext(ctx context.Context, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := min(len(p)-n, StreamChunk)
		if err := s.sendPacket(ctx, s.header(protocol.Stream, protocol.StatusContinue), p[n:n+k]); err != nil {
			return n, err
		}
		n += k
	}
	return n, nil
}

// SendHole tells the client the next length bytes are a hole (a sparse
// stream's STREAM_HOLE).
func (s *Stream) SendHole(ctx context.Context, length int64) error {
	if !s.sparse {
		return errors.New("holes are sent only on sparse streams")
	}
	var b [12]byte // remote stream hole: hyper length, unsigned int flags
	binary.BigEndian.PutUint64(b[:8], uint64(length))
	return s.sendPacket(ctx, s.header(protocol.StreamHole, protocol.StatusContinue), b[:])
}

// CloseWrite tells the client the data has ended (an empty CONTINUE);
// the client then finishes the stream (Finish) or aborts it.
func (s *Stream) CloseWrite(ctx context.Context) error {
	return s.sendPacket(ctx, s.header(protocol.Stream, protocol.StatusContinue), nil)
}

// Recv takes the client's next piece of data into buf: n bytes of data,
// or a hole of hole bytes (sparse streams only), or io.EOF once the
// client asked to finish the stream, after which the caller answers with
// Finish (or Abort). A packet larger than buf is handed out over several
// calls.
func (s *Stream) Recv(ctx context.Context, buf []byte) (n int, hole int64, err error) {
	for {
		s.mu.Lock()
		if len(s.in) > 0 {
			pk := &s.in[0]
			switch pk.kind {
			case packetFinish:
				s.mu.Unlock()
				return 0, 0, io.EOF
			case packetHole:
				hole = pk.hole
				s.popLocked()
				s.mu.Unlock()
				return 0, hole, nil
			default:
				n = copy(buf, pk.data)
				pk.data = pk.data[n:]
				s.inBytes -= int64(n)
				if len(pk.data) == 0 {
					s.popLocked()
				}
				s.mu.Unlock()
				s.signal(s.taken)
				return n, 0, nil
			}
		}
		ended := s.endedLocked()
		s.mu.Unlock()
		if ended {
			return 0, 0, s.err()
		}
		select {
		case <-s.arrived:
		case <-s.ended:
		case <-s.p.done:
			return 0, 0, ErrPeerClosed
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		}
	}
}

// Read is Recv for streams without holes (io.Reader).
func (s *Stream) Read(buf []byte) (int, error) {
	for {
		n, hole, err := s.Recv(context.Background(), buf)
		if n > 0 || err != nil {
			return n, err
		}
		if hole > 0 {
			return 0, fmt.Errorf("a hole of %d bytes in a stream read as plain data", hole)
		}
	}
}

// popLocked drops the first packet and gives its budget back.
func (s *Stream) popLocked() {
	s.p.releaseFrame(s.in[0].reserved)
	s.in[0] = streamPacket{}
	s.in = s.in[1:]
	if len(s.in) == 0 {
		s.in = nil
	}
}

func (s *Stream) endedLocked() bool {
	select {
	case <-s.ended:
		return true
	default:
		return false
	}
}

func (s *Stream) signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Finish waits for the client to ask to finish the stream (status OK),
// then confirms it and removes the stream. It returns ErrStreamAborted
// if the client aborted instead; data the client sends meanwhile is
// discarded.
func (s *Stream) Finish(ctx context.Context) error {
	for {
		s.mu.Lock()
		dropped := false
		for len(s.in) > 0 && s.in[0].kind != packetFinish {
			s.inBytes -= int64(len(s.in[0].data))
			s.popLocked()
			dropped = true
		}
		finish := len(s.in) > 0
		if finish {
			s.popLocked()
		}
		ended := s.endedLocked()
		s.mu.Unlock()
		if dropped {
			s.signal(s.taken)
		}
		if finish {
			break
		}
		if ended {
			return s.err()
		}
		select {
		case <-s.arrived:
		case <-s.ended:
		case <-s.p.done:
			return ErrPeerClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	err := s.sendPacket(ctx, s.header(protocol.Stream, protocol.StatusOK), nil)
	s.end(errors.New("the stream finished"))
	return err
}

// Abort ends the stream with an error for the client (status ERROR with
// cause as its remote_error) and removes it. After the client aborted,
// it only removes it.
func (s *Stream) Abort(cause *protocol.Error) {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	defer s.end(errors.New("the stream was aborted"))
	if s.err() != nil {
		return
	}
	if cause == nil {
		cause = protocol.NewError(int32(vir.ErrRPC), int32(vir.FromStreams), "stream aborted")
	}
	select {
	case <-s.started:
	default:
		return // the call failed, or has not been answered: its reply says why
	}
	frame, err := EncodeFrame(s.header(protocol.Stream, protocol.StatusError), cause)
	if err == nil {
		s.p.send(frame)
	}
}

// streamPacket routes one STREAM or STREAM_HOLE message of the client to
// its stream. Packets of streams that ended are dropped, as libvirtd
// drops them; an abort is confirmed at once. It holds the reader while
// the stream already holds StreamWindow bytes.
func (p *Peer) streamPacket(h protocol.Header, body []byte, reserved int64) error {
	var s *Stream
	if ps := p.st.Load(); ps != nil {
		ps.mu.Lock()
		s = ps.m[streamKey{h.Program, h.Procedure, h.Serial}]
		ps.mu.Unlock()
	}
	if s == nil {
		p.releaseFrame(reserved)
		p.srv.log.Debug("dropping a packet of no open stream", "client", p.id, "header", h)
		return nil
	}
	pk := streamPacket{reserved: reserved}
	switch {
	case h.Type == protocol.StreamHole:
		if !s.sparse || len(body) != 12 {
			p.releaseFrame(reserved)
			s.Abort(protocol.NewError(int32(vir.ErrRPC), int32(vir.FromStreams), "Unexpected stream hole"))
			return nil
		}
		pk.kind = packetHole
		pk.hole = int64(binary.BigEndian.Uint64(body[:8]))
		if pk.hole < 0 {
			p.releaseFrame(reserved)
			s.Abort(protocol.NewError(int32(vir.ErrRPC), int32(vir.FromStreams), "stream hole of negative length"))
			return nil
		}
	case h.Status == protocol.StatusContinue:
		if len(body) == 0 {
			p.releaseFrame(reserved)
			return nil // the client's end of data; its finish follows
		}
		pk.kind, pk.data = packetData, body
	case h.Status == protocol.StatusOK:
		pk.kind = packetFinish
	default:
		// The client aborted: confirm, as libvirtd does, and end.
		p.releaseFrame(reserved)
		s.mu.Lock()
		s.aborted = true
		s.mu.Unlock()
		s.sendMu.Lock()
		s.end(ErrStreamAborted)
		if frame, err := EncodeRawFrame(s.header(protocol.Stream, protocol.StatusOK), nil); err == nil {
			p.send(frame)
		}
		s.sendMu.Unlock()
		return nil
	}
	for {
		s.mu.Lock()
		if s.endedLocked() {
			s.mu.Unlock()
			p.releaseFrame(reserved)
			return nil
		}
		if s.inBytes < StreamWindow || pk.kind != packetData {
			s.in = append(s.in, pk)
			s.inBytes += int64(len(pk.data))
			s.mu.Unlock()
			s.signal(s.arrived)
			return nil
		}
		s.mu.Unlock()
		p.heldBack.Store(true)
		select {
		case <-s.taken:
		case <-s.ended:
		case <-p.done:
			p.heldBack.Store(false)
			p.releaseFrame(reserved)
			return p.Err()
		}
		p.heldBack.Store(false)
		p.received()
	}
}

// endStreams ends every stream of a client that is going away.
func (p *Peer) endStreams() {
	ps := p.st.Load()
	if ps == nil {
		return
	}
	ps.mu.Lock()
	all := make([]*Stream, 0, len(ps.m))
	for _, s := range ps.m {
		all = append(all, s)
	}
	ps.mu.Unlock()
	for _, s := range all {
		s.end(ErrPeerClosed)
	}
}

// drainWaiter returns a channel closed the next time writes bring the
// client's queued bytes down.
func (p *Peer) drainWaiter() <-chan struct{} {
	ps := p.streamState()
	ps.drainMu.Lock()
	defer ps.drainMu.Unlock()
	if ps.drainBcast == nil {
		ps.drainBcast = make(chan struct{})
	}
	return ps.drainBcast
}

// drainedNotify wakes every drainWaiter.
func (p *Peer) drainedNotify() {
	ps := p.st.Load()
	if ps == nil {
		return // no stream ever waited
	}
	ps.drainMu.Lock()
	if ps.drainBcast != nil {
		close(ps.drainBcast)
		ps.drainBcast = nil
	}
	ps.drainMu.Unlock()
}

// peerStreams are a client's open streams, by the program, procedure
// and serial of the calls that opened them; drainBcast is closed (and
// replaced) when writes bring the client's queued bytes down, waking the
// streams that wait to send.
type peerStreams struct {
	mu         sync.Mutex // guards m
	m          map[streamKey]*Stream
	drainMu    sync.Mutex // guards drainBcast
	drainBcast chan struct{}
}

// streamState is p's stream state, made on first use.
func (p *Peer) streamState() *peerStreams {
	if ps := p.st.Load(); ps != nil {
		return ps
	}
	p.st.CompareAndSwap(nil, &peerStreams{m: map[streamKey]*Stream{}})
	return p.st.Load()
}
