package systemd

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestNotify listens where systemd would and checks what arrives.
func TestNotify(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	for _, c := range []struct {
		send func() error
		want string
	}{
		{func() error { return Ready("serving") }, "READY=1\nSTATUS=serving"},
		{Reloading, "RELOADING=1\nMONOTONIC_USEC=*\nSTATUS=reloading"},
		{func() error { return Status("3 clients") }, "STATUS=3 clients"},
		{Stopping, "STOPPING=1\nSTATUS=stopping"},
	} {
		if err := c.send(); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 256)
		n, err := conn.Read(buf)
		if err != nil || !matches(string(buf[:n]), c.want) {
			t.Fatalf("got %q, %v; want %q", buf[:n], err, c.want)
		}
	}
	t.Setenv("NOTIFY_SOCKET", "")
	if err := Ready("x"); err != nil {
		t.Fatalf("outside systemd: %v", err)
	}
}

// matches compares got with want, where a line VAR=* takes any value.
func matches(got, want string) bool {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	if len(g) != len(w) {
		return false
	}
	for i := range w {
		if v, ok := strings.CutSuffix(w[i], "=*"); ok {
			if n, err := strconv.ParseInt(strings.TrimPrefix(g[i], v+"="), 10, 64); !strings.HasPrefix(g[i], v+"=") || err != nil || n <= 0 {
				return false
			}
			continue
		}
		if g[i] != w[i] {
			return false
		}
	}
	return true
}

// TestWatchdog: with $WATCHDOG_USEC for this process, WATCHDOG=1 comes
// at half the interval until stopped; without it nothing starts.
func TestWatchdog(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "")
	if d := Watchdog(make(chan struct{}), func(err error) { t.Error(err) }); d != 0 {
		t.Fatalf("a watchdog without WATCHDOG_USEC: %v", d)
	}
	t.Setenv("WATCHDOG_USEC", "100000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	stop := make(chan struct{})
	defer close(stop)
	if d := Watchdog(stop, func(err error) { t.Error(err) }); d != 100*time.Millisecond {
		t.Fatalf("interval %v, want 100ms", d)
	}
	buf := make([]byte, 64)
	for i := 0; i < 2; i++ {
		n, err := conn.Read(buf)
		if err != nil || string(buf[:n]) != "WATCHDOG=1" {
			t.Fatalf("got %q, %v; want WATCHDOG=1", buf[:n], err)
		}
	}
}
