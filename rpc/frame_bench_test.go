package rpc_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/rpc"
)

// Benchmarks of framing: what the per-client reader and writer do for
// every call and reply.

var replyHeader = protocol.Header{
	Program: protocol.RemoteProgram, Version: protocol.RemoteProtocolVersion,
	Procedure: int32(protocol.ProcConnectGetLibVersion), Type: protocol.Reply, Serial: 7,
}

// BenchmarkEncodeFrame encodes a reply frame with an 8-byte body, as the
// server does for ConnectGetLibVersion.
func BenchmarkEncodeFrame(b *testing.B) {
	ret := &protocol.ConnectGetLibVersionRet{LibVer: 9_000_000}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rpc.EncodeFrame(replyHeader, ret); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeRawFrame frames an already encoded body.
func BenchmarkEncodeRawFrame(b *testing.B) {
	body := make([]byte, 8)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rpc.EncodeRawFrame(replyHeader, body); err != nil {
			b.Fatal(err)
		}
	}
}

// loopReader repeats one byte string forever.
type loopReader struct {
	data []byte
	off  int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := copy(p, r.data[r.off:])
	r.off = (r.off + n) % len(r.data)
	return n, nil
}

// BenchmarkReadFrame reads frames through a bufio.Reader, as the server's
// per-client reader does: a 28-byte call (ConnectGetLibVersion) and a
// 124-byte one (DomainLookupByName).
func BenchmarkReadFrame(b *testing.B) {
	for _, c := range []struct {
		name string
		args protocol.Encodable
	}{
		{"void", nil},
		{"LookupByName", &protocol.DomainLookupByNameArgs{Name: "bench-199"}},
	} {
		frame, err := rpc.EncodeFrame(protocol.Header{Program: protocol.RemoteProgram, Version: 1, Type: protocol.Call}, c.args)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			r := bufio.NewReaderSize(&loopReader{data: bytes.Repeat(frame, 64)}, 16*1024)
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				if _, _, err := rpc.ReadFrame(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWriteFrames writes 16 reply frames with one writev to a unix
// socket, as the server's writer does when replies queue up; a goroutine
// drains the other end.
func BenchmarkWriteFrames(b *testing.B) {
	frame, err := rpc.EncodeFrame(replyHeader, &protocol.ConnectGetLibVersionRet{LibVer: 9_000_000})
	if err != nil {
		b.Fatal(err)
	}
	w, r := socketPair(b)
	go io.Copy(io.Discard, r)
	var backing [16][]byte
	b.ReportAllocs()
	b.SetBytes(int64(len(backing) * len(frame)))
	for b.Loop() {
		bufs := net.Buffers(backing[:0])
		for range len(backing) {
			bufs = append(bufs, frame)
		}
		if _, err := bufs.WriteTo(w); err != nil {
			b.Fatal(err)
		}
	}
}

// socketPair returns the two ends of a connected unix stream socket.
func socketPair(b *testing.B) (net.Conn, net.Conn) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		b.Fatal(err)
	}
	var conns [2]net.Conn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		conns[i] = c
		b.Cleanup(func() { c.Close() })
	}
	return conns[0], conns[1]
}
