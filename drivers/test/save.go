package test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// saveMagic starts a test driver save image; the domain's live XML follows.
const saveMagic = "govirtd-test-save-1\n"

// DomainSave writes the domain's live definition to an image and stops
// it. The image is written without the driver's lock, which the driver
// never holds across I/O (a slow disk would otherwise stall every client
// of the driver): the definition is taken under the lock, and the domain
// is stopped under it once the image is written, if it still runs as it
// did.
func (c *conn) DomainSave(ctx context.Context, ref drivers.Domain, to, dxml string, flags uint32) error {
	var alt *domxml.Def
	if dxml != "" {
		var err error
		if alt, err = domxml.Parse(dxml); err != nil {
			return err
		}
	}
	d := c.drv
	var (
		xml string
		id  int32
	)
	err := d.withDomain(ref, func(dom *domain) error {
		switch {
		case !dom.active():
			return notRunning()
		case dom.saving:
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromDomain, "domain is already being saved")
		}
		def := dom.live
		if alt != nil {
			def = alt
		}
		var err error
		if xml, err = def.Format(-1); err != nil {
			return err
		}
		dom.saving, id = true, dom.id
		return nil
	})
	if err != nil {
		return err
	}
	werr := writeImage(to, saveMagic+xml)
	d.mu.Lock()
	defer d.mu.Unlock()
	dom, err := d.find(ref)
	if err == nil {
		dom.saving = false
	}
	switch {
	case werr != nil:
		return werr
	case err != nil || !dom.active() || dom.id != id:
		os.Remove(to)
		return drivers.Errorf(vir.ErrOperationInvalid, vir.FromDomain, "domain stopped while it was being saved")
	}
	d.stop(dom, vir.DomainShutoffSaved)
	d.emit(dom, vir.DomainEventStopped, int32(vir.DomainEventStoppedSaved))
	return nil
}

// writeImage writes a save image next to its place and renames it there
// (a variable, so that a test can make it slow):
// a failure leaves no half-written image, and a FIFO or device at the
// path is replaced, not written to (the driver's lock is held).
var writeImage = writeImageFile

func writeImageFile(to, content string) error {
	fail := func(err error) error {
		return drivers.Errorf(vir.ErrOperationFailed, vir.FromTest, "cannot write save image %s: %w", to, err)
	}
	f, err := os.CreateTemp(filepath.Dir(to), "."+filepath.Base(to)+".*")
	if err != nil {
		return fail(err)
	}
	_, err = f.WriteString(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), to)
	}
	if err != nil {
		os.Remove(f.Name())
		return fail(err)
	}
	return nil
}

// readImage reads the definition in a save image, checking it is a
// regular file that starts with the magic before reading more, and at
// most a protocol string's worth.
func readImage(from string) ([]byte, error) {
	fail := func(format string, args ...any) error {
		return drivers.Errorf(vir.ErrOperationFailed, vir.FromTest, "cannot restore from %s: "+format, append([]any{from}, args...)...)
	}
	// O_NONBLOCK: opening a FIFO must not wait for a writer.
	f, err := os.OpenFile(from, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fail("%w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, fail("not a regular file")
	}
	magic := make([]byte, len(saveMagic))
	if _, err := io.ReadFull(f, magic); err != nil || string(magic) != saveMagic {
		return nil, fail("not a test driver save image")
	}
	xml, err := io.ReadAll(io.LimitReader(f, protocol.RemoteStringMax+1))
	if err != nil {
		return nil, fail("%v", err)
	}
	if len(xml) > protocol.RemoteStringMax {
		return nil, fail("the definition is over %d bytes", protocol.RemoteStringMax)
	}
	return xml, nil
}

func (c *conn) DomainRestore(ctx context.Context, from, dxml string, flags uint32) error {
	xml, err := readImage(from)
	if err != nil {
		return err
	}
	if dxml != "" {
		xml = []byte(dxml)
	}
	def, err := domxml.Parse(string(xml))
	if err != nil {
		return err
	}
	nameInterfaces(def)
	d := c.drv
	d.mu.Lock()
	defer d.mu.Unlock()
	dom, err := d.claim(def)
	if err != nil {
		return err
	}
	if dom == nil {
		dom = &domain{}
		d.domains.Add(dom)
	} else if dom.active() {
		return drivers.Errorf(vir.ErrOperationInvalid, vir.FromDomain,
			"domain '%s' is already active", def.Name())
	}
	dom.live = def
	d.start(dom, vir.DomainRunningRestored)
	d.emit(dom, vir.DomainEventStarted, int32(vir.DomainEventStartedRestored))
	return nil
}
