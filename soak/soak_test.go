package main

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/govirt/govirtd/internal/testutil"
)

// TestSoakShort is `make soak` in small, inside `make test`: every phase
// on the real daemon binary, built with -race so that the fuzz and the
// floods also look for data races in it, a few seconds each, the restart
// phase with 2 guests and 3 cycles (a guest killed in one). Each phase
// is a subtest that fails with the faults the phase found.
func TestSoakShort(t *testing.T) {
	testutil.RequireBinary(t, "qemu-system-x86_64", "qemu-system-x86")
	dir := t.TempDir()
	bin := filepath.Join(dir, "govirtd")
	if out, err := exec.Command("go", "build", "-race", "-o", bin, "../cmd/govirtd").CombinedOutput(); err != nil {
		t.Fatalf("go build -race ./cmd/govirtd: %v\n%s", err, out)
	}
	o := options{
		bin:      bin,
		guestXML: "../testdata/qemu/domains/demo.xml",
		// The race detector's shadow memory grows with the heap it
		// watches, and a few seconds are no steady state: RSS is judged
		// with 128 MiB of slack here, 16 MiB in make soak.
		fuzz:    fuzzOptions{dur: 4 * time.Second, conns: 3, rssSlack: 128 * 1024},
		events:  eventsOptions{dur: 4 * time.Second, clients: 200, subscribers: 5, rssSlack: 128 * 1024},
		restart: restartOptions{guests: 2, cycles: 3, guestKills: 1},
		exhaust: exhaustOptions{maxClients: 100, flood: 150, slowLoris: 60, oversized: 6, registrations: 1500},
	}
	for _, phase := range []string{"fuzz", "events", "restart", "exhaust"} {
		t.Run(phase, func(t *testing.T) {
			o.phases = []string{phase}
			for _, r := range run(o, t.TempDir(), func(string) {}) {
				t.Log(r.line())
				for _, f := range r.faults {
					t.Error(f)
				}
			}
		})
	}
}

// TestRSSGrowth: the RSS check passes a flat run and a run that grows
// within its slack, and fails one that keeps growing.
func TestRSSGrowth(t *testing.T) {
	run := func(rss ...int) *result {
		var s []sample
		for _, v := range rss {
			s = append(s, sample{procStats: procStats{rssKiB: v}})
		}
		r := &result{}
		rssGrowth(r, s, 16*1024)
		return r
	}
	if r := run(10000, 10000, 10100, 10000, 10050, 10000, 10000, 10020); len(r.faults) != 0 {
		t.Errorf("flat run: %v", r.faults)
	}
	if r := run(10000, 20000, 20000, 22000, 24000, 25000, 25000, 26000); len(r.faults) != 0 {
		t.Errorf("growth within 16 MiB: %v", r.faults)
	}
	if r := run(10000, 20000, 40000, 60000, 80000, 100000, 120000, 140000); len(r.faults) != 1 {
		t.Errorf("growth of 130 MiB: faults %v, want one", r.faults)
	}
	if r := run(1, 2); len(r.faults) != 1 {
		t.Errorf("two samples: faults %v, want one saying the run was too short", r.faults)
	}
}
