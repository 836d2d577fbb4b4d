package storage

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// Volume upload and download (drivers.VolumeTransfer): the volume's file
// itself, from offset, at most length bytes (0: to the end). A sparse
// transfer keeps holes: a download finds them with SEEK_DATA/SEEK_HOLE,
// an upload punches them. The volume is held busy until Close, so it is
// not deleted and its pool not stopped meanwhile.

// StorageVolUpload gives the writer the client's bytes go into.
func (c *conn) StorageVolUpload(ctx context.Context, ref drivers.StorageVol, offset, length uint64, flags uint32) (io.WriteCloser, error) {
	if flags&^uint32(vir.StorageVolUploadSparseStream) != 0 {
		return nil, badFlags(flags, "storageVolUpload")
	}
	d := c.drv
	p, v, err := d.hold(ref)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(v.path, os.O_WRONLY, 0)
	if err != nil {
		d.release(p, v.name)
		return nil, drivers.Errorf(vir.ErrSystemError, vir.FromStorage, "cannot open volume '%s' for upload: %v", v.path, unwrapPath(err))
	}
	w := &uploader{d: d, p: p, ref: ref, name: v.name, f: f, pos: int64(offset), end: -1}
	if length > 0 {
		w.end = int64(offset + length)
	}
	return w, nil
}

type uploader struct {
	d        *Driver
	p        *pool
	ref      protocol.StorageVol
	name     string
	f        *os.File
	pos, end int64 // end -1: unbounded
	once     sync.Once
	err      error
}

func (w *uploader) room(n int64) error {
	if w.end >= 0 && w.pos+n > w.end {
		return drivers.Errorf(vir.ErrInvalidArg, vir.FromStorage, "upload to '%s' goes past the %d bytes asked for", w.f.Name(), w.end)
	}
	return nil
}

func (w *uploader) Write(b []byte) (int, error) {
	if err := w.room(int64(len(b))); err != nil {
		return 0, err
	}
	n, err := w.f.WriteAt(b, w.pos)
	w.pos += int64(n)
	if err != nil {
		return n, drivers.Errorf(vir.ErrSystemError, vir.FromStorage, "cannot write volume '%s' at %d: %v", w.f.Name(), w.pos, unwrapPath(err))
	}
	return n, nil
}

