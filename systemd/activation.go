package systemd

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// The names of the sockets govirtd's socket units pass (their
// FileDescriptorName=). A unit without one passes its own unit name,
// which is accepted too.
const (
	SocketRW    = "govirtd-sock"
	SocketRO    = "govirtd-sock-ro"
	SocketAdmin = "govirtd-admin-sock"
	SocketTLS   = "govirtd-tls"
)

var unitNames = map[string]string{
	"govirtd.socket": SocketRW, "govirtd-ro.socket": SocketRO,
	"govirtd-admin.socket": SocketAdmin, "govirtd-tls.socket": SocketTLS,
}

// FirstFD is where systemd's passed descriptors start (SD_LISTEN_FDS_START).
const FirstFD = 3

// Listeners returns the listening sockets systemd passed this process
// (socket activation: $LISTEN_PID, $LISTEN_FDS, $LISTEN_FDNAMES), by
// name, the descriptors numbered from firstFD (FirstFD but in tests).
// Nothing passed is an empty map. The variables are removed from the
// environment so that no child (qemu, dnsmasq) takes the sockets for
// its own. A descriptor whose name is not one of govirtd's, or that is
// not a listening stream socket, is an error naming it: a unit that
// passes the wrong socket must not start a daemon that ignores it.
func Listeners(firstFD int) (map[string]net.Listener, error) {
	pid, fds, names := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_FDNAMES")
	for _, v := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		os.Unsetenv(v)
	}
	out := map[string]net.Listener{}
	if fds == "" {
		return out, nil
	}
	if pid != strconv.Itoa(os.Getpid()) {
		return out, nil // meant for another process
	}
	n, err := strconv.Atoi(fds)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("socket activation: LISTEN_FDS=%q is not a count", fds)
	}
	var list []string
	if names != "" {
		list = strings.Split(names, ":")
	}
	if len(list) != n {
		return nil, fmt.Errorf("socket activation: %d sockets passed but LISTEN_FDNAMES=%q names %d: give each socket unit a FileDescriptorName=", n, names, len(list))
	}
	for i := 0; i < n; i++ {
		fd := firstFD + i
		name := list[i]
		if canon, ok := unitNames[name]; ok {
			name = canon
		}
		switch name {
		case SocketRW, SocketRO, SocketAdmin, SocketTLS:
		default:
			closeAll(out)
			return nil, fmt.Errorf("socket activation: fd %d is named %q, not one of %s, %s, %s, %s (check the socket units' FileDescriptorName=)",
				fd, list[i], SocketRW, SocketRO, SocketAdmin, SocketTLS)
		}
		if _, dup := out[name]; dup {
			closeAll(out)
			return nil, fmt.Errorf("socket activation: two sockets named %q", name)
		}
		syscall.CloseOnExec(fd)
		f := os.NewFile(uintptr(fd), name)
		l, err := net.FileListener(f)
		f.Close() // FileListener holds its own duplicate
		if err != nil {
			closeAll(out)
			return nil, fmt.Errorf("socket activation: fd %d (%s) is not a listening socket: %w", fd, name, err)
		}
		out[name] = l
	}
	return out, nil
}

func closeAll(ls map[string]net.Listener) {
	for _, l := range ls {
		l.Close()
	}
}
