package rpc

import (
	"testing"
	"time"
)

// TestKeepaliveWhileHeldBack: a client whose calls fill
// max_client_requests (running and waiting) is not read until one ends,
// so its answers to PINGs sit unread; keepalive must not drop it for
// that (it once did, after keepalive_count intervals).
func TestKeepaliveWhileHeldBack(t *testing.T) {
	const interval = 5 * time.Second
	clock := NewManualClock(time.Now())
	h := newHarness(t, ServerConfig{MaxClientRequests: 1, KeepaliveInterval: interval, KeepaliveCount: 3, Clock: clock}, false)
	c := h.dialRaw()
	c.send(callHeader(procKA, 1), nil)
	c.recv()
	// One call runs, one waits, the third holds the reader back.
	for i := range 3 {
		c.send(callHeader(procBlock, uint32(10+i)), &blockArgs{Tag: int32(i)})
	}
	h.waitBlocked(1)
	// Many times keepalive_count intervals pass.
	waitFor(t, "keepalive to be armed", func() bool { return clock.Armed() == 1 })
	for range 20 {
		clock.Advance(interval)
	}
	if n := h.srv.Stats().KeepaliveDrops; n != 0 {
		t.Fatalf("a client held back by max_client_requests was dropped by keepalive (%d)", n)
	}
	for range 3 {
		h.releaseOne()
	}
	// The three calls are answered; PINGs may come in between.
	for replies := 0; replies < 3; {
		if hd, _ := c.recv(); hd.Procedure == procBlock {
			replies++
		}
	}
}
