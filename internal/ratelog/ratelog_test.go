package ratelog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLimitsEachCause(t *testing.T) {
	var buf bytes.Buffer
	h := New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}), 3, time.Minute)
	now := time.Unix(1000, 0)
	h.now = func() time.Time { return now }
	log := slog.New(h).With("client", 7)
	for i := 0; i < 100; i++ {
		log.Warn("dropping client: malformed frame")
		log.Debug("debug is never limited")
	}
	log.Warn("another cause")
	if n := strings.Count(buf.String(), "dropping client: malformed frame"); n != 3 {
		t.Errorf("%d records of one cause in a window, want 3:\n%s", n, buf.String())
	}
	if n := strings.Count(buf.String(), "debug is never limited"); n != 100 {
		t.Errorf("%d debug records, want 100", n)
	}
	if !strings.Contains(buf.String(), "another cause") {
		t.Error("a second cause was suppressed by the first")
	}
	buf.Reset()
	now = now.Add(time.Minute)
	log.Warn("dropping client: malformed frame")
	out := buf.String()
	first := strings.SplitN(out, "\n", 2)[0]
	if !strings.Contains(first, `msg="suppressed similar messages"`) || !strings.Contains(first, `message="dropping client: malformed frame"`) ||
		!strings.Contains(first, "count=97") || !strings.Contains(first, "client=7") {
		t.Errorf("the next window does not summarise what was suppressed:\n%s", out)
	}
	if strings.Count(out, "level=WARN msg=\"dropping client") != 1 {
		t.Errorf("the next window's first record is missing:\n%s", out)
	}
}
