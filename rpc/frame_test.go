package rpc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/govirt/govirtd/protocol"
)

func lengthWord(n uint32) []byte {
	return binary.BigEndian.AppendUint32(nil, n)
}

func TestReadFrameLimits(t *testing.T) {
	for _, n := range []uint32{0, 1, 3, 4, 27} {
		_, _, err := ReadFrame(bytes.NewReader(append(lengthWord(n), make([]byte, 64)...)))
		var fe *FrameError
		if !errors.As(err, &fe) || fe.Length != n || !errors.Is(err, ErrFrameTooShort) || errors.Is(err, ErrFrameTooLarge) {
			t.Errorf("length %d: %v, want only ErrFrameTooShort", n, err)
		}
	}
	for _, n := range []uint32{protocol.LengthSize + protocol.NetMessageMax + 1, 0xffffffff} {
		_, _, err := ReadFrame(bytes.NewReader(lengthWord(n)))
		if !errors.Is(err, ErrFrameTooLarge) || errors.Is(err, ErrFrameTooShort) {
			t.Errorf("length %d: %v, want only ErrFrameTooLarge", n, err)
		}
		if !strings.Contains(err.Error(), "at most 33554432 bytes") {
			t.Errorf("message %q does not give the limit", err)
		}
	}

	// The smallest frame: a header alone.
	hd, body, err := ReadFrame(bytes.NewReader(pingFrameGolden))
	if err != nil || len(body) != 0 || hd.Program != protocol.KeepaliveProgram {
		t.Errorf("28-byte frame: %v, %d bytes, %v", hd, len(body), err)
	}

	// Nothing at all is a clean end; anything less than a frame is not.
	if _, _, err := ReadFrame(bytes.NewReader(nil)); err != io.EOF {
		t.Errorf("empty stream: %v, want io.EOF", err)
	}
	for _, cut := range []int{1, 3, 4, 20, 27} {
		if _, _, err := ReadFrame(bytes.NewReader(pingFrameGolden[:cut])); err != io.ErrUnexpectedEOF {
			t.Errorf("frame cut at %d bytes: %v, want io.ErrUnexpectedEOF", cut, err)
		}
	}
}

// TestReadFrameTruncatedLarge: a length word promising the maximum, then
// a trickle, costs what arrived, not what was promised.
func TestReadFrameTruncatedLarge(t *testing.T) {
	in := append(lengthWord(protocol.LengthSize+protocol.NetMessageMax), make([]byte, 1000)...)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const runs = 10
	for range runs {
		if _, _, err := ReadFrame(bytes.NewReader(in)); err != io.ErrUnexpectedEOF {
			t.Fatalf("got %v, want io.ErrUnexpectedEOF", err)
		}
	}
	runtime.ReadMemStats(&after)
	per := (after.TotalAlloc - before.TotalAlloc) / runs
	if per > 1<<20 {
		t.Errorf("a 32 MiB promise with 1000 bytes behind it allocated %d bytes", per)
	}
	t.Logf("a 32 MiB promise with 1000 bytes behind it allocated %d bytes", per)
}

// TestReadFrameGrows: frames larger than the first buffer arrive whole,
// at every size around the doubling steps.
func TestReadFrameGrows(t *testing.T) {
	for _, size := range []int{0, 1, protocol.NetMessageInitial - 24, protocol.NetMessageInitial, protocol.NetMessageInitial + 1,
		2*protocol.NetMessageInitial + 3, 5 * protocol.NetMessageInitial} {
		body := make([]byte, size)
		for i := range body {
			body[i] = byte(i * 7)
		}
		hd := protocol.Header{Program: 1, Version: 2, Procedure: 3, Type: protocol.Reply, Serial: 4, Status: protocol.StatusOK}
		f, err := EncodeRawFrame(hd, body)
		if err != nil {
			t.Fatal(err)
		}
		// Two frames back to back: the reader must stop at the first's end.
		r := io.MultiReader(bytes.NewReader(f), bytes.NewReader(pingFrameGolden))
		gotH, gotB, err := ReadFrame(iotestHalfReader{r})
		if err != nil || gotH != hd || !bytes.Equal(gotB, body) {
			t.Fatalf("size %d: %v, %d bytes, %v", size, gotH, len(gotB), err)
		}
		if gotH, _, err := ReadFrame(r); err != nil || !gotH.IsKeepalive() {
			t.Fatalf("size %d: the next frame: %v, %v", size, gotH, err)
		}
	}
}

