package rpc

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// Identity is who a client is, as its transport tells: the kernel's
// credentials of the process at the other end of a unix socket
// (SO_PEERCRED), or the subject of the certificate a TLS client
// presented. The server takes it once, when the client connects.
type Identity struct {
	// Unix is set when UID, GID and PID are the unix peer's.
	Unix          bool
	UID, GID, PID int
	// TLS is set for a client of a TLS listener; SubjectDN is its
	// certificate's subject (RFC 4514 order, CN first), empty when the
	// listener does not require a certificate and none was presented.
	TLS       bool
	SubjectDN string
	// Cert is the TLS client's certificate, nil otherwise.
	Cert *x509.Certificate
	// Err says why the identity could not be read (logged at connect).
	Err error
}

// String is the identity as the connect log shows it.
func (id Identity) String() string {
	switch {
	case id.Err != nil:
		return "unknown (" + id.Err.Error() + ")"
	case id.Unix:
		return fmt.Sprintf("uid=%d gid=%d pid=%d", id.UID, id.GID, id.PID)
	case id.TLS && id.SubjectDN != "":
		return "x509 " + id.SubjectDN
	case id.TLS:
		return "x509 (no client certificate)"
	}
	return "none"
}

// Identity is the client's identity, read when it connected.
func (p *Peer) Identity() Identity {
	switch {
	case p.unixIdent:
		return Identity{Unix: true, UID: int(p.unixCred[0]), GID: int(p.unixCred[1]), PID: int(p.unixCred[2])}
	case p.ident != nil:
		return *p.ident
	}
	return Identity{}
}

// setIdentity keeps id in p: a unix peer's credentials inline, anything
// else boxed.
func (p *Peer) setIdentity(id Identity) {
	if id.Unix && id.Err == nil {
		p.unixIdent = true
		p.unixCred = [3]int32{int32(id.UID), int32(id.GID), int32(id.PID)}
		return
	}
	if id != (Identity{}) {
		p.ident = &id
	}
}

// connIdentity reads the identity of conn's far end.
func connIdentity(conn net.Conn) Identity {
	switch c := conn.(type) {
	case *tls.Conn:
		cs := c.ConnectionState()
		id := Identity{TLS: true}
		if len(cs.PeerCertificates) > 0 {
			id.Cert = cs.PeerCertificates[0]
			id.SubjectDN = id.Cert.Subject.String()
		}
		return id
	case *net.UnixConn:
		uid, gid, pid, err := peerCred(c)
		if err != nil {
			return Identity{Err: err}
		}
		return Identity{Unix: true, UID: uid, GID: gid, PID: pid}
	}
	return Identity{}
}

// peerCred reads SO_PEERCRED of a unix socket: the credentials of the
// process that connected, as the kernel recorded them at connect.
func peerCred(c syscall.Conn) (uid, gid, pid int, err error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, 0, 0, fmt.Errorf("SO_PEERCRED: %w", err)
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, 0, 0, fmt.Errorf("SO_PEERCRED: %w", err)
	}
	if cerr != nil {
		return 0, 0, 0, fmt.Errorf("SO_PEERCRED: %w", cerr)
	}
	return int(cred.Uid), int(cred.Gid), int(cred.Pid), nil
}
