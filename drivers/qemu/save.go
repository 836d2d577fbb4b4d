package qemu

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/drivers/qemu/qmp"
	"github.com/govirt/govirtd/vir"
)

// A save image is a header, the domain's definition, then qemu's
// migration stream of the guest's memory and devices:
//
//	16 bytes  "GovirtdQemuSave\n"
//	4 bytes   format version (1), big endian
//	4 bytes   length of the definition
//	4 bytes   flags: bit 0, the guest restores paused
//	          the definition (XML)
//	          the migration stream
const saveMagic = "GovirtdQemuSave\n"

type saveHeader struct {
	Version uint32
	XMLLen  uint32
	Flags   uint32
}

const (
	saveVersion = 1
	imagePaused = 1        // header flag: the guest restores paused
	saveXMLMax  = 10 << 20 // a definition longer than this is not ours

	// saveFlagsKnown are the virDomainSaveRestoreFlags save and restore
	// take; BYPASS_CACHE and RESET_NVRAM change nothing here.
	saveFlagsKnown = vir.DomainSaveBypassCache | vir.DomainSaveRunning | vir.DomainSavePaused | vir.DomainSaveResetNvram
)

// DomainSave pauses the guest (SUSPENDED), streams its state into a file
// and stops it (STOPPED SAVED). If the save fails a guest that ran runs
// again, and a regular file is removed.
func (c *conn) DomainSave(ctx context.Context, ref drivers.Domain, to, dxml string, flags uint32) error {
	if err := badFlags("virDomainSaveFlags", flags, saveFlagsKnown); err != nil {
		return err
	}
	d := c.drv
	return d.withJob(ctx, ref, "virDomainSave", func(ctx context.Context, dom *domain) error {
		inst, state, err := dom.running()
		if err != nil {
			return err
		}
		dom.mu.Lock()
		def := dom.live
		dom.mu.Unlock()
		if dxml != "" {
			if def, err = d.replacementDef(dom, dxml); err != nil {
				return err
			}
		}
		paused := state != vir.DomainRunning
		if flags&uint32(vir.DomainSaveRunning) != 0 {
			paused = false
		}
		if flags&uint32(vir.DomainSavePaused) != 0 {
			paused = true
		}
		job := d.startJob(dom, inst, vir.DomainJobOperationSave)
		stats, err := d.saveTo(ctx, dom, inst, job, def, to, paused, state == vir.DomainRunning)
		d.finishJob(dom, job, err, stats)
		if err != nil {
			return err
		}
		return d.stopSaved(dom, inst)
	})
}

// replacementDef parses the definition a client gives to use on restore
// instead of the saved one; it must describe the same domain.
func (d *Driver) replacementDef(dom *domain, dxml string) (*domxml.Def, error) {
	def, err := d.parseDefinition(dxml)
	if err != nil {
		return nil, err
	}
	if def.UUID != dom.uuid || def.Name() != dom.name {
		return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "the replacement definition must keep the name '%s' and uuid %s", dom.name, dom.uuid)
	}
	return def, nil
}

// saveTo writes the image: header and definition, then qemu's stream
// through a descriptor passed over the monitor. A guest that was running
// is paused first; on any later failure it runs again, and the image is
// removed if it is a regular file (never a pipe or a device the client
// named, such as /dev/null).
func (d *Driver) saveTo(ctx context.Context, dom *domain, inst *instance, job *activeJob, def *domxml.Def, to string, paused, wasRunning bool) (stats *migrationStats, err error) {
	xml, err := def.Format(-1)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "cannot create save image: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "cannot create save image: %w", err)
	}
	defer func() {
		f.Close()
		if err != nil && fi.Mode().IsRegular() {
			os.Remove(to)
		}
	}()
	if _, err := f.Write(saveImageHead(xml, paused)); err != nil {
		return nil, drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "cannot write save image %s: %w", to, err)
	}
	if wasRunning {
		if err := d.pause(ctx, dom, inst, vir.DomainPausedSave); err != nil {
			return nil, err
		}
		defer func() {
			if err == nil {
				return
			}
			if rerr := d.unpause(ctx, dom, inst, vir.DomainRunningSaveCanceled); rerr != nil {
				d.log.Error("cannot run the guest again after a failed save", "domain", dom.name, "err", rerr)
			}
		}()
	}
	if stats, err = d.migrateToFile(ctx, dom, inst, job, f); err != nil {
		if errors.Is(err, errJobAborted) {
			return nil, drivers.Errorf(vir.ErrOperationAborted, vir.FromQEMU, "job 'domain save' %w", err)
		}
		return nil, drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "cannot save domain '%s': %w", dom.name, err)
	}
	// A pipe or a device (a save streamed to another program) has
	// nothing to sync, and fsync fails on it.
	if fi.Mode().IsRegular() {
		if err := f.Sync(); err != nil {
			return nil, drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "cannot write save image %s: %w", to, err)
		}
	}
	return stats, nil
}

