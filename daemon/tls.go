package daemon

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/govirt/govirtd/rpc"
	"github.com/govirt/govirtd/systemd"
)

// TLSSettings are libvirtd.conf's TLS keys. Empty strings take libvirtd's
// defaults (the accessors below).
type TLSSettings struct {
	Listen     bool   // listen_tls (default 0)
	ListenAddr string // listen_addr (default: every address)
	Port       string // tls_port (default "16514")
	KeyFile    string // key_file
	CertFile   string // cert_file
	CAFile     string // ca_file
	CRLFile    string // crl_file (default: none)
	// NoVerify accepts clients whose certificate fails verification (or
	// who present none), logging why (tls_no_verify_certificate).
	NoVerify bool
	// NoSanity skips the check of the daemon's own certificates at
	// start (tls_no_sanity_certificate).
	NoSanity bool
	// AllowedDN are glob patterns ('*', '?') a client's subject DN must
	// match one of when AllowedDNSet; an explicitly empty list lets no
	// one in, as libvirtd (tls_allowed_dn_list).
	AllowedDN    []string
	AllowedDNSet bool
	// Priority is tls_priority, a GnuTLS priority string; only its
	// protocol versions mean something to Go's crypto/tls (see
	// parsePriority).
	Priority string
}

// libvirtd's default files and port.
const (
	DefaultTLSKeyFile  = "/etc/pki/libvirt/private/serverkey.pem"
	DefaultTLSCertFile = "/etc/pki/libvirt/servercert.pem"
	DefaultTLSCAFile   = "/etc/pki/CA/cacert.pem"
	DefaultTLSPort     = "16514"
)

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// Key, Cert and CA are the files in use, defaults filled in.
func (t TLSSettings) Key() string  { return orDefault(t.KeyFile, DefaultTLSKeyFile) }
func (t TLSSettings) Cert() string { return orDefault(t.CertFile, DefaultTLSCertFile) }
func (t TLSSettings) CA() string   { return orDefault(t.CAFile, DefaultTLSCAFile) }

// Addr is the address the TLS listener binds.
func (t TLSSettings) Addr() string {
	return net.JoinHostPort(t.ListenAddr, orDefault(t.Port, DefaultTLSPort))
}

func boolKey(field func(*Config) *bool) setter {
	return func(c *Config, v confValue) error {
		if v.kind != 'i' || v.i < 0 || v.i > 1 {
			return fmt.Errorf("must be 0 or 1")
		}
		*field(c) = v.i == 1
		return nil
	}
}

func init() {
	setters["listen_tls"] = boolKey(func(c *Config) *bool { return &c.TLS.Listen })
	setters["tls_no_verify_certificate"] = boolKey(func(c *Config) *bool { return &c.TLS.NoVerify })
	setters["tls_no_sanity_certificate"] = boolKey(func(c *Config) *bool { return &c.TLS.NoSanity })
	setters["listen_addr"] = strKey(func(c *Config) *string { return &c.TLS.ListenAddr })
	setters["tls_priority"] = strKey(func(c *Config) *string { return &c.TLS.Priority })
	setters["key_file"] = absPathKey(func(c *Config) *string { return &c.TLS.KeyFile })
	setters["cert_file"] = absPathKey(func(c *Config) *string { return &c.TLS.CertFile })
	setters["ca_file"] = absPathKey(func(c *Config) *string { return &c.TLS.CAFile })
	setters["crl_file"] = absPathKey(func(c *Config) *string { return &c.TLS.CRLFile })
	setters["tls_port"] = func(c *Config, v confValue) error {
		// libvirtd takes a string ("16514"); an integer is accepted too.
		p := v.s
		if v.kind == 'i' {
			p = fmt.Sprint(v.i)
		} else if v.kind != 's' {
			return fmt.Errorf("must be a port number such as \"16514\"")
		}
		if _, err := net.LookupPort("tcp", p); err != nil {
			return fmt.Errorf("%q is not a port: %v", p, err)
		}
		c.TLS.Port = p
		return nil
	}
	setters["tls_allowed_dn_list"] = func(c *Config, v confValue) error {
		if v.kind != 'l' {
			return fmt.Errorf(`must be a list of quoted patterns, such as ["C=GB,O=Example,CN=*"]`)
		}
		c.TLS.AllowedDN, c.TLS.AllowedDNSet = v.list, true
		return nil
	}
}

