package rpc

import (
	"testing"
	"time"
)

// TestKickedReaderMoves: a reader kicked while it waits between frames
// goes on in a fresh goroutine, and the client is served as before.
func TestKickedReaderMoves(t *testing.T) {
	h := newHarness(t, ServerConfig{}, false)
	c := h.dialRaw()
	c.echo(1, "before")
	p := h.srv.Peers()[0]
	p.kicked.Store(true)
	p.conn.SetReadDeadline(time.Unix(0, 1))
	waitFor(t, "the reader to move", func() bool { return h.srv.Stats().ReadersMoved == 1 })
	c.echo(2, "after the move")
	if st := h.srv.Stats(); st.Clients != 1 {
		t.Errorf("%d clients, want the one", st.Clients)
	}
}

// TestKickInsideAFrameIsHarmless: a kick that lands while a frame is
// half read (its client sent the rest just as the sweeper looked) lifts
// the deadline and the frame completes.
func TestKickInsideAFrameIsHarmless(t *testing.T) {
	h := newHarness(t, ServerConfig{}, false)
	c := h.dialRaw()
	c.echo(1, "hello")
	p := h.srv.Peers()[0]
	f, err := EncodeFrame(callHeader(procEcho, 2), &echoBody{Data: []byte("split across a kick")})
	if err != nil {
		t.Fatal(err)
	}
	c.sendRaw(f[:10])
	waitFor(t, "the frame to begin", func() bool { return p.frameStart.Load() != 0 })
	p.kicked.Store(true)
	p.conn.SetReadDeadline(time.Unix(0, 1))
	c.sendRaw(f[10:])
	hd, _ := c.recv()
	if hd.Serial != 2 || hd.Status != 0 {
		t.Fatalf("reply %v, want the echo of serial 2", hd)
	}
	c.echo(3, "still served")
	if p.kicked.Load() || h.srv.Stats().Clients != 1 {
		t.Errorf("kicked %v, %d clients: the kick should be lifted and the client kept", p.kicked.Load(), h.srv.Stats().Clients)
	}
}
