package rpc

import (
	"bytes"
	"testing"

	"github.com/govirt/govirtd/protocol"
)

func streamHeader(proc int32, serial uint32, status protocol.Status) protocol.Header {
	return protocol.Header{Program: testProg, Version: testVers, Procedure: proc,
		Type: protocol.Stream, Serial: serial, Status: status}
}

// recvStream reads the frames of a download until its end of data (an
// empty CONTINUE), checking each against streamByte, and answers the
// replies to other calls it meets with seen.
func (c *rawConn) recvStream(serial uint32, seen func(protocol.Header, []byte)) int {
	c.t.Helper()
	n := 0
	for {
		hd, body := c.recv()
		if hd.Type != protocol.Stream || hd.Serial != serial {
			seen(hd, body)
			continue
		}
		if hd.Status != protocol.StatusContinue {
			c.t.Fatalf("stream packet with status %v before the end of data", hd.Status)
		}
		if len(body) == 0 {
			return n
		}
		if len(body) > StreamChunk {
			c.t.Fatalf("a stream packet of %d bytes, more than %d", len(body), StreamChunk)
		}
		for i, b := range body {
			if b != streamByte(n+i) {
				c.t.Fatalf("byte %d of the stream is %d, want %d", n+i, b, streamByte(n+i))
			}
		}
		n += len(body)
	}
}

// TestStreamDownload: the data of a stream reaches the client after the
// reply that opened it, in packets of at most StreamChunk, then the end
// of data; the client's finish is confirmed, and the client's other
// calls are answered meanwhile.
func TestStreamDownload(t *testing.T) {
	h := newHarness(t, ServerConfig{}, false)
	c := h.dialRaw()
	const size = 3<<20 + 12345
	c.send(callHeader(procDownload, 7), &blockArgs{Tag: size})
	hd, _ := c.recv()
	if hd.Type != protocol.Reply || hd.Serial != 7 || hd.Status != protocol.StatusOK {
		t.Fatalf("first frame %v, want the OK reply to the call that opened the stream", hd)
	}
	c.send(callHeader(procEcho, 8), &echoBody{Data: []byte("meanwhile")})
	echoed := false
	got := c.recvStream(7, func(hd protocol.Header, body []byte) {
		if hd.Serial == 8 && hd.Type == protocol.Reply && bytes.Contains(body, []byte("meanwhile")) {
			echoed = true
			return
		}
		t.Fatalf("unexpected frame %v", hd)
	})
	if got != size {
		t.Fatalf("the stream carried %d bytes, want %d", got, size)
	}
	c.send(streamHeader(procDownload, 7, protocol.StatusOK), nil)
	for !echoed {
		hd, body := c.recv()
		if hd.Serial == 8 && bytes.Contains(body, []byte("meanwhile")) {
			echoed = true
			continue
		}
		if hd.Type == protocol.Stream && hd.Serial == 7 && hd.Status == protocol.StatusOK {
			t.Fatal("the finish was confirmed before the echo call was answered")
		}
	}
	hd, body := c.recv()
	if hd.Type != protocol.Stream || hd.Serial != 7 || hd.Status != protocol.StatusOK || len(body) != 0 {
		t.Fatalf("got %v (%d bytes), want the empty STREAM OK confirming the finish", hd, len(body))
	}
	if r := <-h.streamDone; r.err != nil || r.n != size {
		t.Fatalf("the stream's writer ended with %d bytes, %v", r.n, r.err)
	}
}

// TestStreamSlowReader: a client that does not read its download holds
// the stream's writer back at StreamWindow queued bytes, is not dropped,
// and another client is served meanwhile; once it reads, the rest flows.
func TestStreamSlowReader(t *testing.T) {
	h := newHarness(t, ServerConfig{}, false)
	c := h.dialRaw()
	p := <-h.sessions
	const size = 8 << 20
	c.send(callHeader(procDownload, 1), &blockArgs{Tag: size})
	<-h.streams
	waitFor(t, "the writer to fill the window", func() bool { return p.queuedBytes.Load() >= StreamWindow })
	if max := int64(StreamWindow + StreamChunk + 64); h.srv.Stats().QueueBytesPeak > max {
		t.Fatalf("%d bytes queued for the client at the peak, want at most %d", h.srv.Stats().QueueBytesPeak, max)
	}
	other := h.dialRaw()
	other.send(callHeader(procEcho, 1), &echoBody{Data: []byte("other")})
	if hd, _ := other.recv(); hd.Status != protocol.StatusOK {
		t.Fatalf("the other client got %v", hd)
	}
	if hd, _ := c.recv(); hd.Type != protocol.Reply {
		t.Fatalf("first frame %v, want the reply", hd)
	}
	if got := c.recvStream(1, func(hd protocol.Header, _ []byte) { t.Fatalf("unexpected frame %v", hd) }); got != size {
		t.Fatalf("the stream carried %d bytes, want %d", got, size)
	}
	c.send(streamHeader(procDownload, 1, protocol.StatusOK), nil)
	if r := <-h.streamDone; r.err != nil {
		t.Fatalf("the stream's writer: %v", r.err)
	}
	if max := int64(StreamWindow + StreamChunk + 64); h.srv.Stats().QueueBytesPeak > max {
		t.Fatalf("%d bytes queued for the client at the peak, want at most %d", h.srv.Stats().QueueBytesPeak, max)
	}
}

