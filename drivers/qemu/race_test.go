package qemu

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/govirt/govirtd/drivers"
)

// TestUndefineDuringStart: an undefine that comes while the domain is
// starting must not leave a running guest that no lookup finds: it
// waits for the start's job (and here gives up, naming it).
func TestUndefineDuringStart(t *testing.T) {
	_, c := testDriverWith(t, func(cfg *Config) { cfg.JobTimeout = 200 * time.Millisecond })
	g := newGate(t)
	ctx := context.Background()
	ev := recordEvents(t, c)
	ref, err := c.DomainDefineXML(ctx, g.xml(t, "gated", 1), 0)
	if err != nil {
		t.Fatal(err)
	}
	created := make(chan error, 1)
	go func() { _, err := c.DomainCreate(ctx, ref, 0); created <- err }()
	g.waitHeld(t)
	uerr := c.DomainUndefine(ctx, ref, 0)
	g.release()
	if err := <-created; err != nil {
		t.Fatal(err)
	}
	got, err := c.DomainLookupByName(ctx, "gated")
	if err != nil {
		t.Fatalf("undefine during a start answered %v and left a running guest no lookup finds: %v", uerr, err)
	}
	if drivers.CodeOf(uerr) != drivers.ErrOperationTimeout || !strings.Contains(uerr.Error(), "held by virDomainCreate") {
		t.Errorf("undefine during a start: %v, want a timeout naming virDomainCreate", uerr)
	}
	checkState(t, c, got, drivers.DomainRunning, drivers.RunningBooted)
	if p, _ := c.DomainIsPersistent(ctx, got); !p {
		t.Error("the domain lost its definition")
	}
	ev.waitFor(t, "gated Defined Added", "gated Started Booted")
	if err := c.DomainDestroy(ctx, got, 0); err != nil {
		t.Fatal(err)
	}
}
