package daemon

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"time"
)

// TLSProblem is one thing wrong with the daemon's TLS files, in plain
// words. Fatal problems stop the TLS listener at start (unless
// tls_no_sanity_certificate = 1); the others are warnings.
type TLSProblem struct {
	Text  string
	Fatal bool
}

// CheckTLS loads the TLS files of set as the daemon does and reports
// every problem: a missing or unreadable file, a key readable by
// others, a key not matching its certificate, a certificate expired or
// not yet valid, a server certificate whose SANs do not name host
// (skipped when host is ""), a chain that does not lead to ca_file, a
// revocation list that is not the CA's or lists the server.
func CheckTLS(set TLSSettings, host string) []TLSProblem {
	return checkTLSFiles(set, host)
}

func checkTLSFiles(set TLSSettings, host string) []TLSProblem {
	var probs []TLSProblem
	add := func(fatal bool, format string, args ...any) {
		probs = append(probs, TLSProblem{Text: fmt.Sprintf(format, args...), Fatal: fatal})
	}
	now := time.Now()

	cas, err := readCerts("ca_file", set.CA())
	if err != nil {
		add(true, "%v", err)
	}
	roots := x509.NewCertPool()
	for _, ca := range cas {
		roots.AddCert(ca)
		if w := certTimes(ca, now); w != "" {
			add(true, "ca_file %s: the CA certificate %s: %s", set.CA(), w, describeCert(ca))
		}
		if !ca.IsCA {
			add(true, "ca_file %s: the certificate is not a CA (basicConstraints CA:TRUE is missing): %s", set.CA(), describeCert(ca))
		}
	}

	var leaf *x509.Certificate
	if certs, err := readCerts("cert_file", set.Cert()); err != nil {
		add(true, "%v", err)
	} else {
		leaf = certs[0]
		if w := certTimes(leaf, now); w != "" {
			add(true, "cert_file %s: the server certificate %s: %s", set.Cert(), w, describeCert(leaf))
		}
		if leaf.IsCA {
			add(true, "cert_file %s: the server certificate is a CA certificate (basicConstraints CA:TRUE); issue one with CA:FALSE: %s", set.Cert(), describeCert(leaf))
		}
		if len(cas) > 0 {
			// Judge the chain at a time the certificate is valid, so that
			// an expired certificate is not also called a broken chain.
			at := now
			if certTimes(leaf, now) != "" {
				at = leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) / 2)
			}
			inter := x509.NewCertPool()
			for _, c := range certs[1:] {
				inter.AddCert(c)
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
				add(true, "cert_file %s does not chain to ca_file %s: %v: %s", set.Cert(), set.CA(), err, describeCert(leaf))
			}
		}
		if host != "" {
			if err := leaf.VerifyHostname(host); err != nil {
				add(false, "cert_file %s: no SAN names host %q, so clients connecting to %s refuse the server (add DNS:%s or IP:%s to subjectAltName): %s", set.Cert(), host, host, host, host, describeCert(leaf))
			}
		}
	}

	if fi, err := os.Stat(set.Key()); err != nil {
		add(true, "key_file %s: %v", set.Key(), err)
	} else {
		if m := fi.Mode().Perm(); m&0o077 != 0 {
			add(false, "key_file %s is readable or writable by others than its owner (mode %04o); run chmod 600 %s", set.Key(), m, set.Key())
		}
		if _, err := os.ReadFile(set.Key()); err != nil {
			add(true, "key_file %s: %v", set.Key(), err)
		} else if leaf != nil {
			if _, err := tls.LoadX509KeyPair(set.Cert(), set.Key()); err != nil {
				add(true, "key_file %s does not go with cert_file %s: %v", set.Key(), set.Cert(), err)
			}
		}
	}

	if set.CRLFile != "" {
		rl, err := readCRL(set.CRLFile)
		if err != nil {
			add(true, "%v", err)
		} else {
			signed := false
			for _, ca := range cas {
				if rl.CheckSignatureFrom(ca) == nil {
					signed = true
				}
			}
			if !signed && len(cas) > 0 {
				add(true, "crl_file %s (issuer %q) is not signed by the CA of ca_file %s", set.CRLFile, rl.Issuer.String(), set.CA())
			}
			if !rl.NextUpdate.IsZero() && now.After(rl.NextUpdate) {
				add(false, "crl_file %s is out of date: its next update was due %s; issue a new one", set.CRLFile, rl.NextUpdate.UTC().Format(time.RFC3339))
			}
			if leaf != nil {
				for _, r := range rl.RevokedCertificateEntries {
					if r.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
						add(true, "cert_file %s: the server certificate is revoked by crl_file %s: %s", set.Cert(), set.CRLFile, describeCert(leaf))
					}
				}
			}
		}
	}
	if _, _, _, err := parsePriority(set.Priority); err != nil {
		add(true, "%v", err)
	}
	return probs
}