// describeCert names a certificate the way every TLS message does: its
// subject, SANs, issuer and validity window.
func describeCert(c *x509.Certificate) string {
	var sans []string
	sans = append(sans, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		sans = append(sans, "IP:"+ip.String())
	}
	sans = append(sans, c.EmailAddresses...)
	for _, u := range c.URIs {
		sans = append(sans, u.String())
	}
	san := "none"
	if len(sans) > 0 {
		san = strings.Join(sans, ", ")
	}
	return fmt.Sprintf("subject %q, SANs [%s], issuer %q, valid %s to %s, serial %s",
		c.Subject.String(), san, c.Issuer.String(),
		c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339), c.SerialNumber.String())
}

// certTimes says, in plain words, whether c is outside its validity
// window at now; "" when it is inside.
func certTimes(c *x509.Certificate, now time.Time) string {
	switch {
	case now.After(c.NotAfter):
		return fmt.Sprintf("expired on %s", c.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(c.NotBefore):
		return fmt.Sprintf("is not valid before %s", c.NotBefore.UTC().Format(time.RFC3339))
	}
	return ""
}

// readCerts reads every certificate of a PEM file, naming the file and
// the key that set it in errors.
func readCerts(key, path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", key, path, err)
	}
	var certs []*x509.Certificate
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s %s: a certificate cannot be parsed: %w", key, path, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s %s holds no PEM certificate", key, path)
	}
	return certs, nil
}

// readCRL reads a PEM or DER certificate revocation list.
func readCRL(path string) (*x509.RevocationList, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("crl_file %s: %w", path, err)
	}
	if b, _ := pem.Decode(data); b != nil {
		data = b.Bytes
	}
	rl, err := x509.ParseRevocationList(data)
	if err != nil {
		return nil, fmt.Errorf("crl_file %s: not a revocation list: %w", path, err)
	}
	return rl, nil
}

// tlsContext is what the TLS listener's verification needs, loaded at
// start and again by each SIGHUP (reload.go); libvirtd reads its files
// only at start.
type tlsContext struct {
	set     TLSSettings
	pair    tls.Certificate
	roots   *x509.CertPool
	cas     []*x509.Certificate
	crl     *x509.RevocationList
	ignored []string // tls_priority tokens with no meaning to crypto/tls
	now     func() time.Time
}

// loadTLS reads the daemon's TLS files as the listener uses them. Any
// error names the key and file at fault.
func loadTLS(set TLSSettings) (*tlsContext, error) {
	t := &tlsContext{set: set, now: time.Now}
	cas, err := readCerts("ca_file", set.CA())
	if err != nil {
		return nil, err
	}
	t.cas = cas
	t.roots = x509.NewCertPool()
	for _, c := range cas {
		t.roots.AddCert(c)
	}
	if _, err := readCerts("cert_file", set.Cert()); err != nil {
		return nil, err
	}
	if _, err := os.Stat(set.Key()); err != nil {
		return nil, fmt.Errorf("key_file %s: %w", set.Key(), err)
	}
	t.pair, err = tls.LoadX509KeyPair(set.Cert(), set.Key())
	if err != nil {
		return nil, fmt.Errorf("cert_file %s with key_file %s: %w", set.Cert(), set.Key(), err)
	}
	if set.CRLFile != "" {
		if t.crl, err = readCRL(set.CRLFile); err != nil {
			return nil, err
		}
		if !t.crlSigned() {
			return nil, fmt.Errorf("crl_file %s (issuer %q) is not signed by a CA of ca_file %s", set.CRLFile, t.crl.Issuer.String(), set.CA())
		}
	}
	return t, nil
}