// TestStreamClientAbort: a client that aborts a download mid-way gets
// the abort confirmed, and the writer stops with ErrStreamAborted.
func TestStreamClientAbort(t *testing.T) {
	h := newHarness(t, ServerConfig{}, false)
	c := h.dialRaw()
	c.send(callHeader(procDownload, 3), &blockArgs{Tag: 64 << 20})
	if hd, _ := c.recv(); hd.Type != protocol.Reply {
		t.Fatalf("first frame %v, want the reply", hd)
	}
	if hd, body := c.recv(); hd.Type != protocol.Stream || len(body) == 0 {
		t.Fatalf("got %v, want data", hd)
	}
	c.send(streamHeader(procDownload, 3, protocol.StatusError), nil)
	for {
		hd, _ := c.recv()
		if hd.Type == protocol.Stream && hd.Status == protocol.StatusOK {
			break // the confirmation, after the data already queued
		}
		if hd.Type != protocol.Stream || hd.Status != protocol.StatusContinue {
			t.Fatalf("got %v, want data then the confirmation", hd)
		}
	}
	if r := <-h.streamDone; r.err != ErrStreamAborted {
		t.Fatalf("the writer ended with %v, want ErrStreamAborted", r.err)
	}
	// The connection goes on serving.
	c.send(callHeader(procEcho, 4), &echoBody{Data: []byte("after")})
	if hd, _ := c.recv(); hd.Serial != 4 || hd.Status != protocol.StatusOK {
		t.Fatalf("got %v, want the echo reply", hd)
	}
}

// TestStreamUpload: data the client sends arrives whole and in order;
// while the stream's reader does not read, the stream holds at most
// StreamWindow bytes (and one packet) and the client's reader waits;
// the client's finish is confirmed once the data is read.
func TestStreamUpload(t *testing.T) {
	h := newHarness(t, ServerConfig{}, false)
	c := h.dialRaw()
	p := <-h.sessions
	c.send(callHeader(procUpload, 5), nil)
	if hd, _ := c.recv(); hd.Type != protocol.Reply || hd.Status != protocol.StatusOK {
		t.Fatalf("got %v, want the OK reply", hd)
	}
	st := <-h.streams
	const packets = 40 // 10 MiB
	var want uint64
	chunk := make([]byte, StreamChunk)
	for i := range chunk {
		chunk[i] = byte(i * 13)
		want += uint64(chunk[i])
	}
	sent := make(chan error, 1)
	go func() {
		for i := 0; i < packets; i++ {
			f, _ := EncodeRawFrame(streamHeader(procUpload, 5, protocol.StatusContinue), chunk)
			if _, err := c.Write(f); err != nil {
				sent <- err
				return
			}
		}
		f, _ := EncodeRawFrame(streamHeader(procUpload, 5, protocol.StatusOK), nil)
		_, err := c.Write(f)
		sent <- err
	}()
	waitFor(t, "the client's reader to wait for the stream", func() bool { return p.heldBack.Load() })
	st.mu.Lock()
	held := st.inBytes
	st.mu.Unlock()
	if held > StreamWindow+StreamChunk {
		t.Fatalf("the stream holds %d bytes unread, want at most %d", held, StreamWindow+StreamChunk)
	}
	h.uploadGate <- struct{}{}
	if err := <-sent; err != nil {
		t.Fatalf("sending: %v", err)
	}
	r := <-h.streamDone
	if r.err != nil || r.n != packets*StreamChunk || r.sum != want*packets {
		t.Fatalf("the reader got %d bytes (sum %d), %v; want %d bytes (sum %d)", r.n, r.sum, r.err, packets*StreamChunk, want*packets)
	}
	hd, body := c.recv()
	if hd.Type != protocol.Stream || hd.Status != protocol.StatusOK || len(body) != 0 {
		t.Fatalf("got %v, want the empty STREAM OK confirming the finish", hd)
	}
}

// TestStreamStrayPackets: packets for no open stream are dropped, and a
// hole on a stream that is not sparse aborts that stream with an error
// message; the client is served on.
func TestStreamStrayPackets(t *testing.T) {
	h := newHarness(t, ServerConfig{}, false)
	c := h.dialRaw()
	c.send(streamHeader(procUpload, 99, protocol.StatusContinue), &echoBody{Data: []byte("stray")})
	c.send(callHeader(procUpload, 6), nil)
	if hd, _ := c.recv(); hd.Serial != 6 || hd.Type != protocol.Reply {
		t.Fatalf("got %v, want the reply", hd)
	}
	hole := streamHeader(procUpload, 6, protocol.StatusContinue)
	hole.Type = protocol.StreamHole
	f, _ := EncodeRawFrame(hole, make([]byte, 12))
	c.sendRaw(f)
	hd, body := c.recv()
	if hd.Type != protocol.Stream || hd.Status != protocol.StatusError {
		t.Fatalf("got %v, want a STREAM ERROR", hd)
	}
	var e protocol.Error
	if err := protocol.Unmarshal(body, &e); err != nil || e.Message == nil || *e.Message != "Unexpected stream hole" {
		t.Fatalf("stream error %+v (%v), want \"Unexpected stream hole\"", e, err)
	}
	h.uploadGate <- struct{}{}
	if r := <-h.streamDone; r.err == nil {
		t.Fatal("the reader of the aborted stream ended without an error")
	}
	c.send(callHeader(procEcho, 7), &echoBody{Data: []byte("on")})
	if hd, _ := c.recv(); hd.Serial != 7 || hd.Status != protocol.StatusOK {
		t.Fatalf("got %v, want the echo reply", hd)
	}
}
