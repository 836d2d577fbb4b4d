package rpc

import (
	"bytes"
	"runtime"

	"github.com/govirt/govirtd/protocol"
	"testing"
)

// TestLargeFramesWaitForTheBudget: with room for one large frame, a
// second large call waits, unread, while the first is held half sent,
// small calls go on meanwhile, and the second is answered once the first
// completes; the budget is all given back.
func TestLargeFramesWaitForTheBudget(t *testing.T) {
	const big = 600 << 10
	h := newHarness(t, ServerConfig{MaxInflightBytes: 1 << 20}, false)
	holder, waiter, small := h.dialRaw(), h.dialRaw(), h.dialRaw()

	data := bytes.Repeat([]byte("x"), big)
	first, err := EncodeFrame(callHeader(procEcho, 1), &echoBody{Data: data})
	if err != nil {
		t.Fatal(err)
	}
	holder.sendRaw(first[:len(first)/2])
	waitFor(t, "the first large frame to take its share", func() bool { return h.srv.Stats().InflightBytes >= big })

	second, err := EncodeFrame(callHeader(procEcho, 7), &echoBody{Data: data})
	if err != nil {
		t.Fatal(err)
	}
	go waiter.Write(second) // blocks until the server reads it
	waitFor(t, "the second large frame to wait", func() bool { return h.srv.Stats().FramesWaiting == 1 })
	small.echo(3, "small calls are not held up")
	if st := h.srv.Stats(); st.FramesWaiting != 1 || st.InflightPeak > 1<<20 {
		t.Fatalf("after a small call: %d frames waiting, peak %d bytes; want 1 waiting within the budget", st.FramesWaiting, st.InflightPeak)
	}

	holder.sendRaw(first[len(first)/2:])
	for _, c := range []*rawConn{holder, waiter} {
		hd, body := c.recv()
		var got echoBody
		if err := protocol.Unmarshal(body, &got); err != nil || hd.Status != 0 || len(got.Data) != big {
			t.Fatalf("echo of a large frame: status %d, %d bytes, %v", hd.Status, len(got.Data), err)
		}
	}
	waitFor(t, "the budget to be given back", func() bool { return h.srv.Stats().InflightBytes == 0 })
	if st := h.srv.Stats(); st.FramesWaited != 1 || st.InflightPeak > 1<<20 {
		t.Errorf("frames waited %d (want 1), peak %d bytes (budget 1 MiB)", st.FramesWaited, st.InflightPeak)
	}
}

// TestLargeFrameOfAClosedClientIsGivenBack: a client that leaves halfway
// through sending a large frame, or while it waits for the budget, holds
// none of it afterwards. (One waiting is not read, so it learns its
// client left only once it gets its turn.)
func TestLargeFrameOfAClosedClientIsGivenBack(t *testing.T) {
	h := newHarness(t, ServerConfig{MaxInflightBytes: 1 << 20}, false)
	a, b := h.dialRaw(), h.dialRaw()
	f, err := EncodeFrame(callHeader(procEcho, 1), &echoBody{Data: bytes.Repeat([]byte("y"), 900<<10)})
	if err != nil {
		t.Fatal(err)
	}
	a.sendRaw(f[:1000])
	waitFor(t, "a's frame to take its share", func() bool { return h.srv.Stats().InflightBytes > 0 })
	b.sendRaw(f[:1000])
	waitFor(t, "b's frame to wait", func() bool { return h.srv.Stats().FramesWaiting == 1 })
	b.Close()
	a.Close()
	waitFor(t, "the budget to be given back", func() bool {
		st := h.srv.Stats()
		return st.InflightBytes == 0 && st.FramesWaiting == 0 && st.Clients == 0
	})
	c := h.dialRaw()
	c.send(callHeader(procEcho, 2), &echoBody{Data: bytes.Repeat([]byte("z"), 900<<10)})
	if hd, _ := c.recv(); hd.Status != 0 {
		t.Fatalf("a large call after the others left: status %d", hd.Status)
	}
}

// TestLargeFramesAreGivenBackToTheSystem: once 32 MiB of large frames
// were read and their calls finished, the server gives the memory back
// (debug.FreeOSMemory), rather than keeping it until a later collection.
func TestLargeFramesAreGivenBackToTheSystem(t *testing.T) {
	h := newHarness(t, ServerConfig{}, false)
	c := h.dialRaw()
	// Calls to a program the server lacks: refused without decoding.
	hd := callHeader(procEcho, 1)
	hd.Program = testProg + 1
	f, err := EncodeRawFrame(hd, make([]byte, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 34 {
		c.sendRaw(f)
		if hd, _ := c.recv(); hd.Status != protocol.StatusError {
			t.Fatalf("call %d: status %d, want the error for an unknown program", i, hd.Status)
		}
	}
	waitFor(t, "a reclaim", func() bool { return h.srv.Stats().Reclaims >= 1 })
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	if idle := m.HeapIdle - m.HeapReleased; idle > 16<<20 {
		t.Errorf("%d MiB of idle heap kept from the system after the reclaim", idle>>20)
	}
}

// TestConnectionFloodIsGivenBack: after a flood of 1,000 clients
// connects and leaves, the server gives the memory back (a reclaim runs
// for the connections and another once they are gone), rather than
// keeping the flood's RSS (issue 16, finding 3).
func TestConnectionFloodIsGivenBack(t *testing.T) {
	h := newHarness(t, ServerConfig{MaxClients: 2000}, false)
	var conns []*rawConn
	for range reclaimClients {
		conns = append(conns, h.dialRaw())
	}
	waitFor(t, "the flood to be connected", func() bool { return h.srv.Stats().Clients == reclaimClients })
	waitFor(t, "a reclaim after the flood connected", func() bool { return h.srv.Stats().Reclaims >= 1 })
	after := h.srv.Stats().Reclaims
	for _, c := range conns {
		c.Close()
	}
	waitFor(t, "the flood to leave", func() bool { return h.srv.Stats().Clients == 0 })
	waitFor(t, "a reclaim after it left", func() bool { return h.srv.Stats().Reclaims > after })
}
