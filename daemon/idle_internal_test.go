package daemon

import (
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// TestIdleTimer drives the idle decision with its own clock: the count
// starts at start, any busy check restarts it, and only a whole timeout
// of idle checks exits.
func TestIdleTimer(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	it := idleTimer{timeout: 5 * time.Second}
	it.start(t0)
	for _, c := range []struct {
		s    int
		why  string
		exit bool
	}{
		{1, "", false},
		{4, "1 client(s) connected", false}, // the count restarts at 4
		{8, "", false},
		{9, "", true},
		{10, "the QEMU driver has running guests", false},
		{14, "", false},
		{15, "", true},
	} {
		if got := it.check(at(c.s), c.why); got != c.exit {
			t.Fatalf("check at %ds (%q): exit %v, want %v", c.s, c.why, got, c.exit)
		}
	}
}

// TestPingDuring: a reload that takes a while keeps the watchdog fed
// while it runs, and the pings stop when it returns.
func TestPingDuring(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	d := &Daemon{log: slog.New(slog.DiscardHandler)}
	d.pingDuring(time.Millisecond, func() {
		// The "reload" ends only once two pings came.
		buf := make([]byte, 64)
		for range 2 {
			n, err := conn.Read(buf)
			if err != nil || string(buf[:n]) != "WATCHDOG=1" {
				t.Errorf("got %q, %v during the reload", buf[:n], err)
				return
			}
		}
	})
}
