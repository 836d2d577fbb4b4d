package daemon_test

import (
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/govirt/govirtd/daemon"
	"github.com/govirt/govirtd/internal/testutil"
)

// TestLogFilter: the first filter whose name is inside the driver's
// decides, "+" is accepted, a group keeps the driver, a changed base
// level applies, and bad filters are refused naming the item.
func TestLogFilter(t *testing.T) {
	var buf testutil.SyncBuffer
	base := &slog.LevelVar{}
	base.Set(slog.LevelWarn)
	f := daemon.NewLogFilter(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}), base)
	rules, err := daemon.ParseLogFilters("  4:qemu   +1:qem 1:storage ")
	if err != nil || strings.Join(rules, " ") != "4:qemu +1:qem 1:storage" {
		t.Fatalf("parse: %q, %v", rules, err)
	}
	f.SetFilters(rules)
	qemu := slog.New(f).With("driver", "QEMU").WithGroup("g")
	storage := slog.New(f).With("driver", "storage")
	qemu.Warn("qemu-warn") // 4:qemu matches first: errors only
	qemu.Error("qemu-error")
	storage.Debug("storage-debug")
	slog.New(f).Info("daemon-info")
	base.Set(slog.LevelInfo)
	slog.New(f).Info("daemon-info-2")
	got := buf.String()
	for want, in := range map[string]bool{"qemu-warn": false, "qemu-error": true, "storage-debug": true, "daemon-info": false, "daemon-info-2": true} {
		if regexp.MustCompile(`(?m)msg=`+want+`( |$)`).MatchString(got) != in {
			t.Errorf("%q logged: %v, want %v\n%s", want, !in, in, got)
		}
	}
	for _, bad := range []string{"qemu", "0:qemu", "5:qemu", "1:", "x:qemu"} {
		if _, err := daemon.ParseLogFilters(bad); err == nil || !strings.Contains(err.Error(), "'"+bad+"'") {
			t.Errorf("ParseLogFilters(%q): %v", bad, err)
		}
	}
}
