package rpc

import (
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/govirt/govirtd/protocol"
)

// largeFrame is the size above which a frame takes its length from the
// server's frame budget before it is read: frames up to it (nearly every
// call) are read without waiting.
const largeFrame = protocol.NetMessageInitial

// frameBudget bounds, daemon-wide, the bytes of large frames being read
// or waiting to be run (Server.cfg.MaxInflightBytes). A frame takes its
// whole announced length at once, before any of it is read, so a holder
// never waits for more and the budget cannot deadlock; one that stalls is
// dropped by the sweeper (FrameTimeout), which gives its share back.
// Waiters are served in arrival order, so small large frames cannot
// starve a big one.
type frameBudget struct {
	mu      sync.Mutex
	limit   int64
	used    int64
	waiters []*budgetWaiter
	peak    int64
	waited  uint64 // frames that had to wait
}

type budgetWaiter struct {
	n     int64
	ready chan struct{}
}

// acquire takes n bytes (at most the whole budget, so a frame larger than
// it runs alone), waiting while they are not free, or until done closes.
// It returns how much it took, to give back with release.
func (b *frameBudget) acquire(n int64, done <-chan struct{}) (int64, bool) {
	n = min(n, b.limit)
	b.mu.Lock()
	if len(b.waiters) == 0 && b.used+n <= b.limit {
		b.take(n)
		b.mu.Unlock()
		return n, true
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.waited++
	b.mu.Unlock()
	select {
	case <-w.ready:
		return n, true
	case <-done:
		b.mu.Lock()
		defer b.mu.Unlock()
		select {
		case <-w.ready: // granted meanwhile: give it back
			b.used -= n
			b.grant()
		default:
			for i, x := range b.waiters {
				if x == w {
					b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
					break
				}
			}
			b.grant() // the next may fit now that this one left the line
		}
		return 0, false
	}
}

func (b *frameBudget) release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	b.grant()
	b.mu.Unlock()
}

// grant wakes the waiters at the head of the line that now fit.
func (b *frameBudget) grant() {
	for len(b.waiters) > 0 && b.used+b.waiters[0].n <= b.limit {
		w := b.waiters[0]
		b.waiters[0] = nil
		b.waiters = b.waiters[1:]
		b.take(w.n)
		close(w.ready)
	}
}

func (b *frameBudget) take(n int64) {
	b.used += n
	b.peak = max(b.peak, b.used)
}

func (b *frameBudget) stats() (used, peak int64, waiting int, waited uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used, b.peak, len(b.waiters), b.waited
}

// reclaimer gives the memory of large frames and of many connections
// back to the system once they are gone, rather than when the runtime's
// background scavenger gets to it (minutes; a daemon that stays idle
// afterwards may not collect at all): after reclaimFreed bytes of large
// frames, once the clients fell to half of a peak of at least
// reclaimClients, after reclaimClients more clients connected (each
// leaves the garbage of its handshake), or after reclaimMoved idle
// readers left their grown stacks (see Peer.readLoop), it runs debug.FreeOSMemory, at
// most once per reclaimEvery.
type reclaimer struct {
	freed     atomic.Int64 // bytes of large frames released since the last reclaim
	moved     atomic.Int64 // readers moved to a fresh goroutine since the last reclaim
	mu        sync.Mutex
	peak      int // most clients since the last reclaim
	base      int // clients at the last reclaim
	scheduled bool
	last      time.Time
	runs      atomic.Uint64
	count     func() int // the server's clients now
}

// clientsNow is the server's client count, set by NewServer.
func (r *reclaimer) clientsNow() int {
	if r.count == nil {
		return 0
	}
	return r.count()
}

const (
	reclaimFreed   = 32 << 20
	reclaimClients = 1000
	reclaimMoved   = 256 // a stack left is 8–32 KiB: 256 of them are worth a collection
	reclaimEvery   = time.Second
)

// framesFreed notes the release of a large frame of n bytes.
func (r *reclaimer) framesFreed(n int64) {
	if r.freed.Add(n) >= reclaimFreed {
		r.schedule()
	}
}

// readerMoved notes a reader that left its grown stack to the runtime.
func (r *reclaimer) readerMoved() {
	if r.moved.Add(1) >= reclaimMoved {
		r.schedule()
	}
}

// clients notes the number of clients connected now.
func (r *reclaimer) clients(n int) {
	r.mu.Lock()
	r.peak = max(r.peak, n)
	fell := r.peak >= reclaimClients && n <= r.peak/2
	grew := n >= r.base+reclaimClients
	r.mu.Unlock()
	if fell || grew {
		r.schedule()
	}
}

func (r *reclaimer) schedule() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.scheduled {
		return
	}
	r.scheduled = true
	// A short delay lets the calls that held the frames finish, and a
	// flood of disconnects end, before one collection for them all.
	delay := max(100*time.Millisecond, reclaimEvery-time.Since(r.last))
	time.AfterFunc(delay, r.run)
}

func (r *reclaimer) run() {
	r.freed.Store(0)
	r.moved.Store(0)
	n := r.clientsNow()
	r.mu.Lock()
	r.peak = n
	r.base = n
	r.mu.Unlock()
	debug.FreeOSMemory()
	r.runs.Add(1)
	r.mu.Lock()
	r.scheduled = false
	r.last = time.Now()
	r.mu.Unlock()
}
