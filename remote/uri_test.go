package remote

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/govirt/govirtd/rpc"
)

func TestParseURI(t *testing.T) {
	def := filepath.Join(rpc.DefaultSocketDir(), rpc.SockRW)
	for _, c := range []struct{ uri, name, sock string }{
		{"test:///default", "test:///default", def},
		{"test+unix:///default?socket=/x/y", "test:///default", "/x/y"},
		{"qemu:///system", "qemu:///system", def},
		{"qemu+unix:///session?socket=/a&extra=1", "qemu:///session?extra=1", "/a"},
		{"xen:///", "xen:///", def},
	} {
		got, err := ParseURI(c.uri)
		if err != nil || got.Name != c.name || got.Address != c.sock || got.Network != "unix" {
			t.Errorf("ParseURI(%q) = %+v, %v; want name %q socket %q", c.uri, got, err, c.name, c.sock)
		}
	}
	for _, c := range []struct{ uri, msg string }{
		{"qemu+ssh://host/system", "transport \"ssh\" is not supported"},
		{"qemu://host/system", "remote hosts need the TLS transport"},
		{"/just/a/path", "no driver scheme"},
	} {
		if _, err := ParseURI(c.uri); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("ParseURI(%q) error %v, want one containing %q", c.uri, err, c.msg)
		}
	}
}
