package rpc

// Stress tests of the outbound path (peer_write.go) and the call path
// (peer_calls.go) on real unix sockets with small buffers, written in an
// independent review. For a longer look:
//
//	go test -race -run 'TestStress' -count=20 ./rpc/
//	taskset -c 0 go test -race -run 'TestStress' -count=20 ./rpc/

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govirt/govirtd/internal/testutil"

	"github.com/govirt/govirtd/protocol"
)

const (
	rvProcQuick = 1 // quick, echoes
	rvProcSlow  = 2 // not quick, sleeps a little
	rvProcFarew = 999
	rvMsgBase   = 1000
)

type rvBody = testutil.SeqBody

type rvSession struct {
	p *Peer
}

func (s *rvSession) Quick(h protocol.Header) bool { return h.Procedure != rvProcSlow }
func (s *rvSession) Dispatch(ctx context.Context, c *Call) (protocol.Encodable, error) {
	if c.Header.Procedure == rvProcSlow {
		time.Sleep(time.Duration(rand.Intn(200)) * time.Microsecond)
	}
	return &rvBody{Seq: c.Header.Serial}, nil
}
func (s *rvSession) Close() {}
func (s *rvSession) Farewell(error) []byte {
	f, _ := EncodeFrame(protocol.Header{Program: testProg, Version: testVers, Procedure: rvProcFarew, Type: protocol.Message, Serial: 1}, &rvBody{Seq: 0xffffffff})
	return f
}

type rvServer struct {
	srv   *Server
	sock  string
	peers chan *Peer
	open  atomic.Int32
}

func rvServe(t *testing.T, cfg ServerConfig, sndbuf int) *rvServer {
	t.Helper()
	rs := &rvServer{peers: make(chan *Peer, 10000)}
	cfg.Programs = []Program{{Number: testProg, Version: testVers}}
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.NewSession = func(p *Peer) Session {
		if sndbuf > 0 {
			p.Conn().(*net.UnixConn).SetWriteBuffer(sndbuf)
		}
		rs.open.Add(1)
		rs.peers <- p
		return &rvSessionCounted{rvSession{p: p}, rs}
	}
	rs.srv = NewServer(cfg)
	rs.sock = filepath.Join(t.TempDir(), "s")
	l, err := net.Listen("unix", rs.sock)
	if err != nil {
		t.Fatal(err)
	}
	go rs.srv.Serve(l, ListenerOptions{Name: "rv"})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := rs.srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return rs
}

type rvSessionCounted struct {
	rvSession
	rs *rvServer
}

func (s *rvSessionCounted) Close() { s.rs.open.Add(-1) }

// rvReader reads frames checking that each is whole and sane; it returns
// per-procedure sequence checks through check.
func rvReadFrame(r *bufio.Reader) (protocol.Header, []byte, error) {
	var lenbuf [4]byte
	if _, err := io.ReadFull(r, lenbuf[:]); err != nil {
		return protocol.Header{}, nil, err
	}
	size := binary.BigEndian.Uint32(lenbuf[:])
	if size < protocol.MinFrame || size > 1<<20 {
		return protocol.Header{}, nil, fmt.Errorf("corrupt length word %#x", size)
	}
	msg := make([]byte, size-4)
	if _, err := io.ReadFull(r, msg); err != nil {
		return protocol.Header{}, nil, err
	}
	h, _ := protocol.ParseHeader(msg)
	return h, msg[protocol.HeaderSize:], nil
}

