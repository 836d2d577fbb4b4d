package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// daemonProc is a daemon the benchmark started as its child process,
// with every path under its own directory.
type daemonProc struct {
	name   string // "govirtd", "libvirtd", "null"
	dir    string // its private directory: config, sockets, logs
	sock   string // the read-write socket
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has been reaped
	err    error         // why it exited; read after exited is closed
	start  time.Time     // just before exec
}

// maxClients is both daemons' max_clients.
const maxClients = manyConns + 100

// libvirtdConf is the private libvirtd's configuration: sockets in dir,
// auth none, no TCP/TLS, warnings and errors logged to a file in dir.
// max_clients is raised to maxClients for measure 8's 10,000 idle
// connections; everything else keeps libvirtd's defaults
// (max_client_requests 5, the worker pool), as govirtd keeps its own.
func libvirtdConf(dir string) string {
	return fmt.Sprintf(`unix_sock_dir = %q
unix_sock_ro_perms = "0777"
unix_sock_rw_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
listen_tls = 0
listen_tcp = 0
log_level = 3
log_outputs = "3:file:%s"
max_clients = %d
`, dir, filepath.Join(dir, "libvirtd.log"), maxClients)
}

// govirtdConf is the private govirtd's configuration: its sockets in dir,
// max_clients as libvirtd's, and otherwise the embedded defaults, untuned. Like the private
// libvirtd it serves only its test driver: qemu_binary names a file that
// does not exist, which makes the QEMU driver skip itself (and its
// directories are in dir all the same, so nothing outside is touched).
func govirtdConf(dir string) string {
	q := filepath.Join(dir, "qemu")
	return fmt.Sprintf(`unix_sock_dir = %q
log_level = 3
max_clients = %d
qemu_binary = %q
qemu_config_dir = %q
qemu_autostart_dir = %q
qemu_state_dir = %q
qemu_log_dir = %q
storage_config_dir = %q
storage_state_dir = %q
network_config_dir = %q
network_state_dir = %q
network_define_default = 0
`, dir, maxClients, filepath.Join(q, "no-qemu-binary"), filepath.Join(q, "config"), filepath.Join(q, "autostart"),
		filepath.Join(q, "state"), filepath.Join(q, "log"), filepath.Join(q, "storage"), filepath.Join(q, "storage-state"),
		filepath.Join(q, "network"), filepath.Join(q, "network-state"))
}

// startLibvirtd starts bin (Debian's /usr/sbin/libvirtd) on a private
// configuration in dir. LIBVIRT_DRIVER_DIR points at an empty directory,
// so libvirtd loads none of its driver modules (QEMU, network, storage...)
// and serves only the test driver built into libvirt.so: the same job as
// govirtd, and no need for the libvirt-qemu user or /var/lib/libvirt.
func startLibvirtd(bin, dir string) (*daemonProc, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	noDrivers := filepath.Join(dir, "no-driver-modules")
	if err := os.MkdirAll(noDrivers, 0o755); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "libvirtd.conf")
	if err := os.WriteFile(conf, []byte(libvirtdConf(dir)), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-f", conf, "-p", filepath.Join(dir, "libvirtd.pid"))
	cmd.Env = append(os.Environ(), "LIBVIRT_DRIVER_DIR="+noDrivers)
	return startProc("libvirtd", dir, filepath.Join(dir, "libvirt-sock"), cmd)
}

// startGovirtd starts the govirtd binary bin on a private configuration
// in dir.
func startGovirtd(bin, dir string) (*daemonProc, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "govirtd.conf")
	if err := os.WriteFile(conf, []byte(govirtdConf(dir)), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--config", conf)
	return startProc("govirtd", dir, filepath.Join(dir, "govirtd-sock"), cmd)
}

// startNull starts this program again as the null server on dir/null-sock.
func startNull(dir string) (*daemonProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "null-sock")
	return startProc("null", dir, sock, exec.Command(self, "-null-server", sock))
}

func startProc(name, dir, sock string, cmd *exec.Cmd) (*daemonProc, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	out, err := os.Create(filepath.Join(dir, name+".out"))
	if err != nil {
		return nil, err
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	// The daemon dies with the benchmark even if the benchmark is killed
	// before it can stop it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p := &daemonProc{name: name, dir: dir, sock: sock, cmd: cmd, exited: make(chan struct{})}
	p.start = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start %s (%s): %w", name, cmd.Path, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// pid is the daemon's process id.
func (p *daemonProc) pid() int { return p.cmd.Process.Pid }

// waitAccepting waits until a connect to the socket succeeds and returns
// the time from just before exec. It polls every 100 µs.
func (p *daemonProc) waitAccepting(timeout time.Duration) (time.Duration, error) {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.Dial("unix", p.sock)
		if err == nil {
			d := time.Since(p.start)
			c.Close()
			return d, nil
		}
		select {
		case <-p.exited:
			return 0, fmt.Errorf("%s exited before listening (%v); its output:\n%s", p.name, p.err, p.tail())
		default:
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s did not accept on %s within %v; its output:\n%s", p.name, p.sock, timeout, p.tail())
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// tail is the end of the daemon's output and log, for error messages.
func (p *daemonProc) tail() string {
	var b bytes.Buffer
	for _, f := range []string{p.name + ".out", p.name + ".log"} {
		data, err := os.ReadFile(filepath.Join(p.dir, f))
		if err != nil || len(data) == 0 {
			continue
		}
		if len(data) > 2000 {
			data = data[len(data)-2000:]
		}
		fmt.Fprintf(&b, "--- %s\n%s", f, data)
	}
	return b.String()
}

// stop ends the daemon: SIGTERM, then SIGKILL after 5 s. It signals the
// child by its pid only.
func (p *daemonProc) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// cpuTime is the CPU time the process's threads have used so far, from
// /proc/PID/task/*/schedstat (nanoseconds; Go and libvirtd keep their
// threads, so none of the time is lost with an exited thread).
func cpuTime(pid int) (time.Duration, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("no threads of process %d: %v", pid, err)
	}
	var total time.Duration
	for _, t := range tasks {
		data, err := os.ReadFile(t)
		if err != nil {
			continue // the thread exited
		}
		f := strings.Fields(string(data))
		if len(f) == 0 {
			continue
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", t, err)
		}
		total += time.Duration(ns)
	}
	return total, nil
}

// rssKiB is the process's resident set (VmRSS) in KiB.
func rssKiB(pid int) (int, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, errors.New("no VmRSS line in /proc/PID/status")
}
