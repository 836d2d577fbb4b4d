package remote

import (
	"context"
	"errors"
	"io"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/rpc"
	"github.com/govirt/govirtd/vir"
)

// Stream is a stream a call opened (virStream): the data of a
// screenshot, a volume's upload or download, a console. Read and Write
// move its data; Finish ends it (after the data, for an upload: it
// returns the daemon's verdict), Abort abandons it. The daemon's errors
// come back as the driver API's typed errors.
type Stream struct {
	st *rpc.ClientStream
	c  *Conn
}

func (s *Stream) wrap(err error) error {
	var we *protocol.Error
	if errors.As(err, &we) {
		return fromWireError(we)
	}
	var closed *rpc.ClosedError
	if errors.As(err, &closed) {
		return &ClosedError{Reason: s.c.events.closeReason()}
	}
	return err
}

// Read reads the daemon's data; io.EOF at its end (then call Finish).
func (s *Stream) Read(p []byte) (int, error) {
	n, err := s.st.Read(p)
	if errors.Is(err, io.EOF) {
		return n, io.EOF
	}
	return n, s.wrap(err)
}

// Recv is Read for sparse streams: data, or a hole of hole bytes.
func (s *Stream) Recv(ctx context.Context, p []byte) (n int, hole int64, err error) {
	n, hole, err = s.st.Recv(ctx, p)
	if errors.Is(err, io.EOF) {
		return n, hole, io.EOF
	}
	return n, hole, s.wrap(err)
}

// Write sends data to the daemon.
func (s *Stream) Write(p []byte) (int, error) {
	n, err := s.st.Write(p)
	return n, s.wrap(err)
}

// SendHole sends a hole of length bytes (sparse streams).
func (s *Stream) SendHole(ctx context.Context, length int64) error {
	return s.wrap(s.st.SendHole(ctx, length))
}

// Finish ends the stream and waits for the daemon's confirmation.
func (s *Stream) Finish(ctx context.Context) error { return s.wrap(s.st.Finish(ctx)) }

// Abort abandons the stream.
func (s *Stream) Abort(ctx context.Context) error { return s.wrap(s.st.Abort(ctx)) }

func (c *Conn) callStream(ctx context.Context, proc protocol.Procedure, args protocol.Encodable, ret protocol.Decodable, sparse bool) (*Stream, error) {
	st, err := c.rpc.CallStream(ctx, protocol.RemoteProgram, protocol.RemoteProtocolVersion, int32(proc), args, ret, sparse)
	if err != nil {
		s := &Stream{c: c}
		return nil, s.wrap(err)
	}
	return &Stream{st: st, c: c}, nil
}

// DomainScreenshot takes a screenshot of dom's screen: the image's MIME
// type, and a stream of its bytes (virDomainScreenshot).
func (c *Conn) DomainScreenshot(ctx context.Context, dom drivers.Domain, screen, flags uint32) (string, *Stream, error) {
	var ret protocol.DomainScreenshotRet
	st, err := c.callStream(ctx, protocol.ProcDomainScreenshot, &protocol.DomainScreenshotArgs{Dom: dom, Screen: screen, Flags: flags}, &ret, false)
	if err != nil {
		return "", nil, err
	}
	mime := ""
	if ret.Mime != nil {
		mime = *ret.Mime
	}
	return mime, st, nil
}

// StorageVolUpload opens a stream whose data the daemon writes into vol
// from offset, at most length bytes (0: to its end)
// (virStorageVolUpload).
func (c *Conn) StorageVolUpload(ctx context.Context, vol protocol.StorageVol, offset, length uint64, flags uint32) (*Stream, error) {
	return c.callStream(ctx, protocol.ProcStorageVolUpload, &protocol.StorageVolUploadArgs{Vol: vol, Offset: offset, Length: length, Flags: flags},
		nil, flags&uint32(vir.StorageVolUploadSparseStream) != 0)
}

// StorageVolDownload opens a stream of vol's bytes from offset, at most
// length (0: to its end) (virStorageVolDownload).
func (c *Conn) StorageVolDownload(ctx context.Context, vol protocol.StorageVol, offset, length uint64, flags uint32) (*Stream, error) {
	return c.callStream(ctx, protocol.ProcStorageVolDownload, &protocol.StorageVolDownloadArgs{Vol: vol, Offset: offset, Length: length, Flags: flags},
		nil, flags&uint32(vir.StorageVolDownloadSparseStream) != 0)
}

// DomainOpenConsole opens dom's console (devName nil: the first) as a
// stream both ways (virDomainOpenConsole).
func (c *Conn) DomainOpenConsole(ctx context.Context, dom drivers.Domain, devName *string, flags uint32) (*Stream, error) {
	return c.callStream(ctx, protocol.ProcDomainOpenConsole, &protocol.DomainOpenConsoleArgs{Dom: dom, DevName: devName, Flags: flags}, nil, false)
}
