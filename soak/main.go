// Command soak is govirtd's reliability suite (`make soak`). It runs the
// real daemon binary, each phase on a fresh daemon in a directory of its
// own, and prints one line of figures per phase:
//
//   - fuzz: random, truncated, bit-flipped and length-lying frames
//     derived from valid calls of every procedure, from several
//     connections, while go-libvirt checks that calls keep succeeding
//     and records its worst latency;
//   - events: many idle clients and five event subscribers, one of
//     which never reads, while events are generated: the silent one is
//     dropped and told, the others lose nothing and keep order;
//   - restart: qemu guests through repeated kill -9 of the daemon, a
//     guest also killed in some of the cycles while the daemon is down;
//   - exhaust: connection floods past max_clients, slow-loris partial
//     frames, a length word over the maximum, thousands of event
//     registrations.
//
// A phase fails on a daemon exit, a leaked descriptor or goroutine
// (counted from outside: /proc/PID/fd, and the stack dump of SIGQUIT
// at the end), unbounded RSS growth, or the behaviour it checks. The
// exit status is 1 when any phase failed. TestSoakShort runs every
// phase for a few seconds inside `go test`.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// options sizes a whole run.
type options struct {
	bin, guestXML string
	phases        []string
	fuzz          fuzzOptions
	events        eventsOptions
	restart       restartOptions
	exhaust       exhaustOptions
}

func defaultOptions(fuzzTime time.Duration) options {
	return options{
		phases:  []string{"fuzz", "events", "restart", "exhaust"},
		fuzz:    fuzzOptions{dur: fuzzTime, conns: 4, rssSlack: 16 * 1024},
		events:  eventsOptions{dur: 60 * time.Second, clients: 1000, subscribers: 5, rssSlack: 16 * 1024},
		restart: restartOptions{guests: 5, cycles: 10, guestKills: 3},
		exhaust: exhaustOptions{maxClients: 500, flood: 1000, slowLoris: 300, oversized: 20, registrations: 3000},
	}
}

// run runs the phases in dir and returns their results.
func run(o options, dir string, progress func(string)) []*result {
	var out []*result
	for _, p := range o.phases {
		progress(fmt.Sprintf("soak: %s…", p))
		var r *result
		switch p {
		case "fuzz":
			r = runFuzz(o.bin, dir, o.fuzz)
		case "events":
			r = runEvents(o.bin, dir, o.events)
		case "restart":
			r = runRestart(o.bin, o.guestXML, dir, o.restart)
		case "exhaust":
			r = runExhaust(o.bin, dir, o.exhaust)
		default:
			r = &result{name: p}
			r.fault("unknown phase %q (fuzz, events, restart, exhaust)", p)
		}
		out = append(out, r)
		progress(r.line())
	}
	return out
}

func main() {
	def := 8 * time.Minute
	if v := os.Getenv("SOAK_TIME"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			fmt.Fprintf(os.Stderr, "soak: SOAK_TIME=%q: %v (use a Go duration: 60s, 5m)\n", v, err)
			os.Exit(2)
		}
		def = d
	}
	o := defaultOptions(def)
	soakTime := flag.Duration("time", def, "how long the frame fuzz runs ($SOAK_TIME, else 8m)")
	flag.DurationVar(&o.events.dur, "events-time", o.events.dur, "how long the events phase generates events")
	phases := flag.String("phases", strings.Join(o.phases, ","), "the phases to run, comma-separated")
	flag.StringVar(&o.bin, "govirtd", "bin/govirtd", "the govirtd binary")
	flag.StringVar(&o.guestXML, "guest-xml", "testdata/qemu/domains/demo.xml", "the qemu guest the restart phase runs, renamed per guest")
	flag.IntVar(&o.events.clients, "clients", o.events.clients, "idle clients of the events phase")
	flag.IntVar(&o.restart.guests, "guests", o.restart.guests, "qemu guests of the restart phase")
	flag.IntVar(&o.restart.cycles, "cycles", o.restart.cycles, "kill -9 cycles of the restart phase")
	flag.IntVar(&o.restart.guestKills, "guest-kills", o.restart.guestKills, "cycles of the restart phase in which a guest is killed too")
	keep := flag.Bool("keep", false, "keep the run's directory (logs, configs) instead of removing it")
	flag.Parse()
	o.fuzz.dur = *soakTime
	o.phases = strings.Split(*phases, ",")
	if bin, err := filepath.Abs(o.bin); err == nil {
		o.bin = bin
	}
	if x, err := filepath.Abs(o.guestXML); err == nil {
		o.guestXML = x
	}

	dir, err := os.MkdirTemp("", "govirtd-soak-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "soak: %v\n", err)
		os.Exit(2)
	}
	// On SIGINT or SIGTERM: the daemons die with this process
	// (Pdeathsig); the directory is left for a look.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sigs
		fmt.Fprintf(os.Stderr, "soak: interrupted; logs in %s\n", dir)
		os.Exit(1)
	}()

	began := time.Now()
	results := run(o, dir, func(s string) { fmt.Fprintln(os.Stderr, s) })
	failed := false
	fmt.Printf("soak %s, %d cores, fuzz %v, events %v, total %.0fs:\n", time.Now().UTC().Format(time.RFC3339), runtime.NumCPU(), o.fuzz.dur, o.events.dur, time.Since(began).Seconds())
	for _, r := range results {
		fmt.Println(r.line())
		for _, f := range r.faults {
			failed = true
			fmt.Printf("  FAULT %s: %s\n", r.name, f)
		}
	}
	if failed || *keep {
		fmt.Printf("logs and configs in %s\n", dir)
	} else {
		os.RemoveAll(dir)
	}
	if failed {
		os.Exit(1)
	}
}
