package rpc

import (
	"os"
	"testing"
	"time"
)

// TestUnixPeerIdentity: a client of a unix socket is known by the
// kernel's credentials of its process (SO_PEERCRED), here this test's.
func TestUnixPeerIdentity(t *testing.T) {
	h := newHarness(t, ServerConfig{}, false)
	c := h.dial()
	defer c.Close()
	var p *Peer
	select {
	case p = <-h.sessions:
	case <-time.After(hangTimeout):
		t.Fatal("no session for the client")
	}
	id := p.Identity()
	if !id.Unix || id.TLS || id.Err != nil {
		t.Fatalf("identity %+v, want a unix peer", id)
	}
	if id.UID != os.Getuid() || id.GID != os.Getgid() || id.PID != os.Getpid() {
		t.Fatalf("identity %s, want uid=%d gid=%d pid=%d (this process)", id, os.Getuid(), os.Getgid(), os.Getpid())
	}
}
