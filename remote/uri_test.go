package remote

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/govirt/govirtd/internal/sockpath"
)

func TestParseTLSURI(t *testing.T) {
	for _, c := range []struct{ uri, name, addr, pki string }{
		{"test+tls://127.0.0.1:9999/default?pkipath=/p", "test:///default", "127.0.0.1:9999", "/p"},
		{"qemu+tls://host.example/system?no_verify=1", "qemu:///system", "host.example:16514", ""},
		{"qemu://host.example/system", "qemu:///system", "host.example:16514", ""},
	} {
		got, err := ParseURI(c.uri)
		if err != nil || got.Name != c.name || got.Address != c.addr || got.Network != "tcp" || got.TLS == nil || got.TLS.PKIPath != c.pki {
			t.Errorf("ParseURI(%q) = %+v, %v; want name %q addr %q pkipath %q", c.uri, got, err, c.name, c.addr, c.pki)
		}
	}
	if got, _ := ParseURI("qemu+tls://h/system?no_verify=1"); got.TLS == nil || !got.TLS.NoVerify {
		t.Errorf("no_verify=1 not taken: %+v", got.TLS)
	}
}

func TestParseURI(t *testing.T) {
	def := filepath.Join(sockpath.DefaultDir(), sockpath.RW)
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
		{"test+tls:///default", "+tls needs a host"},
		{"/just/a/path", "no driver scheme"},
	} {
		if _, err := ParseURI(c.uri); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("ParseURI(%q) error %v, want one containing %q", c.uri, err, c.msg)
		}
	}
}
