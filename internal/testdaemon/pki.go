package testdaemon

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// PKI is a certificate authority made with Debian's openssl in a test's
// temporary directory, issuing server and client certificates the way
// an administrator does for libvirtd (openssl ca, with a database, so
// that certificates can be revoked into a CRL).
type PKI struct {
	Dir string
	t   testing.TB
}

// CertOptions describe a certificate to issue.
type CertOptions struct {
	// Subject in openssl's form, "/O=govirt/CN=client".
	Subject string
	// Server gives the serverAuth purpose and the SANs IP:127.0.0.1 and
	// DNS:localhost (what virsh checks connecting to 127.0.0.1);
	// otherwise the certificate is a client's (clientAuth).
	Server bool
	// Start and End, when set, are its validity window in openssl ca's
	// form (20200101000000Z); by default from now for a year.
	Start, End string
}

func (p *PKI) openssl(args ...string) {
	p.t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		p.t.Fatalf("openssl is not installed (make deps installs it: apt-get install openssl): %v", err)
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = p.Dir
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (p *PKI) write(name, text string) string {
	p.t.Helper()
	f := filepath.Join(p.Dir, name)
	if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
		p.t.Fatal(err)
	}
	return f
}

// NewPKI makes a CA whose subject is "/O=govirt/CN=<name> CA".
func NewPKI(t testing.TB, name string) *PKI {
	t.Helper()
	p := &PKI{Dir: t.TempDir(), t: t}
	os.Mkdir(filepath.Join(p.Dir, "newcerts"), 0o700)
	p.write("index.txt", "")
	p.write("serial", "1000\n")
	p.write("crlnumber", "1000\n")
	p.write("ca.cnf", `[ ca ]
default_ca = CA_default
[ CA_default ]
dir = `+p.Dir+`
database = $dir/index.txt
new_certs_dir = $dir/newcerts
certificate = $dir/cacert.pem
private_key = $dir/cakey.pem
serial = $dir/serial
crlnumber = $dir/crlnumber
default_md = sha256
default_days = 365
default_crl_days = 30
policy = policy_any
preserve = yes
unique_subject = no
[ policy_any ]
commonName = supplied
organizationName = optional
countryName = optional
[ server ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
[ client ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
`)
	p.openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
		"-keyout", "cakey.pem", "-out", "cacert.pem", "-days", "3650", "-subj", "/O=govirt/CN="+name+" CA",
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
	return p
}

// CACert is the CA's certificate file.
func (p *PKI) CACert() string { return filepath.Join(p.Dir, "cacert.pem") }

// Issue makes a key and a certificate signed by the CA, named name,
// and returns their files.
func (p *PKI) Issue(name string, o CertOptions) (cert, key string) {
	p.t.Helper()
	key, csr, cert := name+"key.pem", name+".csr", name+"cert.pem"
	p.openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
		"-keyout", key, "-out", csr, "-subj", o.Subject)
	ext := "client"
	if o.Server {
		ext = "server"
	}
	args := []string{"ca", "-batch", "-notext", "-config", "ca.cnf", "-extfile", "ca.cnf", "-extensions", ext, "-in", csr, "-out", cert}
	if o.Start != "" {
		args = append(args, "-startdate", o.Start)
	}
	if o.End != "" {
		args = append(args, "-enddate", o.End)
	}
	p.openssl(args...)
	return filepath.Join(p.Dir, cert), filepath.Join(p.Dir, key)
}

// Revoke revokes cert and writes the CA's CRL, whose file it returns.
func (p *PKI) Revoke(cert string) string {
	p.t.Helper()
	p.openssl("ca", "-config", "ca.cnf", "-revoke", cert)
	return p.CRL()
}

// CRL writes the CA's current revocation list and returns its file.
func (p *PKI) CRL() string {
	p.t.Helper()
	p.openssl("ca", "-config", "ca.cnf", "-gencrl", "-out", "crl.pem")
	return filepath.Join(p.Dir, "crl.pem")
}

// ClientDir lays out a client's pkipath (libvirt's names): ca as
// cacert.pem, cert and key as clientcert.pem and clientkey.pem.
func ClientDir(t testing.TB, ca, cert, key string) string {
	t.Helper()
	dir := t.TempDir()
	for src, dst := range map[string]string{ca: "cacert.pem", cert: "clientcert.pem", key: "clientkey.pem"} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
