package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/govirt/govirtd/drivers/xen/internal/xstest"
	"github.com/govirt/govirtd/drivers/xen/xenstore"
)

// TestCreateDestroy: the simulator's create writes what Debian's
// xenstore-ls then shows and fires @introduceDomain; destroy fires
// @releaseDomain and removes the nodes.
func TestCreateDestroy(t *testing.T) {
	x := xstest.Start(t)
	t.Setenv("XENSTORED_PATH", x.Socket)
	ctx := context.Background()
	c, err := xenstore.Dial(x.Socket, xenstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	in, _ := c.Watch(ctx, "@introduceDomain", "in")
	out, _ := c.Watch(ctx, "@releaseDomain", "out")
	<-in.Events()
	<-out.Events()

	cfgFile := filepath.Join(t.TempDir(), "g1.cfg")
	os.WriteFile(cfgFile, []byte("name = \"g1\"\nuuid = \"11111111-2222-3333-4444-555555555555\"\nmemory = 256\nvcpus = 2\n"), 0o600)
	if err := run([]string{"create", cfgFile}); err != nil {
		t.Fatal(err)
	}
	<-in.Events()
	ls := exec.Command("xenstore-ls", "/local/domain/1")
	ls.Env = x.Env()
	b, err := ls.CombinedOutput()
	if err != nil {
		t.Fatalf("xenstore-ls: %v %s", err, b)
	}
	for _, want := range []string{`name = "g1"`, `target = "262144"`, `vm = "/vm/11111111-2222-3333-4444-555555555555"`, `availability = "online"`} {
		if !strings.Contains(string(b), want) {
			t.Fatalf("xenstore-ls lacks %s:\n%s", want, b)
		}
	}
	if err := run([]string{"pause", "g1"}); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"destroy", "g1"}); err != nil {
		t.Fatal(err)
	}
	<-out.Events()
	if _, err := c.Read(ctx, "/local/domain/1/name"); err == nil {
		t.Fatal("nodes left after destroy")
	}
	if err := run([]string{"destroy", "g1"}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("second destroy: %v", err)
	}
}
