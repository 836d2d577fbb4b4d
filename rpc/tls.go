package rpc

import (
	"context"
	"crypto/tls"
	"net"
	"time"
)

// TLS clients go through the same server as unix clients: after the
// handshake the *tls.Conn is accepted like any connection (limits,
// session, identity). A *tls.Conn has no SyscallConn, so such a peer
// has no RawConn: its replies and events are not written straight from
// the goroutine that made them (the direct non-blocking write path
// would write plaintext past the TLS record layer) but always fall back
// to the peer's writer goroutine, and its reader reads through
// tls.Conn.Read, which keeps its own record buffer; such a reader is
// never moved to a fresh goroutine (moving needs the RawConn too).

// maxHandshakes bounds the TLS handshakes running at once, so that a
// flood of TCP connections that never finish one costs a bounded number
// of goroutines; past it new connections are closed at once, logged.
const maxHandshakes = 64

// tlsConfirm is the byte libvirt's server sends, in a TLS record, once
// it has accepted the client's certificate; libvirt's clients (virsh,
// go-libvirt) wait for it before their first call.
const tlsConfirm = 1

// handshake runs the TLS handshake of a client of a TLS listener on a
// goroutine of its own, bounded by FrameTimeout, then accepts it. A
// client whose handshake or certificate fails is logged with the reason
// (opts.TLS's verification names the certificate's subject, SANs and
// validity) and closed; it has had the TLS alert the handshake sends.
func (s *Server) handshake(conn net.Conn, opts ListenerOptions) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		conn.Close()
		return
	}
	if len(s.handshaking) >= maxHandshakes {
		s.mu.Unlock()
		s.log.Warn("TLS client refused: too many handshakes at once", "listener", opts.Name, "remote", conn.RemoteAddr().String(), "handshakes", maxHandshakes)
		conn.Close()
		return
	}
	s.handshaking[conn] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		tc := tls.Server(conn, opts.TLS)
		ok := false
		defer func() {
			s.mu.Lock()
			delete(s.handshaking, conn)
			s.mu.Unlock()
			if !ok {
				tc.Close()
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.FrameTimeout)
		defer cancel()
		tc.SetDeadline(time.Now().Add(s.cfg.FrameTimeout))
		if err := tc.HandshakeContext(ctx); err != nil {
			s.log.Warn("TLS client rejected", "listener", opts.Name, "remote", conn.RemoteAddr().String(), "err", err)
			return
		}
		if _, err := tc.Write([]byte{tlsConfirm}); err != nil {
			s.log.Warn("TLS client left before its confirmation", "listener", opts.Name, "remote", conn.RemoteAddr().String(), "err", err)
			return
		}
		tc.SetDeadline(time.Time{})
		ok = true
		s.accept(tc, opts)
	}()
}
