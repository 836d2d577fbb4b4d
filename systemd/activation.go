package systemd

import (
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The socket units of govirtd, as systemd names their descriptors
// (FileDescriptorName= defaults to the unit's name) in LISTEN_FDNAMES.
const (
	SocketRW    = "govirtd.socket"       // read-write unix socket
	SocketRO    = "govirtd-ro.socket"    // read-only unix socket
	SocketAdmin = "govirtd-admin.socket" // admin unix socket
	SocketTLS   = "govirtd-tls.socket"   // TLS on TCP
)

// ListenFDsStart is SD_LISTEN_FDS_START, the first descriptor systemd
// passes.
const ListenFDsStart = 3

// Inherited are the listening sockets systemd passed the daemon, by
// name. The daemon takes the ones it knows (Take) and closes the rest
// (Rest). Sockets systemd owns are systemd's to unlink: a daemon serving
// an inherited unix socket never removes its file.
type Inherited struct {
	byName map[string]net.Listener
}

// Inherit reads systemd's socket-activation protocol — LISTEN_PID (which
// must be this process), LISTEN_FDS and LISTEN_FDNAMES — with the
// descriptors numbered from firstFD (ListenFDsStart outside tests: the
// number is the seam that lets a test pass descriptors it made), and
// unsets the three variables so that no child inherits them. Without
// LISTEN_FDS, or with it meant for another process, it returns an empty
// set. A descriptor that is not a listening stream socket, or two with
// one name, is an error naming the descriptor.
//
// go-systemd's activation package does the same with the first
// descriptor fixed at 3, which leaves a test no way in; the protocol is
// three variables, read here.
func Inherit(firstFD int) (*Inherited, error) {
	pid, fds, names := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_FDNAMES")
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_FDNAMES")
	in := &Inherited{byName: map[string]net.Listener{}}
	if fds == "" {
		return in, nil
	}
	if p, err := strconv.Atoi(pid); err != nil || p != os.Getpid() {
		return in, nil // meant for another process (our parent)
	}
	n, err := strconv.Atoi(fds)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("socket activation: LISTEN_FDS=%q is not a count of descriptors", fds)
	}
	var nameList []string
	if names != "" {
		nameList = strings.Split(names, ":")
	}
	// fail closes what was taken and every descriptor not yet looked at.
	fail := func(next int, err error) (*Inherited, error) {
		in.Close()
		for fd := next; fd < firstFD+n; fd++ {
			unix.Close(fd)
		}
		return nil, err
	}
	for i := 0; i < n; i++ {
		fd := firstFD + i
		name := "unknown"
		if i < len(nameList) && nameList[i] != "" {
			name = nameList[i]
		}
		unix.CloseOnExec(fd)
		if _, dup := in.byName[name]; dup {
			return fail(fd, fmt.Errorf("socket activation: descriptor %d is a second socket named %q (give each socket unit its own FileDescriptorName=)", fd, name))
		}
		f := os.NewFile(uintptr(fd), name)
		l, err := net.FileListener(f)
		f.Close() // FileListener holds a duplicate
		if err != nil {
			return fail(fd+1, fmt.Errorf("socket activation: descriptor %d (%s) is not a listening stream socket: %w (check ListenStream= of its socket unit)", fd, name, err))
		}
		if ul, ok := l.(*net.UnixListener); ok {
			ul.SetUnlinkOnClose(false) // systemd's file, not ours
		}
		in.byName[name] = l
	}
	return in, nil
}

// Take hands the socket named name to the caller, or nil when systemd
// passed none by that name. A nil Inherited has none.
func (in *Inherited) Take(name string) net.Listener {
	if in == nil {
		return nil
	}
	l := in.byName[name]
	delete(in.byName, name)
	return l
}

// Rest is the names of the sockets not taken, sorted.
func (in *Inherited) Rest() []string {
	if in == nil {
		return nil
	}
	var out []string
	for n := range in.byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Close closes the sockets not taken.
func (in *Inherited) Close() {
	if in == nil {
		return
	}
	for n, l := range in.byName {
		l.Close()
		delete(in.byName, n)
	}
}

// Len is how many sockets are left to take.
func (in *Inherited) Len() int {
	if in == nil {
		return 0
	}
	return len(in.byName)
}
