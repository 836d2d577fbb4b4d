package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/govirt/govirtd/internal/testdaemon"
)

// TestTLSCheck plants one problem at a time in a working TLS setup made
// with openssl and expects `govirsh tls check` to name it and exit 1.
func TestTLSCheck(t *testing.T) {
	ca := testdaemon.NewPKI(t, "govirt")
	other := testdaemon.NewPKI(t, "other")
	cert, key := ca.Issue("server", testdaemon.CertOptions{Subject: "/O=govirt/CN=localhost", Server: true})
	_, otherKey := ca.Issue("second", testdaemon.CertOptions{Subject: "/O=govirt/CN=second", Server: true})
	oldCert, oldKey := ca.Issue("old", testdaemon.CertOptions{Subject: "/O=govirt/CN=old", Server: true, Start: "20200101000000Z", End: "20200201000000Z"})
	newCert, newKey := ca.Issue("future", testdaemon.CertOptions{Subject: "/O=govirt/CN=future", Server: true, Start: "20990101000000Z", End: "21000101000000Z"})
	revCert, revKey := ca.Issue("revoked", testdaemon.CertOptions{Subject: "/O=govirt/CN=revoked", Server: true})
	crl := ca.Revoke(revCert)
	openKey := filepath.Join(t.TempDir(), "openkey.pem")
	data, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(openKey, data, 0o644); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name               string
		key, cert, ca, crl string
		host               string
		want               string // in the output; "" means no problem
	}{
		{"working", key, cert, ca.CACert(), crl, "localhost", ""},
		{"working by IP", key, cert, ca.CACert(), "", "127.0.0.1", ""},
		{"missing key", key + ".gone", cert, ca.CACert(), "", "localhost", "key_file " + key + ".gone: stat " + key + ".gone: no such file or directory"},
		{"missing CA", key, cert, "/nonexistent/ca.pem", "", "localhost", "ca_file /nonexistent/ca.pem: open /nonexistent/ca.pem: no such file or directory"},
		{"key readable by others", openKey, cert, ca.CACert(), "", "localhost", "is readable or writable by others than its owner (mode 0644); run chmod 600"},
		{"key of another certificate", otherKey, cert, ca.CACert(), "", "localhost", "does not go with cert_file " + cert},
		{"expired", oldKey, oldCert, ca.CACert(), "", "localhost", "the server certificate expired on 2020-02-01T00:00:00Z"},
		{"not yet valid", newKey, newCert, ca.CACert(), "", "localhost", "the server certificate is not valid before 2099-01-01T00:00:00Z"},
		{"host not in SANs", key, cert, ca.CACert(), "", "govirt.example", `no SAN names host "govirt.example"`},
		{"chain broken", key, cert, other.CACert(), "", "localhost", "does not chain to ca_file " + other.CACert()},
		{"revoked", revKey, revCert, ca.CACert(), crl, "localhost", "the server certificate is revoked by crl_file " + crl},
		{"CRL of another CA", key, cert, ca.CACert(), other.CRL(), "localhost", "is not signed by the CA of ca_file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			conf := "listen_tls = 1\nkey_file = \"" + c.key + "\"\ncert_file = \"" + c.cert + "\"\nca_file = \"" + c.ca + "\"\n"
			if c.crl != "" {
				conf += "crl_file = \"" + c.crl + "\"\n"
			}
			f := filepath.Join(t.TempDir(), "govirtd.conf")
			if err := os.WriteFile(f, []byte(conf), 0o600); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			code := run([]string{"tls", "check", "--config", f, "--host", c.host}, &out, &errb)
			if c.want == "" {
				if code != 0 || !strings.Contains(out.String(), "no problems found") {
					t.Fatalf("status %d, want 0\nstdout:\n%s\nstderr:\n%s", code, &out, &errb)
				}
				return
			}
			if code != 1 || !strings.Contains(out.String(), "problem: ") || !strings.Contains(out.String(), c.want) ||
				!strings.Contains(errb.String(), "problem(s) in the TLS setup") {
				t.Fatalf("status %d, want 1 and a problem saying %q\nstdout:\n%s\nstderr:\n%s", code, c.want, &out, &errb)
			}
		})
	}
}
