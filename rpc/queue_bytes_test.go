package rpc

import (
	"errors"
	"testing"
	"time"
)

// TestUnreadRepliesBoundMemory: a client pipelines calls with large
// replies and never reads. The server stops reading it once MaxQueueBytes
// wait to be written, so the bytes it holds stay near that budget, drops
// it after StuckTimeout with the reason, and keeps serving others.
func TestUnreadRepliesBoundMemory(t *testing.T) {
	const (
		budget = 1 << 20
		reply  = 256 << 10
		calls  = 64 // 16 MiB of replies
	)
	h := newHarness(t, ServerConfig{MaxQueueBytes: budget, StuckTimeout: 300 * time.Millisecond}, false)
	c := h.dialRaw()
	frames := make([][]byte, calls)
	for i := range frames {
		f, err := EncodeFrame(callHeader(procEcho, uint32(i+1)), &echoBody{Data: make([]byte, reply)})
		if err != nil {
			t.Fatal(err)
		}
		frames[i] = f
	}
	written := make(chan error, 1)
	go func() {
		// The server stops reading, so this blocks until it drops us.
		c.SetWriteDeadline(time.Now().Add(hangTimeout))
		for _, f := range frames {
			if _, err := c.Write(f); err != nil {
				written <- err
				return
			}
		}
		written <- nil
	}()
	waitFor(t, "the client that does not read to be dropped", func() bool { return h.srv.Stats().StuckDropped == 1 })
	st := h.srv.Stats()
	// The budget, plus the replies of the calls that were running or
	// waiting when it was reached, plus the one the reader ran.
	if limit := int64(budget + (2*h.srv.cfg.MaxClientRequests+1)*(reply+64)); st.QueueBytesPeak > limit {
		t.Errorf("queued bytes peaked at %d, want at most %d", st.QueueBytesPeak, limit)
	}
	if err := <-written; err == nil {
		t.Error("every call was read from a client that read no reply")
	}
	waitFor(t, "the dropped client to leave the server's list", func() bool {
		for _, p := range h.srv.Peers() {
			var stuck *StuckClientError
			if errors.As(p.Err(), &stuck) {
				return false
			}
		}
		return true
	})
	h.dialRaw().echo(1, "others are still served")
}
