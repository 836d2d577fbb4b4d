// Command bench runs govirtd side by side with a private real libvirtd 9.0
// and drives both with the same client, github.com/digitalocean/go-libvirt,
// alternating between them round by round so that the drift of a shared
// machine hits both alike. It prints a Markdown table of medians and the
// govirtd/libvirtd ratio per measure, and writes every sample, median and
// ratio with the machine, versions and date to a JSON file.
//
// Both daemons are its child processes, each in its own directory under a
// temporary directory, serving their test driver (test:///default); it
// stops them by pid when it ends. Run it with `make bench` (about 2.5
// minutes on a 2-core machine) or `make bench-quick` (about 30 seconds).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

type options struct {
	govirtd  string
	libvirtd string
	out      string
	quick    bool
	only     string
	keep     bool

	rounds int           // samples per measure and target
	sample time.Duration // length of one throughput sample
	warmup time.Duration // length of the discarded warm-up sample
	pairs  int           // suspend/resume pairs per round, one subscriber
	pairs2 int           // suspend/resume pairs per round, 200 subscribers
	starts int           // daemon starts for measure 8 (each dials 10,000 clients: slow for libvirtd, so few)
}

func main() {
	var o options
	nullSock := flag.String("null-server", "", "serve the null protocol on this socket (used by the benchmark itself)")
	flag.StringVar(&o.govirtd, "govirtd", "bin/govirtd", "the govirtd binary to measure")
	flag.StringVar(&o.libvirtd, "libvirtd", "/usr/sbin/libvirtd", "the libvirtd binary to compare with (Debian's libvirt-daemon)")
	flag.StringVar(&o.out, "out", "", "JSON results file (default bench/results/latest.json, or quick.json with -quick)")
	flag.BoolVar(&o.quick, "quick", false, "fewer and shorter rounds: a quick look in under a minute")
	flag.StringVar(&o.only, "only", "", "run only these measures, comma-separated (1,2,3,4,5,6,7,8,9; measure 9's groups alone: 9-start, 9-suspend, 9-start10, 9-reattach, 9-linux, 9-shutdown)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (configs, logs) after the run")
	flag.Parse()

	if *nullSock != "" {
		if err := runNullServer(*nullSock); err != nil {
			fmt.Fprintf(os.Stderr, "null server: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if o.quick {
		o.rounds, o.sample, o.warmup, o.pairs, o.pairs2, o.starts = 3, 250*time.Millisecond, 100*time.Millisecond, 50, 10, 1
		if o.out == "" {
			o.out = "bench/results/quick.json"
		}
	} else {
		o.rounds, o.sample, o.warmup, o.pairs, o.pairs2, o.starts = 7, time.Second, 300*time.Millisecond, 250, 40, 3
		if o.out == "" {
			o.out = "bench/results/latest.json"
		}
	}
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func run(o options) error {
	for _, bin := range []struct{ path, hint string }{
		{o.govirtd, "build it with `make build`"},
		{o.libvirtd, "install Debian's libvirt-daemon with `scripts/install-deps.sh bench` (as root)"},
	} {
		if _, err := os.Stat(bin.path); err != nil {
			return fmt.Errorf("%s: %w (%s)", bin.path, err, bin.hint)
		}
	}
	raiseFileLimit()
	dir, err := os.MkdirTemp("", "govirtd-bench-")
	if err != nil {
		return err
	}
	b := &bench{o: o, dir: dir}
	defer func() {
		b.stopAll()
		if o.keep {
			fmt.Fprintf(os.Stderr, "bench: kept %s\n", dir)
		} else {
			os.RemoveAll(dir)
		}
	}()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "bench: %v: stopping the daemons\n", s)
		b.stopAll()
		os.RemoveAll(dir)
		os.Exit(1)
	}()

	res, err := b.run()
	if err != nil {
		return err
	}
	if err := res.writeJSON(o.out); err != nil {
		return err
	}
	fmt.Println()
	res.writeTable(os.Stdout)
	fmt.Fprintf(os.Stderr, "bench: results written to %s\n", o.out)
	return nil
}

// raiseFileLimit lifts the soft limit on open files to the hard one:
// measure 8 holds 1,000 connections. Setting it explicitly (rather than
// relying on the Go runtime's own raise) makes the daemons inherit it.
func raiseFileLimit() {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err == nil && l.Cur < l.Max {
		l.Cur = l.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}
