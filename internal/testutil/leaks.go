package testutil

import (
	"os"
	"runtime"
	"testing"
	"time"
)

// OpenFDs counts this process's open file descriptors.
func OpenFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("cannot count file descriptors: %v", err)
	}
	return len(ents)
}

// Leaks is a baseline of goroutines and file descriptors: what a test
// starts must be gone again by Check.
type Leaks struct {
	t          testing.TB
	goroutines int
	fds        int
}

// Baseline records the goroutines and fds open now.
func Baseline(t testing.TB) *Leaks {
	t.Helper()
	return &Leaks{t: t, goroutines: runtime.NumGoroutine(), fds: OpenFDs(t)}
}

// Check waits, up to HangTimeout, for the goroutines and fds to come back
// to the baseline plus slack goroutines (ones the runtime or a library
// keeps, say), and fails listing every goroutine if they do not.
func (l *Leaks) Check(slack int) {
	l.t.Helper()
	deadline := time.Now().Add(HangTimeout)
	for {
		g, fds := runtime.NumGoroutine(), OpenFDs(l.t)
		if g <= l.goroutines+slack && fds <= l.fds {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			l.t.Fatalf("leak: %d goroutines (baseline %d + %d), %d fds (baseline %d)\n%s",
				g, l.goroutines, slack, fds, l.fds, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}
