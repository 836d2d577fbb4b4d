package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"

	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/rpc"
	"github.com/govirt/govirtd/vir"
)

// The events phase: many idle clients, event subscribers of which one
// never reads after registering, and one client generating lifecycle
// events for the whole phase by defining and undefining domains named
// with a sequence number (ev-00000000, ev-00000001, …), so that each
// subscriber can check that it got every event, once, in order.

type eventsOptions struct {
	dur         time.Duration
	clients     int // idle clients, test:///default open
	subscribers int // of which one never reads
	rssSlack    int // KiB of RSS growth allowed from the first quarter to the last (rssGrowth)
}

// subscriber checks the lifecycle events one go-libvirt connection
// receives: event k is DEFINED (k even) or UNDEFINED (k odd) of domain
// ev-(k/2).
type subscriber struct {
	lv *libvirt.Libvirt

	mu     sync.Mutex
	got    int    // guarded by mu
	broken string // the first event out of sequence; guarded by mu
}

func (s *subscriber) watch(ch <-chan libvirt.DomainEventLifecycleMsg) {
	for ev := range ch {
		s.mu.Lock()
		k := s.got
		want, wantType := fmt.Sprintf("ev-%08d", k/2), int32(vir.DomainEventDefined)
		if k%2 == 1 {
			wantType = int32(vir.DomainEventUndefined)
		}
		if s.broken == "" && (ev.Dom.Name != want || ev.Event != wantType) {
			s.broken = fmt.Sprintf("event %d is type %d for %s, want type %d for %s", k, ev.Event, ev.Dom.Name, wantType, want)
		}
		s.got++
		s.mu.Unlock()
	}
}

func (s *subscriber) count() (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got, s.broken
}

// silentSubscriber opens test:///default, registers for lifecycle
// events and a close callback, reads the three replies and then never
// reads again, until drain.
func silentSubscriber(sock string) (net.Conn, error) {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return nil, err
	}
	uri := "test:///default"
	c.SetReadDeadline(time.Now().Add(hang))
	// One call at a time, as libvirt's clients open: the daemon may run
	// pipelined calls at once, and only an open connection registers.
	for i, m := range []struct {
		p    protocol.Procedure
		args protocol.Encodable
	}{
		{protocol.ProcConnectOpen, &protocol.ConnectOpenArgs{Name: &uri}},
		{protocol.ProcConnectDomainEventCallbackRegisterAny, &protocol.ConnectDomainEventCallbackRegisterAnyArgs{EventID: int32(vir.DomainEventIDLifecycle)}},
		{protocol.ProcConnectRegisterCloseCallback, nil},
	} {
		f, err := rpc.EncodeFrame(protocol.Header{Program: protocol.RemoteProgram, Version: protocol.RemoteProtocolVersion,
			Procedure: int32(m.p), Type: protocol.Call, Serial: uint32(i + 1)}, m.args)
		if err == nil {
			_, err = c.Write(f)
		}
		var h protocol.Header
		var body []byte
		if err == nil {
			h, body, err = rpc.ReadFrame(c)
		}
		if err == nil && h.Status != protocol.StatusOK {
			var e protocol.Error
			if err = protocol.Unmarshal(body, &e); err == nil {
				err = &e
			}
		}
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("silent subscriber's %s: %w", m.p, err)
		}
	}
	return c, nil
}

// drainSilent reads what the daemon left in the silent subscriber's
// socket until it closes: how many events, and whether the last message
// was CONNECT_EVENT_CONNECTION_CLOSED. closed is false when the daemon
// never closed it.
func drainSilent(c net.Conn) (events int, told, closed bool) {
	c.SetReadDeadline(time.Now().Add(hang))
	for {
		h, _, err := rpc.ReadFrame(c)
		if err == io.EOF {
			return events, told, true
		}
		if err != nil {
			return events, told, false
		}
		told = h.Procedure == int32(protocol.ProcConnectEventConnectionClosed)
		if h.Procedure == int32(protocol.ProcDomainEventCallbackLifecycle) {
			events++
		}
	}
}

func dialGoLibvirt(sock string) (*libvirt.Libvirt, error) {
	lv := libvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(sock), dialers.WithLocalTimeout(hang)))
	if err := lv.ConnectToURI(libvirt.TestDefault); err != nil {
		return nil, fmt.Errorf("go-libvirt ConnectToURI: %w", err)
	}
	return lv, nil
}

