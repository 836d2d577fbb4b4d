package daemon

import (
	"context"
	"log/slog"
	"sync"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/rpc"
	"github.com/govirt/govirtd/vir"
)

// session is the daemon's state for one client: its open connection (a
// driver connection per concern), whether it is read-only, and its event
// registrations.
type session struct {
	d    *Daemon
	peer *rpc.Peer
	log  *slog.Logger

	mu       sync.Mutex          // guards the fields below
	conns    *drivers.Connection // nil until CONNECT_OPEN; never changed once set
	uri      string              // what the connection was opened for
	readOnly bool                // a read-only socket, or CONNECT_OPEN with VIR_CONNECT_RO
	closeCB  bool                // the client registered a close callback
	events   map[int]eventReg
	// objEvents are the callback ids of the other classes' registrations,
	// made on the first (an idle client pays a pointer).
	objEvents *[numObjClasses]map[int]struct{}
}

// eventReg is one event registration of the client, by callback id.
type eventReg struct {
	eventID vir.DomainEventID
	// legacy registrations (procedures 105 and 167) get the old messages,
	// without a callback id.
	legacy bool
}

func (d *Daemon) newSession(p *rpc.Peer) rpc.Session {
	s := &session{
		d:        d,
		peer:     p,
		log:      d.log.With("client", p.ID()),
		readOnly: p.ReadOnly(),
		events:   map[int]eventReg{},
	}
	d.sessionsMu.Lock()
	d.sessions[s] = struct{}{}
	d.sessionsMu.Unlock()
	return s
}

// request is one call being dispatched.
type request struct {
	s    *session
	call *rpc.Call
	prog uint32             // the program the call is for
	num  int32              // its procedure number
	info *protocol.ProcInfo // what the definition says of it
	api  string             // the public API function the procedure implements
	// conns is the session's connection when the call started (nil
	// before CONNECT_OPEN), and conn its hypervisor driver's connection.
	conns    *drivers.Connection
	conn     drivers.Conn
	readOnly bool // the client may only look
}

// connFor is the request's driver connection for concern k, nil when
// the connection is not open or no driver serves k.
func (r *request) connFor(k protocol.Concern) drivers.Conn {
	if k == protocol.ConcernHypervisor {
		return r.conn
	}
	if r.conns == nil {
		return nil
	}
	return r.conns.For(k)
}

// procInfo finds what the protocol definition says of a call.
func procInfo(h protocol.Header) (*protocol.ProcInfo, bool) {
	switch h.Program {
	case protocol.RemoteProgram:
		return protocol.RemoteProc(protocol.Procedure(h.Procedure))
	case protocol.QemuProgram:
		return protocol.QemuProc(protocol.QemuProcedure(h.Procedure))
	}
	return nil, false
}

// Quick reports whether call is one the transport may run on the
// client's reader goroutine: an unknown procedure or an event number
// (their error replies are quick too), one the daemon answers from its
// own state, or one the driver says never blocks.
func (s *session) Quick(h protocol.Header) bool {
	info, ok := procInfo(h)
	if !ok || info.Message {
		return true
	}
	if h.Program != protocol.RemoteProgram {
		return false
	}
	proc := protocol.Procedure(h.Procedure)
	if quickProcs[proc] {
		return true
	}
	s.mu.Lock()
	conns := s.conns
	s.mu.Unlock()
	if conns == nil {
		return false
	}
	im, ok := conns.For(info.Concern).(drivers.Immediate)
	return ok && im.Immediate(proc)
}

// Dispatch runs one call through its program's table.
func (s *session) Dispatch(ctx context.Context, call *rpc.Call) (protocol.Encodable, error) {
	info, ok := procInfo(call.Header)
	if !ok {
		return nil, wireError(errUnknownProc(call.Header.Procedure))
	}
	s.mu.Lock()
	r := &request{s: s, call: call, prog: call.Header.Program, num: call.Header.Procedure,
		info: info, api: info.API, conns: s.conns, readOnly: s.readOnly}
	s.mu.Unlock()
	if r.conns != nil {
		r.conn = r.conns.Hypervisor()
	}
	ret, err := r.dispatch(ctx, call.Body)
	if err != nil {
		if s.log.Enabled(ctx, slog.LevelDebug) {
			s.log.Debug("call failed", "proc", info.Name, "err", err)
		}
		return nil, wireError(err)
	}
	return ret, nil
}

// Close releases the client's driver connections, and with them every
// event callback it registered. The transport calls it once, after the client's
// last call has returned.
func (s *session) Close() {
	s.d.sessionsMu.Lock()
	delete(s.d.sessions, s)
	s.d.sessionsMu.Unlock()
	s.mu.Lock()
	conn := s.conns
	s.conns = nil
	s.events = map[int]eventReg{}
	s.objEvents = nil
	s.closeCB = false
	s.mu.Unlock()
	if conn != nil {
		if err := conn.Close(); err != nil {
			s.log.Warn("closing driver connections", "err", err)
		}
	}
}

// notifyClosing tells a client that registered a close callback that the
// daemon is going away (CONNECT_EVENT_CONNECTION_CLOSED, reason EOF).
func (s *session) notifyClosing() {
	if f := s.closedMessage(vir.ConnectCloseReasonEof); f != nil {
		s.peer.SendFrame(f)
	}
}

// Farewell is the last message the transport sends a client it drops
// because its outbound queue is full: CONNECT_EVENT_CONNECTION_CLOSED with
// reason ERROR, for clients that registered a close callback. govirtd's
// own client reads that reason as "dropped: too slow".
func (s *session) Farewell(reason error) []byte {
	return s.closedMessage(vir.ConnectCloseReasonError)
}

func (s *session) closedMessage(reason vir.ConnectCloseReason) []byte {
	s.mu.Lock()
	closeCB := s.closeCB
	s.mu.Unlock()
	if !closeCB {
		return nil
	}
	f, err := rpc.EncodeFrame(protocol.Header{
		Program: protocol.RemoteProgram, Version: protocol.RemoteProtocolVersion,
		Procedure: int32(protocol.ProcConnectEventConnectionClosed),
		Type:      protocol.Message, Serial: 1, Status: protocol.StatusOK,
	}, &protocol.ConnectEventConnectionClosedMsg{Reason: int32(reason)})
	if err != nil {
		return nil
	}
	return f
}

// need returns the request's connection for the procedure's concern as
// the driver interface T, or ErrNoSupport naming the API when no driver
// of the connection serves the concern or its driver lacks T.
func need[T any](r *request) (T, error) {
	c, ok := r.connFor(r.info.Concern).(T)
	if !ok {
		var zero T
		return zero, r.errNoSupport()
	}
	return c, nil
}
