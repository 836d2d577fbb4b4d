package rpc

import (
	"sync"
	"time"
)

// Clock is the time source of keepalive: when the last frame arrived and
// when to check again. SystemClock is the real one; tests inject a
// ManualClock so keepalive is driven by Advance, not by waiting on wall
// time.
type Clock interface {
	Now() time.Time
	// AfterFunc runs f on its own goroutine (or, for a ManualClock, on
	// the goroutine that advances it) once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a Clock's pending call of a function, as *time.Timer is.
type Timer interface {
	Stop() bool
	Reset(d time.Duration) bool
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now is time.Now.
func (SystemClock) Now() time.Time { return time.Now() }

// AfterFunc is time.AfterFunc.
func (SystemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// ManualClock is a Clock that moves only when Advance is called, for
// tests: a timer's function runs on Advance's goroutine, so when Advance
// returns, everything that fell due has run.
type ManualClock struct {
	mu     sync.Mutex // guards now and timers, never held while a timer's function runs
	now    time.Time
	timers []*manualTimer
}

// NewManualClock is a ManualClock reading start.
func NewManualClock(start time.Time) *ManualClock { return &ManualClock{now: start} }

// Now is the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc arms a timer that runs f when Advance passes now+d.
func (c *ManualClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTimer{c: c, f: f, when: c.now.Add(d), armed: true}
	c.timers = append(c.timers, t)
	return t
}

// Armed is how many timers are waiting to fire: a test waits for it to
// know that the code under test has armed its timer.
func (c *ManualClock) Armed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if t.armed {
			n++
		}
	}
	return n
}

// Advance moves the clock forward by d, running in time order every timer
// that falls due on the way, those armed or reset by a timer's function
// included.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	for {
		var next *manualTimer
		for _, t := range c.timers {
			if t.armed && !t.when.After(target) && (next == nil || t.when.Before(next.when)) {
				next = t
			}
		}
		if next == nil {
			break
		}
		c.now = next.when
		next.armed = false
		c.mu.Unlock()
		next.f()
		c.mu.Lock()
	}
	c.now = target
	c.mu.Unlock()
}

type manualTimer struct {
	c     *ManualClock
	f     func()
	when  time.Time // guarded by c.mu
	armed bool      // guarded by c.mu
}

func (t *manualTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.armed
	t.armed = false
	return was
}

func (t *manualTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.armed
	t.when, t.armed = t.c.now.Add(d), true
	return was
}
