package systemd

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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
	read := func() string {
		buf := make([]byte, 256)
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		return string(buf[:n])
	}
	for _, c := range []struct {
		send func() error
		want string
	}{
		{func() error { return Ready("serving") }, "READY=1\nSTATUS=serving"},
		{func() error { return Stopping("stopping") }, "STOPPING=1\nSTATUS=stopping"},
		{func() error { return Status("3 clients") }, "STATUS=3 clients"},
		{Watchdog, "WATCHDOG=1"},
	} {
		if err := c.send(); err != nil {
			t.Fatal(err)
		}
		if got := read(); got != c.want {
			t.Fatalf("got %q; want %q", got, c.want)
		}
	}

	// MONOTONIC_USEC is CLOCK_MONOTONIC when the message was sent.
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	before := ts.Nano() / 1000
	if err := Reloading("reloading"); err != nil {
		t.Fatal(err)
	}
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	after := ts.Nano() / 1000
	m := regexp.MustCompile(`^RELOADING=1\nMONOTONIC_USEC=(\d+)\nSTATUS=reloading$`).FindStringSubmatch(read())
	if m == nil {
		t.Fatal("RELOADING=1 without MONOTONIC_USEC and STATUS")
	}
	if usec, _ := strconv.ParseInt(m[1], 10, 64); usec < before || usec > after {
		t.Fatalf("MONOTONIC_USEC=%d outside [%d, %d]", usec, before, after)
	}

	t.Setenv("NOTIFY_SOCKET", "")
	if err := Ready("x"); err != nil {
		t.Fatalf("outside systemd: %v", err)
	}
}

// TestWatchdogInterval: half of WATCHDOG_USEC for this process, none for
// another's, none without it; the variables are gone afterwards.
func TestWatchdogInterval(t *testing.T) {
	for _, c := range []struct {
		usec, pid string
		want      time.Duration
	}{
		{"4000000", fmt.Sprint(os.Getpid()), 2 * time.Second},
		{"4000000", "", 2 * time.Second},
		{"4000000", "1", 0},
		{"", "", 0},
	} {
		t.Setenv("WATCHDOG_USEC", c.usec)
		t.Setenv("WATCHDOG_PID", c.pid)
		if c.usec == "" {
			os.Unsetenv("WATCHDOG_USEC")
		}
		if c.pid == "" {
			os.Unsetenv("WATCHDOG_PID")
		}
		got, err := WatchdogInterval()
		if err != nil || got != c.want {
			t.Errorf("WATCHDOG_USEC=%q WATCHDOG_PID=%q: %v, %v; want %v", c.usec, c.pid, got, err, c.want)
		}
		if _, ok := os.LookupEnv("WATCHDOG_USEC"); ok {
			t.Errorf("WATCHDOG_USEC still set")
		}
	}
}
