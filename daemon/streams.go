package daemon

import (
	"context"
	"errors"
	"io"
	"sync"

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

func storageVolDownload(ctx context.Context, r *request, a *protocol.StorageVolDownloadArgs) error {
	c, err := need[drivers.VolumeTransfer](r)
	if err != nil {
		return err
	}
	src, err := c.StorageVolDownload(ctx, a.Vol, a.Offset, a.Length, a.Flags)
	if err != nil {
		return err
	}
	sparse := a.Flags&uint32(vir.StorageVolDownloadSparseStream) != 0
	st := r.call.OpenStream(sparse)
	if hr, ok := src.(drivers.HoleReader); ok && sparse {
		go r.s.streamOutSparse(st, hr)
	} else {
		go r.s.streamOut(st, src)
	}
	return nil
}

func storageVolUpload(ctx context.Context, r *request, a *protocol.StorageVolUploadArgs) error {
	c, err := need[drivers.VolumeTransfer](r)
	if err != nil {
		return err
	}
	dst, err := c.StorageVolUpload(ctx, a.Vol, a.Offset, a.Length, a.Flags)
	if err != nil {
		return err
	}
	st := r.call.OpenStream(a.Flags&uint32(vir.StorageVolUploadSparseStream) != 0)
	go r.s.streamIn(st, dst)
	return nil
}

func domainOpenConsole(ctx context.Context, r *request, a *protocol.DomainOpenConsoleArgs) error {
	c, err := need[drivers.Consoler](r)
	if err != nil {
		return err
	}
	con, err := c.DomainOpenConsole(ctx, a.Dom, a.DevName, a.Flags)
	if err != nil {
		return err
	}
	st := r.call.OpenStream(false)
	go r.s.streamBoth(st, con)
	return nil
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

// streamOutSparse is streamOut for a sparse stream: holes cross as
// STREAM_HOLE messages, data as data.
func (s *session) streamOutSparse(st *rpc.Stream, src drivers.HoleReader) {
	defer src.Close()
	ctx := context.Background()
	buf := make([]byte, rpc.StreamChunk)
	fail := func(err error) {
		st.Abort(wireError(drivers.Errorf(vir.ErrSystemError, vir.FromStreams, "cannot read the stream's data: %v", err)))
	}
	for {
		data, length, err := src.InData()
		if err != nil {
			fail(err)
			return
		}
		if length == 0 {
			break
		}
		if !data {
			if err := st.SendHole(ctx, length); err != nil {
				s.streamEnded(st, err)
				return
			}
			if err := src.SkipHole(length); err != nil {
				fail(err)
				return
			}
			continue
		}
		for length > 0 {
			n, err := src.Read(buf[:min(int64(len(buf)), length)])
			if n > 0 {
				if _, werr := st.WriteContext(ctx, buf[:n]); werr != nil {
					s.streamEnded(st, werr)
					return
				}
				length -= int64(n)
			}
			if errors.Is(err, io.EOF) {
				length = 0
			} else if err != nil {
				fail(err)
				return
			}
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

// streamIn writes what the client sends over st into dst (holes as
// holes when dst is a drivers.HoleWriter), until the client finishes
// the stream; then closes dst and confirms the finish, or aborts the
// stream with dst's error. A client's abort closes dst.
func (s *session) streamIn(st *rpc.Stream, dst io.WriteCloser) {
	ctx := context.Background()
	buf := make([]byte, rpc.StreamChunk)
	hw, _ := dst.(drivers.HoleWriter)
	fail := func(err error) {
		dst.Close()
		st.Abort(wireError(drivers.Errorf(vir.ErrSystemError, vir.FromStreams, "cannot write the stream's data: %v", err)))
	}
	for {
		n, hole, err := st.Recv(ctx, buf)
		switch {
		case errors.Is(err, io.EOF):
			if err := dst.Close(); err != nil {
				st.Abort(wireError(err))
				return
			}
			if err := st.Finish(ctx); err != nil {
				s.streamEnded(st, err)
			}
			return
		case err != nil:
			dst.Close()
			s.streamEnded(st, err)
			return
		case hole > 0 && hw == nil:
			fail(errors.New("the volume cannot take holes"))
			return
		case hole > 0:
			if err := hw.WriteHole(hole); err != nil {
				fail(err)
				return
			}
		case n > 0:
			if _, err := dst.Write(buf[:n]); err != nil {
				fail(err)
				return
			}
		}
	}
}

// streamBoth carries a console both ways: what the guest writes to the
// client, what the client sends to the guest. When the guest's side
// ends (the guest stopped, or another client took the console over),
// the client is sent the end of the data and the stream finishes; when
// the client finishes or aborts, the console is closed.
func (s *session) streamBoth(st *rpc.Stream, con io.ReadWriteCloser) {
	ctx := context.Background()
	var once sync.Once
	closeCon := func() { once.Do(func() { con.Close() }) }
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, _, err := st.Recv(ctx, buf)
			if err != nil {
				closeCon()
				if !errors.Is(err, io.EOF) {
					return
				}
				// The client finished: confirm it.
				if err := st.Finish(ctx); err != nil {
					s.streamEnded(st, err)
				}
				return
			}
			if n > 0 {
				if _, err := con.Write(buf[:n]); err != nil {
					closeCon()
					return // the reader below sees the end and tells the client
				}
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := con.Read(buf)
		if n > 0 {
			if _, werr := st.WriteContext(ctx, buf[:n]); werr != nil {
				closeCon()
				s.streamEnded(st, werr)
				return
			}
		}
		if err != nil {
			break // EOF, EIO once the guest's pty closes, or closed
		}
	}
	closeCon()
	select {
	case <-st.Done():
		return
	default:
	}
	if err := st.CloseWrite(ctx); err != nil {
		s.streamEnded(st, err)
	}
	// The client answers the end of the data with its finish, which the
	// receiving goroutine confirms.
}

// domainOpenGraphicsFd gives the client a socket connected to the
// domain's display, passed with the reply (REPLY_WITH_FDS). Only a
// client on a unix socket can be given one; libvirt's client library
// asks CONNECT_SUPPORTS_FEATURE(FD_PASSING) first.
func domainOpenGraphicsFd(ctx context.Context, r *request, a *protocol.DomainOpenGraphicsFdArgs) error {
	c, err := need[drivers.GraphicsFDOpener](r)
	if err != nil {
		return err
	}
	if !r.s.peer.CanPassFiles() {
		return drivers.Errorf(vir.ErrOperationInvalid, vir.FromRPC, "fd passing is not supported by this connection: it is not on a unix socket")
	}
	f, err := c.DomainOpenGraphicsFD(ctx, a.Dom, a.Idx, a.Flags)
	if err != nil {
		return err
	}
	return r.call.ReplyWithFiles(f)
}
