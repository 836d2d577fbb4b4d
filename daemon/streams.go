package daemon

import (
	"context"
	"errors"
	"io"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/rpc"
	"github.com/govirt/govirtd/vir"
)

// The procedures that open a stream, and the goroutines that carry a
// driver's data over it.

func domainScreenshot(ctx context.Context, r *request, a *protocol.DomainScreenshotArgs) (*protocol.DomainScreenshotRet, error) {
	c, err := need[drivers.Screenshotter](r)
	if err != nil {
		return nil, err
	}
	mime, img, err := c.DomainScreenshot(ctx, a.Dom, a.Screen, a.Flags)
	if err != nil {
		return nil, err
	}
	st := r.call.OpenStream(false)
	go r.s.streamOut(st, img)
	return &protocol.DomainScreenshotRet{Mime: &mime}, nil
}

// streamOut sends what src holds to the client over st, then the end of
// the data, and waits for the client to finish the stream. A read error
// aborts the stream with it; the client aborting, or going away, ends
// the copy. src is closed either way.
func (s *session) streamOut(st *rpc.Stream, src io.ReadCloser) {
	defer src.Close()
	ctx := context.Background() // the stream's operations end with the client
	buf := make([]byte, rpc.StreamChunk)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := st.WriteContext(ctx, buf[:n]); werr != nil {
				s.streamEnded(st, werr)
				return
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			st.Abort(wireError(drivers.Errorf(vir.ErrSystemError, vir.FromStreams, "cannot read the stream's data: %v", err)))
			return
		}
	}
	if err := st.CloseWrite(ctx); err != nil {
		s.streamEnded(st, err)
		return
	}
	if err := st.Finish(ctx); err != nil {
		s.streamEnded(st, err)
	}
}

// streamEnded removes a stream whose copy stopped on err: the client
// aborted it or went away, or it could not be sent.
func (s *session) streamEnded(st *rpc.Stream, err error) {
	if !errors.Is(err, rpc.ErrStreamAborted) && !errors.Is(err, rpc.ErrPeerClosed) {
		s.log.Debug("stream ended", "err", err)
	}
	st.Abort(nil)
}
