package rpc

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"syscall"

	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// The call side of a client: what the transport answers itself, quick
// calls on the reader, the others on goroutines up to MaxClientRequests,
// and the replies.

// handle answers what the transport can answer itself and hands calls
// to the session.
func (p *Peer) handle(h protocol.Header, body []byte, reserved int64) error {
	if h.Type == protocol.Stream || h.Type == protocol.StreamHole {
		return p.streamPacket(h, body, reserved)
	}
	if h.Type != protocol.Call && h.Type != protocol.CallWithFDs {
		p.releaseFrame(reserved)
		// libvirtd drops stray replies, messages and stream packets.
		p.srv.log.Debug("ignoring unexpected message", "client", p.id, "header", h)
		return nil
	}
	var rerr *protocol.Error
	switch {
	case !p.srv.serves(h.Program, h.Version):
		rerr = protocol.RPCError("Cannot find program %d version %d", int32(h.Program), int32(h.Version))
	case h.Status != protocol.StatusOK:
		// libvirt formats the status with %u: a negative one reads as
		// its unsigned value.
		rerr = protocol.RPCError("Unexpected message status %d", uint32(h.Status))
	case h.Type == protocol.CallWithFDs:
		rerr = protocol.RPCError("passing file descriptors is not supported")
	}
	if rerr != nil {
		p.releaseFrame(reserved)
		return p.reply(h, nil, rerr, false)
	}
	return p.startCall(&Call{Header: h, Body: body, reserved: reserved, peer: p})
}

// startCall runs a quick call on the reader goroutine; any other call at
// once on its own goroutine if fewer than MaxClientRequests run, else
// queues it; while the queue is full it holds the reader back.
func (p *Peer) startCall(c *Call) error {
	if qs, ok := p.session.(QuickSession); ok && qs.Quick(c.Header) {
		p.calls.Add(1)
		// The reader does not read while it runs the call: PONGs that
		// arrive meanwhile are not the client's fault.
		p.heldBack.Store(true)
		p.dispatch(c)
		p.heldBack.Store(false)
		p.stackGrown = true
		p.received()
		p.calls.Done()
		return nil
	}
	for {
		// Read each time: a limit changed by SetLimits applies to the
		// next call.
		limit := int(p.srv.maxClientRequests.Load())
		p.callMu.Lock()
		if p.running < limit || len(p.waiting) < limit {
			// Calls start in the order they came: after a raised limit,
			// the calls that were waiting start first.
			p.waiting = append(p.waiting, c)
			for p.running < limit && len(p.waiting) > 0 {
				next := p.waiting[0]
				p.waiting[0] = nil
				p.waiting = p.waiting[1:]
				p.running++
				p.calls.Add(1)
				go p.runCalls(next)
			}
			p.callMu.Unlock()
			return nil
		}
		p.callMu.Unlock()
		p.heldBack.Store(true)
		select {
		case <-p.callFreed:
		case <-p.done:
			p.heldBack.Store(false)
			p.releaseFrame(c.reserved)
			return p.Err()
		}
		p.heldBack.Store(false)
		p.received()
	}
}

// callCounts are the client's calls running and waiting now.
func (p *Peer) callCounts() (running, waiting int) {
	p.callMu.Lock()
	defer p.callMu.Unlock()
	return p.running, len(p.waiting)
}

// runCalls dispatches c, then any calls that queued up meanwhile.
func (p *Peer) runCalls(c *Call) {
	defer p.calls.Done()
	for c != nil {
		p.dispatch(c)
		p.callMu.Lock()
		// Past a lowered limit this goroutine ends rather than take the
		// next call: the others go on until no more than the limit run.
		// Past a raised one, the waiting calls get the new places.
		if limit := int(p.srv.maxClientRequests.Load()); len(p.waiting) > 0 && p.running <= limit {
			c = p.waiting[0]
			p.waiting[0] = nil
			p.waiting = p.waiting[1:]
			for p.running < limit && len(p.waiting) > 0 {
				next := p.waiting[0]
				p.waiting[0] = nil
				p.waiting = p.waiting[1:]
				p.running++
				p.calls.Add(1)
				go p.runCalls(next)
			}
		} else {
			c = nil
			p.running--
		}
		p.callMu.Unlock()
		select {
		case p.callFreed <- struct{}{}:
		default:
		}
	}
}

func (p *Peer) dispatch(c *Call) {
	defer p.releaseFrame(c.reserved)
	select {
	case <-p.done:
		return
	default:
	}
	ret, err := p.callSession(c)
	// The streams the call opened send nothing, not even an abort, until
	// its reply is queued and they have begun: a client may answer the
	// reply at once (a hole, an abort) and must get the stream's answer
	// after the reply.
	for _, s := range c.streams {
		s.sendMu.Lock()
	}
	var rerr error
	if err == nil && c.files != nil {
		rerr = p.replyWithFiles(c.Header, ret, c.files)
	} else {
		closeFiles(c.files)
		rerr = p.reply(c.Header, ret, err, c.closeAfterReply)
	}
	c.files = nil
	for _, s := range c.streams {
		s.begin(err == nil && rerr == nil)
		s.sendMu.Unlock()
	}
	if err := rerr; err != nil && !errors.Is(err, ErrPeerClosed) {
		// A client that went away is no news: its close is logged once.
		level := slog.LevelWarn
		if errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) {
			level = slog.LevelDebug
		}
		p.srv.log.Log(p.ctx, level, "cannot send reply", "client", p.id, "header", c.Header, "err", err)
	}
}

// callSession runs the session's Dispatch. A panic fails that call with
// an internal error and closes the client once the reply is written,
// rather than taking every other client down with the daemon.
func (p *Peer) callSession(c *Call) (ret protocol.Encodable, err error) {
	defer func() {
		if r := recover(); r != nil {
			proc := c.Header.Procedure
			p.srv.log.Error("panic while dispatching a call; closing the client", "client", p.id,
				"header", c.Header, "panic", r, "stack", string(debug.Stack()))
			ret = nil
			err = protocol.NewError(int32(vir.ErrInternalError), int32(vir.FromRPC),
				fmt.Sprintf("internal error: procedure %d failed unexpectedly; see the daemon's log", proc))
			c.closeAfterReply = true
		}
	}()
	return p.session.Dispatch(p.ctx, c)
}

func (p *Peer) reply(call protocol.Header, ret protocol.Encodable, err error, closeAfter bool) error {
	var frame []byte
	if err == nil {
		frame, err = EncodeFrame(replyHeader(call, protocol.StatusOK), ret)
		if err != nil {
			err = fmt.Errorf("encode reply to %s: %w", protocol.Procedure(call.Procedure), err)
		}
	}
	if err != nil {
		var rerr *protocol.Error
		if !errors.As(err, &rerr) || rerr == nil {
			rerr = protocol.NewError(int32(vir.ErrInternalError), int32(vir.FromRPC), "internal error: "+err.Error())
		}
		if frame, err = EncodeFrame(replyHeader(call, protocol.StatusError), rerr); err != nil {
			return err
		}
	}
	if err := p.send(frame); err != nil {
		return err
	}
	if closeAfter {
		p.closeAfterFlush(io.EOF)
	}
	return nil
}
