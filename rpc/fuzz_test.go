package rpc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/govirt/govirtd/protocol"
)

// FuzzReadFrame reads frames from arbitrary bytes until an error. It must
// never panic; every frame it returns must be within the limits and
// re-encode to exactly the bytes it was read from; every error must be a
// FrameError of one kind, or the stream ending.
//
//	go test ./rpc -run '^$' -fuzz '^FuzzReadFrame$' -fuzztime 30s
func FuzzReadFrame(f *testing.F) {
	f.Add(pingFrameGolden)
	f.Add(append(bytes.Clone(pingFrameGolden), pingFrameGolden...))
	errReply, _ := EncodeFrame(protocol.Header{Program: protocol.RemoteProgram, Version: 1, Procedure: 23,
		Type: protocol.Reply, Serial: 5, Status: protocol.StatusError}, protocol.NewError(42, 12, "Domain not found"))
	f.Add(errReply)
	f.Add(errReply[:50])
	f.Add([]byte{0, 0, 0, 27})
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x02, 0x00, 0x00, 0x04, 0, 0, 0, 0})       // MessageMax+4: the largest allowed, then nothing
	f.Add([]byte{0x02, 0x00, 0x00, 0x05})                   // one over
	f.Add(append([]byte{0, 0, 0, 29}, make([]byte, 25)...)) // a one-byte body

	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		off := 0
		for {
			hd, body, err := ReadFrame(r)
			if err != nil {
				var fe *FrameError
				switch {
				case err == io.EOF:
					if off != len(data) {
						t.Fatalf("io.EOF with %d bytes unread", len(data)-off)
					}
				case err == io.ErrUnexpectedEOF:
				case errors.As(err, &fe):
					short, large := errors.Is(err, ErrFrameTooShort), errors.Is(err, ErrFrameTooLarge)
					if short == large {
						t.Fatalf("FrameError %v is short=%v large=%v", err, short, large)
					}
					if n := binary.BigEndian.Uint32(data[off:]); n != fe.Length {
						t.Fatalf("FrameError length %d, word %d", fe.Length, n)
					}
				default:
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			n := protocol.LengthSize + protocol.HeaderSize + len(body)
			if n > protocol.LengthSize+protocol.NetMessageMax {
				t.Fatalf("frame of %d bytes over the limit", n)
			}
			again, err := EncodeRawFrame(hd, body)
			if err != nil {
				t.Fatalf("re-encoding: %v", err)
			}
			if !bytes.Equal(again, data[off:off+n]) {
				t.Fatalf("frame at %d re-encodes differently", off)
			}
			off += n
		}
	})
}
