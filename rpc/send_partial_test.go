package rpc

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestSendPartialWriteFirst fills a socket until a direct write stops
// part way through a frame, queues frames behind it, and reads: the
// frame begun must arrive whole, then the others, in send order.
func TestSendPartialWriteFirst(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ends [2]net.Conn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ends[i] = c
	}
	// A small send buffer: a 4 MiB frame cannot go out at once.
	if err := ends[0].(*net.UnixConn).SetWriteBuffer(16 << 10); err != nil {
		t.Fatal(err)
	}
	srv := NewServer(ServerConfig{MaxQueue: 16, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	p := newPeer(srv, ends[0], ListenerOptions{})
	go p.writeLoop()
	defer p.Close(nil)

	frame := func(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }
	a := frame('a', 4<<20) // more than the socket buffer takes
	if err := p.send(a); err != nil {
		t.Fatal(err)
	}
	// The rest of a is queued: the writer now blocks on the full socket
	// with wmu held, so partial itself is not to be looked at.
	if p.queued.Load() == 0 {
		t.Fatal("the socket took 4 MiB at once through a 16 KiB buffer: no partial write to test")
	}
	want := [][]byte{a}
	for _, b := range []byte("bcd") {
		f := frame(b, 1000)
		if err := p.send(f); err != nil {
			t.Fatal(err)
		}
		want = append(want, f)
	}
	ends[1].SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, len(bytes.Join(want, nil)))
	if _, err := io.ReadFull(ends[1], got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, bytes.Join(want, nil)) {
		t.Fatal("frames arrived interleaved or out of order")
	}
	if n := p.queued.Load(); n != 0 {
		t.Errorf("%d frames still counted as pending", n)
	}
}
