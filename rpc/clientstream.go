package rpc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/govirt/govirtd/protocol"
)

// The client's side of streams: CallStream makes a call that opens one,
// and the reader routes the server's STREAM and STREAM_HOLE messages of
// that call's serial to it.
//
// What the server sends is queued on the stream for its reader; the
// socket's reader never waits for a stream's reader until that queue
// holds ClientStreamBuffer bytes (then it does: the socket carries
// everything in order, and the client's memory is bounded).

// ClientStreamBuffer bounds the bytes one stream queues for its reader
// before the connection's reader waits for it.
const ClientStreamBuffer = 16 << 20

// ClientStream is one stream a call opened. One goroutine at a time
// sends (Write, SendHole) and one receives (Recv, Read); Finish and
// Abort end it.
type ClientStream struct {
	c      *Client
	hdr    protocol.Header // the opening call's program, version, procedure and serial
	sparse bool

	mu       sync.Mutex
	in       []streamPacket // data and holes not yet taken
	inBytes  int64
	eof      bool          // the server's data ended (an empty CONTINUE)
	arrived  chan struct{} // signalled when in grows or eof is set
	taken    chan struct{} // signalled when packets are taken
	confirm  chan error    // the server's answer to Finish or Abort, or its own error
	ended    chan struct{} // closed when the stream is removed
	endErr   error
	endOnce  sync.Once
	finished bool // Finish or Abort was sent
	aborting bool // it was Abort
}

// CallStream makes a call that opens a stream (DOMAIN_SCREENSHOT,
// STORAGE_VOL_UPLOAD, …): like Call, then the stream, ready before the
// reply arrives so that no data the server sends right after it is lost.
// sparse allows holes.
func (c *Client) CallStream(ctx context.Context, prog, vers uint32, proc int32, args protocol.Encodable, ret protocol.Decodable, sparse bool) (*ClientStream, error) {
	serial := c.serial.Add(1)
	s := &ClientStream{
		c:       c,
		hdr:     protocol.Header{Program: prog, Version: vers, Procedure: proc, Serial: serial},
		sparse:  sparse,
		arrived: make(chan struct{}, 1),
		taken:   make(chan struct{}, 1),
		confirm: make(chan error, 1),
		ended:   make(chan struct{}),
	}
	c.mu.Lock()
	if c.streams == nil {
		c.streams = map[uint32]*ClientStream{}
	}
	c.streams[serial] = s
	c.mu.Unlock()
	if err := c.callSerial(ctx, serial, prog, vers, proc, args, ret); err != nil {
		s.end(err)
		return nil, err
	}
	return s, nil
}

// end removes the stream; its waiting operations return err.
func (s *ClientStream) end(err error) {
	s.endOnce.Do(func() {
		s.c.mu.Lock()
		if s.c.streams[s.hdr.Serial] == s {
			delete(s.c.streams, s.hdr.Serial)
		}
		s.c.mu.Unlock()
		s.mu.Lock()
		s.endErr = err
		s.in, s.inBytes = nil, 0
		s.mu.Unlock()
		close(s.ended)
	})
}

func (s *ClientStream) header(typ protocol.MessageType, status protocol.Status) protocol.Header {
	h := s.hdr
	h.Type, h.Status = typ, status
	return h
}

func (s *ClientStream) send(ctx context.Context, h protocol.Header, body []byte) error {
	select {
	case <-s.ended:
		return s.err()
	default:
	}
	frame, err := EncodeRawFrame(h, body)
	if err != nil {
		return err
	}
	if err := s.c.write(ctx, frame); err != nil {
		if errors.Is(err, errNotSent) {
			return ctx.Err()
		}
		s.c.shutdown(err)
		return &ClosedError{Reason: s.c.Err()}
	}
	return nil
}

func (s *ClientStream) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.endErr
}

// Write sends p as data, in packets of at most StreamChunk bytes.
func (s *ClientStream) Write(p []byte) (int, error) { return s.WriteContext(context.Background(), p) }

// WriteContext is Write, given up when ctx ends.
func (s *ClientStream) WriteContext(ctx context.Context, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := min(len(p)-n, StreamChunk)
		if err := s.send(ctx, s.header(protocol.Stream, protocol.StatusContinue), p[n:n+k]); err != nil {
			return n, err
		}
		n += k
	}
	return n, nil
}

// SendHole sends a hole of length bytes (sparse streams).
func (s *ClientStream) SendHole(ctx context.Context, length int64) error {
	if !s.sparse {
		return errors.New("holes are sent only on sparse streams")
	}
	var b [12]byte
	binary.BigEndian.PutUint64(b[:8], uint64(length))
	return s.send(ctx, s.header(protocol.StreamHole, protocol.StatusContinue), b[:])
}

