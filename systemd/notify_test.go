package systemd

import (
	"net"
	"path/filepath"
	"testing"
)

// TestNotify listens where systemd would and checks what arrives.
func TestNotify(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	for _, c := range []struct {
		send func() error
		want string
	}{
		{func() error { return Ready("serving") }, "READY=1\nSTATUS=serving"},
		{Reloading, "RELOADING=1\nSTATUS=reloading"},
		{Stopping, "STOPPING=1\nSTATUS=stopping"},
	} {
		if err := c.send(); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 256)
		n, err := conn.Read(buf)
		if err != nil || string(buf[:n]) != c.want {
			t.Fatalf("got %q, %v; want %q", buf[:n], err, c.want)
		}
	}
	t.Setenv("NOTIFY_SOCKET", "")
	if err := Ready("x"); err != nil {
		t.Fatalf("outside systemd: %v", err)
	}
}
