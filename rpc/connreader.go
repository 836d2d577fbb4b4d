package rpc

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// readBufSize is the size of the buffer a client's reader reads its
// socket into: a call of up to this size arrives in one system call.
const readBufSize = 16 << 10

var readBufs = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

// connReader is the buffered reader of a client's socket. Its buffer
// comes from a pool when bytes arrive and goes back to it whenever
// everything read has been consumed, so a client waiting between calls
// holds no buffer: the reader waits for the socket to become readable
// with the buffer-less read that raw gives, as net.Conn.Read would.
type connReader struct {
	// kicked, when set, reports (and clears) whether a read deadline
	// that expired was a kick to move the reader (see Peer.kickIfIdle);
	// reads inside a frame then go on.
	kicked func() bool
	conn   net.Conn
	raw    syscall.RawConn // nil when conn has no file descriptor: then plain Reads
	buf    *[]byte         // nil while empty
	r, w   int             // buf[r:w] is what was read and not yet consumed
}

func newConnReader(conn net.Conn, raw syscall.RawConn) *connReader {
	return &connReader{conn: conn, raw: raw}
}

// Buffered is how many bytes were read from the socket and not consumed.
func (c *connReader) Buffered() int { return c.w - c.r }

// Read consumes buffered bytes, or reads the socket once when there are
// none: into p itself when p is at least a buffer's size (the bulk of a
// large frame), else into a buffer.
func (c *connReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for c.r == c.w {
		var err error
		if len(p) >= readBufSize {
			var n int
			if n, err = c.readSocket(p); err == nil || n > 0 {
				return n, err
			}
		} else if err = c.fill(); err == nil {
			break
		}
		if !c.kickedNow(err) {
			return 0, err
		}
	}
	n := copy(p, (*c.buf)[c.r:c.w])
	c.r += n
	if c.r == c.w {
		c.release()
	}
	return n, nil
}

// kickedNow reports whether err is the deadline of a kick, which it
// then lifts.
func (c *connReader) kickedNow(err error) bool {
	if !errors.Is(err, os.ErrDeadlineExceeded) || c.kicked == nil || !c.kicked() {
		return false
	}
	c.conn.SetReadDeadline(time.Time{})
	return true
}

// Wait blocks until at least one byte is buffered. A kick ends it with
// os.ErrDeadlineExceeded (the deadline still set, for the caller).
func (c *connReader) Wait() error {
	if c.r < c.w {
		return nil
	}
	return c.fill()
}

// fill reads the socket into a buffer taken from the pool when the
// socket has bytes; an empty buffer is returned to the pool before the
// reader waits for more.
func (c *connReader) fill() error {
	if c.raw == nil {
		c.take()
		n, err := c.conn.Read(*c.buf)
		c.r, c.w = 0, n
		if n > 0 {
			return nil
		}
		c.release()
		if err == nil {
			err = io.ErrNoProgress
		}
		return err
	}
	var rerr error
	err := c.raw.Read(func(fd uintptr) bool {
		c.take()
		for {
			n, err := syscall.Read(int(fd), *c.buf)
			switch {
			case err == syscall.EINTR:
				continue
			case err == syscall.EAGAIN:
				c.release()
				return false // wait until the socket is readable
			case err != nil:
				rerr = err
			case n == 0:
				rerr = io.EOF
			}
			if n > 0 {
				c.r, c.w = 0, n
			} else {
				c.release()
			}
			return true
		}
	})
	if err != nil {
		return err
	}
	return rerr
}

// readSocket reads straight into p, for reads larger than the buffer.
func (c *connReader) readSocket(p []byte) (int, error) {
	if c.raw == nil {
		return c.conn.Read(p)
	}
	var n int
	var rerr error
	err := c.raw.Read(func(fd uintptr) bool {
		for {
			m, err := syscall.Read(int(fd), p)
			switch {
			case err == syscall.EINTR:
				continue
			case err == syscall.EAGAIN:
				return false
			case err != nil:
				rerr = err
			case m == 0:
				rerr = io.EOF
			default:
				n = m
			}
			return true
		}
	})
	if err != nil {
		return 0, err
	}
	return n, rerr
}

func (c *connReader) take() {
	if c.buf == nil {
		c.buf = readBufs.Get().(*[]byte)
	}
}

// release returns the buffer to the pool; nothing in it is unconsumed.
func (c *connReader) release() {
	if c.buf != nil {
		readBufs.Put(c.buf)
		c.buf = nil
	}
	c.r, c.w = 0, 0
}
