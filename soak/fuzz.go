package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/rpc"
)

// The frame fuzz phase: several connections send frames derived from a
// valid call of every procedure of the remote program (its arguments'
// zero value, or with the default domain in every domain field so that
// calls reach the driver), sent as they are, bit-flipped, with a lying
// length word, with a random body, cut short, or replaced by random
// bytes; each connection then half-closes and reads until the daemon
// closes it. Meanwhile go-libvirt, on a connection of its own, keeps
// calling and records its worst latency.

// mutation is what the fuzzer does to one valid frame.
type mutation int

const (
	asIs mutation = iota
	bitFlip
	lengthLie
	randomBody
	truncated
	garbage
	nMutations
)

var mutationNames = [nMutations]string{"valid", "bit-flipped", "length-lying", "random-body", "truncated", "garbage"}

// framer makes the valid frames the fuzz starts from.
type framer struct {
	procs []protocol.Procedure
	dom   protocol.Domain // the default domain, set in half the calls
}

func (f *framer) frame(rng *rand.Rand, serial uint32) []byte {
	p := f.procs[rng.IntN(len(f.procs))]
	body := protocol.NewRemoteArgs(int32(p))
	if body != nil && rng.IntN(2) == 0 {
		v := reflect.ValueOf(body).Elem()
		for i := 0; i < v.NumField(); i++ {
			if fv := v.Field(i); fv.Type() == reflect.TypeOf(f.dom) {
				fv.Set(reflect.ValueOf(f.dom))
			}
		}
	}
	h := protocol.Header{Program: protocol.RemoteProgram, Version: protocol.RemoteProtocolVersion,
		Procedure: int32(p), Type: protocol.Call, Serial: serial}
	b, err := rpc.EncodeFrame(h, body)
	if err != nil {
		panic("encoding the zero value of " + p.String() + "'s arguments: " + err.Error())
	}
	return b
}

// mutate returns frame changed by m; the frame's first 4 bytes are its
// length word.
func mutate(rng *rand.Rand, m mutation, frame []byte) []byte {
	switch m {
	case bitFlip:
		for range 1 + rng.IntN(4) {
			i := rng.IntN(len(frame))
			frame[i] ^= 1 << rng.IntN(8)
		}
	case lengthLie:
		n := binary.BigEndian.Uint32(frame)
		switch rng.IntN(3) {
		case 0:
			n += uint32(1 + rng.IntN(64))
		case 1:
			n -= uint32(1 + rng.IntN(int(n)))
		default:
			n = uint32(rng.IntN(protocol.LengthSize + protocol.NetMessageMax + 4096))
		}
		binary.BigEndian.PutUint32(frame, n)
	case randomBody:
		hdr := frame[:protocol.LengthSize+protocol.HeaderSize]
		body := make([]byte, rng.IntN(256))
		for i := range body {
			body[i] = byte(rng.Uint32())
		}
		frame = append(hdr, body...)
		binary.BigEndian.PutUint32(frame, uint32(len(frame)))
	case truncated:
		frame = frame[:rng.IntN(len(frame))]
	case garbage:
		frame = make([]byte, 1+rng.IntN(64))
		for i := range frame {
			frame[i] = byte(rng.Uint32())
		}
	}
	return frame
}

type fuzzCounts struct {
	conns, readOnly, frames, replyBytes atomic.Int64
	byMutation                          [nMutations]atomic.Int64
}

// fuzzConn runs one fuzzing connection: ConnectOpen, up to 30 frames
// (mostly valid ones, so the connection lives long enough for the
// others to reach the driver), a half-close, then reading until the
// daemon closes. It returns whether the daemon closed the connection
// within hang, and the dial's error.
func fuzzConn(sock string, f *framer, rng *rand.Rand, n *fuzzCounts) (closed bool, err error) {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return true, err
	}
	defer c.Close()
	uri := "test:///default"
	open, _ := rpc.EncodeFrame(protocol.Header{Program: protocol.RemoteProgram, Version: protocol.RemoteProtocolVersion,
		Procedure: int32(protocol.ProcConnectOpen), Type: protocol.Call, Serial: 1}, &protocol.ConnectOpenArgs{Name: &uri})
	c.Write(open)
	for i := range 1 + rng.IntN(30) {
		m := asIs
		if rng.IntN(3) == 0 {
			m = mutation(1 + rng.IntN(int(nMutations)-1))
		}
		fr := mutate(rng, m, f.frame(rng, uint32(i+2)))
		n.byMutation[m].Add(1)
		n.frames.Add(1)
		if _, err := c.Write(fr); err != nil {
			break // the daemon dropped us: read what it sent
		}
		if m == truncated {
			break
		}
	}
	c.(*net.UnixConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(hang))
	got, err := io.Copy(io.Discard, c)
	n.replyBytes.Add(got)
	n.conns.Add(1)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false, nil
	}
	return true, nil
}

