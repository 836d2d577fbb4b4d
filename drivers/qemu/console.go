package qemu

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/vir"
)

// consoles are the consoles clients hold open, by instance and device:
// one client at a time per device, as libvirt allows (another takes it
// over with VIR_DOMAIN_CONSOLE_FORCE).
type consoles struct {
	mu   sync.Mutex
	open map[consoleKey]*console
}

type consoleKey struct {
	inst *instance
	dev  string
}

// console is one client's open console: the guest's pty, in raw mode.
type console struct {
	f    *os.File
	once sync.Once
	done func()
}

func (c *console) Read(p []byte) (int, error)  { return c.f.Read(p) }
func (c *console) Write(p []byte) (int, error) { return c.f.Write(p) }

// Close closes the pty and frees the device for the next client.
func (c *console) Close() error {
	var err error
	c.once.Do(func() {
		err = c.f.Close()
		c.done()
	})
	return err
}

// DomainOpenConsole opens a running domain's console or serial port on
// its pty: devName nil is the first console (or serial port), else the
// device's alias (serial0…serial3, console0). A device another client
// holds is refused, unless VIR_DOMAIN_CONSOLE_FORCE takes it over (the
// other client's console then ends).
func (c *conn) DomainOpenConsole(ctx context.Context, ref drivers.Domain, devName *string, flags uint32) (io.ReadWriteCloser, error) {
	if flags&^uint32(vir.DomainConsoleForce|vir.DomainConsoleSafe) != 0 {
		return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "unsupported flags (0x%x) in function qemuDomainOpenConsole", flags)
	}
	var inst *instance
	var dev, path string
	err := c.drv.read(ref, func(dom *domain) error {
		if dom.proc == nil || dom.live == nil {
			return notRunning(dom.name)
		}
		inst = dom.proc
		var err error
		dev, path, err = consolePty(dom.live.XML.Devices, devName)
		return err
	})
	if err != nil {
		return nil, err
	}
	d := c.drv
	key := consoleKey{inst, dev}
	d.consoles.mu.Lock()
	defer d.consoles.mu.Unlock()
	if old := d.consoles.open[key]; old != nil {
		if flags&uint32(vir.DomainConsoleForce) == 0 {
			return nil, drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "Active console session exists for this domain")
		}
		delete(d.consoles.open, key)
		go old.Close() // its stream ends; it no longer holds the device
	}
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "cannot open the console %s of domain '%s' (%s): %w", dev, ref.Name, path, err)
	}
	if err := makeRaw(f); err != nil {
		f.Close()
		return nil, drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "cannot put the console %s (%s) in raw mode: %w", dev, path, err)
	}
	con := &console{f: f}
	con.done = func() {
		d.consoles.mu.Lock()
		if d.consoles.open[key] == con {
			delete(d.consoles.open, key)
		}
		d.consoles.mu.Unlock()
	}
	if d.consoles.open == nil {
		d.consoles.open = map[consoleKey]*console{}
	}
	d.consoles.open[key] = con
	return con, nil
}

// consolePty finds the device devName names (nil: the first console,
// else the first serial port) and its pty path.
func consolePty(devs *libvirtxml.DomainDeviceList, devName *string) (dev, path string, err error) {
	type chardev struct {
		alias string
		src   *libvirtxml.DomainChardevSource
	}
	var all []chardev
	if devs != nil {
		for i, c := range devs.Consoles {
			all = append(all, chardev{fmt.Sprintf("console%d", i), c.Source})
		}
		for i, s := range devs.Serials {
			all = append(all, chardev{fmt.Sprintf("serial%d", i), s.Source})
		}
	}
	var found *chardev
	for i := range all {
		if devName == nil || *devName == all[i].alias {
			found = &all[i]
			break
		}
	}
	switch {
	case found == nil && devName == nil:
		return "", "", drivers.Errorf(vir.ErrInternalError, vir.FromQEMU, "cannot find default console device")
	case found == nil:
		return "", "", drivers.Errorf(vir.ErrInternalError, vir.FromQEMU, "cannot find character device %s", *devName)
	case found.src == nil || found.src.Pty == nil:
		return "", "", drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "character device %s is not using a PTY", found.alias)
	case found.src.Pty.Path == "":
		return "", "", drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "character device %s has no pty path yet", found.alias)
	}
	return found.alias, found.src.Pty.Path, nil
}

// makeRaw puts the pty in raw mode, as a console needs: bytes pass
// unchanged, nothing is echoed.
func makeRaw(f *os.File) error {
	// Through SyscallConn, not Fd: Fd would take the file off the
	// poller, and Close could then not end a Read that waits.
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = setRaw(int(fd)) }); err != nil {
		return err
	}
	return serr
}

func setRaw(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}
