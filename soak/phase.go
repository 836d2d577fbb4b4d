package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/rpc"
)

// result is what one phase found: its figures, one line, and its
// faults. A phase records every fault it sees and carries on where it
// can, so that one run reports all of them.
type result struct {
	name    string
	took    time.Duration
	figures []string
	faults  []string
}

func (r *result) fig(format string, args ...any) {
	r.figures = append(r.figures, fmt.Sprintf(format, args...))
}

func (r *result) fault(format string, args ...any) {
	r.faults = append(r.faults, fmt.Sprintf(format, args...))
}

// line is the phase's one line of figures.
func (r *result) line() string {
	verdict := "PASS"
	if len(r.faults) > 0 {
		verdict = fmt.Sprintf("FAIL (%d faults)", len(r.faults))
	}
	return fmt.Sprintf("%-8s %s %.0fs: %s", r.name, verdict, r.took.Seconds(), strings.Join(r.figures, "; "))
}

// sampler records the daemon's RSS, descriptors and threads every
// interval, and notices when it exits.
type sampler struct {
	d    *daemon
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	samples []sample // guarded by mu
	died    bool     // guarded by mu
}

type sample struct {
	at time.Time
	procStats
}

func startSampler(d *daemon, every time.Duration) *sampler {
	s := &sampler{d: d, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			st, err := statsOf(d.pid())
			s.mu.Lock()
			if err == nil {
				s.samples = append(s.samples, sample{time.Now(), st})
			}
			if !d.alive() {
				s.died = true
			}
			s.mu.Unlock()
			select {
			case <-s.stop:
				return
			case <-d.exited:
			case <-t.C:
			}
		}
	}()
	return s
}

// finish stops the sampler and returns its samples and whether the
// daemon exited meanwhile.
func (s *sampler) finish() ([]sample, bool) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	// The samples stay beside the daemon's log, for a look at a failure.
	var b strings.Builder
	b.WriteString("seconds,rss_kib,fds,threads\n")
	for _, x := range s.samples {
		fmt.Fprintf(&b, "%.2f,%d,%d,%d\n", x.at.Sub(s.samples[0].at).Seconds(), x.rssKiB, x.fds, x.threads)
	}
	os.WriteFile(filepath.Join(s.d.dir, "samples.csv"), []byte(b.String()), 0o644)
	return s.samples, s.died
}

// rssGrowth checks the samples for unbounded growth: the largest RSS of
// the last quarter of the run against the largest of the first quarter
// (after warm-up), allowing slack KiB or half the first figure. It
// records the figures either way.
func rssGrowth(r *result, samples []sample, slackKiB int) {
	if len(samples) < 4 {
		r.fault("only %d RSS samples: the phase was too short to judge RSS growth", len(samples))
		return
	}
	q := len(samples) / 4
	first, last, peak := 0, 0, 0
	for i, s := range samples {
		if i < q {
			first = max(first, s.rssKiB)
		}
		if i >= len(samples)-q {
			last = max(last, s.rssKiB)
		}
		peak = max(peak, s.rssKiB)
	}
	r.fig("RSS %s → %s MiB (peak %s)", mib(first), mib(last), mib(peak))
	if allowed := first + max(slackKiB, first/2); last > allowed {
		r.fault("RSS grew from %s MiB (first quarter) to %s MiB (last quarter), over the %s MiB allowed: memory is not bounded",
			mib(first), mib(last), mib(allowed))
	}
}

func mib(kib int) string { return fmt.Sprintf("%.1f", float64(kib)/1024) }

// endChecks closes a phase's daemon: its descriptors must come back to
// what it held with no client (baseFDs), it must still be running, its
// goroutines, counted from a SIGQUIT dump, must be within a few of a
// fresh daemon's after one client came and went (refG), and its log
// must hold no data race.
func endChecks(r *result, d *daemon, baseFDs, refG int) {
	if !d.alive() {
		r.fault("govirtd exited during the phase (%v); its log:\n%s", d.err, d.tail(3000))
		return
	}
	if fds := d.waitFDs(baseFDs); fds > baseFDs {
		r.fault("govirtd holds %d descriptors after every client closed, %d before any came: %d leaked", fds, baseFDs, fds-baseFDs)
		r.fig("fds %d → %d", baseFDs, fds)
	} else {
		r.fig("fds %d → %d", baseFDs, fds)
	}
	g, err := d.goroutines()
	raceCheck(r, d)
	if err != nil {
		r.fault("counting goroutines: %v", err)
		return
	}
	r.fig("goroutines %d (fresh daemon %d)", g, refG)
	if g > refG+goroutineSlack {
		r.fault("govirtd has %d goroutines after every client closed, a fresh daemon %d: %d leaked", g, refG, g-refG)
	}
}

// raceCheck fails the phase when a daemon built with -race (as
// TestSoakShort builds it) reported a data race: the race detector
// writes it to the log and lets the daemon carry on.
func raceCheck(r *result, d *daemon) {
	if d.logHas("WARNING: DATA RACE") {
		r.fault("the race detector found a data race in govirtd; see %s", d.log)
	}
}

// goroutineSlack is how many more goroutines than a fresh daemon's a
// daemon may keep after its clients left: helpers started on first use
// (a driver's event dispatch) and never stopped. A leak per connection
// or per frame is far above it after any phase.
const goroutineSlack = 6

// referenceGoroutines starts a fresh daemon on a copy of the phase's
// configuration, lets one client open test:///default and leave, and
// counts its goroutines.
func referenceGoroutines(bin, dir string, extra map[string]string) (int, error) {
	d, err := newDaemon(bin, filepath.Join(dir, "reference"), false, extra)
	if err != nil {
		return 0, err
	}
	defer d.stop()
	base := d.settledFDs()
	c, err := openRaw(d.sock(), "test:///default")
	if err != nil {
		return 0, err
	}
	c.Close()
	d.waitFDs(base)
	return d.goroutines()
}

// openRaw connects govirtd's own RPC client to sock and opens uri.
func openRaw(sock, uri string) (*rpc.Client, error) {
	return openRawOpts(sock, uri, rpc.ClientOptions{})
}

func openRawOpts(sock, uri string, opts rpc.ClientOptions) (*rpc.Client, error) {
	nc, err := net.Dial("unix", sock)
	if err != nil {
		return nil, err
	}
	c := rpc.NewClient(nc, opts)
	if err := call(c, protocol.ProcConnectOpen, &protocol.ConnectOpenArgs{Name: &uri}, nil); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func call(c *rpc.Client, p protocol.Procedure, args protocol.Encodable, ret protocol.Decodable) error {
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	return c.Call(ctx, protocol.RemoteProgram, protocol.RemoteProtocolVersion, int32(p), args, ret)
}
