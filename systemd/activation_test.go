package systemd

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// freeFDs finds n consecutive unused descriptor numbers from 200 up.
func freeFDs(t *testing.T, n int) int {
	t.Helper()
next:
	for base := 200; base < 1000; base += n {
		for fd := base; fd < base+n; fd++ {
			if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
				continue next
			}
		}
		return base
	}
	t.Fatal("no free descriptors")
	return 0
}

// passFDs puts the listeners' descriptors at base, base+1… as systemd
// would, and sets the environment for this process.
func passFDs(t *testing.T, base int, names string, ls ...net.Listener) {
	t.Helper()
	for i, l := range ls {
		f, err := l.(interface{ File() (*os.File, error) }).File()
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Dup2(int(f.Fd()), base+i); err != nil {
			t.Fatal(err)
		}
		f.Close()
		l.Close()
	}
	t.Setenv("LISTEN_PID", fmt.Sprint(os.Getpid()))
	t.Setenv("LISTEN_FDS", fmt.Sprint(len(ls)))
	t.Setenv("LISTEN_FDNAMES", names)
}

// TestInherit passes two unix sockets and a TCP one from an injected
// first descriptor and takes them by name: each still accepts, closing
// an inherited unix socket leaves its file, and the environment is gone.
func TestInherit(t *testing.T) {
	dir := t.TempDir()
	rwPath, roPath := filepath.Join(dir, "rw"), filepath.Join(dir, "ro")
	rw, _ := net.Listen("unix", rwPath)
	ro, _ := net.Listen("unix", roPath)
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tcpAddr := tcp.Addr().String()
	rw.(*net.UnixListener).SetUnlinkOnClose(false)
	ro.(*net.UnixListener).SetUnlinkOnClose(false)
	base := freeFDs(t, 3)
	passFDs(t, base, strings.Join([]string{SocketRW, SocketRO, SocketTLS}, ":"), rw, ro, tcp)

	in, err := Inherit(base)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	for _, v := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		if _, ok := os.LookupEnv(v); ok {
			t.Errorf("%s is still set", v)
		}
	}
	if got := in.Rest(); strings.Join(got, " ") != "govirtd-ro.socket govirtd-tls.socket govirtd.socket" {
		t.Fatalf("inherited %q", got)
	}
	for _, c := range []struct{ name, network, addr string }{
		{SocketRW, "unix", rwPath}, {SocketRO, "unix", roPath}, {SocketTLS, "tcp", tcpAddr},
	} {
		l := in.Take(c.name)
		if l == nil {
			t.Fatalf("%s not inherited", c.name)
		}
		go func() {
			if c, err := net.Dial(c.network, c.addr); err == nil {
				c.Close()
			}
		}()
		conn, err := l.Accept()
		if err != nil {
			t.Fatalf("%s: accept: %v", c.name, err)
		}
		conn.Close()
		l.Close()
	}
	if in.Take(SocketAdmin) != nil || in.Len() != 0 {
		t.Fatal("a socket that was not passed was taken")
	}
	for _, p := range []string{rwPath, roPath} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("closing the inherited socket removed %s: %v", p, err)
		}
	}
	for fd := base; fd < base+3; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
			t.Errorf("descriptor %d is still open", fd)
		}
	}
}

// TestInheritErrors: another process's LISTEN_PID passes nothing; a
// descriptor that is no listening socket, or a name given twice, is an
// error naming the descriptor.
func TestInheritErrors(t *testing.T) {
	t.Setenv("LISTEN_PID", "1")
	t.Setenv("LISTEN_FDS", "1")
	if in, err := Inherit(ListenFDsStart); err != nil || in.Len() != 0 {
		t.Fatalf("another process's sockets: %v, %d", err, in.Len())
	}

	base := freeFDs(t, 2)
	r, w, _ := os.Pipe()
	unix.Dup2(int(r.Fd()), base)
	r.Close()
	w.Close()
	t.Setenv("LISTEN_PID", fmt.Sprint(os.Getpid()))
	t.Setenv("LISTEN_FDS", "1")
	t.Setenv("LISTEN_FDNAMES", SocketRW)
	_, err := Inherit(base)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("descriptor %d (govirtd.socket) is not a listening stream socket", base)) {
		t.Fatalf("a pipe: %v", err)
	}

	a, _ := net.Listen("tcp", "127.0.0.1:0")
	b, _ := net.Listen("tcp", "127.0.0.1:0")
	passFDs(t, base, SocketTLS+":"+SocketTLS, a, b)
	_, err = Inherit(base)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("descriptor %d is a second socket named \"govirtd-tls.socket\"", base+1)) {
		t.Fatalf("one name twice: %v", err)
	}
	for fd := base; fd < base+2; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
			t.Errorf("descriptor %d is still open after the error", fd)
		}
	}
}
