package rpc

import (
	"testing"

	"github.com/govirt/govirtd/protocol"
)

// callState is what a client's calls are doing: running, and read but
// waiting for a place.
func callState(p *Peer) (running, waiting int) { return p.callCounts() }

// sync sends a ping and waits for its PONG: the reader has then handled
// every frame sent before it.
func (c *rawConn) sync(t *testing.T) {
	t.Helper()
	c.sendRaw(pingFrame)
	if hd, _ := c.recv(); !hd.IsKeepalive() || hd.Procedure != int32(protocol.KeepaliveProcPong) {
		t.Fatalf("got %v, want a PONG", hd)
	}
}

// TestSetLimitsMaxClientRequests: max_client_requests changed while a
// client is connected applies to its next calls, raised or lowered, and
// the calls already running or waiting all complete.
func TestSetLimitsMaxClientRequests(t *testing.T) {
	h := newHarness(t, ServerConfig{MaxClientRequests: 1}, false)
	c := h.dialRaw()
	c.echo(1, "hello")
	p := <-h.sessions

	c.send(callHeader(procBlock, 10), &blockArgs{Tag: 10})
	h.waitBlocked(1)
	c.send(callHeader(procBlock, 11), &blockArgs{Tag: 11})
	c.sync(t)
	if r, w := callState(p); r != 1 || w != 1 {
		t.Fatalf("limit 1: %d calls run and %d wait, want 1 and 1", r, w)
	}

	// Raised: the waiting call and the new one both start.
	h.srv.SetLimits(Limits{MaxClientRequests: 3})
	c.send(callHeader(procBlock, 12), &blockArgs{Tag: 12})
	tags := h.waitBlocked(2)
	if got := map[int32]bool{tags[0]: true, tags[1]: true}; !got[11] || !got[12] {
		t.Fatalf("after raising the limit to 3, calls %v started, want 11 and 12", tags)
	}
	if r, w := callState(p); r != 3 || w != 0 {
		t.Fatalf("limit 3: %d calls run and %d wait, want 3 and 0", r, w)
	}

	// Lowered: nothing is interrupted, a new call waits until only one
	// call runs, and then runs alone.
	h.srv.SetLimits(Limits{MaxClientRequests: 1})
	c.send(callHeader(procBlock, 13), &blockArgs{Tag: 13})
	c.sync(t)
	if r, w := callState(p); r != 3 || w != 1 {
		t.Fatalf("lowered to 1: %d calls run and %d wait, want 3 (not interrupted) and 1", r, w)
	}
	for range 3 {
		h.releaseOne()
		if hd, _ := c.recv(); hd.Type != protocol.Reply || hd.Status != protocol.StatusOK {
			t.Fatalf("reply %v", hd)
		}
	}
	if tag := h.waitBlocked(1)[0]; tag != 13 {
		t.Fatalf("call %d started, want 13", tag)
	}
	if n := h.running.Load(); n != 1 {
		t.Fatalf("the call that waited runs with %d others, want alone", n-1)
	}
	h.releaseOne()
	if hd, _ := c.recv(); hd.Serial != 13 || hd.Status != protocol.StatusOK {
		t.Fatalf("reply %v, want 13's", hd)
	}
	waitFor(t, "no call running or waiting in the stats", func() bool {
		st := h.srv.Stats()
		return st.CallsRunning == 0 && st.CallsWaiting == 0
	})
	if got := h.srv.Limits().MaxClientRequests; got != 1 {
		t.Errorf("Limits().MaxClientRequests = %d, want 1", got)
	}
}

// TestSetLimitsMaxClients: lowering max_clients below the clients
// connected disconnects none of them and refuses the next; raising it
// lets the next in. A listener's own bound changes the same way.
func TestSetLimitsMaxClients(t *testing.T) {
	h := newHarness(t, ServerConfig{MaxClients: 10}, false)
	a, b := h.dialRaw(), h.dialRaw()
	a.echo(1, "a")
	b.echo(1, "b")

	h.srv.SetLimits(Limits{MaxClients: 1})
	a.echo(2, "a")
	b.echo(2, "b")
	over := h.dialRaw()
	call := protocol.Header{Program: testProg, Version: testVers, Procedure: procEcho, Type: protocol.Call, Serial: 1}
	over.send(call, &echoBody{Data: []byte("x")})
	if e := over.recvError(call); e.Message == nil || *e.Message == "" {
		t.Fatalf("refusal %+v has no message", e)
	}
	over.expectClosed()

	h.srv.SetLimits(Limits{MaxClients: 3})
	c := h.dialRaw()
	c.echo(1, "c")

	h.srv.SetListenerMaxClients("test", 3)
	refused := h.srv.Stats().Rejected
	d := h.dialRaw()
	d.send(call, &echoBody{Data: []byte("x")})
	d.recvError(call)
	if got := h.srv.Stats().Rejected; got != refused+1 {
		t.Errorf("rejected %d, want %d", got, refused+1)
	}
	a.echo(3, "a")
	b.echo(3, "b")
	c.echo(2, "c")
	if st := h.srv.Stats(); st.Clients != 3 {
		t.Errorf("%d clients connected, want 3", st.Clients)
	}
}

// TestSetLimitsQueueForNewClients: a changed max_client_queue applies to
// clients that connect afterwards; a connected client keeps its bound.
func TestSetLimitsQueueForNewClients(t *testing.T) {
	h := newHarness(t, ServerConfig{MaxQueue: 64}, false)
	a := h.dialRaw()
	a.echo(1, "a")
	pa := <-h.sessions
	h.srv.SetLimits(Limits{MaxQueue: 32, MaxQueueBytes: 1 << 20})
	b := h.dialRaw()
	b.echo(1, "b")
	pb := <-h.sessions
	if pa.maxQueue != 64 || pb.maxQueue != 32 || pb.maxQueueBytes != 1<<20 {
		t.Errorf("queue bounds: connected client %d, new client %d (%d bytes); want 64, 32 (1 MiB)", pa.maxQueue, pb.maxQueue, pb.maxQueueBytes)
	}
	a.echo(2, "a")
}
