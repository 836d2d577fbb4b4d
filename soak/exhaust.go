package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/rpc"
	"github.com/govirt/govirtd/vir"
)

// The exhaustion phase: one daemon with a small max_clients and a short
// client_frame_timeout takes a connection flood past max_clients,
// slow-loris partial frames on hundreds of connections, length words
// over the maximum and thousands of event registrations on one
// connection, one after the other. Each time it must refuse or drop
// only the offenders, log why, and keep serving go-libvirt, which calls
// throughout on a connection of its own, and any new client.

type exhaustOptions struct {
	maxClients    int // the daemon's max_clients
	flood         int // connections of the flood, past maxClients
	slowLoris     int // connections that begin a frame and stall
	oversized     int // connections that send a length word over the maximum
	registrations int // event registrations tried on one connection
}

// watchdog is the independent client: go-libvirt calling in a loop.
type watchdog struct {
	lv   *libvirt.Libvirt
	stop chan struct{}
	done chan struct{}

	calls int           // written by the loop, read after done
	worst time.Duration // same
	err   error         // same
}

func startWatchdog(lv *libvirt.Libvirt) *watchdog {
	w := &watchdog{lv: lv, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			t0 := time.Now()
			if _, _, err := lv.ConnectListAllDomains(1, libvirt.ConnectListDomainsActive|libvirt.ConnectListDomainsInactive); err != nil {
				w.err = err
				return
			}
			w.worst = max(w.worst, time.Since(t0))
			w.calls++
		}
	}()
	return w
}

func (w *watchdog) finish() {
	close(w.stop)
	<-w.done
}

// served checks that a new client is served now.
func served(r *result, d *daemon, when string) {
	c, err := openRaw(d.sock(), "test:///default")
	if err == nil {
		err = call(c, protocol.ProcConnectGetLibVersion, nil, &protocol.ConnectGetLibVersionRet{})
		c.Close()
	}
	if err != nil {
		r.fault("%s, a new client was not served: %v", when, err)
	}
}

func runExhaust(bin, dir string, o exhaustOptions) *result {
	r := &result{name: "exhaust"}
	began := time.Now()
	defer func() { r.took = time.Since(began) }()
	extra := map[string]string{"max_clients": strconv.Itoa(o.maxClients), "client_frame_timeout": "2"}
	refG, err := referenceGoroutines(bin, dir, extra)
	if err != nil {
		r.fault("reference daemon: %v", err)
		return r
	}
	d, err := newDaemon(bin, filepath.Join(dir, "exhaust"), false, extra)
	if err != nil {
		r.fault("%v", err)
		return r
	}
	defer d.stop()
	baseFDs := d.settledFDs()
	lv, err := dialGoLibvirt(d.sock())
	if err != nil {
		r.fault("%v", err)
		return r
	}
	smp := startSampler(d, 250*time.Millisecond)
	w := startWatchdog(lv)

	flood(r, d, o)
	// The places come back as the daemon reads the closed connections'
	// EOF: wait for it to hold only go-libvirt's (one descriptor).
	d.waitFDs(baseFDs + 1)
	served(r, d, "after the flood")
	slowLoris(r, d, o)
	served(r, d, "after the slow-loris connections")
	oversized(r, d, o)
	served(r, d, "after the oversized length words")
	registrations(r, d, lv, o)
	served(r, d, "after the registrations")

	w.finish()
	r.fig("go-libvirt %d calls throughout, worst %.1f ms", w.calls, float64(w.worst.Microseconds())/1000)
	if w.err != nil {
		r.fault("go-libvirt failed after %d calls: %v", w.calls, w.err)
	}
	lv.Disconnect()
	samples, died := smp.finish()
	peak := 0
	for _, s := range samples {
		peak = max(peak, s.rssKiB)
	}
	r.fig("RSS peak %s MiB", mib(peak))
	if died {
		r.fault("govirtd exited during the phase (%v); its log:\n%s", d.err, d.tail(3000))
		return r
	}
	endChecks(r, d, baseFDs, refG)
	return r
}

