package rpc

import (
	"errors"
	"testing"
	"time"
)

// TestPartialFrameTimesOut: a client that sends the start of a frame and
// stalls is dropped after FrameTimeout, counted, while an idle client
// that sent nothing stays and others are served.
func TestPartialFrameTimesOut(t *testing.T) {
	h := newHarness(t, ServerConfig{FrameTimeout: 200 * time.Millisecond}, false)
	idle := h.dialRaw()
	loris := h.dialRaw()
	f, err := EncodeFrame(callHeader(procEcho, 1), &echoBody{Data: []byte("never finished")})
	if err != nil {
		t.Fatal(err)
	}
	loris.sendRaw(f[:len(f)/2])
	loris.expectClosed()
	// The drop is counted just after the socket is closed.
	waitFor(t, "the drop to be counted", func() bool { return h.srv.Stats().PartialDropped == 1 })
	waitFor(t, "the dropped client to leave the server's list", func() bool {
		for _, p := range h.srv.Peers() {
			var pe *PartialFrameError
			if errors.As(p.Err(), &pe) {
				return false
			}
		}
		return true
	})
	time.Sleep(300 * time.Millisecond) // longer than FrameTimeout, while idle
	idle.echo(2, "an idle client is not timed out")
}
