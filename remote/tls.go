package remote

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"
)

// TLSTarget is where and how a +tls URI connects.
type TLSTarget struct {
	Host string // the server's name, checked against its certificate's SANs
	Addr string // HOST:PORT
	// PKIPath holds cacert.pem, clientcert.pem and clientkey.pem
	// (?pkipath=); empty is libvirt's client default (TLSFiles).
	PKIPath string
	// NoVerify skips the check of the server's certificate (?no_verify=1).
	NoVerify bool
}

// TLSFiles are the client's CA, certificate and key files.
type TLSFiles struct{ CA, Cert, Key string }

// Files picks the client files as libvirt's client does: all three in
// PKIPath when given; else, for a user other than root, in
// $HOME/.pki/libvirt when its clientcert.pem exists; else
// /etc/pki/CA/cacert.pem and /etc/pki/libvirt/{clientcert.pem,
// private/clientkey.pem}.
func (t *TLSTarget) Files() TLSFiles {
	in := func(dir string) TLSFiles {
		return TLSFiles{filepath.Join(dir, "cacert.pem"), filepath.Join(dir, "clientcert.pem"), filepath.Join(dir, "clientkey.pem")}
	}
	if t.PKIPath != "" {
		return in(t.PKIPath)
	}
	if os.Geteuid() != 0 {
		if home, err := os.UserHomeDir(); err == nil {
			f := in(filepath.Join(home, ".pki", "libvirt"))
			if _, err := os.Stat(f.Cert); err == nil {
				return f
			}
		}
	}
	return TLSFiles{"/etc/pki/CA/cacert.pem", "/etc/pki/libvirt/clientcert.pem", "/etc/pki/libvirt/private/clientkey.pem"}
}

// config is the crypto/tls configuration of the client files.
func (t *TLSTarget) config() (*tls.Config, error) {
	f := t.Files()
	pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("cannot load the client certificate %s and key %s: %w (put them in ?pkipath=DIR as clientcert.pem and clientkey.pem)", f.Cert, f.Key, err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{pair}, ServerName: t.Host, MinVersion: tls.VersionTLS12}
	if t.NoVerify {
		cfg.InsecureSkipVerify = true
		return cfg, nil
	}
	ca, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, fmt.Errorf("cannot read the CA certificate: %w (put it in ?pkipath=DIR as cacert.pem, or give no_verify=1)", err)
	}
	cfg.RootCAs = x509.NewCertPool()
	if !cfg.RootCAs.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("the CA file %s holds no PEM certificate", f.CA)
	}
	return cfg, nil
}

// dialTLS connects over TLS and waits for the server's confirmation that
// it accepted the client's certificate (libvirt's one '\1' byte).
func (t *TLSTarget) dialTLS(ctx context.Context, dial func(ctx context.Context, network, address string) (net.Conn, error)) (net.Conn, error) {
	cfg, err := t.config()
	if err != nil {
		return nil, err
	}
	nc, err := dial(ctx, "tcp", t.Addr)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to %s: %w (is the daemon listening with listen_tls = 1 on tls_port?)", t.Addr, err)
	}
	tc := tls.Client(nc, cfg)
	if dl, ok := ctx.Deadline(); ok {
		tc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	if err := tc.HandshakeContext(ctx); err != nil {
		tc.Close()
		return nil, fmt.Errorf("TLS handshake with %s failed: %w", t.Addr, err)
	}
	var b [1]byte
	if _, err := io.ReadFull(tc, b[:]); err != nil || b[0] != 1 {
		tc.Close()
		if err == nil {
			err = errors.New("unexpected confirmation byte")
		}
		f := t.Files()
		return nil, fmt.Errorf("the server at %s refused the client certificate %s: %w (the daemon's log says why: not signed by its ca_file, expired, revoked, or not in tls_allowed_dn_list)", t.Addr, f.Cert, err)
	}
	if !stop() {
		tc.Close()
		return nil, ctx.Err()
	}
	tc.SetDeadline(time.Time{})
	return tc, nil
}
