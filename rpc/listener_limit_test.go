package rpc

import (
	"bufio"
	"errors"
	"net"
	"path/filepath"
	"testing"

	"github.com/govirt/govirtd/vir"
)

// TestListenerClientLimit: a listener's own MaxClients refuses its extra
// clients, naming its key, while another listener still admits clients:
// read-only clients cannot lock the read-write socket out.
func TestListenerClientLimit(t *testing.T) {
	h := newHarness(t, ServerConfig{MaxClients: 10}, false)
	roPath := filepath.Join(t.TempDir(), "ro")
	l, err := net.Listen("unix", roPath)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() {
		served <- h.srv.Serve(l, ListenerOptions{Name: "ro", ReadOnly: true, MaxClients: 2, MaxClientsKey: "max_ro_clients"})
	}()
	t.Cleanup(func() {
		h.srv.Shutdown(t.Context())
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
	dialRO := func() *rawConn {
		c, err := net.Dial("unix", roPath)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return &rawConn{t: t, Conn: c, r: bufio.NewReader(c)}
	}
	for i := range 2 {
		dialRO().echo(uint32(i+1), "within the listener's limit")
	}
	third := dialRO()
	call := callHeader(procEcho, 3)
	third.send(call, &echoBody{Data: []byte("over it")})
	checkError(t, third.recvError(call), vir.ErrRPC, vir.FromRPC, "too many active clients (2); raise max_ro_clients in the daemon's config")
	h.dialRaw().echo(4, "the other listener still admits clients")
}
