package daemon

import (
	"strings"
	"testing"
)

func TestEmbeddedDefaultConfig(t *testing.T) {
	c, err := ParseConfig("govirtd.conf", DefaultConfig)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 0 {
		t.Fatalf("the embedded default warns: %v", c.Warnings)
	}
	if c.MaxClients != 5000 || c.MaxClientRequests != 5 || c.KeepaliveInterval != 5 || c.KeepaliveCount != 5 ||
		c.UnixSockRWPerms != 0o700 || c.UnixSockROPerms != 0o777 || c.MaxClientQueue != 1024 {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig("x.conf", `
# a comment
unix_sock_dir = "/tmp/sockets"   # trailing comment
unix_sock_group = "kvm"
unix_sock_rw_perms = "0770"
max_clients = 10
keepalive_interval = -1
log_level = 1
listen_tcp = 0
frobnicate = "yes"
tls_allowed_dn_list = ["C=GB,CN=a",
                       "C=GB,CN=b"]
`)
	if err != nil {
		t.Fatal(err)
	}
	if c.UnixSockDir != "/tmp/sockets" || c.UnixSockGroup != "kvm" || c.UnixSockRWPerms != 0o770 ||
		c.MaxClients != 10 || c.KeepaliveInterval != -1 || c.KeepaliveDuration() != 0 || c.LogLevel != 1 {
		t.Fatalf("parsed %+v", c)
	}
	want := []string{
		"x.conf:9: listen_tcp is a libvirtd setting govirtd does not implement; ignored",
		"x.conf:10: unknown setting frobnicate; ignored",
	}
	if !c.TLS.AllowedDNSet || strings.Join(c.TLS.AllowedDN, "|") != "C=GB,CN=a|C=GB,CN=b" {
		t.Fatalf("tls_allowed_dn_list: %q", c.TLS.AllowedDN)
	}
	if strings.Join(c.Warnings, "\n") != strings.Join(want, "\n") {
		t.Fatalf("warnings:\n%s\nwant:\n%s", strings.Join(c.Warnings, "\n"), strings.Join(want, "\n"))
	}
}

func TestParseConfigErrorsNameTheKey(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{`max_clients = "many"`, `f.conf:1: max_clients: must be an integer, not a string`},
		{`max_clients = 0`, `f.conf:1: max_clients: 0 is out of range [1, 1048576]`},
		{`unix_sock_dir = "relative/dir"`, `f.conf:1: unix_sock_dir: "relative/dir" must be an absolute path`},
		{`unix_sock_rw_perms = "0999"`, `f.conf:1: unix_sock_rw_perms: must be an octal mode in quotes, such as "0770"`},
		{`log_level = 7`, `f.conf:1: log_level: 7 is out of range [1, 4]`},
		{"\nkeepalive_count = ", `f.conf:2: keepalive_count: missing value`},
		{`max_clients 5`, "f.conf:1: expected `key = value`, found \"max_clients 5\""},
		{`unix_sock_group = "a`, `f.conf:1: unix_sock_group: malformed string "a`},
		{`x = [ "a", "b"`, `f.conf:1: x: list [ "a", "b" is not closed with ]`},
	} {
		_, err := ParseConfig("f.conf", c.text)
		if err == nil || err.Error() != c.want {
			t.Errorf("ParseConfig(%q): %v\nwant: %s", c.text, err, c.want)
		}
	}
}