// saveImageHead is what a save image holds before qemu's stream.
func saveImageHead(xml string, paused bool) []byte {
	h := saveHeader{Version: saveVersion, XMLLen: uint32(len(xml))}
	if paused {
		h.Flags |= imagePaused
	}
	var buf bytes.Buffer
	buf.WriteString(saveMagic)
	binary.Write(&buf, binary.BigEndian, h)
	buf.WriteString(xml)
	return buf.Bytes()
}

// migrateToFile has qemu write its migration stream to f and waits for
// the end, returning qemu's final figures. An abort of job (jobs.go)
// stops it.
func (d *Driver) migrateToFile(ctx context.Context, dom *domain, inst *instance, job *activeJob, f *os.File) (*migrationStats, error) {
	mon := inst.mon
	if mon == nil {
		return nil, errors.New("no monitor connection")
	}
	if err := mon.Execute(ctx, "migrate-set-parameters", map[string]any{"max-bandwidth": int64(1) << 40}, nil); err != nil {
		return nil, err
	}
	if err := mon.ExecuteWithFile(ctx, "getfd", map[string]any{"fdname": "govirtd-save"}, nil, f); err != nil {
		return nil, err
	}
	if d.jobAborted(dom, job) {
		return nil, errJobAborted
	}
	if err := mon.Execute(ctx, "migrate", map[string]any{"uri": "fd:govirtd-save"}, nil); err != nil {
		return nil, err
	}
	if err := d.migrationStarted(dom, job); err != nil {
		// Aborted while migrate was on its way: cancel it here.
		mon.Execute(ctx, "migrate_cancel", nil, nil)
	}
	st, err := waitMigration(ctx, mon)
	if err != nil && d.jobAborted(dom, job) {
		return nil, errJobAborted
	}
	return st, err
}

func waitMigration(ctx context.Context, mon *qmp.Monitor) (*migrationStats, error) {
	for {
		var st migrationStats
		if err := mon.Execute(ctx, "query-migrate", nil, &st); err != nil {
			return nil, err
		}
		switch st.Status {
		case "completed":
			return &st, nil
		case "failed", "cancelled":
			return nil, fmt.Errorf("qemu's migration to the file %s: %s", st.Status, st.ErrorDesc)
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// stopSaved ends the qemu whose state is in the save image.
func (d *Driver) stopSaved(dom *domain, inst *instance) error {
	dom.mu.Lock()
	inst.intent = stopSave
	dom.mu.Unlock()
	if err := inst.kill(d.cfg.DestroyGrace, false); err != nil {
		return drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "domain '%s' was saved but its qemu did not stop: %w", dom.name, err)
	}
	return d.waitFinished(dom, inst)
}

// DomainRestore starts the domain of a save image from it (STARTED
// RESTORED): the domain of that name and uuid if defined and inactive,
// else a new transient one.
func (c *conn) DomainRestore(ctx context.Context, from, dxml string, flags uint32) error {
	if err := badFlags("virDomainRestoreFlags", flags, saveFlagsKnown); err != nil {
		return err
	}
	d := c.drv
	f, err := os.Open(from)
	if err != nil {
		return drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "cannot open save image: %w", err)
	}
	defer f.Close()
	h, xml, err := readSaveHeader(f)
	if err != nil {
		return drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "%s: %w", from, err)
	}
	def, err := d.parseDefinition(xml)
	if err != nil {
		return err
	}
	if dxml != "" {
		alt, err := d.parseDefinition(dxml)
		if err != nil {
			return err
		}
		if alt.UUID != def.UUID || alt.Name() != def.Name() {
			return drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "the replacement definition must keep the name '%s' and uuid %s", def.Name(), def.UUID)
		}
		def = alt
	}
	paused := h.Flags&imagePaused != 0
	if flags&uint32(vir.DomainSaveRunning) != 0 {
		paused = false
	}
	if flags&uint32(vir.DomainSavePaused) != 0 {
		paused = true
	}
	_, err = d.runTransient(ctx, def, "virDomainRestore", startOpts{paused: paused, incoming: f})
	return err
}

// readSaveHeader reads the header and definition, leaving f at the
// migration stream (read unbuffered, so qemu reads on from there).
func readSaveHeader(f *os.File) (saveHeader, string, error) {
	var h saveHeader
	magic := make([]byte, len(saveMagic))
	if _, err := io.ReadFull(f, magic); err != nil || string(magic) != saveMagic {
		return h, "", errors.New("not a govirtd QEMU save image")
	}
	if err := binary.Read(f, binary.BigEndian, &h); err != nil {
		return h, "", fmt.Errorf("truncated save image header: %v", err)
	}
	if h.Version != saveVersion {
		return h, "", fmt.Errorf("save image format %d is not supported (this daemon reads %d)", h.Version, saveVersion)
	}
	if h.XMLLen > saveXMLMax {
		return h, "", fmt.Errorf("save image definition of %d bytes is too long", h.XMLLen)
	}
	xml := make([]byte, h.XMLLen)
	if _, err := io.ReadFull(f, xml); err != nil {
		return h, "", fmt.Errorf("truncated save image definition: %v", err)
	}
	return h, string(xml), nil
}