// flood opens o.flood clients at once; past max_clients (go-libvirt
// holds one place) each must be refused with an error naming the key.
func flood(r *result, d *daemon, o exhaustOptions) {
	var clients []*rpc.Client
	ok, refused, other := 0, 0, 0
	var firstOther error
	for range o.flood {
		nc, err := net.Dial("unix", d.sock())
		if err != nil {
			other++
			firstOther = cmpOr(firstOther, err)
			continue
		}
		c := rpc.NewClient(nc, rpc.ClientOptions{})
		clients = append(clients, c)
		uri := "test:///default"
		err = call(c, protocol.ProcConnectOpen, &protocol.ConnectOpenArgs{Name: &uri}, nil)
		var pe *protocol.Error
		switch {
		case err == nil:
			ok++
		case errors.As(err, &pe) && pe.Message != nil && strings.Contains(*pe.Message, "max_clients"):
			refused++
		default:
			other++
			firstOther = cmpOr(firstOther, err)
		}
	}
	r.fig("flood of %d: %d served, %d refused naming max_clients=%d", o.flood, ok, refused, o.maxClients)
	if want := o.maxClients - 1; ok != want || refused != o.flood-want {
		r.fault("flood of %d with max_clients %d and one client connected: %d served, %d refused, want %d and %d", o.flood, o.maxClients, ok, refused, want, o.flood-want)
	}
	if other > 0 {
		r.fault("flood: %d clients got neither service nor the max_clients error; the first: %v", other, firstOther)
	}
	if !d.logHas("client refused: too many clients") {
		r.fault("flood: the log does not say clients were refused")
	}
	for _, c := range clients {
		c.Close()
	}
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// slowLoris opens o.slowLoris connections that each send the first 10
// bytes of a frame and stall: each must be dropped (client_frame_timeout)
// while a new client is still served.
func slowLoris(r *result, d *daemon, o exhaustOptions) {
	uri := "test:///default"
	frame, _ := rpc.EncodeFrame(protocol.Header{Program: protocol.RemoteProgram, Version: protocol.RemoteProtocolVersion,
		Procedure: int32(protocol.ProcConnectOpen), Type: protocol.Call, Serial: 1}, &protocol.ConnectOpenArgs{Name: &uri})
	var conns []net.Conn
	for range o.slowLoris {
		c, err := net.Dial("unix", d.sock())
		if err != nil {
			r.fault("slow-loris: dial: %v", err)
			break
		}
		c.Write(frame[:10])
		conns = append(conns, c)
	}
	served(r, d, "with the slow-loris connections stalled")
	dropped := 0
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(hang))
			n, err := io.Copy(io.Discard, c)
			if err == nil && n == 0 { // EOF with nothing said
				mu.Lock()
				dropped++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	r.fig("slow-loris %d: %d dropped", len(conns), dropped)
	if dropped != len(conns) {
		r.fault("slow-loris: %d of %d stalled connections were not dropped within %v (client_frame_timeout 2)", len(conns)-dropped, len(conns), hang)
	}
	if !d.logHas("did not finish it within") {
		r.fault("slow-loris: the log does not say why the stalled clients were dropped")
	}
}

// oversized sends length words over the maximum, each on a connection
// of its own: each must be dropped without a word.
func oversized(r *result, d *daemon, o exhaustOptions) {
	dropped := 0
	for i := range o.oversized {
		c, err := net.Dial("unix", d.sock())
		if err != nil {
			r.fault("oversized: dial: %v", err)
			return
		}
		word := uint32(protocol.LengthSize + protocol.NetMessageMax + 1)
		if i%2 == 1 {
			word = 0xffffffff
		}
		c.Write(binary.BigEndian.AppendUint32(nil, word))
		c.SetReadDeadline(time.Now().Add(hang))
		if n, err := io.Copy(io.Discard, c); err == nil && n == 0 {
			dropped++
		}
		c.Close()
	}
	r.fig("oversized length words %d: %d dropped", o.oversized, dropped)
	if dropped != o.oversized {
		r.fault("oversized: %d of %d connections that sent a length word over the maximum were not dropped", o.oversized-dropped, o.oversized)
	}
	if !d.logHas("malformed frame") {
		r.fault("oversized: the log does not name the malformed frames")
	}
}

// registrations tries o.registrations lifecycle event registrations on
// one connection, which reads its events, while another client,
// registered once, must still get each event.
func registrations(r *result, d *daemon, lv *libvirt.Libvirt, o exhaustOptions) {
	var offenderEvents atomic.Int64
	off, err := openRawOpts(d.sock(), "test:///default", rpc.ClientOptions{OnMessage: func(protocol.Header, []byte) { offenderEvents.Add(1) }})
	if err != nil {
		r.fault("registrations: %v", err)
		return
	}
	defer off.Close()
	ok, refused, other, lifecycle := 0, 0, 0, 0
	var firstOther error
	for i := range o.registrations {
		// The same event id and domain twice is refused, as libvirt
		// does: each registration has an id of its own and, past the
		// first of each id, a domain filter of its own (a domain that
		// need not exist).
		args := &protocol.ConnectDomainEventCallbackRegisterAnyArgs{EventID: int32(i % int(drivers.EventIDLast))}
		if i >= int(drivers.EventIDLast) {
			args.Dom = &protocol.Domain{Name: fmt.Sprintf("reg%d", i)}
			binary.BigEndian.PutUint64(args.Dom.UUID[8:], uint64(i))
		}
		var ret protocol.ConnectDomainEventCallbackRegisterAnyRet
		err := call(off, protocol.ProcConnectDomainEventCallbackRegisterAny, args, &ret)
		var pe *protocol.Error
		switch {
		case err == nil:
			ok++
			if args.EventID == int32(vir.DomainEventIDLifecycle) && args.Dom == nil {
				lifecycle++
			}
		case errors.As(err, &pe) && pe.Message != nil && strings.Contains(*pe.Message, "too many event registrations"):
			refused++
		default:
			other++
			firstOther = cmpOr(firstOther, err)
		}
	}
	r.fig("registrations %d on one connection: %d accepted, %d refused", o.registrations, ok, refused)
	if other > 0 {
		r.fault("registrations: %d got neither a callback id nor the limit's error; the first: %v", other, firstOther)
	}
	if refused == 0 {
		r.fault("registrations: all %d accepted on one connection: nothing bounds what one client registers", ok)
	}

	// An event now fans out to every registration of the offender, and
	// once to the other subscriber, which must get it.
	other2, err := dialGoLibvirt(d.sock())
	if err != nil {
		r.fault("registrations: %v", err)
		return
	}
	defer other2.Disconnect()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := other2.LifecycleEvents(ctx)
	if err != nil {
		r.fault("registrations: LifecycleEvents: %v", err)
		return
	}
	dom, err := lv.DomainLookupByName("test")
	if err == nil {
		err = lv.DomainSuspend(dom)
	}
	if err == nil {
		err = lv.DomainResume(dom)
	}
	if err != nil {
		r.fault("registrations: suspend/resume of test: %v", err)
		return
	}
	if err := waitEvent(ch, "test", vir.DomainEventSuspended, int32(vir.DomainEventSuspendedPaused)); err != nil {
		r.fault("registrations: the other subscriber: %v", err)
	}
	if err := waitEvent(ch, "test", vir.DomainEventResumed, int32(vir.DomainEventResumedUnpaused)); err != nil {
		r.fault("registrations: the other subscriber: %v", err)
	}
	// The offender gets its events (suspend and resume, to each of its
	// lifecycle registrations for every domain), or is dropped as slow.
	want := int64(2 * lifecycle)
	for wait := time.Now().Add(hang); offenderEvents.Load() < want && time.Now().Before(wait); {
		select {
		case <-off.Done():
			wait = time.Now()
		case <-time.After(10 * time.Millisecond):
		}
	}
	select {
	case <-off.Done():
		r.fig("offender dropped after %d of its %d events (%v)", offenderEvents.Load(), want, off.Err())
	default:
		r.fig("offender got %d of its %d events", offenderEvents.Load(), want)
		if offenderEvents.Load() != want {
			r.fault("registrations: the offender, still connected, got %d of its %d events", offenderEvents.Load(), want)
		}
	}
}
