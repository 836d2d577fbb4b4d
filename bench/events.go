package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
)

// eventRig is one actor connection that suspends and resumes the domain
// "test", and subscribers, each on its own connection, registered for
// lifecycle events with go-libvirt's LifecycleEvents.
type eventRig struct {
	actor    *libvirt.Libvirt
	dom      libvirt.Domain
	subs     []*libvirt.Libvirt
	arrivals chan arrival
	cancel   context.CancelFunc
	done     chan struct{}
	wg       sync.WaitGroup
}

// arrival is one event as a subscriber received it.
type arrival struct {
	sub   int
	at    time.Time
	event int32
}

// newEventRig connects an actor and nsubs subscribers to sock.
func newEventRig(sock string, nsubs int) (*eventRig, error) {
	ctx, cancel := context.WithCancel(context.Background())
	r := &eventRig{arrivals: make(chan arrival, 4*nsubs), cancel: cancel, done: make(chan struct{})}
	var err error
	if r.actor, err = dialGoLibvirt(sock); err != nil {
		r.close()
		return nil, err
	}
	if r.dom, err = r.actor.DomainLookupByName("test"); err != nil {
		r.close()
		return nil, fmt.Errorf("look up domain test: %w", err)
	}
	if st, _, err := r.actor.DomainGetState(r.dom, 0); err == nil && libvirt.DomainState(st) == libvirt.DomainPaused {
		r.actor.DomainResume(r.dom)
	}
	for i := range nsubs {
		l, err := dialGoLibvirt(sock)
		if err != nil {
			r.close()
			return nil, fmt.Errorf("subscriber %d: %w", i, err)
		}
		r.subs = append(r.subs, l)
		events, err := l.LifecycleEvents(ctx)
		if err != nil {
			r.close()
			return nil, fmt.Errorf("subscriber %d: register: %w", i, err)
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for ev := range events {
				a := arrival{sub: i, at: time.Now(), event: ev.Event}
				if ev.Dom.Name != "test" {
					continue
				}
				select {
				case r.arrivals <- a:
				case <-r.done:
					return
				}
			}
		}()
	}
	return r, nil
}

func (r *eventRig) close() {
	r.cancel()
	close(r.done)
	var wg sync.WaitGroup
	for _, l := range append(r.subs, r.actor) {
		if l == nil {
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); l.Disconnect() }()
	}
	wg.Wait()
	r.wg.Wait()
}

// sample suspends and resumes the domain pairs times and returns, for
// each of the 2×pairs calls, the time from the start of the call until
// every subscriber had its event.
func (r *eventRig) sample(pairs int) ([]time.Duration, error) {
	lat := make([]time.Duration, 0, 2*pairs)
	seen := make([]bool, len(r.subs))
	for range pairs {
		for _, step := range []struct {
			op    func(libvirt.Domain) error
			event libvirt.DomainEventType
		}{
			{r.actor.DomainSuspend, libvirt.DomainEventSuspended},
			{r.actor.DomainResume, libvirt.DomainEventResumed},
		} {
			clear(seen)
			t0 := time.Now()
			if err := step.op(r.dom); err != nil {
				return nil, err
			}
			var last time.Time
			timeout := time.After(10 * time.Second)
			for got := 0; got < len(r.subs); {
				select {
				case a := <-r.arrivals:
					if a.event != int32(step.event) || seen[a.sub] {
						continue
					}
					seen[a.sub] = true
					got++
					if a.at.After(last) {
						last = a.at
					}
				case <-timeout:
					return nil, fmt.Errorf("event %d reached %d of %d subscribers within 10 s", step.event, countTrue(seen), len(seen))
				}
			}
			lat = append(lat, last.Sub(t0))
		}
	}
	return lat, nil
}

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// eventMeasure samples p50 and p99 of the event latency with nsubs
// subscribers per daemon, pairs suspend/resume pairs per round, and the
// daemon's CPU time per event (the call that raises it included).
func (b *bench) eventMeasure(p50, p99, cpu *Measure, nsubs, pairs int) error {
	keys := []string{keyGovirtd, keyLibvirtd, keyNull}
	rigs := map[string]*eventRig{}
	defer func() {
		for _, r := range rigs {
			r.close()
		}
	}()
	for _, k := range keys {
		r, err := newEventRig(b.sockOf(k), nsubs)
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		rigs[k] = r
	}
	return b.alternate([]*Measure{p50, p99, cpu}, keys, b.o.rounds, func(k string, warmup bool) ([]float64, error) {
		n := pairs
		if warmup {
			n = max(pairs/5, 2)
		}
		var lat []time.Duration
		used, err := b.daemonCPU(k, func() (err error) {
			lat, err = rigs[k].sample(n)
			return err
		})
		if err != nil {
			return nil, err
		}
		us := micros(lat)
		return []float64{percentile(us, 50), percentile(us, 99), micro(used) / float64(len(lat))}, nil
	})
}

// Measure 6: lifecycle event latency, from the start of the suspend or
// resume call to delivery at a subscriber on another connection.
func (b *bench) measureEventLatency() ([]*Measure, error) {
	p50 := newMeasure("6-p50", "lifecycle event latency, p50", "µs", false)
	p99 := newMeasure("6-p99", "lifecycle event latency, p99", "µs", false)
	cpu := newMeasure("6-cpu", "daemon CPU per event (suspend or resume call included)", "µs", false)
	err := b.eventMeasure(p50, p99, cpu, 1, b.o.pairs)
	return []*Measure{p50, p99, cpu}, err
}

// Measure 7: event fan-out, time until every one of 1 and of 200
// subscribed connections has the event.
func (b *bench) measureFanout() ([]*Measure, error) {
	var out []*Measure
	for _, n := range []int{1, 200} {
		pairs := b.o.pairs
		if n > 1 {
			pairs = b.o.pairs2
		}
		p50 := newMeasure(fmt.Sprintf("7-%d-p50", n), fmt.Sprintf("event fan-out to %d subscriber%s, p50", n, plural(n)), "µs", false)
		p99 := newMeasure(fmt.Sprintf("7-%d-p99", n), fmt.Sprintf("event fan-out to %d subscriber%s, p99", n, plural(n)), "µs", false)
		cpu := newMeasure(fmt.Sprintf("7-%d-cpu", n), fmt.Sprintf("daemon CPU per event, %d subscriber%s", n, plural(n)), "µs", false)
		if err := b.eventMeasure(p50, p99, cpu, n, pairs); err != nil {
			return nil, err
		}
		out = append(out, p50, p99)
		if n > 1 { // with one subscriber, measure 6 says it
			out = append(out, cpu)
		}
	}
	return out, nil
}