// Recv takes the server's next piece: n bytes of data into buf, or a hole
// of hole bytes, or io.EOF once the server's data ended (then Finish).
// A server's error ends the stream and is returned, as *protocol.Error.
func (s *ClientStream) Recv(ctx context.Context, buf []byte) (n int, hole int64, err error) {
	for {
		s.mu.Lock()
		if len(s.in) > 0 {
			pk := &s.in[0]
			if pk.kind == packetHole {
				hole = pk.hole
				s.pop()
				s.mu.Unlock()
				s.signal(s.taken)
				return 0, hole, nil
			}
			n = copy(buf, pk.data)
			pk.data = pk.data[n:]
			s.inBytes -= int64(n)
			if len(pk.data) == 0 {
				s.pop()
			}
			s.mu.Unlock()
			s.signal(s.taken)
			return n, 0, nil
		}
		eof, endErr := s.eof, s.endErr
		s.mu.Unlock()
		select {
		case <-s.ended:
			if endErr == nil {
				endErr = s.err()
			}
			return 0, 0, endErr
		default:
		}
		if eof {
			return 0, 0, io.EOF
		}
		select {
		case <-s.arrived:
		case <-s.ended:
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		}
	}
}

// Read is Recv for streams without holes (io.Reader).
func (s *ClientStream) Read(buf []byte) (int, error) {
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

func (s *ClientStream) pop() {
	s.in[0] = streamPacket{}
	s.in = s.in[1:]
	if len(s.in) == 0 {
		s.in = nil
	}
}

func (s *ClientStream) signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Finish ends the stream: it tells the server the client's data ended
// and waits for the server's confirmation (or its error, for an upload
// the server could not complete).
func (s *ClientStream) Finish(ctx context.Context) error {
	return s.close(ctx, protocol.StatusOK)
}

// Abort abandons the stream and waits for the server's confirmation.
func (s *ClientStream) Abort(ctx context.Context) error {
	return s.close(ctx, protocol.StatusError)
}

func (s *ClientStream) close(ctx context.Context, status protocol.Status) error {
	s.mu.Lock()
	if s.finished {
		s.mu.Unlock()
		return errors.New("the stream was already finished or aborted")
	}
	s.finished = true
	s.aborting = status == protocol.StatusError
	if s.aborting {
		s.in, s.inBytes = nil, 0
	}
	s.mu.Unlock()
	s.signal(s.taken) // a reader waiting for room drops what it holds
	if err := s.send(ctx, s.header(protocol.Stream, status), nil); err != nil {
		s.end(err)
		return err
	}
	select {
	case err := <-s.confirm:
		s.end(errors.New("the stream ended"))
		return err
	case <-s.ended:
		return s.err()
	case <-ctx.Done():
		s.end(ctx.Err())
		return ctx.Err()
	}
}

// streamPacket routes one of the server's stream messages; it runs on
// the reader. Packets of streams that ended are dropped.
func (c *Client) streamPacket(h protocol.Header, body []byte) {
	c.mu.Lock()
	s := c.streams[h.Serial]
	c.mu.Unlock()
	if s == nil || h.Program != s.hdr.Program || h.Procedure != s.hdr.Procedure {
		return
	}
	switch {
	case h.Status == protocol.StatusError:
		var e protocol.Error
		err := error(&e)
		if uerr := protocol.Unmarshal(body, &e); uerr != nil {
			err = fmt.Errorf("undecodable stream error from the server: %w", uerr)
		}
		select {
		case s.confirm <- err:
		default:
		}
		s.end(err)
		return
	case h.Status == protocol.StatusOK:
		select {
		case s.confirm <- nil:
		default:
		}
		return
	case h.Type == protocol.StreamHole:
		if !s.sparse || len(body) != 12 || int64(binary.BigEndian.Uint64(body[:8])) < 0 {
			s.end(errors.New("the server sent a hole the stream cannot take"))
			return
		}
		s.queue(streamPacket{kind: packetHole, hole: int64(binary.BigEndian.Uint64(body[:8]))})
	case len(body) == 0:
		s.mu.Lock()
		s.eof = true
		s.mu.Unlock()
		s.signal(s.arrived)
	default:
		s.queue(streamPacket{kind: packetData, data: body})
	}
}

// queue adds a packet for the stream's reader, waiting while the stream
// already holds ClientStreamBuffer bytes.
func (s *ClientStream) queue(pk streamPacket) {
	for {
		s.mu.Lock()
		select {
		case <-s.ended:
			s.mu.Unlock()
			return
		default:
		}
		if s.finished && s.aborting {
			s.mu.Unlock()
			return // abandoned: what the server sent before it saw the abort is dropped
		}
		if s.inBytes < ClientStreamBuffer || pk.kind != packetData {
			s.in = append(s.in, pk)
			s.inBytes += int64(len(pk.data))
			s.mu.Unlock()
			s.signal(s.arrived)
			return
		}
		s.mu.Unlock()
		select {
		case <-s.taken:
		case <-s.ended:
		case <-s.c.closed:
			return
		}
	}
}
