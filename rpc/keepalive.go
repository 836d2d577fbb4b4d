package rpc

import (
	"time"

	"github.com/govirt/govirtd/protocol"
)

func keepaliveFrame(proc int32) []byte {
	f, _ := EncodeRawFrame(protocol.Header{
		Program:   protocol.KeepaliveProgram,
		Version:   protocol.KeepaliveProtocolVersion,
		Procedure: proc,
		Type:      protocol.Message,
		Serial:    0,
		Status:    protocol.StatusOK,
	}, nil)
	return f
}

var (
	pingFrame = keepaliveFrame(int32(protocol.KeepaliveProcPing))
	pongFrame = keepaliveFrame(int32(protocol.KeepaliveProcPong))
)

// received notes that the client sent something: any frame proves it alive.
func (p *Peer) received() {
	p.lastRecv.Store(p.srv.cfg.Clock.Now().UnixNano())
	p.unanswered.Store(0)
}

// isKeepaliveMessage reports whether h is a keepalive frame: a MESSAGE of
// the keepalive program's version 1, as libvirt's virKeepAliveCheckMessage
// decides. Anything else, a CALL to the keepalive program included, is
// handled like any other frame (that CALL is answered "Cannot find
// program", since keepalive has no procedures to call).
func isKeepaliveMessage(h protocol.Header) bool {
	return h.Program == protocol.KeepaliveProgram && h.Version == protocol.KeepaliveProtocolVersion && h.Type == protocol.Message
}

// handleKeepalive answers a PING with a PONG, whether or not the client
// negotiated keepalive, as libvirtd does. A PONG needs no more than the
// received() its arrival already caused.
func (p *Peer) handleKeepalive(h protocol.Header) {
	if h.Procedure == int32(protocol.KeepaliveProcPing) {
		p.send(pongFrame)
	}
}

// EnableKeepalive starts pinging the client when it has been silent for
// KeepaliveInterval; the session calls it when the client says it
// supports keepalive (CONNECT_SUPPORTS_FEATURE 10). Clients that did not
// ask are never pinged.
func (p *Peer) EnableKeepalive() {
	interval := p.srv.cfg.KeepaliveInterval
	if interval <= 0 {
		return
	}
	p.kaMu.Lock()
	defer p.kaMu.Unlock()
	if p.kaTimer != nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	p.kaTimer = p.srv.cfg.Clock.AfterFunc(interval, p.keepaliveTick)
}

func (p *Peer) keepaliveTick() {
	select {
	case <-p.done:
		// Already closing, perhaps flushing a farewell to a slow client:
		// a hard close now would cut it short.
		return
	default:
	}
	interval := p.srv.cfg.KeepaliveInterval
	idle := p.srv.cfg.Clock.Now().Sub(time.Unix(0, p.lastRecv.Load()))
	next := interval
	switch {
	case p.heldBack.Load():
		// The daemon is not reading this client (max_client_requests):
		// its silence proves nothing. Check again later.
	case idle < interval:
		next = interval - idle
	case int(p.unanswered.Load()) >= p.srv.cfg.KeepaliveCount:
		p.drop(&KeepaliveError{Count: int(p.unanswered.Load()), Interval: interval}, false, &p.srv.keepaliveDrops)
		return
	default:
		p.unanswered.Add(1)
		if p.send(pingFrame) != nil {
			return
		}
	}
	p.kaMu.Lock()
	defer p.kaMu.Unlock()
	select {
	case <-p.done:
	default:
		p.kaTimer.Reset(next)
	}
}

func (p *Peer) stopKeepalive() {
	p.kaMu.Lock()
	defer p.kaMu.Unlock()
	if p.kaTimer != nil {
		p.kaTimer.Stop()
	}
}
