package qemu_test

import (
	"os"
	"testing"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"
)

// TestProbedURI: a client that lets the daemon choose the driver (an
// empty name in CONNECT_OPEN) learns from CONNECT_GET_URI that it reached
// the QEMU driver's canonical URI (it once learnt "").
func TestProbedURI(t *testing.T) {
	d := newTestDaemon(t)
	d.start()
	l := libvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(d.path("sock", "govirtd-sock")), dialers.WithLocalTimeout(10*time.Second)))
	if err := l.ConnectToURI(""); err != nil {
		t.Fatal(err)
	}
	defer l.Disconnect()
	got, err := l.ConnectGetUri()
	if err != nil {
		t.Fatal(err)
	}
	want := "qemu:///session"
	if os.Geteuid() == 0 {
		want = "qemu:///system"
	}
	if got != want {
		t.Fatalf("URI after a probe: %q, want %q", got, want)
	}
}