// fuzzOptions sizes the phase.
type fuzzOptions struct {
	dur      time.Duration
	conns    int // fuzzing connections at once
	rssSlack int // KiB of RSS growth allowed from the first quarter to the last (rssGrowth)
}

func runFuzz(bin, dir string, o fuzzOptions) *result {
	r := &result{name: "fuzz"}
	began := time.Now()
	defer func() { r.took = time.Since(began) }()
	extra := map[string]string{"client_frame_timeout": "5"}
	refG, err := referenceGoroutines(bin, dir, extra)
	if err != nil {
		r.fault("reference daemon: %v", err)
		return r
	}
	d, err := newDaemon(bin, filepath.Join(dir, "fuzz"), false, extra)
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
	dom, err := lv.DomainLookupByName("test")
	if err != nil {
		r.fault("go-libvirt DomainLookupByName(test): %v", err)
		lv.Disconnect()
		return r
	}
	f := &framer{procs: protocol.RemoteProcedures(), dom: protocol.Domain{Name: dom.Name, UUID: protocol.UUID(dom.UUID), ID: dom.ID}}

	smp := startSampler(d, 250*time.Millisecond)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var n fuzzCounts
	var dialFail, notClosed atomic.Int64
	// The seed is in the figures; the interleaving of the connections is
	// the scheduler's, so a run is not replayed exactly, but what each
	// connection sends is.
	seed := uint64(time.Now().UnixNano())
	for i := range o.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), seed))
			for {
				select {
				case <-stop:
					return
				default:
				}
				// One connection in four on the read-only socket,
				// where the access checks refuse what writes.
				sock := d.sock()
				if rng.IntN(4) == 0 {
					sock = d.sockRO()
					n.readOnly.Add(1)
				}
				closed, err := fuzzConn(sock, f, rng, &n)
				if err != nil {
					dialFail.Add(1)
					if !d.alive() {
						return
					}
				}
				if !closed {
					notClosed.Add(1)
				}
			}
		}()
	}

	// The independent client.
	var calls int
	var worst time.Duration
	var callErr error
	deadline := time.Now().Add(o.dur)
	for time.Now().Before(deadline) && d.alive() {
		t0 := time.Now()
		if _, _, err := lv.ConnectListAllDomains(1, libvirt.ConnectListDomainsActive|libvirt.ConnectListDomainsInactive); err != nil {
			callErr = err
			break
		}
		if _, err := lv.ConnectGetLibVersion(); err != nil {
			callErr = err
			break
		}
		worst = max(worst, time.Since(t0))
		calls++
	}
	close(stop)
	wg.Wait()
	samples, died := smp.finish()
	lv.Disconnect()

	r.fig("%d connections (%d read-only), %d frames (%s), seed %d", n.conns.Load(), n.readOnly.Load(), n.frames.Load(), mutationFigures(&n), seed)
	r.fig("go-libvirt %d call pairs, worst %.1f ms", calls, float64(worst.Microseconds())/1000)
	if callErr != nil {
		r.fault("go-libvirt call failed during the fuzz after %d good pairs: %v", calls, callErr)
	}
	if died {
		r.fault("govirtd exited during the fuzz (%v); its log:\n%s", d.err, d.tail(3000))
		return r
	}
	if v := notClosed.Load(); v > 0 {
		r.fault("%d fuzzing connections were not closed by the daemon within %v of half-closing", v, hang)
	}
	if v := dialFail.Load(); v > 0 {
		r.fault("%d connects to the daemon failed during the fuzz", v)
	}
	if !d.logHas("malformed frame") {
		r.fault("the log names no malformed frame, though the fuzz sent length words out of range")
	}
	rssGrowth(r, samples, o.rssSlack)
	threads := 0
	for _, s := range samples {
		threads = max(threads, s.threads)
	}
	r.fig("threads peak %d", threads)
	endChecks(r, d, baseFDs, refG)
	return r
}

func mutationFigures(n *fuzzCounts) string {
	s := ""
	for m := range nMutations {
		if m > 0 {
			s += " "
		}
		s += fmt.Sprintf("%s %d", mutationNames[m], n.byMutation[m].Load())
	}
	return s
}
