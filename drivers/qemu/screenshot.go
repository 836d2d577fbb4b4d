package qemu

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/vir"
)

// DomainScreenshot has qemu write the running guest's screen (head
// screen of its display) as a PNG into a file of the driver's state
// directory (QMP screendump), and hands the file's bytes to the stream;
// the file goes when the stream ends. A guest without a video device
// has no screen: qemu's own words say so.
func (c *conn) DomainScreenshot(ctx context.Context, ref drivers.Domain, screen, flags uint32) (string, io.ReadCloser, error) {
	if flags != 0 {
		return "", nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "unsupported flags (0x%x) in function qemuDomainScreenshot", flags)
	}
	dom, err := c.drv.find(ref)
	if err != nil {
		return "", nil, err
	}
	inst, _, err := dom.running()
	if err != nil {
		return "", nil, err
	}
	if inst.mon == nil {
		return "", nil, monitorErr(dom, fmt.Errorf("the driver has no monitor connection to qemu (pid %d): %s", inst.pid, inst.degraded))
	}
	f, err := os.CreateTemp(c.drv.cfg.StateDir, "."+dom.name+".screendump.*.png")
	if err != nil {
		return "", nil, drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "cannot make a file for the screenshot of domain '%s': %w", dom.name, err)
	}
	path := f.Name()
	f.Close()
	args := map[string]any{"filename": path, "format": "png"}
	if screen != 0 {
		args["head"] = screen
	}
	if err := inst.mon.Execute(ctx, "screendump", args, nil); err != nil {
		os.Remove(path)
		return "", nil, monitorErr(dom, fmt.Errorf("screendump: %w", err))
	}
	img, err := os.Open(path)
	if err != nil {
		os.Remove(path)
		return "", nil, drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "cannot read the screenshot qemu wrote (%s): %w", path, err)
	}
	return "image/png", &removeOnClose{File: img}, nil
}

// removeOnClose is a temporary file removed once read.
type removeOnClose struct{ *os.File }

func (r *removeOnClose) Close() error {
	err := r.File.Close()
	os.Remove(r.Name())
	return err
}
