// Package ratelog is a slog.Handler that bounds how often one kind of
// record is logged: a loop of bad clients cannot flood the daemon's log.
package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Handler passes at most Burst records of each cause (level and
// message) per Window to the next handler and counts the rest; the first
// record of a cause in a later window is preceded by one saying how many
// were suppressed. Debug records are never limited: asking for them is
// asking for everything.
type Handler struct {
	next   slog.Handler
	burst  int
	window time.Duration
	now    func() time.Time // the clock, a seam for tests

	mu     *sync.Mutex       // guards causes; shared by the handlers WithAttrs makes
	causes map[cause]*window // guarded by mu
}

type cause struct {
	level slog.Level
	msg   string
}

type window struct {
	start      time.Time
	passed     int
	suppressed int
}

// New returns a handler that limits each cause to burst records per
// window before next.
func New(next slog.Handler, burst int, per time.Duration) *Handler {
	return &Handler{next: next, burst: burst, window: per, now: time.Now,
		mu: &sync.Mutex{}, causes: map[cause]*window{}}
}

// Enabled is the next handler's.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle passes r on unless its cause used up its burst in this window.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelInfo {
		return h.next.Handle(ctx, r)
	}
	suppressed, pass := h.admit(cause{r.Level, r.Message})
	if suppressed > 0 {
		s := slog.NewRecord(r.Time, r.Level, "suppressed similar messages", 0)
		s.AddAttrs(slog.String("message", r.Message), slog.Int("count", suppressed), slog.Duration("window", h.window))
		if err := h.next.Handle(ctx, s); err != nil {
			return err
		}
	}
	if !pass {
		return nil
	}
	return h.next.Handle(ctx, r)
}

// admit counts a record of c and says whether it passes, and how many of
// c's were suppressed in the window that just ended.
func (h *Handler) admit(c cause) (suppressed int, pass bool) {
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	w := h.causes[c]
	if w == nil || now.Sub(w.start) >= h.window {
		if w != nil {
			suppressed = w.suppressed
		}
		if len(h.causes) > 4096 { // many distinct messages: start afresh
			clear(h.causes)
		}
		w = &window{start: now}
		h.causes[c] = w
	}
	if w.passed < h.burst {
		w.passed++
		return suppressed, true
	}
	w.suppressed++
	return suppressed, false
}

// WithAttrs and WithGroup keep the limits shared with h.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(as)
	return &c
}

func (h *Handler) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	return &c
}
