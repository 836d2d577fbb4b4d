package xenstore_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/govirt/govirtd/drivers/xen/internal/xstest"
	"github.com/govirt/govirtd/drivers/xen/xenstore"
)

func dial(t *testing.T, x *xstest.Xenstored, o xenstore.Options) *xenstore.Client {
	t.Helper()
	c, err := xenstore.Dial(x.Socket, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// xs runs one of Debian's real xenstore-* clients against x.
func xs(t *testing.T, x *xstest.Xenstored, tool string, args ...string) string {
	t.Helper()
	cmd := exec.Command(tool, args...)
	cmd.Env = x.Env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s (make deps installs xenstore-utils)", tool, args, err, out)
	}
	return string(out)
}

func TestReadWriteDirectoryRm(t *testing.T) {
	x := xstest.Start(t)
	c := dial(t, x, xenstore.Options{})
	ctx := context.Background()
	if err := c.Write(ctx, "/vm/a/name", []byte("guest-a")); err != nil {
		t.Fatal(err)
	}
	if err := c.Write(ctx, "/vm/a/bin", []byte{0, 1, 2, 0}); err != nil {
		t.Fatal(err)
	}
	if err := c.Mkdir(ctx, "/vm/a/empty"); err != nil {
		t.Fatal(err)
	}
	v, err := c.Read(ctx, "/vm/a/name")
	if err != nil || string(v) != "guest-a" {
		t.Fatalf("read = %q, %v", v, err)
	}
	if v, _ := c.Read(ctx, "/vm/a/bin"); string(v) != "\x00\x01\x02\x00" {
		t.Fatalf("binary value read back as %q", v)
	}
	names, err := c.Directory(ctx, "/vm/a")
	slices.Sort(names)
	if err != nil || !slices.Equal(names, []string{"bin", "empty", "name"}) {
		t.Fatalf("directory = %q, %v", names, err)
	}
	// Debian's xenstore-read sees what we wrote.
	if got := xs(t, x, "xenstore-read", "/vm/a/name"); got != "guest-a\n" {
		t.Fatalf("xenstore-read = %q", got)
	}
	if err := c.Rm(ctx, "/vm/a"); err != nil {
		t.Fatal(err)
	}
	_, err = c.Read(ctx, "/vm/a/name")
	if !errors.Is(err, xenstore.ErrNotExist) {
		t.Fatalf("read after rm: %v, want ENOENT", err)
	}
	var xe *xenstore.Error
	if !errors.As(err, &xe) || xe.Op != xenstore.OpRead || xe.Path != "/vm/a/name" {
		t.Fatalf("error %#v does not name the request", err)
	}
	if !strings.Contains(err.Error(), "READ /vm/a/name: ENOENT") {
		t.Fatalf("error text %q", err)
	}
}

func TestPerms(t *testing.T) {
	x := xstest.Start(t)
	c := dial(t, x, xenstore.Options{})
	ctx := context.Background()
	if err := c.Write(ctx, "/local/domain/5/name", []byte("g")); err != nil {
		t.Fatal(err)
	}
	want := []xenstore.Perm{{Domain: 5, Access: xenstore.AccessNone}, {Domain: 0, Access: xenstore.AccessRead}, {Domain: 7, Access: xenstore.AccessReadWrite}}
	if err := c.SetPerms(ctx, "/local/domain/5/name", want...); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetPerms(ctx, "/local/domain/5/name")
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("perms = %v, %v; want %v", got, err, want)
	}
	// xenstore-ls -p prints the same list.
	if out := xs(t, x, "xenstore-ls", "-p", "/local/domain/5"); !strings.Contains(out, "(n5,r0,b7)") {
		t.Fatalf("xenstore-ls -p:\n%s", out)
	}
	if err := c.SetPerms(ctx, "/local/domain/5/name"); err == nil {
		t.Fatal("set-perms without any permission accepted")
	}
}

func TestPayloadLimit(t *testing.T) {
	x := xstest.Start(t)
	c := dial(t, x, xenstore.Options{})
	err := c.Write(context.Background(), "/big", make([]byte, xenstore.PayloadMax))
	if err == nil || !strings.Contains(err.Error(), "4096-byte limit") {
		t.Fatalf("oversized write: %v", err)
	}
}

