// Package testutil holds what the project's tests share: waiting for a
// condition without asserting timing, a buffer a process and a test may
// use at once, and the check that a real program a test drives is
// installed.
package testutil

import (
	"bytes"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// HangTimeout bounds every wait in the tests. It only keeps a broken
// test from hanging the suite; no test asserts how long anything takes.
const HangTimeout = 60 * time.Second

// WaitFor polls cond until it holds, failing the test after HangTimeout.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(HangTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// RequireBinary returns the path of program name, failing the test when
// it is missing: the tests drive real programs, never stand-ins, and
// `make deps` installs them (pkg is the Debian package).
func RequireBinary(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed: `make deps` installs it (Debian package %s)", name, pkg)
	}
	return p
}

// SyncBuffer is a bytes.Buffer that a child process's output copier and
// the test may use at the same time.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// RequirePythonLibvirt returns Debian's /usr/bin/python3, the
// interpreter python3-libvirt installs for (a python3 earlier in $PATH,
// such as pyenv's, lacks the binding), failing the test, with how to
// install it, when it cannot import libvirt.
func RequirePythonLibvirt(t testing.TB) string {
	t.Helper()
	const bin = "/usr/bin/python3"
	if err := exec.Command(bin, "-c", "import libvirt").Run(); err != nil {
		t.Fatalf("python3 cannot import libvirt (%v): `make deps` installs it (Debian package python3-libvirt)", err)
	}
	return bin
}
