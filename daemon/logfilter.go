package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
)

// LogFilter is the daemon's log level with libvirt's logging filters on
// top ("1:qemu 3:storage", log_filters, virt-admin daemon-log-filters):
// a record passes when it is at the base level or above, or when the
// first filter whose name is part of the record's driver (the "driver"
// attribute the drivers' loggers carry, compared without case, as
// libvirt matches a filter inside its source module's name) lets its
// level through. Records of no driver only see the base level.
type LogFilter struct {
	next   slog.Handler
	level  slog.Leveler
	rules  *atomic.Pointer[[]logRule] // shared by every handler derived with WithAttrs
	driver string                     // lower case; "" for records of no driver
}

type logRule struct {
	name  string // lower case
	level slog.Level
}

// NewLogFilter filters the records for next (which must let every level
// through) by level and the filters set with SetFilters.
func NewLogFilter(next slog.Handler, level slog.Leveler) *LogFilter {
	return &LogFilter{next: next, level: level, rules: &atomic.Pointer[[]logRule]{}}
}

func init() {
	setters["log_filters"] = func(c *Config, v confValue) error {
		if v.kind != 's' {
			return fmt.Errorf("must be a quoted string such as \"1:qemu 3:storage\", not %s", v.describe())
		}
		if _, err := ParseLogFilters(v.s); err != nil {
			return err
		}
		c.LogFilters = v.s
		return nil
	}
}

// ParseLogFilters checks filters in libvirt's syntax: LEVEL:NAME items
// (LEVEL 1 debug … 4 error, an optional "+" before it) separated by
// spaces.
func ParseLogFilters(filters string) ([]string, error) {
	var out []string
	for _, tok := range strings.Fields(filters) {
		lvl, name, ok := strings.Cut(tok, ":")
		if n, err := strconv.Atoi(strings.TrimPrefix(lvl, "+")); !ok || err != nil || n < 1 || n > 4 || name == "" {
			return nil, fmt.Errorf("logging filter '%s' is not LEVEL:NAME with a level of 1 to 4 (such as 1:qemu)", tok)
		}
		out = append(out, tok)
	}
	return out, nil
}

// SetFilters replaces the filters (checked with ParseLogFilters); the
// next record sees them.
func (h *LogFilter) SetFilters(filters []string) {
	rules := make([]logRule, 0, len(filters))
	for _, f := range filters {
		lvl, name, _ := strings.Cut(f, ":")
		n, _ := strconv.Atoi(strings.TrimPrefix(lvl, "+"))
		rules = append(rules, logRule{name: strings.ToLower(name), level: LogLevel(n)})
	}
	h.rules.Store(&rules)
}

// Enabled decides by the filters and the base level.
func (h *LogFilter) Enabled(ctx context.Context, l slog.Level) bool {
	if h.driver != "" {
		if rules := h.rules.Load(); rules != nil {
			for _, r := range *rules {
				if strings.Contains(h.driver, r.name) {
					return l >= r.level
				}
			}
		}
	}
	return l >= h.level.Level()
}

// Handle passes the record on.
func (h *LogFilter) Handle(ctx context.Context, r slog.Record) error { return h.next.Handle(ctx, r) }

// WithAttrs notes the driver a logger is for.
func (h *LogFilter) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(attrs)
	for _, a := range attrs {
		if a.Key == "driver" {
			c.driver = strings.ToLower(a.Value.String())
		}
	}
	return &c
}

// WithGroup keeps the driver.
func (h *LogFilter) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	return &c
}