// TestReviewStressOrder: several goroutines send events while the client
// makes quick and slow calls and reads in bursts through tiny socket
// buffers. Every frame arrives whole, each sender's in order, none lost.
func TestStressOrder(t *testing.T) {
	const senders, each, calls = 6, 600, 300
	rs := rvServe(t, ServerConfig{MaxQueue: 1 << 20, MaxClientRequests: 3}, 2048)
	nc, err := net.Dial("unix", rs.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.(*net.UnixConn).SetReadBuffer(2048)
	p := <-rs.peers

	var wg sync.WaitGroup
	var maxSend atomic.Int64
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(g)))
			for i := range each {
				pad := strings.Repeat("p", rng.Intn(12<<10))
				t0 := time.Now()
				if err := p.SendMessage(testProg, testVers, int32(rvMsgBase+g), &rvBody{Seq: uint32(i), Pad: pad}); err != nil {
					t.Errorf("sender %d frame %d: %v", g, i, err)
					return
				}
				if d := int64(time.Since(t0)); d > maxSend.Load() {
					maxSend.Store(d)
				}
				if rng.Intn(8) == 0 {
					time.Sleep(time.Duration(rng.Intn(300)) * time.Microsecond)
				}
			}
		}()
	}
	// The client writes calls from its own goroutine.
	go func() {
		w := bufio.NewWriter(nc)
		for i := range calls {
			proc := int32(rvProcQuick)
			if i%3 == 0 {
				proc = rvProcSlow
			}
			f, _ := EncodeFrame(protocol.Header{Program: testProg, Version: testVers, Procedure: proc, Type: protocol.Call, Serial: uint32(i + 1)}, nil)
			w.Write(f)
			if i%7 == 0 {
				w.Write(pingFrame)
			}
			if i%5 == 0 {
				w.Flush()
			}
		}
		w.Flush()
	}()
	nc.SetReadDeadline(time.Now().Add(60 * time.Second))
	r := bufio.NewReaderSize(nc, 512)
	seq := make([]uint32, senders)
	replies := map[uint32]bool{}
	pongs := 0
	rng := rand.New(rand.NewSource(99))
	for n := 0; len(replies) < calls || n < senders*each+len(replies)+pongs; n++ {
		if rng.Intn(200) == 0 {
			time.Sleep(time.Duration(rng.Intn(5)) * time.Millisecond) // stop reading for a while
		}
		h, body, err := rvReadFrame(r)
		if err != nil {
			t.Fatalf("frame %d (replies %d, seq %v): %v", n, len(replies), seq, err)
		}
		switch {
		case h.Program == protocol.KeepaliveProgram:
			pongs++
		case h.Type == protocol.Reply:
			var b rvBody
			if err := protocol.Unmarshal(body, &b); err != nil || b.Seq != h.Serial || replies[h.Serial] {
				t.Fatalf("bad reply %v: %v", h, err)
			}
			replies[h.Serial] = true
		case h.Type == protocol.Message:
			g := int(h.Procedure) - rvMsgBase
			var b rvBody
			if g < 0 || g >= senders || protocol.Unmarshal(body, &b) != nil {
				t.Fatalf("corrupt message %v", h)
			}
			if b.Seq != seq[g] {
				t.Fatalf("sender %d: seq %d, want %d", g, b.Seq, seq[g])
			}
			seq[g]++
		default:
			t.Fatalf("unexpected %v", h)
		}
		if len(replies) == calls && func() bool {
			for _, s := range seq {
				if s != each {
					return false
				}
			}
			return true
		}() {
			break
		}
	}
	wg.Wait()
	// Timing is for benchmarks: under load a send may be descheduled.
	t.Logf("slowest SendMessage: %v", time.Duration(maxSend.Load()))
	if q := p.QueueLen(); q != 0 {
		waitFor(t, "queue to empty", func() bool { return p.QueueLen() == 0 })
	}
}

// TestReviewQueueBound: concurrent senders to a client that never reads.
// The queue (queued) must never exceed MaxQueue.
func TestStressQueueBound(t *testing.T) {
	const maxQueue = 8
	worst := 0
	for iter := 0; iter < 200; iter++ {
		rs := rvServe(t, ServerConfig{MaxQueue: maxQueue, FlushTimeout: 5 * time.Millisecond}, 4096)
		nc, err := net.Dial("unix", rs.sock)
		if err != nil {
			t.Fatal(err)
		}
		nc.(*net.UnixConn).SetReadBuffer(1024)
		p := <-rs.peers
		stop := make(chan struct{})
		var most atomic.Int32
		go func() {
			for {
				if q := p.queued.Load(); q > most.Load() {
					most.Store(q)
				}
				select {
				case <-stop:
					return
				default:
				}
			}
		}()
		var wg sync.WaitGroup
		for g := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					if p.SendMessage(testProg, testVers, int32(rvMsgBase+g), &rvBody{Seq: uint32(i), Pad: strings.Repeat("x", 3000)}) != nil {
						return
					}
				}
			}()
		}
		wg.Wait()
		close(stop)
		if m := int(most.Load()); m > worst {
			worst = m
		}
		nc.Close()
		if worst > maxQueue {
			break
		}
	}
	if worst > maxQueue {
		t.Errorf("queued reached %d frames, over MaxQueue=%d", worst, maxQueue)
	}
}