func (t *tlsContext) crlSigned() bool {
	for _, ca := range t.cas {
		if t.crl.CheckSignatureFrom(ca) == nil {
			return true
		}
	}
	return false
}

// config is the listener's crypto/tls configuration. Client certificates
// are required and verified by verifyClient, not by crypto/tls, so that
// a refusal names what was wrong.
func (t *tlsContext) config() (*tls.Config, error) {
	min, max, ignored, err := parsePriority(t.set.Priority)
	if err != nil {
		return nil, err
	}
	t.ignored = ignored
	cfg := &tls.Config{
		Certificates: []tls.Certificate{t.pair},
		// Certificates are asked for and checked by verifyClient, which
		// refuses a client without one (unless tls_no_verify_certificate):
		// its refusal names what was presented. No CA names are sent
		// with the request, so that a client sends the certificate it
		// has even if another CA issued it, and the log can say so.
		ClientAuth: tls.RequestClientCert,
		MinVersion: min,
		MaxVersion: max,
		// No TLS 1.3 session tickets: libvirt's client reads the
		// confirmation byte with one read after the handshake, and a
		// ticket record arriving first makes it fail with EAGAIN
		// ("Unable to read TLS confirmation").
		SessionTicketsDisabled: true,
	}
	return cfg, nil
}

// ClientCertError is why a TLS client's certificate was refused; its
// message names the certificate (subject, SANs, validity window).
type ClientCertError struct{ Reason string }

func (e *ClientCertError) Error() string { return "client certificate refused: " + e.Reason }

// verify is the TLS listener's check of a client once its handshake is
// done (rpc.ListenerOptions.TLSVerify): a refused client is closed
// without libvirt's confirmation byte, as libvirtd does, so that virsh
// says "server verification (of our certificate or IP address) failed".
func (t *tlsContext) verify(log func(msg string, args ...any)) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		err := t.verifyClient(cs.PeerCertificates)
		if err != nil && t.set.NoVerify {
			log("TLS client certificate not valid, accepted as tls_no_verify_certificate = 1 asks", "reason", err.Error())
			return nil
		}
		return err
	}
}

// verifyClient checks a client's chain against ca_file, crl_file and
// tls_allowed_dn_list, as libvirtd does after its handshake.
func (t *tlsContext) verifyClient(chain []*x509.Certificate) error {
	if len(chain) == 0 {
		return &ClientCertError{"the client presented no certificate (put clientcert.pem and clientkey.pem in its pkipath)"}
	}
	leaf := chain[0]
	now := t.now()
	if w := certTimes(leaf, now); w != "" {
		return &ClientCertError{fmt.Sprintf("it %s: %s", w, describeCert(leaf))}
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: t.roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return &ClientCertError{fmt.Sprintf("it does not verify against ca_file %s (%v): %s", t.set.CA(), err, describeCert(leaf))}
	}
	if t.crl != nil {
		for _, r := range t.crl.RevokedCertificateEntries {
			if r.SerialNumber.Cmp(leaf.SerialNumber) == 0 && leaf.Issuer.String() == t.crl.Issuer.String() {
				return &ClientCertError{fmt.Sprintf("it was revoked on %s (crl_file %s): %s", r.RevocationTime.UTC().Format(time.RFC3339), t.set.CRLFile, describeCert(leaf))}
			}
		}
	}
	if t.set.AllowedDNSet && !dnAllowed(leaf, t.set.AllowedDN) {
		return &ClientCertError{fmt.Sprintf("its subject matches no pattern of tls_allowed_dn_list %q: %s", t.set.AllowedDN, describeCert(leaf))}
	}
	return nil
}

