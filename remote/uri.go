package remote

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/govirt/govirtd/internal/sockpath"
)

// Target is what a libvirt-style URI says about where and what to connect.
type Target struct {
	// Name is the URI the daemon's driver sees in CONNECT_OPEN, without
	// transport, host or client-only parameters: "test:///default".
	Name string
	// Network and Address are what to dial: "unix" and a socket path.
	Network string
	Address string
	// TLS is set for +tls URIs: Address is then HOST:PORT.
	TLS *TLSTarget
}

// ParseURI reads a libvirt URI such as test+unix:///default?socket=/x or
// qemu:///system. A URI without "+transport" and without a host goes to
// the local unix socket; ?socket= picks the socket, else the default one
// of DefaultSocketDir. DRIVER+tls://HOST[:PORT]/PATH goes over TLS to
// HOST (port 16514 by default) with the client files of ?pkipath= (see
// TLSTarget).
func ParseURI(uri string) (Target, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return Target{}, fmt.Errorf("cannot parse URI %q: %w", uri, err)
	}
	scheme, transport, _ := strings.Cut(u.Scheme, "+")
	if scheme == "" {
		return Target{}, fmt.Errorf("URI %q has no driver scheme (such as test:///default)", uri)
	}
	// libvirt: a host without a transport means TLS.
	if transport == "" && u.Host != "" {
		transport = "tls"
	}
	switch transport {
	case "", "unix", "tls":
	default:
		return Target{}, fmt.Errorf("URI %q: transport %q is not supported (use +unix or +tls)", uri, transport)
	}
	q := u.Query()
	var tt *TLSTarget
	if transport == "tls" {
		if u.Hostname() == "" {
			return Target{}, fmt.Errorf("URI %q: +tls needs a host, as in %s+tls://HOST/%s", uri, scheme, strings.TrimPrefix(u.Path, "/"))
		}
		tt = &TLSTarget{Host: u.Hostname(), PKIPath: q.Get("pkipath"), NoVerify: q.Get("no_verify") == "1"}
		port := u.Port()
		if port == "" {
			port = "16514"
		}
		tt.Addr = net.JoinHostPort(tt.Host, port)
	}
	sock := q.Get("socket")
	if sock == "" {
		sock = filepath.Join(sockpath.DefaultDir(), sockpath.RW)
	}
	// Parameters the client consumes are not the driver's business.
	for _, k := range []string{"socket", "mode", "proxy", "no_verify", "no_sanity", "no_tty", "tls_priority", "pkipath", "keyfile", "known_hosts", "sshauth", "command", "netcat", "name"} {
		q.Del(k)
	}
	name := url.URL{Scheme: scheme, Path: u.Path, RawQuery: q.Encode()}
	if name.Path == "" {
		name.Path = "/"
	}
	if tt != nil {
		return Target{Name: name.String(), Network: "tcp", Address: tt.Addr, TLS: tt}, nil
	}
	return Target{Name: name.String(), Network: "unix", Address: sock}, nil
}
