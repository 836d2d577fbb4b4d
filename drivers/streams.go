package drivers

import (
	"context"
	"io"
	"os"

	"github.com/govirt/govirtd/protocol"
)

// The operations whose data travels in a stream (virStream). A driver
// gives or takes the data as an io.ReadCloser or io.WriteCloser; the
// daemon carries it over the client's connection, with its flow control,
// and closes it when the stream ends, whether finished or aborted.

// Screenshotter takes a screenshot of a domain's screen
// (virDomainScreenshot): the image's MIME type and its bytes.
type Screenshotter interface {
	DomainScreenshot(ctx context.Context, dom Domain, screen, flags uint32) (mime string, image io.ReadCloser, err error)
}

// VolumeTransfer moves a storage volume's bytes over a stream
// (virStorageVolUpload, virStorageVolDownload): length bytes from
// offset (length 0: to the end of the volume). Upload gives the writer
// the client's data goes into; its Close ends the upload (its error
// fails it). Download gives the reader of the volume's bytes. With
// VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM / VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM
// the writer may also be a HoleWriter and the reader a HoleReader, so
// that holes cross the stream as holes.
type VolumeTransfer interface {
	StorageVolUpload(ctx context.Context, vol StorageVol, offset, length uint64, flags uint32) (io.WriteCloser, error)
	StorageVolDownload(ctx context.Context, vol StorageVol, offset, length uint64, flags uint32) (io.ReadCloser, error)
}

// StorageVol names a volume as virStorageVolPtr does.
type StorageVol = protocol.StorageVol

// HoleWriter is an upload's writer that can skip length bytes, leaving
// a hole (a sparse upload's STREAM_HOLE).
type HoleWriter interface {
	io.WriteCloser
	WriteHole(length int64) error
}

// HoleReader is a download's reader that knows where the holes are:
// InData reports whether the reader is in data or in a hole, and how
// many bytes of it are left (0 at the end).
type HoleReader interface {
	io.ReadCloser
	InData() (data bool, length int64, err error)
	// SkipHole moves past length bytes of a hole InData reported.
	SkipHole(length int64) error
}

// Consoler opens a domain's console or serial port (virDomainOpenConsole):
// devName names the device (its alias), nil the first console. The
// connection carries what the guest writes and what the client types
// until the guest stops (reads then end), the client closes it, or
// another client takes the console over with VIR_DOMAIN_CONSOLE_FORCE
// (the driver then closes this one).
type Consoler interface {
	DomainOpenConsole(ctx context.Context, dom Domain, devName *string, flags uint32) (io.ReadWriteCloser, error)
}

// GraphicsFDOpener hands out a connected socket to a running domain's
// display (virDomainOpenGraphicsFD): the caller speaks the display's
// protocol (RFB for VNC) on it. The daemon passes the file to the
// client over its unix socket; the generated OpDomainOpenGraphicsFd
// cannot carry it.
type GraphicsFDOpener interface {
	DomainOpenGraphicsFD(ctx context.Context, dom Domain, idx, flags uint32) (*os.File, error)
}