// dnAllowed matches a subject against tls_allowed_dn_list. The DN is
// tried in RFC 4514 order (CN first, as Go and GnuTLS ≥ 3.5.7 print it)
// and in the reverse order older libvirt documentation shows
// ("C=GB,O=…,CN=…"): both are the same name.
func dnAllowed(c *x509.Certificate, patterns []string) bool {
	dn := c.Subject.String()
	parts := splitDN(dn)
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	rev := strings.Join(parts, ",")
	for _, p := range patterns {
		if globMatch(p, dn) || globMatch(p, rev) {
			return true
		}
	}
	return false
}

// splitDN splits an RFC 4514 DN at its unescaped commas.
func splitDN(dn string) []string {
	var parts []string
	start := 0
	for i := 0; i < len(dn); i++ {
		switch dn[i] {
		case '\\':
			i++
		case ',':
			parts = append(parts, dn[start:i])
			start = i + 1
		}
	}
	return append(parts, dn[start:])
}

// globMatch is the simple glob of libvirt's patterns: '*' any run of
// characters, '?' any one, everything else itself.
func globMatch(pattern, s string) bool {
	px, sx := 0, 0
	star, mark := -1, 0
	for sx < len(s) {
		switch {
		case px < len(pattern) && (pattern[px] == '?' || pattern[px] == s[sx]):
			px++
			sx++
		case px < len(pattern) && pattern[px] == '*':
			star, mark = px, sx
			px++
		case star >= 0:
			px = star + 1
			mark++
			sx = mark
		default:
			return false
		}
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}

// parsePriority maps a GnuTLS priority string to what Go's crypto/tls
// can be told: the protocol versions (+VERS-TLS1.x, -VERS-TLS1.x,
// -VERS-ALL / -VERS-TLS-ALL). Base keywords (NORMAL, SECURE128,
// SECURE256, PFS, PERFORMANCE, @SYSTEM…), cipher, MAC, group, signature
// and %flags tokens are returned as ignored: crypto/tls picks its own
// ciphers, which are secure by default. Versions start as Go's
// default, TLS 1.2 and 1.3.
func parsePriority(p string) (min, max uint16, ignored []string, err error) {
	vers := map[string]uint16{"TLS1.0": tls.VersionTLS10, "TLS1.1": tls.VersionTLS11, "TLS1.2": tls.VersionTLS12, "TLS1.3": tls.VersionTLS13}
	on := map[uint16]bool{tls.VersionTLS12: true, tls.VersionTLS13: true}
	if p == "" {
		return tls.VersionTLS12, tls.VersionTLS13, nil, nil
	}
	for _, tok := range strings.Split(p, ":") {
		if tok == "" {
			continue
		}
		sign := tok[0]
		name, isVers := strings.CutPrefix(tok[1:], "VERS-")
		if (sign != '+' && sign != '-' && sign != '!') || !isVers {
			ignored = append(ignored, tok)
			continue
		}
		if name == "ALL" || name == "TLS-ALL" {
			for v := range on {
				on[v] = sign == '+'
			}
			if sign == '+' {
				for _, v := range vers {
					on[v] = true
				}
			}
			continue
		}
		v, ok := vers[name]
		if !ok {
			ignored = append(ignored, tok) // DTLS, SSL3.0
			continue
		}
		on[v] = sign == '+'
	}
	for v := uint16(tls.VersionTLS10); v <= tls.VersionTLS13; v++ {
		if on[v] {
			if min == 0 {
				min = v
			}
			max = v
		}
	}
	if min == 0 {
		return 0, 0, ignored, fmt.Errorf("tls_priority %q enables no TLS version", p)
	}
	return min, max, ignored, nil
}

// tlsState is the TLS material new handshakes use: loaded at start and
// replaced, whole, by a SIGHUP whose files load (reload.go).
type tlsState struct {
	t    *tlsContext
	cfg  *tls.Config
	desc string // the server certificate, for the log of a failed handshake
}

// prepareTLS loads and checks set's files as the listener uses them:
// the key and certificate, the CA, the CRL, the sanity check (unless
// tls_no_sanity_certificate) and tls_priority. Any error names the key
// and file at fault.
func (d *Daemon) prepareTLS(set TLSSettings) (*tlsState, error) {
	t, err := loadTLS(set)
	if err != nil {
		return nil, err
	}
	if !set.NoSanity {
		// The sanity check of libvirtd, but the host-name match: clients
		// may reach the daemon by any of its names.
		var probs []string
		for _, p := range checkTLSFiles(set, "") {
			if p.Fatal {
				probs = append(probs, p.Text)
			} else {
				d.log.Warn("TLS: " + p.Text)
			}
		}
		if len(probs) > 0 {
			return nil, errors.New(strings.Join(probs, "; ") + " (tls_no_sanity_certificate = 1 skips this check)")
		}
	}
	cfg, err := t.config()
	if err != nil {
		return nil, err
	}
	if len(t.ignored) > 0 {
		d.log.Warn("tls_priority: only protocol versions apply to Go's crypto/tls; ignored", "tokens", strings.Join(t.ignored, ":"))
	}
	return &tlsState{t: t, cfg: cfg, desc: "cert_file " + set.Cert() + ": " + describeCert(t.pair.Leaf)}, nil
}

// listenTLS starts the TLS listener on l, the socket systemd passed
// (whatever listen_tls says: the unit decides), or else on
// listen_addr:tls_port when listen_tls = 1. A broken setup
// (missing file, bad key, a certificate failing the sanity check) is
// logged and disables only this listener: the unix sockets serve on.
// Each handshake takes the material in d.tls when it begins, so that a
// SIGHUP's renewed certificates and allowed DNs apply to the next
// client and connected clients keep their session.
func (d *Daemon) listenTLS(l net.Listener) {
	set := d.cfg.TLS
	if !set.Listen && l == nil {
		return
	}
	addr, inherited := set.Addr(), l != nil
	if inherited {
		addr = l.Addr().String()
	}
	fail := func(err error) {
		d.log.Error("TLS listener disabled; the unix sockets keep serving (run `govirsh tls check` to see every problem)", "addr", addr, "err", err)
	}
	st, err := d.prepareTLS(set)
	if err != nil {
		if l != nil {
			l.Close()
		}
		fail(err)
		return
	}
	if l == nil {
		if l, err = net.Listen("tcp", addr); err != nil {
			fail(fmt.Errorf("cannot listen on %s: %w (check listen_addr and tls_port)", addr, err))
			return
		}
	}
	d.tls.Store(st)
	d.listenMu.Lock()
	d.tlsInherited = inherited
	d.tlsAddr = l.Addr().String()
	d.listenMu.Unlock()
	from := "listen_tls"
	if inherited {
		from = "systemd " + systemd.SocketTLS
	}
	d.log.Info("listening", "tls", l.Addr().String(), "from", from, "cert_file", set.Cert(), "ca_file", set.CA())
	cfg := &tls.Config{
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return d.tls.Load().cfg, nil },
	}
	verify := func(cs tls.ConnectionState) error { return d.tls.Load().t.verify(d.log.Warn)(cs) }
	go func() {
		if err := d.srv.Serve(l, rpc.ListenerOptions{Name: "tls:" + l.Addr().String(), TLS: cfg, TLSVerify: verify,
			TLSServerCertFunc: func() string { return d.tls.Load().desc }}); err != nil && !errors.Is(err, rpc.ErrServerClosed) {
			d.log.Error("listener failed", "socket", l.Addr().String(), "err", err)
		}
	}()
}

// TLSAddr is the TLS listener's address, "" when it does not listen.
func (d *Daemon) TLSAddr() string {
	d.listenMu.Lock()
	defer d.listenMu.Unlock()
	return d.tlsAddr
}
