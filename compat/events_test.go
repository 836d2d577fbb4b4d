package compat_test

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/govirt/govirtd/internal/testutil"
)

// TestEventsDifferential registers libvirt-python callbacks for every
// class of event the test driver raises (domain, network, storage pool
// and its refresh, node device), makes the same changes on libvirtd and
// govirtd (testdata/compat/events.py), and compares the events each
// delivered: the same events, objects and details, in the same order.
func TestEventsDifferential(t *testing.T) {
	lv := startLibvirtd(t)
	gv := startGovirtd(t)
	want := pyEvents(t, lv)
	if testing.Verbose() {
		t.Logf("libvirtd delivered:\n%s", want)
	}
	got := pyEvents(t, gv)
	if got != want {
		t.Fatalf("govirtd delivered other events than libvirtd\n--- libvirtd:\n%s--- govirtd:\n%s", want, got)
	}
	for _, class := range []string{`"domain"`, `"network"`, `"pool"`, `"pool-refresh"`, `"nodedev"`} {
		if !strings.Contains(want, `"class": `+class) {
			t.Errorf("libvirtd delivered no %s event: events.py no longer exercises that class\n%s", class, want)
		}
	}
}

// pyEvents runs events.py against one daemon and returns what it printed.
func pyEvents(t *testing.T, tgt target) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.HangTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/bin/python3", filepath.Join(dataDir, "events.py"), tgt.uri())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("events.py against %s hung and was killed\nstdout:\n%s\nstderr:\n%s", tgt.name, stdout.String(), stderr.String())
	}
	if err != nil {
		t.Fatalf("events.py against %s: %v\nstdout:\n%s\nstderr:\n%s", tgt.name, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}