// iotestHalfReader returns at most half of what is asked, like a socket
// that delivers a frame in pieces.
type iotestHalfReader struct{ r io.Reader }

func (h iotestHalfReader) Read(p []byte) (int, error) {
	return h.r.Read(p[:(len(p)+1)/2])
}

// TestEncodeFrameGolden: the error reply of protocol's golden test, built
// by EncodeFrame.
func TestEncodeFrameGolden(t *testing.T) {
	want := []byte{
		0x00, 0x00, 0x00, 0x70, // length 112
		0x20, 0x00, 0x80, 0x86, // program REMOTE
		0x00, 0x00, 0x00, 0x01, // version 1
		0x00, 0x00, 0x00, 0x17, // procedure 23
		0x00, 0x00, 0x00, 0x01, // type REPLY
		0x00, 0x00, 0x00, 0x05, // serial 5
		0x00, 0x00, 0x00, 0x01, // status ERROR
		0x00, 0x00, 0x00, 0x2a, // code 42
		0x00, 0x00, 0x00, 0x0c, // domain 12
		0x00, 0x00, 0x00, 0x01, // message present
		0x00, 0x00, 0x00, 0x10, // length 16
		'D', 'o', 'm', 'a', 'i', 'n', ' ', 'n', 'o', 't', ' ', 'f', 'o', 'u', 'n', 'd',
		0x00, 0x00, 0x00, 0x02, // level ERROR
		0x00, 0x00, 0x00, 0x00, // dom NULL
		0x00, 0x00, 0x00, 0x01, // str1 present
		0x00, 0x00, 0x00, 0x10, // length 16
		'D', 'o', 'm', 'a', 'i', 'n', ' ', 'n', 'o', 't', ' ', 'f', 'o', 'u', 'n', 'd',
		0x00, 0x00, 0x00, 0x00, // str2 NULL
		0x00, 0x00, 0x00, 0x00, // str3 NULL
		0xff, 0xff, 0xff, 0xff, // int1 -1
		0xff, 0xff, 0xff, 0xff, // int2 -1
		0x00, 0x00, 0x00, 0x00, // net NULL
	}
	call := protocol.Header{Program: protocol.RemoteProgram, Version: 1, Procedure: 23, Type: protocol.Call, Serial: 5}
	got, err := EncodeFrame(replyHeader(call, protocol.StatusError), protocol.NewError(42, 12, "Domain not found"))
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "error reply", got, want)

	hd, body, err := ReadFrame(bytes.NewReader(want))
	if err != nil || hd != replyHeader(call, protocol.StatusError) || len(body) != 84 {
		t.Errorf("ReadFrame: %v, %d bytes, %v", hd, len(body), err)
	}
}

func TestEncodeFrameLimits(t *testing.T) {
	// The largest body fits; one byte more does not.
	if _, err := EncodeRawFrame(protocol.Header{}, make([]byte, protocol.NetMessagePayloadMax)); err != nil {
		t.Errorf("body of PayloadMax bytes: %v", err)
	}
	if _, err := EncodeRawFrame(protocol.Header{}, make([]byte, protocol.NetMessagePayloadMax+1)); err == nil {
		t.Error("body of PayloadMax+1 bytes encoded")
	}
	// A body over its limit is an error, not a frame.
	if _, err := EncodeFrame(protocol.Header{}, &echoBody{Data: make([]byte, 1<<20+1)}); err == nil {
		t.Error("a body over its limit encoded")
	}
}