func runEvents(bin, dir string, o eventsOptions) *result {
	r := &result{name: "events"}
	began := time.Now()
	defer func() { r.took = time.Since(began) }()
	refG, err := referenceGoroutines(bin, dir, nil)
	if err != nil {
		r.fault("reference daemon: %v", err)
		return r
	}
	d, err := newDaemon(bin, filepath.Join(dir, "events"), false, nil)
	if err != nil {
		r.fault("%v", err)
		return r
	}
	defer d.stop()
	baseFDs := d.settledFDs()

	idle := make([]*rpc.Client, 0, o.clients)
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	for range o.clients {
		c, err := openRaw(d.sock(), "test:///default")
		if err != nil {
			r.fault("idle client %d: %v", len(idle), err)
			return r
		}
		idle = append(idle, c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var subs []*subscriber
	for range o.subscribers - 1 {
		lv, err := dialGoLibvirt(d.sock())
		if err != nil {
			r.fault("subscriber: %v", err)
			return r
		}
		ch, err := lv.LifecycleEvents(ctx)
		if err != nil {
			r.fault("subscriber's LifecycleEvents: %v", err)
			return r
		}
		s := &subscriber{lv: lv}
		go s.watch(ch)
		subs = append(subs, s)
	}
	silent, err := silentSubscriber(d.sock())
	if err != nil {
		r.fault("%v", err)
		return r
	}
	defer silent.Close()
	gen, err := dialGoLibvirt(d.sock())
	if err != nil {
		r.fault("generator: %v", err)
		return r
	}

	smp := startSampler(d, 250*time.Millisecond)
	st, _ := statsOf(d.pid())
	baseRSS := st.rssKiB
	var n int
	var worst time.Duration
	// For o.dur, and on until the daemon has dropped the silent
	// subscriber (its log says so), so that a slow machine cannot make
	// the phase end before the silent one's queue filled.
	deadline, hangAt := time.Now().Add(o.dur), time.Now().Add(o.dur+hang)
	for d.alive() && time.Now().Before(hangAt) {
		if n%64 == 0 && time.Now().After(deadline) && d.logHas("dropping slow client") {
			break
		}
		t0 := time.Now()
		dom, err := gen.DomainDefineXML(fmt.Sprintf("<domain type='test'><name>ev-%08d</name><memory>1024</memory></domain>", n))
		if err == nil {
			err = gen.DomainUndefine(dom)
		}
		if err != nil {
			r.fault("generator's define/undefine %d: %v", n, err)
			break
		}
		worst = max(worst, time.Since(t0))
		n++
	}
	want := 2 * n
	r.fig("%d idle clients, %d events to %d subscribers (1 silent), generator worst %.1f ms", o.clients, want, o.subscribers, float64(worst.Microseconds())/1000)

	// Every reading subscriber gets every event; the bound is a guard
	// against a hang, not a timing assertion.
	lost, outOfOrder := 0, 0
	for i, s := range subs {
		wait := time.Now().Add(hang)
		got, broken := s.count()
		for got < want && time.Now().Before(wait) {
			time.Sleep(10 * time.Millisecond)
			got, broken = s.count()
		}
		if got != want {
			lost += want - got
			r.fault("subscriber %d got %d of %d events", i, got, want)
		}
		if broken != "" {
			outOfOrder++
			r.fault("subscriber %d: %s", i, broken)
		}
	}
	r.fig("lost %d, out of order %d", lost, outOfOrder)
	events, told, closed := drainSilent(silent)
	r.fig("silent subscriber dropped after %d events (told: %v)", events, told)
	switch {
	case !closed:
		r.fault("the silent subscriber was never disconnected: %d events waited in its socket and the daemon still holds it", events)
	case !d.logHas("dropping slow client"):
		r.fault("the silent subscriber was disconnected but the log does not say why (no \"dropping slow client\")")
	}
	failed := 0
	for _, c := range idle {
		if err := call(c, protocol.ProcConnectGetLibVersion, nil, &protocol.ConnectGetLibVersionRet{}); err != nil {
			failed++
		}
	}
	if failed > 0 {
		r.fault("%d of %d idle clients were not served after the events", failed, len(idle))
	}
	samples, died := smp.finish()
	peak := 0
	for _, s := range samples {
		peak = max(peak, s.rssKiB)
	}
	r.fig("RSS %s MiB with the clients before the events", mib(baseRSS))
	if died {
		r.fault("govirtd exited during the phase (%v); its log:\n%s", d.err, d.tail(3000))
		return r
	}
	// Bounded: no growth from the first quarter of the run to the last,
	// and a peak within what Go's collector allows (GOGC=100 lets the
	// heap reach twice the live heap, which the idle clients' buffers
	// make most of) plus what the silent subscriber may hold
	// (max_client_queue_bytes, 16 MiB) and slack.
	rssGrowth(r, samples, o.rssSlack)
	if limit := 2*baseRSS + 48*1024; peak > limit {
		r.fault("RSS peaked at %s MiB, over twice its %s MiB with the clients + 48 MiB: not bounded", mib(peak), mib(baseRSS))
	}
	for _, s := range subs {
		s.lv.Disconnect()
	}
	gen.Disconnect()
	silent.Close()
	for _, c := range idle {
		c.Close()
	}
	idle = nil
	endChecks(r, d, baseFDs, refG)
	return r
}