// WriteHole leaves length bytes a hole: what the file held there is
// punched out, and a hole past the end is made by the final truncate.
func (w *uploader) WriteHole(length int64) error {
	if length < 0 {
		return drivers.Errorf(vir.ErrInvalidArg, vir.FromStorage, "negative hole length %d", length)
	}
	if err := w.room(length); err != nil {
		return err
	}
	fi, err := w.f.Stat()
	if err != nil {
		return drivers.Errorf(vir.ErrSystemError, vir.FromStorage, "cannot stat '%s': %v", w.f.Name(), unwrapPath(err))
	}
	if punch := min(length, fi.Size()-w.pos); punch > 0 {
		if err := unix.Fallocate(int(w.f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, w.pos, punch); err != nil {
			return drivers.Errorf(vir.ErrSystemError, vir.FromStorage, "cannot punch a hole of %d bytes in '%s' at %d: %v", punch, w.f.Name(), w.pos, err)
		}
	}
	w.pos += length
	return nil
}

// Close ends the upload: a trailing hole extends the file, and the
// volume is read again.
func (w *uploader) Close() error {
	w.once.Do(func() {
		defer w.d.release(w.p, w.name)
		if fi, err := w.f.Stat(); err == nil && fi.Size() < w.pos {
			if err := w.f.Truncate(w.pos); err != nil {
				w.err = drivers.Errorf(vir.ErrSystemError, vir.FromStorage, "cannot extend '%s' to %d: %v", w.f.Name(), w.pos, err)
			}
		}
		if err := w.f.Close(); err != nil && w.err == nil {
			w.err = drivers.Errorf(vir.ErrSystemError, vir.FromStorage, "cannot close '%s': %v", w.f.Name(), err)
		}
		if w.err == nil {
			if nv, err := w.d.inspect(context.Background(), w.f.Name()); err == nil {
				w.d.publish(w.p, nv)
			}
		}
	})
	return w.err
}

// StorageVolDownload gives the reader of the volume's bytes; with the
// sparse flag it is a drivers.HoleReader.
func (c *conn) StorageVolDownload(ctx context.Context, ref drivers.StorageVol, offset, length uint64, flags uint32) (io.ReadCloser, error) {
	if flags&^uint32(vir.StorageVolDownloadSparseStream) != 0 {
		return nil, badFlags(flags, "storageVolDownload")
	}
	d := c.drv
	p, v, err := d.hold(ref)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(v.path)
	if err != nil {
		d.release(p, v.name)
		return nil, drivers.Errorf(vir.ErrSystemError, vir.FromStorage, "cannot open volume '%s' for download: %v", v.path, unwrapPath(err))
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		d.release(p, v.name)
		return nil, drivers.Errorf(vir.ErrSystemError, vir.FromStorage, "cannot stat '%s': %v", v.path, unwrapPath(err))
	}
	r := &downloader{d: d, p: p, name: v.name, f: f, pos: int64(offset), end: fi.Size()}
	if length > 0 && int64(offset+length) < r.end {
		r.end = int64(offset + length)
	}
	if flags&uint32(vir.StorageVolDownloadSparseStream) != 0 {
		return &sparseDownloader{r}, nil
	}
	return r, nil
}

type downloader struct {
	d        *Driver
	p        *pool
	name     string
	f        *os.File
	pos, end int64
	once     sync.Once
}

func (r *downloader) Read(b []byte) (int, error) {
	if r.pos >= r.end {
		return 0, io.EOF
	}
	if int64(len(b)) > r.end-r.pos {
		b = b[:r.end-r.pos]
	}
	n, err := r.f.ReadAt(b, r.pos)
	r.pos += int64(n)
	if errors.Is(err, io.EOF) {
		if n > 0 {
			err = nil
		}
	} else if err != nil {
		err = drivers.Errorf(vir.ErrSystemError, vir.FromStorage, "cannot read volume '%s' at %d: %v", r.f.Name(), r.pos, unwrapPath(err))
	}
	return n, err
}

func (r *downloader) Close() error {
	r.once.Do(func() {
		r.f.Close()
		r.d.release(r.p, r.name)
	})
	return nil
}

// sparseDownloader is a downloader that reports holes.
type sparseDownloader struct{ *downloader }

// InData is where the reader is: in data or in a hole, and how many
// bytes of it are left before the next change or the end.
func (r *sparseDownloader) InData() (bool, int64, error) {
	if r.pos >= r.end {
		return false, 0, nil
	}
	fd := int(r.f.Fd())
	data, err := unix.Seek(fd, r.pos, unix.SEEK_DATA)
	if errors.Is(err, unix.ENXIO) {
		return false, r.end - r.pos, nil // a hole to the end of the file
	}
	if err != nil {
		return false, 0, drivers.Errorf(vir.ErrSystemError, vir.FromStorage, "cannot seek for data in '%s' at %d: %v", r.f.Name(), r.pos, err)
	}
	if data > r.pos {
		return false, min(data, r.end) - r.pos, nil
	}
	hole, err := unix.Seek(fd, r.pos, unix.SEEK_HOLE)
	if err != nil {
		return false, 0, drivers.Errorf(vir.ErrSystemError, vir.FromStorage, "cannot seek for a hole in '%s' at %d: %v", r.f.Name(), r.pos, err)
	}
	return true, min(hole, r.end) - r.pos, nil
}

// SkipHole moves past length bytes of a hole.
func (r *sparseDownloader) SkipHole(length int64) error {
	if length < 0 || r.pos+length > r.end {
		return drivers.Errorf(vir.ErrInvalidArg, vir.FromStorage, "hole of %d bytes at %d passes the end (%d) of '%s'", length, r.pos, r.end, r.f.Name())
	}
	r.pos += length
	return nil
}

var (
	_ drivers.VolumeTransfer = (*conn)(nil)
	_ drivers.HoleWriter     = (*uploader)(nil)
	_ drivers.HoleReader     = (*sparseDownloader)(nil)
)
