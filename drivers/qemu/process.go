package qemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/govirt/govirtd/drivers/hostinfo"
	"github.com/govirt/govirtd/drivers/qemu/qmp"
	"github.com/govirt/govirtd/vir"
)

// instance is one running qemu. The fields after the first group are
// guarded by its domain's mu.
type instance struct {
	pid         int
	monitorPath string
	logPath     string
	accel       string        // "tcg" or "kvm"
	exited      chan struct{} // closed when a child of ours was reaped; nil for a qemu adopted after a restart
	proc        *os.Process   // a child of ours; nil for a qemu adopted after a restart
	mon         *qmp.Monitor  // nil while not connected (a degraded guest)

	// intent is why the driver is stopping this qemu, which decides the
	// shut-off reason; stopNone when qemu ends on its own.
	intent stopKind
	// gotShutdown: qemu reported a SHUTDOWN (guest power-off, signal).
	gotShutdown bool
	// pausedReason and runningReason are what the next STOP and RESUME
	// events mean, set by the operation that causes them.
	pausedReason  vir.DomainPausedReason
	runningReason vir.DomainRunningReason
	// fakeReboot: a guest power-off is a reboot request (reboot API or
	// on_poweroff restart): the guest is reset and continued instead.
	fakeReboot bool
	// resetting: the STOP and RESUME of a fake reboot are not shown.
	resetting bool
	// degraded says why the driver cannot fully manage the guest (no
	// monitor, status file not written); empty when all is well.
	degraded string
	// finished is closed once the domain has been marked shut off.
	finished chan struct{}
}

type stopKind int

const (
	stopNone stopKind = iota
	stopDestroy
	stopSave
	stopAbortStart // a start interrupted by a daemon restart is undone
)

// spawn starts qemu with argv, its monitor listening on the socket
// monitorPath and its output appended to logPath. files are passed as
// fds 4, 5…, in order (see fdsFor). The returned instance has no
// monitor yet.
func spawn(argv []string, monitorPath, logPath string, files []*os.File) (*instance, int64, error) {
	monFile, err := listenMonitor(monitorPath)
	if err != nil {
		return nil, 0, err
	}
	defer monFile.Close()
	os.MkdirAll(filepath.Dir(logPath), 0o755) // a failure shows in the open
	logf, err := openFile(logPath, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_APPEND, 0o600)
	if err != nil {
		syscall.Unlink(monitorPath)
		return nil, 0, fmt.Errorf("cannot open qemu log %s: %w (check qemu_log_dir)", logPath, err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "%s: starting up\n%s", time.Now().UTC().Format(time.RFC3339Nano), (&cmdline{groups: [][]string{argv}}).String())
	// qemu's own output follows; errors quote it from here.
	start, _ := logf.Seek(0, io.SeekEnd)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devNull(), logf, logf
	cmd.ExtraFiles = append([]*os.File{monFile}, files...)
	// Its own session: qemu must outlive the daemon and not get the
	// signals of the daemon's terminal.
	pidfd := -1
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, PidFD: &pidfd}
	if err := cmd.Start(); err != nil {
		syscall.Unlink(monitorPath)
		return nil, start, fmt.Errorf("cannot run %s: %w", argv[0], err)
	}
	inst := &instance{pid: cmd.Process.Pid, proc: cmd.Process, monitorPath: monitorPath, logPath: logPath,
		exited: make(chan struct{}), finished: make(chan struct{})}
	go func() {
		waitPidfd(pidfd)
		cmd.Wait()
		close(inst.exited)
	}()
	return inst, start, nil
}

