package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
)

// The null server answers every CALL at once with an OK reply, so the
// benchmark can show how fast the client itself is: a "client ceiling".
// Its reply body is 8 zero bytes: ConnectGetLibVersion's unsigned hyper,
// so go-libvirt decodes the same reply it gets from the daemons; void
// calls (CONNECT_OPEN, CONNECT_CLOSE) and AUTH_LIST (an empty list)
// ignore the rest. It runs as its own process, as the daemons do.

const (
	nullReplyBody  = 8
	nullFrameLen   = 4 + 24 + nullReplyBody
	procConnectClo = 2 // REMOTE_PROC_CONNECT_CLOSE: reply, then close
)

// runNullServer serves the null protocol on a unix socket at path until
// the process is killed.
func runNullServer(path string) error {
	os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return err
	}
	return serveNull(l)
}

// serveNull accepts clients on l until it is closed.
func serveNull(l net.Listener) error {
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		go nullConn(c)
	}
}

// nullConn answers one client. Replies are flushed when no more input is
// buffered, so pipelined calls share a write.
func nullConn(c net.Conn) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 64*1024)
	w := bufio.NewWriterSize(c, 64*1024)
	var hdr [28]byte
	reply := make([]byte, nullFrameLen)
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(hdr[0:])
		if n < 28 {
			return
		}
		if _, err := r.Discard(int(n) - 28); err != nil {
			return
		}
		if binary.BigEndian.Uint32(hdr[16:]) != 0 { // not a CALL
			continue
		}
		binary.BigEndian.PutUint32(reply[0:], nullFrameLen)
		copy(reply[4:16], hdr[4:16])              // program, version, procedure
		binary.BigEndian.PutUint32(reply[16:], 1) // REPLY
		copy(reply[20:24], hdr[20:24])            // serial
		binary.BigEndian.PutUint32(reply[24:], 0) // OK
		if _, err := w.Write(reply); err != nil {
			return
		}
		if r.Buffered() == 0 || binary.BigEndian.Uint32(hdr[12:]) == procConnectClo {
			if err := w.Flush(); err != nil {
				return
			}
		}
		if binary.BigEndian.Uint32(hdr[12:]) == procConnectClo {
			return
		}
	}
}
