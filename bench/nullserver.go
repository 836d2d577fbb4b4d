package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"sync"

	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// The null server answers every CALL at once, so the benchmark can show
// how fast the client itself is: a "client ceiling". It runs as its own
// process, as the daemons do. Most calls get an OK reply whose body is 8
// zero bytes: ConnectGetLibVersion's unsigned hyper, so go-libvirt
// decodes the same reply it gets from the daemons; void calls
// (CONNECT_OPEN, CONNECT_CLOSE) and AUTH_LIST (an empty list) ignore it.
// For the event measures it also plays a domain "test": lookups and
// GET_STATE answer it, CALLBACK_REGISTER_ANY subscribes the connection,
// and SUSPEND and RESUME send every subscriber its lifecycle event before
// the reply, as the daemons do.

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

// nullServer is the state shared by the null server's clients: the
// connections subscribed to lifecycle events.
type nullServer struct {
	mu   sync.Mutex // guards subs
	subs map[*nullConn]int32
}

// nullConn is one client; w is shared with event senders, under wmu.
type nullConn struct {
	c   net.Conn
	wmu sync.Mutex
	w   *bufio.Writer
}

// serveNull accepts clients on l until it is closed.
func serveNull(l net.Listener) error {
	s := &nullServer{subs: map[*nullConn]int32{}}
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		nc := &nullConn{c: c, w: bufio.NewWriterSize(c, 64*1024)}
		go s.serve(nc)
	}
}

// nullDomain is remote_nonnull_domain {"test", uuid, id 1}.
var nullDomain = []byte{0, 0, 0, 4, 't', 'e', 's', 't',
	0x66, 0x95, 0xeb, 0x01, 0xf6, 0xa4, 0x83, 0x04, 0x79, 0xaa, 0x97, 0xf2, 0x50, 0x2e, 0x19, 0x3f,
	0, 0, 0, 1}

// word is an XDR int.
func word(v int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }

// frame appends a frame of the given header words and body to b.
func frame(b []byte, prog, vers, proc, typ, serial uint32, body ...[]byte) []byte {
	n := protocol.MinFrame
	for _, x := range body {
		n += len(x)
	}
	for _, v := range []uint32{uint32(n), prog, vers, proc, typ, serial, uint32(protocol.StatusOK)} {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	for _, x := range body {
		b = append(b, x...)
	}
	return b
}

// serve answers one client. Replies are flushed when no more input is
// buffered, so pipelined calls share a write.
func (s *nullServer) serve(c *nullConn) {
	defer func() {
		s.mu.Lock()
		delete(s.subs, c)
		s.mu.Unlock()
		c.c.Close()
	}()
	r := bufio.NewReaderSize(c.c, 64*1024)
	var hdr [protocol.MinFrame]byte
	var out []byte
	zero8 := make([]byte, 8)
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(hdr[0:])
		if n < protocol.MinFrame {
			return
		}
		if _, err := r.Discard(int(n) - protocol.MinFrame); err != nil {
			return
		}
		if protocol.NetMessageType(binary.BigEndian.Uint32(hdr[16:])) != protocol.Call {
			continue
		}
		prog, vers := binary.BigEndian.Uint32(hdr[4:]), binary.BigEndian.Uint32(hdr[8:])
		proc, serial := protocol.Procedure(binary.BigEndian.Uint32(hdr[12:])), binary.BigEndian.Uint32(hdr[20:])
		body := [][]byte{zero8}
		switch proc {
		case protocol.ProcDomainLookupByName:
			body = [][]byte{nullDomain}
		case protocol.ProcDomainGetState:
			body = [][]byte{word(int32(vir.DomainRunning)), word(int32(vir.DomainRunningBooted))}
		case protocol.ProcConnectDomainEventCallbackRegisterAny:
			s.mu.Lock()
			id := int32(len(s.subs) + 1)
			s.subs[c] = id
			s.mu.Unlock()
			body = [][]byte{word(id)}
		case protocol.ProcDomainSuspend:
			s.event(prog, vers, vir.DomainEventSuspended, int32(vir.DomainEventSuspendedPaused))
		case protocol.ProcDomainResume:
			s.event(prog, vers, vir.DomainEventResumed, int32(vir.DomainEventResumedUnpaused))
		}
		out = frame(out[:0], prog, vers, uint32(proc), uint32(protocol.Reply), serial, body...)
		c.wmu.Lock()
		_, err := c.w.Write(out)
		if err == nil && (r.Buffered() == 0 || proc == protocol.ProcConnectClose) {
			err = c.w.Flush()
		}
		c.wmu.Unlock()
		if err != nil || proc == protocol.ProcConnectClose {
			return
		}
	}
}

// event sends every subscriber a lifecycle event of the domain "test".
func (s *nullServer) event(prog, vers uint32, event vir.DomainEventType, detail int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var f []byte
	for sub, id := range s.subs {
		f = frame(f[:0], prog, vers, uint32(protocol.ProcDomainEventCallbackLifecycle), uint32(protocol.Message), 1,
			word(id), nullDomain, word(int32(event)), word(detail))
		sub.wmu.Lock()
		if _, err := sub.w.Write(f); err == nil {
			sub.w.Flush()
		}
		sub.wmu.Unlock()
	}
}
