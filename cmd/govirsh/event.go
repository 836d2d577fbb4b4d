package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/remote"
	"github.com/govirt/govirtd/vir"
)

// eventTypes are the event types govirsh can show, by virsh's names.
var eventTypes = []struct {
	name string
	id   vir.DomainEventID
}{
	{"lifecycle", vir.DomainEventIDLifecycle},
	{"reboot", vir.DomainEventIDReboot},
}

// eventPrinter prints events as they arrive, in virsh's format, and
// counts them. Its callback runs on the connection's dispatcher goroutine.
type eventPrinter struct {
	sh        *shell
	loop      bool
	timestamp bool
	now       func() time.Time

	mu      sync.Mutex // guards the fields below and the output
	count   int
	stopped bool          // the wait is over: print nothing more
	done    chan struct{} // closed after the first event without --loop
}

// eventLine is virsh's line for ev, without the timestamp.
func eventLine(ev drivers.DomainEvent) string {
	switch e := ev.(type) {
	case drivers.LifecycleEvent:
		return fmt.Sprintf("event 'lifecycle' for domain '%s': %s %s\n", e.Dom.Name, drivers.EventTypeString(e.Event), drivers.EventDetailString(e.Event, e.Detail))
	case drivers.RebootEvent:
		return fmt.Sprintf("event 'reboot' for domain '%s'\n", e.Dom.Name)
	}
	return ""
}

func (p *eventPrinter) callback(_ int, ev drivers.DomainEvent) {
	line := eventLine(ev)
	p.mu.Lock()
	defer p.mu.Unlock()
	if line == "" || p.stopped || (!p.loop && p.count > 0) {
		return
	}
	if p.timestamp {
		// virsh's virTimeStringNowRaw: UTC, milliseconds, "+0000".
		line = p.now().UTC().Format("2006-01-02 15:04:05.000") + "+0000: " + line
	}
	p.sh.printf("%s", line)
	p.count++
	if !p.loop {
		close(p.done)
	}
}

// stop ends printing and returns the number of events printed.
func (p *eventPrinter) stop() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	return p.count
}

func eventCommand(sh *shell) *cobra.Command {
	var domain, event, timeout string
	var all, loop, list, timestamp bool
	cmd := &cobra.Command{
		Use:   "event [--domain D] {--event lifecycle|reboot | --all | --list} [--loop] [--timeout N] [--timestamp]",
		Short: "Domain Events",
		Long: `List event types, or wait for domain events to occur: the first one, or
with --loop all of them until --timeout seconds pass or SIGINT (or SIGTERM)
arrives. The exit status is 0 if an event arrived, else 1.`,
		Args: noArgs,
	}
	f := cmd.Flags()
	f.StringVar(&domain, "domain", "", "filter by domain name, id or uuid")
	f.StringVar(&event, "event", "", "which event type to wait for")
	f.BoolVar(&all, "all", false, "wait for all events instead of just one type")
	f.BoolVar(&loop, "loop", false, "loop until timeout or interrupt, rather than one-shot")
	f.StringVar(&timeout, "timeout", "", "timeout seconds")
	f.BoolVar(&list, "list", false, "list valid event types")
	f.BoolVar(&timestamp, "timestamp", false, "show timestamp for each printed event")
	cmd.RunE = sh.action(func(ctx context.Context, cmd *cobra.Command, _ []string) error {
		for _, pair := range [][2]string{{"all", "event"}, {"list", "all"}, {"list", "event"}} {
			if err := exclusive(cmd, pair[0], pair[1]); err != nil {
				return err
			}
		}
		if list {
			for _, t := range eventTypes {
				sh.printf("%s\n", t.name)
			}
			return nil
		}
		if !cmd.Flags().Changed("event") && !all {
			return fmt.Errorf("one of --list, --all, or --event <type> is required")
		}
		var ids []vir.DomainEventID
		for _, t := range eventTypes {
			if all || t.name == event {
				ids = append(ids, t.id)
			}
		}
		if len(ids) == 0 {
			return fmt.Errorf("unknown event type %s", event)
		}
		var limit time.Duration
		if cmd.Flags().Changed("timeout") {
			secs, err := parseTimeout(timeout)
			if err != nil {
				return err
			}
			limit = time.Duration(secs) * time.Second
		}
		var dom *remote.Domain
		if cmd.Flags().Changed("domain") {
			d, err := sh.lookupDomain(ctx, domain, byAny)
			if err != nil {
				return err
			}
			dom = &d
		}
		p := &eventPrinter{sh: sh, loop: loop, timestamp: timestamp, now: time.Now, done: make(chan struct{})}
		return sh.waitEvents(ctx, p, dom, ids, limit)
	})
	return cmd
}

// waitEvents registers p for ids and prints events until the first one
// (without --loop), the timeout, a signal, or the end of the connection;
// then it deregisters.
func (sh *shell) waitEvents(ctx context.Context, p *eventPrinter, dom *remote.Domain, ids []vir.DomainEventID, limit time.Duration) error {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	var timer <-chan time.Time
	if limit > 0 {
		t := time.NewTimer(limit)
		defer t.Stop()
		timer = t.C
	}

	var registered []int
	for i, id := range ids {
		cbID, err := sh.conn.ConnectDomainEventRegisterAny(ctx, dom, id, p.callback)
		if err != nil {
			if i == 0 {
				return err
			}
			continue // an older daemon may not know later event ids
		}
		registered = append(registered, cbID)
	}

	var why string
	var lost error
	select {
	case <-p.done:
	case <-sigs:
		why = "event loop interrupted\n"
	case <-timer:
		why = "event loop timed out\n"
	case <-sh.conn.Done():
		lost = fmt.Errorf("Disconnected from %s: %v", sh.conn.URI(), sh.conn.Err())
	}
	count := p.stop() // no event line after this point
	sh.printf("%sevents received: %d\n", why, count)
	if lost != nil {
		return lost
	}

	var failedDereg error
	for _, id := range registered {
		if err := sh.conn.ConnectDomainEventDeregisterAny(ctx, id); err != nil {
			failedDereg = err
		}
	}
	switch {
	case failedDereg != nil:
		return failedDereg
	case count == 0:
		return errSilent
	}
	return nil
}
