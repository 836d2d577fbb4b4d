package daemon

import (
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