// TestReviewCloseRace: senders, Close, closeAfterFlush, client hang-ups
// and a client that stops reading, all at once, over many clients. No
// send blocks, every client is torn down, no goroutine or fd leaks, and
// what a client reads is whole frames, each sender's a prefix in order.
func TestStressCloseRace(t *testing.T) {
	rs := rvServe(t, ServerConfig{MaxQueue: 32, FlushTimeout: 50 * time.Millisecond, MaxClientRequests: 2}, 4096)
	// warm up
	runtime.GC()
	leaks := testutil.Baseline(t)
	var maxSend atomic.Int64
	const clients = 300
	var cwg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for ci := range clients {
		sem <- struct{}{}
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			defer func() { <-sem }()
			rng := rand.New(rand.NewSource(int64(ci)))
			nc, err := net.Dial("unix", rs.sock)
			if err != nil {
				t.Error(err)
				return
			}
			defer nc.Close()
			nc.(*net.UnixConn).SetReadBuffer(1024 + rng.Intn(8192))
			var p *Peer
			select {
			case p = <-rs.peers:
			case <-time.After(10 * time.Second):
				t.Error("no peer")
				return
			}
			// p may be another client's peer: that is fine, it is a peer.
			var swg sync.WaitGroup
			for g := range 4 {
				swg.Add(1)
				go func() {
					defer swg.Done()
					rng := rand.New(rand.NewSource(int64(ci*10 + g)))
					for i := 0; i < 2000; i++ {
						t0 := time.Now()
						err := p.SendMessage(testProg, testVers, int32(rvMsgBase+g), &rvBody{Seq: uint32(i), Pad: strings.Repeat("y", rng.Intn(4000))})
						if d := int64(time.Since(t0)); d > maxSend.Load() {
							maxSend.Store(d)
						}
						if err != nil {
							return
						}
					}
				}()
			}
			// The killer.
			mode := rng.Intn(5)
			delay := time.Duration(rng.Intn(3000)) * time.Microsecond
			swg.Add(1)
			go func() {
				defer swg.Done()
				time.Sleep(delay)
				switch mode {
				case 0:
					p.Close(errors.New("review: hard close"))
				case 1:
					p.closeAfterFlush(io.EOF)
				case 2:
					nc.Close()
				case 3:
					// send calls so that CloseAfterReply-like paths run
					f, _ := EncodeFrame(protocol.Header{Program: testProg, Version: testVers, Procedure: rvProcSlow, Type: protocol.Call, Serial: 5}, nil)
					nc.Write(f)
					p.closeAfterFlush(io.EOF)
					p.Close(errors.New("cut flush short"))
				case 4:
					// nothing: the client stops reading and is dropped as slow
				}
			}()
			// The reader: reads some, maybe stops.
			r := bufio.NewReaderSize(nc, 256)
			seq := map[int32]uint32{}
			nc.SetReadDeadline(time.Now().Add(20 * time.Second))
			readFor := rng.Intn(400)
			for n := 0; ; n++ {
				if mode == 4 && n == readFor {
					break // stop reading
				}
				h, body, err := rvReadFrame(r)
				if err != nil {
					if strings.Contains(err.Error(), "corrupt") {
						t.Errorf("client %d: %v", ci, err)
					}
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						t.Errorf("client %d mode %d: not closed in 20s", ci, mode)
					}
					break
				}
				if h.Procedure == rvProcFarew || h.Type != protocol.Message {
					continue
				}
				var b rvBody
				if protocol.Unmarshal(body, &b) != nil {
					t.Errorf("client %d: undecodable frame %v", ci, h)
					break
				}
				// Another client's peer may be ours; only check order.
				if b.Seq != seq[h.Procedure] {
					t.Errorf("client %d mode %d: proc %d seq %d, want %d", ci, mode, h.Procedure, b.Seq, seq[h.Procedure])
				}
				seq[h.Procedure] = b.Seq + 1
			}
			swg.Wait()
		}()
	}
	cwg.Wait()
	waitFor(t, "every session to close", func() bool { return rs.open.Load() == 0 })
	// How long a SendMessage took is for benchmarks to judge; that none
	// waited for a client to read is what the drops above prove.
	t.Logf("slowest SendMessage: %v", time.Duration(maxSend.Load()))
	leaks.Check(0)
}

