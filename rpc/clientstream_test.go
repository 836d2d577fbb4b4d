package rpc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/govirt/govirtd/protocol"
)

// The client's streams against the real Server of the harness.

func harnessClient(t *testing.T, h *harness) *Client {
	t.Helper()
	c := NewClient(h.dial(), ClientOptions{})
	t.Cleanup(func() { c.Close() })
	return c
}

// TestClientStreamDownload: a stream the client opens receives the
// server's data whole and in order, its end, and the finish is
// confirmed; a call made meanwhile on the same client is answered.
func TestClientStreamDownload(t *testing.T) {
	h := newHarness(t, ServerConfig{}, false)
	c := harnessClient(t, h)
	ctx := context.Background()
	const size = 5<<20 + 99
	st, err := c.CallStream(ctx, testProg, testVers, procDownload, &blockArgs{Tag: size}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	var echo echoBody
	if err := c.Call(ctx, testProg, testVers, procEcho, &echoBody{Data: []byte("meanwhile")}, &echo); err != nil || string(echo.Data) != "meanwhile" {
		t.Fatalf("a call during the stream: %q, %v", echo.Data, err)
	}
	got, err := io.ReadAll(st)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != size {
		t.Fatalf("received %d bytes, want %d", len(got), size)
	}
	for i, b := range got {
		if b != streamByte(i) {
			t.Fatalf("byte %d is %d, want %d", i, b, streamByte(i))
		}
	}
	if err := st.Finish(ctx); err != nil {
		t.Fatalf("Finish: %v", err)
	}
	if r := <-h.streamDone; r.err != nil || r.n != size {
		t.Fatalf("the server's writer: %d bytes, %v", r.n, r.err)
	}
}

// TestClientStreamUpload: what the client writes reaches the server's
// reader, and Finish returns once the server confirmed.
func TestClientStreamUpload(t *testing.T) {
	h := newHarness(t, ServerConfig{}, false)
	c := harnessClient(t, h)
	ctx := context.Background()
	st, err := c.CallStream(ctx, testProg, testVers, procUpload, nil, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	h.uploadGate <- struct{}{}
	data := bytes.Repeat([]byte{1, 2, 3}, 1<<20)
	if _, err := st.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := st.Finish(ctx); err != nil {
		t.Fatalf("Finish: %v", err)
	}
	r := <-h.streamDone
	if r.err != nil || r.n != len(data) || r.sum != 6<<20 {
		t.Fatalf("the server read %d bytes (sum %d), %v", r.n, r.sum, r.err)
	}
}

// TestClientStreamServerError: the server's STREAM ERROR (a hole on a
// stream that is not sparse) reaches the client as the server's typed
// error, and the client goes on.
func TestClientStreamServerError(t *testing.T) {
	h := newHarness(t, ServerConfig{}, false)
	c := harnessClient(t, h)
	ctx := context.Background()
	st, err := c.CallStream(ctx, testProg, testVers, procUpload, nil, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SendHole(ctx, 4096); err != nil {
		t.Fatal(err)
	}
	_, _, err = st.Recv(ctx, make([]byte, 10))
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Message == nil || *pe.Message != "Unexpected stream hole" {
		t.Fatalf("Recv after the server's abort: %v, want its error \"Unexpected stream hole\"", err)
	}
	h.uploadGate <- struct{}{}
	<-h.streamDone
	if err := c.Call(ctx, testProg, testVers, procEcho, &echoBody{Data: []byte("on")}, &echoBody{}); err != nil {
		t.Fatalf("a call after the stream's error: %v", err)
	}
}

// TestClientStreamAbort: the client abandons a download; the server
// confirms and its writer stops.
func TestClientStreamAbort(t *testing.T) {
	h := newHarness(t, ServerConfig{}, false)
	c := harnessClient(t, h)
	ctx := context.Background()
	st, err := c.CallStream(ctx, testProg, testVers, procDownload, &blockArgs{Tag: 64 << 20}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Read(make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	if err := st.Abort(ctx); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if r := <-h.streamDone; !errors.Is(r.err, ErrStreamAborted) {
		t.Fatalf("the server's writer ended with %v, want ErrStreamAborted", r.err)
	}
}
