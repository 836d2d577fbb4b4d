package remote

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/govirt/govirtd/rpc"
)

// Target is what a libvirt-style URI says about where and what to connect.
type Target struct {
	// Name is the URI the daemon's driver sees in CONNECT_OPEN, without
	// transport, host or client-only parameters: "test:///default".
	Name string
	// Network and Address are what to dial: "unix" and a socket path.
	Network string
	Address string
}

// ParseURI reads a libvirt URI such as test+unix:///default?socket=/x or
// qemu:///system. A URI without "+transport" and without a host goes to
// the local unix socket; ?socket= picks the socket, else the default one
// of DefaultSocketDir. Only the unix transport is served so far.
func ParseURI(uri string) (Target, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return Target{}, fmt.Errorf("cannot parse URI %q: %w", uri, err)
	}
	scheme, transport, _ := strings.Cut(u.Scheme, "+")
	if scheme == "" {
		return Target{}, fmt.Errorf("URI %q has no driver scheme (such as test:///default)", uri)
	}
	switch {
	case transport == "" && u.Host != "":
		return Target{}, fmt.Errorf("URI %q names host %s: remote hosts need the TLS transport, which is not implemented yet", uri, u.Host)
	case transport != "" && transport != "unix":
		return Target{}, fmt.Errorf("URI %q: transport %q is not supported (use +unix)", uri, transport)
	}
	q := u.Query()
	sock := q.Get("socket")
	if sock == "" {
		sock = filepath.Join(rpc.DefaultSocketDir(), rpc.SockRW)
	}
	// Parameters the client consumes are not the driver's business.
	for _, k := range []string{"socket", "mode", "proxy", "no_verify", "no_tty", "pkipath", "keyfile", "known_hosts", "sshauth", "command", "netcat", "name"} {
		q.Del(k)
	}
	name := url.URL{Scheme: scheme, Path: u.Path, RawQuery: q.Encode()}
	if name.Path == "" {
		name.Path = "/"
	}
	return Target{Name: name.String(), Network: "unix", Address: sock}, nil
}