// TestReviewQueueBoundPartial: a direct write of a large frame is under
// way (wmu held, queued 0) while other goroutines fill the queue; the
// direct write then ends part way and counts its rest: queued exceeds
// MaxQueue, and the client holds MaxQueue+1 frames of daemon memory.
func TestStressQueueBoundPartial(t *testing.T) {
	const maxQueue = 8
	rs := rvServe(t, ServerConfig{MaxQueue: maxQueue, FlushTimeout: 50 * time.Millisecond}, 4<<20)
	nc, err := net.Dial("unix", rs.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	p := <-rs.peers
	big, _ := EncodeRawFrame(protocol.Header{Program: testProg, Version: testVers, Procedure: rvMsgBase, Type: protocol.Message, Serial: 1}, make([]byte, 24<<20))
	aDone := make(chan error, 1)
	go func() { aDone <- p.send(big) }()
	// Wait until A is inside its direct write.
	for p.wmu.TryLock() {
		p.wmu.Unlock()
		runtime.Gosched()
	}
	var accepted int
	for i := 0; i < maxQueue; i++ {
		if p.SendMessage(testProg, testVers, rvMsgBase+1, &rvBody{Seq: uint32(i)}) == nil {
			accepted++
		}
	}
	if err := <-aDone; err != nil {
		t.Fatalf("big send: %v", err)
	}
	t.Logf("accepted %d small frames while the big one was being written; queued now %d (MaxQueue %d), QueuePeak stat %d",
		accepted, p.QueueLen(), maxQueue, rs.srv.Stats().QueuePeak)
	if p.QueueLen() > maxQueue {
		t.Errorf("queued = %d > MaxQueue = %d", p.QueueLen(), maxQueue)
	}
}

// TestReviewSendBlocksOnBlockingFD: the "never blocks" promise of send
// rests on the socket's O_NONBLOCK flag, which File().Fd() on Conn()
// (a natural way to read peer credentials) clears for every dup of the
// socket. send then blocks in write(2), holding wmu and the caller's
// driver locks.
func TestStressSendBlocksOnBlockingFD(t *testing.T) {
	rs := rvServe(t, ServerConfig{MaxQueue: 16, FlushTimeout: 50 * time.Millisecond}, 4096)
	nc, err := net.Dial("unix", rs.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	p := <-rs.peers
	f, err := p.Conn().(*net.UnixConn).File()
	if err != nil {
		t.Fatal(err)
	}
	_ = f.Fd() // puts the shared open file description in blocking mode
	defer f.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 64; i++ {
			p.SendMessage(testProg, testVers, rvMsgBase, &rvBody{Pad: strings.Repeat("z", 8<<10)})
		}
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Error("SendMessage blocked on a client that does not read")
		nc.Close()
		<-done
	}
}

// TestReviewSendNeverBlocksBehindWriter: while the writer is blocked on a
// client that does not read, send must return at once. (Guards the rule
// that queued counts the frames the writer holds until they are written:
// none of the package's tests fails if the writer uncounts them first.)
func TestStressSendNeverBlocksBehindWriter(t *testing.T) {
	rs := rvServe(t, ServerConfig{MaxQueue: 64, FlushTimeout: time.Minute}, 0)
	nc, err := net.Dial("unix", rs.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	p := <-rs.peers
	big, _ := EncodeRawFrame(protocol.Header{Program: testProg, Version: testVers, Procedure: rvMsgBase, Type: protocol.Message, Serial: 1}, make([]byte, 8<<20))
	if err := p.send(big); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the writer to take the rest and block writing it", func() bool {
		if p.wmu.TryLock() {
			p.wmu.Unlock()
			return false
		}
		return true
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.SendMessage(testProg, testVers, rvMsgBase, &rvBody{Seq: 1})
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Error("SendMessage blocked behind the writer")
		go io.Copy(io.Discard, nc)
		<-done
	}
}
