package daemon

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"strings"
	"testing"
)

func TestTLSConfigKeys(t *testing.T) {
	c, err := ParseConfig("t.conf", `
listen_tls = 1
listen_addr = "127.0.0.1"
tls_port = "16600"
key_file = "/k.pem"
cert_file = "/c.pem"
ca_file = "/ca.pem"
crl_file = "/crl.pem"
tls_no_verify_certificate = 1
tls_no_sanity_certificate = 1
tls_allowed_dn_list = []
tls_priority = "NORMAL:-VERS-TLS1.2"
`)
	if err != nil {
		t.Fatal(err)
	}
	s := c.TLS
	if !s.Listen || s.Addr() != "127.0.0.1:16600" || s.Key() != "/k.pem" || s.Cert() != "/c.pem" || s.CA() != "/ca.pem" ||
		s.CRLFile != "/crl.pem" || !s.NoVerify || !s.NoSanity || !s.AllowedDNSet || len(s.AllowedDN) != 0 || len(c.Warnings) != 0 {
		t.Fatalf("parsed %+v, warnings %q", s, c.Warnings)
	}
	d := Defaults().TLS
	if d.Listen || d.Addr() != ":16514" || d.Key() != DefaultTLSKeyFile || d.Cert() != DefaultTLSCertFile || d.CA() != DefaultTLSCAFile || d.AllowedDNSet {
		t.Fatalf("defaults %+v", d)
	}
	for _, bad := range []string{`listen_tls = 2`, `tls_port = "nope"`, `key_file = "rel.pem"`, `tls_allowed_dn_list = "CN=x"`} {
		if _, err := ParseConfig("b.conf", bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestTLSPriority(t *testing.T) {
	for _, c := range []struct {
		p        string
		min, max uint16
		ignored  string
	}{
		{"", tls.VersionTLS12, tls.VersionTLS13, ""},
		{"NORMAL", tls.VersionTLS12, tls.VersionTLS13, "NORMAL"},
		{"NORMAL:-VERS-TLS1.2", tls.VersionTLS13, tls.VersionTLS13, "NORMAL"},
		{"SECURE256:-VERS-ALL:+VERS-TLS1.2:%SERVER_PRECEDENCE", tls.VersionTLS12, tls.VersionTLS12, "SECURE256:%SERVER_PRECEDENCE"},
		{"NORMAL:+VERS-TLS1.1:-AES-128-CBC", tls.VersionTLS11, tls.VersionTLS13, "NORMAL:-AES-128-CBC"},
	} {
		min, max, ign, err := parsePriority(c.p)
		if err != nil || min != c.min || max != c.max || strings.Join(ign, ":") != c.ignored {
			t.Errorf("parsePriority(%q) = %x %x %q %v; want %x %x %q", c.p, min, max, ign, err, c.min, c.max, c.ignored)
		}
	}
	if _, _, _, err := parsePriority("NORMAL:-VERS-ALL"); err == nil {
		t.Error("a priority with no version accepted")
	}
}

func TestDNAllowed(t *testing.T) {
	cert := &x509.Certificate{Subject: pkix.Name{Country: []string{"GB"}, Organization: []string{"Example"}, CommonName: "host1"}}
	for _, c := range []struct {
		patterns []string
		want     bool
	}{
		{[]string{"CN=host1,O=Example,C=GB"}, true},
		{[]string{"C=GB,O=Example,CN=host*"}, true}, // libvirt's documented order
		{[]string{"C=GB,O=Example,CN=host?"}, true},
		{[]string{"C=GB,O=Other,CN=*"}, false},
		{[]string{"CN=host"}, false},
		{[]string{}, false}, // an explicit empty list lets no one in
	} {
		if got := dnAllowed(cert, c.patterns); got != c.want {
			t.Errorf("dnAllowed(%s, %q) = %v", cert.Subject, c.patterns, got)
		}
	}
}
