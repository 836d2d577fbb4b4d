package rpc

import (
	"context"
	"crypto/tls"
	"io"
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
// Each may take handshakeTimeout (or FrameTimeout, if shorter), so a
// flood holds the listener for that long at most.
const (
	maxHandshakes    = 256
	handshakeTimeout = 10 * time.Second
)

// tlsConfirm is the byte libvirt's server sends, in a TLS record, once
// it has accepted the client's certificate; libvirt's clients (virsh,
// go-libvirt) wait for it before their first call.
const tlsConfirm = 1

// handshake runs the TLS handshake of a client of a TLS listener on a
// goroutine of its own, bounded by handshakeTimeout, then accepts it. A
// client whose handshake fails is logged and closed after the TLS alert
// the handshake sends; one opts.TLSVerify refuses is logged with the
// reason (the daemon's names the certificate's subject, SANs and
// validity) and closed without the confirmation byte.
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
			// Still listed while it lingers, so that CloseListeners
			// ends the wait.
			if !ok {
				linger(conn)
			}
			s.mu.Lock()
			delete(s.handshaking, conn)
			s.mu.Unlock()
		}()
		limit := min(handshakeTimeout, s.cfg.FrameTimeout)
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		defer cancel()
		tc.SetDeadline(time.Now().Add(limit))
		if err := tc.HandshakeContext(ctx); err != nil {
			// The alert is written: now end our side and let the client
			// finish before closing (linger).
			desc := opts.TLSServerCert
			if opts.TLSServerCertFunc != nil {
				desc = opts.TLSServerCertFunc()
			}
			s.log.Warn("TLS handshake failed", "listener", opts.Name, "remote", conn.RemoteAddr().String(), "err", err, "server_cert", desc)
			return
		}
		if opts.TLSVerify != nil {
			if err := opts.TLSVerify(tc.ConnectionState()); err != nil {
				s.log.Warn("TLS client rejected", "listener", opts.Name, "remote", conn.RemoteAddr().String(), "err", err)
				// A close_notify rather than a bare end: libvirt's client
				// then reads a clean end where it waits for the byte, and
				// says the server refused its certificate.
				tc.CloseWrite()
				return
			}
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

// lingerTimeout bounds how long a refused TLS client may take to close.
const lingerTimeout = 2 * time.Second

// linger closes a refused TLS client's connection gently: it ends the
// daemon's side (FIN after the alert), reads what the client still sends
// until it closes, then closes. Closing with the client's last records
// unread would reset the connection, and libvirt's client, writing its
// own close_notify into a reset socket, dies of SIGPIPE instead of
// printing its error.
func linger(conn net.Conn) {
	defer conn.Close()
	tcp, ok := conn.(*net.TCPConn)
	if !ok {
		return
	}
	tcp.CloseWrite()
	tcp.SetReadDeadline(time.Now().Add(lingerTimeout))
	io.Copy(io.Discard, io.LimitReader(tcp, 64<<10))
}
