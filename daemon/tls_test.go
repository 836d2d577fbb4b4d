package daemon_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"

	"github.com/govirt/govirtd/daemon"
	"github.com/govirt/govirtd/internal/testdaemon"
	"github.com/govirt/govirtd/remote"
)

// syncLog is a daemon log the test reads while the daemon writes it.
type syncLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitLog waits until the daemon's log holds every want.
func (l *syncLog) waitLog(t *testing.T, want ...string) {
	t.Helper()
	has := func() bool {
		s := l.String()
		for _, w := range want {
			if !strings.Contains(s, w) {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(30 * time.Second); !has(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the daemon's log does not say %q within 30s; it says:\n%s", want, l)
		}
	}
}

// tlsSetup is a CA, a daemon with TLS on 127.0.0.1 using its server
// certificate, a CRL revoking one client and an allowlist of DNs.
type tlsSetup struct {
	ca  *testdaemon.PKI
	d   *testdaemon.Daemon
	log *syncLog
}

func startTLS(t *testing.T) *tlsSetup {
	t.Helper()
	ca := testdaemon.NewPKI(t, "govirt")
	cert, key := ca.Issue("server", testdaemon.CertOptions{Subject: "/O=govirt/CN=localhost", Server: true})
	revoked, _ := ca.Issue("revoked", testdaemon.CertOptions{Subject: "/O=govirt/CN=client-revoked"})
	crl := ca.Revoke(revoked)
	log := &syncLog{}
	d := testdaemon.Start(t, testdaemon.Options{Log: log, LogInfo: true, TLS: &daemon.TLSSettings{
		KeyFile: key, CertFile: cert, CAFile: ca.CACert(), CRLFile: crl,
		// The order libvirt's documentation writes DNs in (C=…,O=…,CN=…).
		AllowedDN: []string{"O=govirt,CN=client*"}, AllowedDNSet: true,
	}})
	if d.TLSAddr() == "" {
		t.Fatalf("the TLS listener did not start; log:\n%s", log)
	}
	return &tlsSetup{ca: ca, d: d, log: log}
}

// pkiFor is a client pkipath with a certificate of ca for subject, and
// this setup's CA as the server's.
func (s *tlsSetup) pkiFor(t *testing.T, ca *testdaemon.PKI, name string, o testdaemon.CertOptions) string {
	cert, key := ca.Issue(name, o)
	return testdaemon.ClientDir(t, s.ca.CACert(), cert, key)
}

// unixServes asserts the unix socket still serves a client.
func (s *tlsSetup) unixServes(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := remote.Dial(ctx, s.d.URI())
	if err != nil {
		t.Fatalf("unix socket stopped serving: %v", err)
	}
	defer c.Close()
	if _, err := c.ConnectGetHostname(ctx); err != nil {
		t.Fatalf("unix socket client's call failed: %v", err)
	}
}

func TestTLSVirsh(t *testing.T) {
	s := startTLS(t)
	good := s.pkiFor(t, s.ca, "client", testdaemon.CertOptions{Subject: "/O=govirt/CN=client1"})
	runVirsh(t, s.d.TLSURI(good), "list", "--all").listed(t, " 1    test   running")
	s.log.waitLog(t, "client connected", "identity=\"x509 CN=client1,O=govirt\"")

	other := testdaemon.NewPKI(t, "other")
	revokedDir := filepath.Join(s.ca.Dir) // the revoked client's files are in the CA's directory
	cases := []struct {
		name string
		pki  string
		log  []string // what the daemon's log must say
	}{
		{"another CA", s.pkiFor(t, other, "client", testdaemon.CertOptions{Subject: "/O=govirt/CN=client2"}),
			[]string{"does not verify against ca_file", "CN=client2,O=govirt", "issuer \\\"CN=other CA,O=govirt\\\""}},
		{"expired", s.pkiFor(t, s.ca, "expired", testdaemon.CertOptions{Subject: "/O=govirt/CN=client-old", Start: "20200101000000Z", End: "20200201000000Z"}),
			[]string{"expired on 2020-02-01T00:00:00Z", "CN=client-old,O=govirt", "valid 2020-01-01T00:00:00Z to 2020-02-01T00:00:00Z"}},
		{"revoked", testdaemon.ClientDir(t, s.ca.CACert(), filepath.Join(revokedDir, "revokedcert.pem"), filepath.Join(revokedDir, "revokedkey.pem")),
			[]string{"was revoked on", "crl_file", "CN=client-revoked,O=govirt"}},
		{"DN outside the allowlist", s.pkiFor(t, s.ca, "outsider", testdaemon.CertOptions{Subject: "/O=govirt/CN=intruder"}),
			[]string{"matches no pattern of tls_allowed_dn_list", "CN=intruder,O=govirt"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// no_sanity=1: virsh presents the certificate rather than
			// refusing its own bad certificate before connecting.
			r := runVirsh(t, s.d.TLSURI(c.pki)+"&no_sanity=1", "list", "--all")
			if r.code == 0 {
				t.Fatalf("virsh was let in with a bad certificate\n%s", r)
			}
			if !strings.Contains(r.stderr, "server verification (of our certificate or IP address) failed") {
				t.Fatalf("virsh's error (status %d) is not a connection failure\n%s", r.code, r)
			}
			t.Logf("virsh: %s", strings.TrimSpace(r.stderr))
			s.log.waitLog(t, append([]string{"TLS client rejected"}, c.log...)...)
			s.unixServes(t)
		})
	}
	// Without no_sanity, virsh itself names an expired certificate.
	r := runVirsh(t, s.d.TLSURI(cases[1].pki), "list")
	if r.code == 0 || !strings.Contains(r.stderr, "expired") {
		t.Fatalf("virsh should refuse its expired certificate\n%s", r)
	}
	runVirsh(t, s.d.TLSURI(good), "hostname").ok(t)
}

func TestTLSGoClients(t *testing.T) {
	s := startTLS(t)
	good := s.pkiFor(t, s.ca, "client", testdaemon.CertOptions{Subject: "/O=govirt/CN=client-go"})
	bad := s.pkiFor(t, s.ca, "outsider", testdaemon.CertOptions{Subject: "/O=govirt/CN=intruder"})
	_, port, _ := net.SplitHostPort(s.d.TLSAddr())

	t.Run("go-libvirt", func(t *testing.T) {
		l := libvirt.NewWithDialer(dialers.NewTLS("127.0.0.1", dialers.UseTLSPort(port), dialers.UsePKIPath(good)))
		if err := l.ConnectToURI("test:///default"); err != nil {
			t.Fatalf("go-libvirt over TLS: %v", err)
		}
		defer l.Disconnect()
		doms, _, err := l.ConnectListAllDomains(1, 0)
		if err != nil || len(doms) != 1 || doms[0].Name != "test" {
			t.Fatalf("domains %v, %v; want [test]", doms, err)
		}
		l2 := libvirt.NewWithDialer(dialers.NewTLS("127.0.0.1", dialers.UseTLSPort(port), dialers.UsePKIPath(bad)))
		if err := l2.ConnectToURI("test:///default"); err == nil {
			l2.Disconnect()
			t.Fatal("go-libvirt was let in with a DN outside the allowlist")
		}
	})

	t.Run("remote", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := remote.Dial(ctx, s.d.TLSURI(good))
		if err != nil {
			t.Fatalf("remote over TLS: %v", err)
		}
		defer c.Close()
		if _, err := c.DomainLookupByName(ctx, "test"); err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, p := range s.d.Server().Peers() {
			if id := p.Identity(); id.TLS && id.SubjectDN == "CN=client-go,O=govirt" {
				found = true
			}
		}
		if !found {
			t.Fatal("no peer has the TLS identity CN=client-go,O=govirt")
		}
		_, err = remote.Dial(ctx, s.d.TLSURI(bad))
		if err == nil || !strings.Contains(err.Error(), "refused the client certificate") {
			t.Fatalf("remote with a DN outside the allowlist: %v, want the server to refuse the certificate", err)
		}
		// no_verify=1 skips the check of the server's certificate: a
		// CA file that is not the server's does not matter then.
		other := testdaemon.NewPKI(t, "other")
		cert, key := s.ca.Issue("nv", testdaemon.CertOptions{Subject: "/O=govirt/CN=client-nv"})
		nv := testdaemon.ClientDir(t, other.CACert(), cert, key)
		if _, err := remote.Dial(ctx, s.d.TLSURI(nv)); err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
			t.Fatalf("remote trusting another CA: %v, want the server's certificate refused", err)
		}
		s.log.waitLog(t, "TLS handshake failed", "bad certificate", "server_cert=\"cert_file ", "CN=localhost,O=govirt", "SANs [localhost, IP:127.0.0.1]")
		c3, err := remote.Dial(ctx, s.d.TLSURI(nv)+"&no_verify=1")
		if err != nil {
			t.Fatalf("remote with no_verify=1: %v", err)
		}
		c3.Close()
	})

	t.Run("stalled handshakes", func(t *testing.T) {
		// Clients that connect and never start their handshake hold no
		// one else up: each handshake has a goroutine of its own.
		for range 5 {
			c, err := net.Dial("tcp", s.d.TLSAddr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := remote.Dial(ctx, s.d.TLSURI(good))
		if err != nil {
			t.Fatalf("remote behind stalled handshakes: %v", err)
		}
		c.Close()
	})

	t.Run("no certificate", func(t *testing.T) {
		ca, _ := os.ReadFile(s.ca.CACert())
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(ca)
		c, err := tls.Dial("tcp", s.d.TLSAddr(), &tls.Config{RootCAs: pool, ServerName: "localhost"})
		if err == nil {
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			_, err = c.Read(make([]byte, 1))
			c.Close()
		}
		if err == nil {
			t.Fatal("a client without a certificate got the confirmation byte")
		}
		s.log.waitLog(t, "TLS client rejected")
		s.unixServes(t)
	})
}

// TestTLSBrokenSetup: a TLS setup that cannot work disables the TLS
// listener alone, with the reason logged; the unix sockets serve.
func TestTLSBrokenSetup(t *testing.T) {
	ca := testdaemon.NewPKI(t, "govirt")
	cert, key := ca.Issue("server", testdaemon.CertOptions{Subject: "/O=govirt/CN=localhost", Server: true})
	_, otherKey := ca.Issue("other", testdaemon.CertOptions{Subject: "/O=govirt/CN=other", Server: true})
	for _, c := range []struct {
		name string
		set  daemon.TLSSettings
		want string
	}{
		{"missing key", daemon.TLSSettings{KeyFile: key + ".missing", CertFile: cert, CAFile: ca.CACert()}, "key_file " + key + ".missing"},
		{"wrong key", daemon.TLSSettings{KeyFile: otherKey, CertFile: cert, CAFile: ca.CACert()}, "private key does not match public key"},
		{"missing CA", daemon.TLSSettings{KeyFile: key, CertFile: cert, CAFile: "/nonexistent/cacert.pem"}, "ca_file /nonexistent/cacert.pem"},
	} {
		t.Run(c.name, func(t *testing.T) {
			log := &syncLog{}
			set := c.set
			d := testdaemon.Start(t, testdaemon.Options{Log: log, TLS: &set})
			if d.TLSAddr() != "" {
				t.Fatalf("TLS listens on %s with a broken setup", d.TLSAddr())
			}
			log.waitLog(t, "TLS listener disabled", c.want)
			(&tlsSetup{d: d}).unixServes(t)
		})
	}
}

// TestTLSNoVerify: with tls_no_verify_certificate = 1 a client without a
// certificate is let in, and the log says why it was not refused.
func TestTLSNoVerify(t *testing.T) {
	ca := testdaemon.NewPKI(t, "govirt")
	cert, key := ca.Issue("server", testdaemon.CertOptions{Subject: "/O=govirt/CN=localhost", Server: true})
	log := &syncLog{}
	d := testdaemon.Start(t, testdaemon.Options{Log: log, TLS: &daemon.TLSSettings{KeyFile: key, CertFile: cert, CAFile: ca.CACert(), NoVerify: true}})
	pem, _ := os.ReadFile(ca.CACert())
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c, err := tls.Dial("tcp", d.TLSAddr(), &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	b := make([]byte, 1)
	if _, err := c.Read(b); err != nil || b[0] != 1 {
		t.Fatalf("confirmation byte %v, %v; want 1", b, err)
	}
	log.waitLog(t, "accepted as tls_no_verify_certificate = 1 asks", "the client presented no certificate")
}
