package main

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
)

// throughput runs perConn goroutines on each caller, each calling
// ConnectGetLibVersion back to back for d, and returns the calls per
// second all together, and the number of calls.
func throughput(d time.Duration, cs []caller, perConn int) (float64, int64, error) {
	var (
		stop  atomic.Bool
		total atomic.Int64
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	start := time.Now()
	timer := time.AfterFunc(d, func() { stop.Store(true) })
	defer timer.Stop()
	for _, c := range cs {
		for range perConn {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n := int64(0)
				for !stop.Load() {
					if err := c.LibVersion(); err != nil {
						once.Do(func() { first = err })
						stop.Store(true)
						break
					}
					n++
				}
				total.Add(n)
			}()
		}
	}
	wg.Wait()
	if first != nil {
		return 0, 0, first
	}
	return float64(total.Load()) / time.Since(start).Seconds(), total.Load(), nil
}

// rate calls op back to back for d and returns the calls per second.
func rate(d time.Duration, op func() error) (float64, error) {
	start := time.Now()
	deadline := start.Add(d)
	n := 0
	for time.Now().Before(deadline) {
		if err := op(); err != nil {
			return 0, err
		}
		n++
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// callsMeasure measures ConnectGetLibVersion calls/s for keys, with conns
// connections per key and perConn goroutines on each, and the daemon's
// CPU time per call.
func (b *bench) callsMeasure(m *Measure, keys []string, conns, perConn int) ([]*Measure, error) {
	cpu := newMeasure(m.ID+"-cpu", "daemon CPU per call, "+m.Name[strings.Index(m.Name, ",")+2:], "µs", false)
	callers := map[string][]caller{}
	defer func() {
		for _, cs := range callers {
			closeAll(cs)
		}
	}()
	for _, k := range keys {
		kind := goLibvirtClient
		if k == keyRemote {
			kind = remoteClient
		}
		cs, err := dialMany(kind, b.sockOf(k), conns)
		if err != nil {
			return nil, fmt.Errorf("%s: connect to %s: %w", m.Name, k, err)
		}
		callers[k] = cs
	}
	err := b.alternate([]*Measure{m, cpu}, keys, b.o.rounds, func(k string, warmup bool) ([]float64, error) {
		d := b.o.sample
		if warmup {
			d = b.o.warmup
		}
		var v float64
		var n int64
		used, err := b.daemonCPU(k, func() (err error) {
			v, n, err = throughput(d, callers[k], perConn)
			return err
		})
		return []float64{v, micro(used) / float64(max(n, 1))}, err
	})
	return []*Measure{m, cpu}, err
}

// daemonCPU runs f and returns the CPU time the daemon serving key used
// meanwhile.
func (b *bench) daemonCPU(key string, f func() error) (time.Duration, error) {
	pid := b.pidOf(key)
	before, err := cpuTime(pid)
	if err != nil {
		return 0, err
	}
	if err := f(); err != nil {
		return 0, err
	}
	after, err := cpuTime(pid)
	return after - before, err
}

func micro(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// Measure 1: sequential round trips on one connection.
func (b *bench) measureSequential() ([]*Measure, error) {
	m := newMeasure("1", "ConnectGetLibVersion, sequential, 1 connection", "calls/s", true)
	return b.callsMeasure(m, []string{keyGovirtd, keyLibvirtd, keyNull, keyRemote}, 1, 1)
}

// Measure 2: round trips over 8 connections in parallel.
func (b *bench) measureParallel() ([]*Measure, error) {
	m := newMeasure("2", "ConnectGetLibVersion, 8 connections in parallel", "calls/s", true)
	return b.callsMeasure(m, []string{keyGovirtd, keyLibvirtd, keyNull, keyRemote}, 8, 1)
}

// Measure 3: one connection shared by 8 goroutines.
func (b *bench) measurePipelined() ([]*Measure, error) {
	m := newMeasure("3", "ConnectGetLibVersion, 1 connection shared by 8 goroutines", "calls/s", true)
	return b.callsMeasure(m, []string{keyGovirtd, keyLibvirtd, keyNull}, 1, 8)
}

// benchDomainXML is a domain for the test drivers of both daemons.
func benchDomainXML(i int) string {
	return fmt.Sprintf(`<domain type='test'>
  <name>bench-%03d</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
</domain>`, i)
}

// Measure 4: DomainLookupByName and ConnectListAllDomains, sequential on
// one connection, with the one domain of test:///default and then with
// 199 more defined. With 200 the lookup asks for the last one defined.
func (b *bench) measureLookups() ([]*Measure, error) {
	keys := []string{keyGovirtd, keyLibvirtd}
	conns := map[string]*libvirt.Libvirt{}
	defer func() {
		for _, l := range conns {
			l.Disconnect()
		}
	}()
	for _, k := range keys {
		l, err := dialGoLibvirt(b.sockOf(k))
		if err != nil {
			return nil, fmt.Errorf("connect to %s: %w", k, err)
		}
		conns[k] = l
	}
	var out []*Measure
	for _, n := range []int{1, 200} {
		for _, k := range keys {
			l := conns[k]
			doms, _, err := l.ConnectListAllDomains(1, 0)
			if err != nil {
				return nil, fmt.Errorf("%s: list domains: %w", k, err)
			}
			for i := len(doms); i < n; i++ {
				if _, err := l.DomainDefineXML(benchDomainXML(i)); err != nil {
					return nil, fmt.Errorf("%s: define bench-%03d: %w", k, i, err)
				}
			}
			if doms, _, err = l.ConnectListAllDomains(1, 0); err != nil || len(doms) != n {
				return nil, fmt.Errorf("%s: %d domains (%v), want %d", k, len(doms), err, n)
			}
		}
		name := "test"
		if n > 1 {
			name = fmt.Sprintf("bench-%03d", n-1)
		}
		ops := []struct {
			m  *Measure
			op func(l *libvirt.Libvirt) error
		}{
			{newMeasure(fmt.Sprintf("4-lookup-%d", n), fmt.Sprintf("DomainLookupByName, %d domain%s", n, plural(n)), "calls/s", true),
				func(l *libvirt.Libvirt) error { _, err := l.DomainLookupByName(name); return err }},
			{newMeasure(fmt.Sprintf("4-list-%d", n), fmt.Sprintf("ConnectListAllDomains, %d domain%s", n, plural(n)), "calls/s", true),
				func(l *libvirt.Libvirt) error { _, _, err := l.ConnectListAllDomains(1, 0); return err }},
		}
		for _, o := range ops {
			// The daemon's CPU time per call, beside the rate: with 200
			// domains the client's decoding bounds the rate.
			cpu := newMeasure(o.m.ID+"-cpu", "daemon CPU per call, "+o.m.Name, "µs", false)
			err := b.alternate([]*Measure{o.m, cpu}, keys, b.o.rounds, func(k string, warmup bool) ([]float64, error) {
				d := b.o.sample / 2
				if warmup {
					d = b.o.warmup
				}
				l := conns[k]
				var v float64
				var n int64
				used, err := b.daemonCPU(k, func() (err error) {
					v, err = rate(d, func() error { n++; return o.op(l) })
					return err
				})
				return []float64{v, micro(used) / float64(max(n, 1))}, err
			})
			if err != nil {
				return nil, err
			}
			out = append(out, o.m, cpu)
		}
	}
	return out, nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// Measure 5: connect, open test:///default and close, back to back.
func (b *bench) measureConnect() ([]*Measure, error) {
	m := newMeasure("5", "connect + open + close", "conn/s", true)
	err := b.alternate([]*Measure{m}, []string{keyGovirtd, keyLibvirtd}, b.o.rounds, func(k string, warmup bool) ([]float64, error) {
		d := b.o.sample
		if warmup {
			d = b.o.warmup
		}
		sock := b.sockOf(k)
		v, err := rate(d, func() error {
			l, err := dialGoLibvirt(sock)
			if err != nil {
				return err
			}
			return l.Disconnect()
		})
		return []float64{v}, err
	})
	return []*Measure{m}, err
}
