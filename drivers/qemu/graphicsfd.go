package qemu

import (
	"context"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/vir"
)

// graphicsFDName is the name the display's client socket is given in
// qemu (getfd, then add_client), as libvirt names it.
const graphicsFDName = "graphicsfd"

// DomainOpenGraphicsFD makes a connected socket pair, gives one end to
// the running qemu as a new client of the guest's VNC server (QMP getfd,
// then add_client) and returns the other: the caller (virt-manager,
// through the daemon's unix socket) speaks RFB on it without the VNC
// server being reachable over the network.
func (c *conn) DomainOpenGraphicsFD(ctx context.Context, ref drivers.Domain, idx, flags uint32) (*os.File, error) {
	if err := badFlags("qemuDomainOpenGraphicsFD", flags, uint32(vir.DomainOpenGraphicsSkipauth)); err != nil {
		return nil, err
	}
	dom, err := c.drv.find(ref)
	if err != nil {
		return nil, err
	}
	dom.mu.Lock()
	inst, live := dom.proc, dom.live
	dom.mu.Unlock()
	if inst == nil || live == nil {
		return nil, notRunning(dom.name)
	}
	var n int
	if live.XML.Devices != nil {
		n = len(live.XML.Devices.Graphics)
	}
	if int(idx) >= n {
		return nil, drivers.Errorf(vir.ErrInternalError, vir.FromQEMU, "No graphics backend with index %d", idx)
	}
	// The driver only starts guests with VNC graphics (command_devices.go).
	if live.XML.Devices.Graphics[idx].VNC == nil {
		return nil, drivers.Errorf(vir.ErrConfigUnsupported, vir.FromQEMU, "Can only open VNC graphics backends of domain '%s'", dom.name)
	}
	if inst.mon == nil {
		return nil, monitorErr(dom, fmt.Errorf("the driver has no monitor connection to qemu (pid %d): %s", inst.pid, inst.degraded))
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, drivers.Errorf(vir.ErrSystemError, vir.FromQEMU, "cannot make a socket pair for the display of domain '%s': %w", dom.name, err)
	}
	ours := os.NewFile(uintptr(pair[0]), "graphics-client")
	theirs := os.NewFile(uintptr(pair[1]), "graphics-qemu")
	defer theirs.Close() // qemu holds its own copy once getfd succeeded
	if err := inst.mon.ExecuteWithFile(ctx, "getfd", map[string]any{"fdname": graphicsFDName}, nil, theirs); err != nil {
		ours.Close()
		return nil, monitorErr(dom, fmt.Errorf("getfd: %w", err))
	}
	args := map[string]any{"protocol": "vnc", "fdname": graphicsFDName, "skipauth": flags&uint32(vir.DomainOpenGraphicsSkipauth) != 0}
	if err := inst.mon.Execute(ctx, "add_client", args, nil); err != nil {
		ours.Close()
		// add_client consumes the fd only when it succeeds.
		_ = inst.mon.Execute(ctx, "closefd", map[string]any{"fdname": graphicsFDName}, nil)
		return nil, monitorErr(dom, fmt.Errorf("add_client: %w", err))
	}
	return ours, nil
}