func TestTransaction(t *testing.T) {
	x := xstest.Start(t)
	c := dial(t, x, xenstore.Options{})
	ctx := context.Background()
	if err := c.Write(ctx, "/counter", []byte("0")); err != nil {
		t.Fatal(err)
	}
	// Two clients increment one counter in transactions: conflicts end
	// in EAGAIN and are retried, so no increment is lost.
	c2 := dial(t, x, xenstore.Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	const each = 20
	for _, cl := range []*xenstore.Client{c, c2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				err := cl.Transaction(ctx, func(tx *xenstore.Tx) error {
					v, err := tx.Read(ctx, "/counter")
					if err != nil {
						return err
					}
					var n int
					fmt.Sscan(string(v), &n)
					return tx.Write(ctx, "/counter", []byte(fmt.Sprint(n+1)))
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if v, _ := c.Read(ctx, "/counter"); string(v) != fmt.Sprint(2*each) {
		t.Fatalf("counter = %s, want %d", v, 2*each)
	}

	// An aborted transaction leaves nothing; a failing fn's error is returned.
	boom := errors.New("boom")
	err := c.Transaction(ctx, func(tx *xenstore.Tx) error {
		if err := tx.Write(ctx, "/aborted", []byte("x")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("transaction error %v", err)
	}
	if _, err := c.Read(ctx, "/aborted"); !errors.Is(err, xenstore.ErrNotExist) {
		t.Fatalf("aborted write visible: %v", err)
	}
}

func TestTransactionConflictIsEAGAIN(t *testing.T) {
	x := xstest.Start(t)
	c := dial(t, x, xenstore.Options{})
	ctx := context.Background()
	c.Write(ctx, "/n", []byte("1"))
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Read(ctx, "/n"); err != nil {
		t.Fatal(err)
	}
	tx.Write(ctx, "/n", []byte("2"))
	if err := c.Write(ctx, "/n", []byte("3")); err != nil { // outside, meanwhile
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); !errors.Is(err, xenstore.ErrAgain) {
		t.Fatalf("conflicting commit: %v, want EAGAIN", err)
	}
	if v, _ := c.Read(ctx, "/n"); string(v) != "3" {
		t.Fatalf("n = %s", v)
	}
}

func next(t *testing.T, w *xenstore.Watch) xenstore.Event {
	t.Helper()
	return <-w.Events()
}

func TestWatch(t *testing.T) {
	x := xstest.Start(t)
	c := dial(t, x, xenstore.Options{})
	ctx := context.Background()
	w, err := c.Watch(ctx, "/vm", "tok-vm")
	if err != nil {
		t.Fatal(err)
	}
	if ev := next(t, w); ev != (xenstore.Event{Path: "/vm", Token: "tok-vm"}) {
		t.Fatalf("registration event %+v", ev)
	}
	if _, err := c.Watch(ctx, "/other", "tok-vm"); err == nil {
		t.Fatal("duplicate token accepted")
	}
	// A write by Debian's xenstore-write fires our watch.
	xs(t, x, "xenstore-write", "/vm/b/state", "running")
	if ev := next(t, w); ev.Path != "/vm/b/state" || ev.Token != "tok-vm" {
		t.Fatalf("event %+v", ev)
	}
	if err := w.Unwatch(ctx); err != nil {
		t.Fatal(err)
	}
	// After unwatching, another watch still gets its events and the old one none.
	w2, err := c.Watch(ctx, "/vm2", "tok-2")
	if err != nil {
		t.Fatal(err)
	}
	next(t, w2)
	c.Write(ctx, "/vm/c", []byte("1"))
	c.Write(ctx, "/vm2/c", []byte("1"))
	if ev := next(t, w2); ev.Path != "/vm2/c" {
		t.Fatalf("event %+v", ev)
	}
	if n := len(w.Events()); n != 0 {
		t.Fatalf("%d events on an unwatched watch", n)
	}
}

func TestIntroduceReleaseWatches(t *testing.T) {
	x := xstest.Start(t)
	c := dial(t, x, xenstore.Options{})
	ctx := context.Background()
	in, err := c.Watch(ctx, "@introduceDomain", "in")
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Watch(ctx, "@releaseDomain", "out")
	if err != nil {
		t.Fatal(err)
	}
	next(t, in)
	next(t, out)
	if err := c.Introduce(ctx, 7, 12345, 3); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, in); ev.Path != "@introduceDomain" {
		t.Fatalf("event %+v", ev)
	}
	if ok, err := c.IsDomainIntroduced(ctx, 7); err != nil || !ok {
		t.Fatalf("introduced = %v, %v", ok, err)
	}
	if p, err := c.GetDomainPath(ctx, 7); err != nil || p != "/local/domain/7" {
		t.Fatalf("domain path %q, %v", p, err)
	}
	// The fake hypervisor says domain 7 is dying: xenstored fires
	// @releaseDomain by itself, as on Xen.
	if err := x.MarkDying(7); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, out); ev.Path != "@releaseDomain" {
		t.Fatalf("event %+v", ev)
	}
	if err := c.Introduce(ctx, 8, 12346, 4); err != nil {
		t.Fatal(err)
	}
	next(t, in)
	if err := c.Release(ctx, 8); err != nil {
		t.Fatal(err)
	}
	next(t, out)
	if ok, _ := c.IsDomainIntroduced(ctx, 8); ok {
		t.Fatal("domain 8 still introduced after release")
	}
}

func TestReconnect(t *testing.T) {
	x := xstest.Start(t)
	lost := make(chan error, 4)
	back := make(chan struct{}, 4)
	c := dial(t, x, xenstore.Options{Reconnect: true,
		OnDisconnect: func(err error) { lost <- err },
		OnReconnect:  func() { back <- struct{}{} }})
	ctx := context.Background()
	w, err := c.Watch(ctx, "/vm", "vm")
	if err != nil {
		t.Fatal(err)
	}
	next(t, w)
	x.Stop()
	<-lost
	_, err = c.Read(ctx, "/vm")
	if !errors.Is(err, xenstore.ErrDisconnected) || !strings.Contains(err.Error(), "is xenstored running?") {
		t.Fatalf("read while xenstored is down: %v", err)
	}
	x.Restart(t)
	<-back
	// The watch was registered again: it fired on registration and fires on writes.
	if ev := next(t, w); ev.Path != "/vm" {
		t.Fatalf("re-registration event %+v", ev)
	}
	if err := c.Write(ctx, "/vm/x", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, w); ev.Path != "/vm/x" {
		t.Fatalf("event %+v", ev)
	}
}

func TestDialFailsClearly(t *testing.T) {
	_, err := xenstore.Dial(t.TempDir()+"/none", xenstore.Options{})
	if err == nil || !strings.Contains(err.Error(), "is xenstored running?") {
		t.Fatalf("dial error %v", err)
	}
}
