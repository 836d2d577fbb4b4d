// Package rpc is the transport of libvirt's remote protocol: framing, a
// server that runs one reader per client and writes to it directly, or
// through a bounded, ordered outbound queue and a writer goroutine while
// the socket is full, keepalive, and a client that matches replies to
// calls by serial. It knows programs and procedures only as numbers and
// bodies only as bytes; what a domain is, is for the layers above.
package rpc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/govirt/govirtd/protocol"
)

// FrameError reports a length word the receiver refuses. The stream
// cannot be resynchronised after one, so the connection must be closed.
type FrameError struct {
	Length uint32
	Reason string
}

func (e *FrameError) Error() string {
	return fmt.Sprintf("bad frame length %d: %s", e.Length, e.Reason)
}

// ErrFrameTooShort and ErrFrameTooLarge are matched by errors.Is against a
// *FrameError of that kind.
var (
	ErrFrameTooShort = errors.New("frame too short")
	ErrFrameTooLarge = errors.New("frame too large")
)

// Is reports whether e is the kind of error target names: a FrameError
// is either too short or, for any length a header fits in, too large.
func (e *FrameError) Is(target error) bool {
	switch target {
	case ErrFrameTooShort:
		return e.Length < protocol.MinFrame
	case ErrFrameTooLarge:
		return e.Length >= protocol.MinFrame
	}
	return false
}

// ReadFrame reads one frame from r and returns its header and body. The
// length word is checked against protocol.MinFrame and
// protocol.NetMessageMax before any memory is taken for the frame, and the
// frame's buffer then grows with the bytes that actually arrive, so a
// length word promising 32 MiB costs 32 MiB only once 32 MiB are sent.
func ReadFrame(r io.Reader) (protocol.Header, []byte, error) {
	return readFrame(r, protocol.NetMessageMax)
}

// readFrame is ReadFrame with a smaller limit on the message (header and
// body) when max is below protocol.NetMessageMax.
func readFrame(r io.Reader, max uint32) (protocol.Header, []byte, error) {
	return readFrameReserve(r, max, nil)
}

// readFrameReserve is readFrame that calls reserve, when not nil, with
// the message's size once the length word is accepted and before any
// memory is taken for the message; an error from it ends the read.
func readFrameReserve(r io.Reader, max uint32, reserve func(size int) error) (protocol.Header, []byte, error) {
	var lenbuf [protocol.LengthSize]byte
	if _, err := io.ReadFull(r, lenbuf[:]); err != nil {
		return protocol.Header{}, nil, err
	}
	n := binary.BigEndian.Uint32(lenbuf[:])
	if n < protocol.MinFrame {
		return protocol.Header{}, nil, &FrameError{Length: n,
			Reason: fmt.Sprintf("the smallest frame is %d bytes", protocol.MinFrame)}
	}
	if n-protocol.LengthSize > max {
		return protocol.Header{}, nil, &FrameError{Length: n,
			Reason: fmt.Sprintf("a message may be at most %d bytes", max)}
	}
	size := int(n - protocol.LengthSize)
	if reserve != nil {
		if err := reserve(size); err != nil {
			return protocol.Header{}, nil, err
		}
	}
	msg := make([]byte, min(size, protocol.NetMessageInitial))
	for off := 0; ; {
		m, err := io.ReadFull(r, msg[off:])
		off += m
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return protocol.Header{}, nil, err
		}
		if off == size {
			break
		}
		// Double what has arrived, up to the promised size.
		msg = append(msg, make([]byte, min(size, 2*len(msg))-len(msg))...)
	}
	h, _ := protocol.ParseHeader(msg)
	return h, msg[protocol.HeaderSize:], nil
}

var zeroPrefix [protocol.LengthSize + protocol.HeaderSize]byte

// EncodeFrame returns the frame for header h and a body value, which
// protocol.Marshal encodes (nil for an empty body).
func EncodeFrame(h protocol.Header, body protocol.Encodable) ([]byte, error) {
	buf := make([]byte, len(zeroPrefix), 256)
	buf, err := protocol.AppendMarshal(buf, body)
	if err != nil {
		return nil, err
	}
	return finishFrame(h, buf)
}

// EncodeRawFrame returns the frame for header h and an encoded body.
func EncodeRawFrame(h protocol.Header, body []byte) ([]byte, error) {
	b := make([]byte, len(zeroPrefix)+len(body))
	copy(b[len(zeroPrefix):], body)
	return finishFrame(h, b)
}

func finishFrame(h protocol.Header, b []byte) ([]byte, error) {
	if len(b)-protocol.LengthSize > protocol.NetMessageMax {
		return nil, fmt.Errorf("message of %d bytes exceeds the limit of %d", len(b)-protocol.LengthSize, protocol.NetMessageMax)
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)))
	h.Put(b[protocol.LengthSize:])
	return b, nil
}