// waitPidfd waits, in the runtime's poller, until the process of pidfd
// has exited, and closes pidfd; the caller's Wait then reaps it at once.
// Waiting in wait(2) instead would hold a thread per guest for the
// guest's lifetime, which the scheduler takes back from it (and wakes
// another) while it blocks, a cost each start and destroy paid. Without
// a pidfd (-1: the kernel has none) it returns at once and Wait blocks
// as before.
func waitPidfd(pidfd int) {
	if pidfd < 0 {
		return
	}
	if err := syscall.SetNonblock(pidfd, true); err != nil {
		syscall.Close(pidfd)
		return
	}
	f := os.NewFile(uintptr(pidfd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	// A pidfd polls readable once its process has exited.
	rc.Read(func(fd uintptr) bool {
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
		return err != nil || n > 0
	})
}

// listenMonitor binds the monitor socket and returns the listening
// socket as a file for qemu to inherit, as libvirt passes it: qemu
// accepts on it, and the driver can connect at once, and again after a
// restart, by the path. The socket is made with plain system calls, not
// the net package: the daemon never accepts on it, so it needs no place
// in the runtime's poller (registering and unregistering it, and
// switching it back to blocking mode for qemu, cost seven calls more).
func listenMonitor(path string) (*os.File, error) {
	syscall.Unlink(path) // a socket left over; os.Remove would try rmdir too
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("cannot create monitor socket %s: %w", path, err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("cannot create monitor socket %s: %w (check qemu_state_dir)", path, err)
	}
	if err := syscall.Listen(fd, syscall.SOMAXCONN); err != nil {
		syscall.Close(fd)
		syscall.Unlink(path)
		return nil, fmt.Errorf("cannot listen on monitor socket %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// openFile opens path in blocking mode, outside the runtime's poller,
// which regular files never use (os.OpenFile tries to register them,
// four calls more).
func openFile(path string, flag int, perm uint32) (*os.File, error) {
	fd, err := syscall.Open(path, flag|syscall.O_CLOEXEC, perm)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// devNull is /dev/null, opened once, qemu's standard input (exec.Cmd
// would open it for every start).
var devNull = sync.OnceValue(func() *os.File {
	f, err := openFile(os.DevNull, syscall.O_RDONLY, 0)
	if err != nil {
		return nil // exec.Cmd opens it itself
	}
	return f
})

// isOurQemu reports whether pid runs qemu for the domain with uuid: its
// command line carries -uuid UUID, so a reused pid is not mistaken.
func isOurQemu(pid int, uuid string) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	args := strings.Split(string(data), "\x00")
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "-uuid" && args[i+1] == uuid {
			return true
		}
	}
	return false
}

// cpuTime is the CPU time pid used, in nanoseconds, from /proc.
func cpuTime(pid int) uint64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0
	}
	// utime and stime are fields 14 and 15 of stat, in clock ticks
	// (USER_HZ, 100 on Linux).
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	return (ut + st) * uint64(time.Second/100)
}

// waitExit waits until inst's qemu is gone: reaped if it is our child,
// else dead in /proc. It returns false if ctx ends first.
func (inst *instance) waitExit(ctx context.Context) bool {
	if inst.exited != nil {
		select {
		case <-inst.exited:
			return true
		case <-ctx.Done():
			return false
		}
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for hostinfo.Alive(inst.pid) {
		select {
		case <-t.C:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// signal sends sig to inst's qemu unless it is already gone.
func (inst *instance) signal(sig syscall.Signal) error {
	if inst.proc != nil {
		// A child of ours: through its pidfd, which cannot reach a
		// process that reused its pid.
		if err := inst.proc.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("cannot send %v to qemu (pid %d): %w", sig, inst.pid, err)
		}
		return nil
	}
	if !hostinfo.Alive(inst.pid) {
		return nil
	}
	if err := syscall.Kill(inst.pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("cannot send %v to qemu (pid %d): %w", sig, inst.pid, err)
	}
	return nil
}

// kill stops qemu: SIGTERM, then SIGKILL after grace (none when graceful
// is set), and waits until it is gone.
func (inst *instance) kill(grace time.Duration, graceful bool) error {
	if err := inst.signal(syscall.SIGTERM); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	ok := inst.waitExit(ctx)
	cancel()
	if ok {
		return nil
	}
	if graceful {
		return fmt.Errorf("qemu (pid %d) did not exit within %s of SIGTERM", inst.pid, grace)
	}
	if err := inst.signal(syscall.SIGKILL); err != nil {
		return err
	}
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if !inst.waitExit(ctx) {
		return fmt.Errorf("qemu (pid %d) did not exit after SIGKILL (stuck in the kernel?)", inst.pid)
	}
	return nil
}

// logTail returns the end of what qemu wrote to its log since offset
// start, for error messages.
func logTail(path string, start int64) string {
	data, err := os.ReadFile(path)
	if err != nil || int64(len(data)) < start {
		return ""
	}
	data = data[start:]
	const max = 2048
	if len(data) > max {
		data = data[len(data)-max:]
	}
	return strings.TrimSpace(string(data))
}
