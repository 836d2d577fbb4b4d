package daemon

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/internal/sockpath"
)

// DefaultConfig is the configuration govirtd runs on without --config;
// it documents every key.
//
//go:embed govirtd.conf
var DefaultConfig string

// Config is the daemon's configuration, read from a file in
// libvirtd.conf's syntax with libvirtd.conf's key names.
type Config struct {
	// UnixSockDir holds govirtd-sock and govirtd-sock-ro (unix_sock_dir).
	UnixSockDir string
	// UnixSockGroup owns the sockets when set (unix_sock_group).
	UnixSockGroup string
	// UnixSockROPerms and UnixSockRWPerms are the sockets' modes
	// (unix_sock_ro_perms, unix_sock_rw_perms).
	UnixSockROPerms os.FileMode
	UnixSockRWPerms os.FileMode

	MaxClients int // max_clients
	// MaxROClients bounds the clients of the read-only socket, which any
	// local user may open, below max_clients, so that they cannot lock
	// root out of the read-write socket (max_ro_clients, a govirtd key;
	// 0 is nine tenths of max_clients).
	MaxROClients      int
	MaxClientRequests int // max_client_requests
	// MaxClientQueue bounds the messages (replies and events) waiting to
	// be written to one client; a client whose queue fills is
	// disconnected (max_client_queue, a govirtd key: libvirtd has no bound).
	MaxClientQueue int
	// MaxClientQueueBytes bounds the bytes of replies and events waiting
	// to be written to one client: past it the client is not read until
	// its queue drains to half, and it is disconnected if it stays over
	// for ClientStuckTimeout seconds (max_client_queue_bytes and
	// client_stuck_timeout, govirtd keys).
	MaxClientQueueBytes int
	ClientStuckTimeout  int
	// ClientFrameTimeout is how many seconds a frame may take to arrive
	// once it began (client_frame_timeout, a govirtd key).
	ClientFrameTimeout int
	// MaxInflightBytes bounds the bytes of calls over 64 KiB being read
	// or waiting to run, for all clients together; past it new large
	// calls wait (max_inflight_bytes, a govirtd key).
	MaxInflightBytes  int
	KeepaliveInterval int // keepalive_interval, seconds; -1 never pings
	KeepaliveCount    int // keepalive_count

	// TLS is the TLS listener's settings (listen_tls, tls_port, key_file,
	// …; daemon/tls.go).
	TLS TLSSettings

	// LogLevel is 1 debug, 2 info, 3 warning, 4 error (log_level).
	LogLevel int
	// LogFilters are per-driver levels in libvirt's syntax, "1:qemu
	// 3:storage" (log_filters; LogFilter).
	LogFilters string

	// AdminMaxClients and AdminMaxClientRequests are the admin server's
	// limits (admin_max_clients, admin_max_client_requests; 0 is
	// libvirtd's default, 5).
	AdminMaxClients        int
	AdminMaxClientRequests int

	// Warnings are what the file had that was ignored: unknown keys, and
	// libvirtd keys govirtd does not implement.
	Warnings []string

	// source names the file (or the embedded default) it was read from;
	// lines is the line of each key set there, driverValues the value
	// of each driver key the file set (reload.go compares them).
	source       string
	lines        map[string]int
	driverValues map[string]string
}

// Defaults returns the configuration of the embedded default file, with
// unix_sock_dir chosen for the user: /run/govirtd as root, else
// $XDG_RUNTIME_DIR/govirtd.
func Defaults() *Config {
	c, err := ParseConfig("(embedded default)", DefaultConfig)
	if err != nil {
		panic(err) // the embedded file is tested
	}
	return c
}

// LoadConfig reads the configuration file at path; the keys drvs own
// (drivers.Configurable) are handed to them.
func LoadConfig(path string, drvs ...drivers.Driver) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read config file: %w", err)
	}
	return ParseConfig(path, string(data), drvs...)
}

// unimplemented are libvirtd.conf keys govirtd knows but does not act on.
var unimplemented = map[string]bool{
	"listen_tcp": true, "tcp_port": true,
	"auth_unix_ro": true, "auth_unix_rw": true, "auth_tcp": true, "auth_tls": true,
	"unix_sock_admin_perms": true, "max_queued_clients": true, "max_anonymous_clients": true,
	"min_workers": true, "max_workers": true, "prio_workers": true, "max_requests": true,
	"keepalive_required": true, "log_outputs": true,
	"admin_max_workers": true, "admin_max_queued_clients": true,
	"admin_keepalive_interval": true, "admin_keepalive_count": true,
	"mdns_adv": true, "mdns_name": true, "audit_level": true, "audit_logging": true, "host_uuid": true,
	"host_uuid_source": true, "ovs_timeout": true, "access_drivers": true,
}

// ParseConfig parses a configuration in libvirtd.conf's syntax: lines of
// `key = value`, where a value is an integer, a "string" or a list
// ["a", "b"]; `#` starts a comment. name appears in errors. The daemon's
// own keys fill the Config; the keys a driver of drvs declares
// (drivers.Configurable: qemu_binary, qemu_config_dir, …) are checked
// and handed to that driver, which keeps them.
func ParseConfig(name, text string, drvs ...drivers.Driver) (*Config, error) {
	return parseConfig(name, text, drvs, true)
}

// CheckConfig reads and checks the configuration file at path as
// LoadConfig does, but hands the drivers nothing: their keys are checked
// against their declared type and range only. SIGHUP reads the new file
// with it.
func CheckConfig(path string, drvs ...drivers.Driver) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read config file: %w", err)
	}
	return parseConfig(path, string(data), drvs, false)
}

func parseConfig(name, text string, drvs []drivers.Driver, apply bool) (*Config, error) {
	driverKeys, err := collectDriverKeys(drvs)
	if err != nil {
		return nil, err
	}
	c := &Config{
		UnixSockROPerms:     0o777,
		UnixSockRWPerms:     0o700,
		MaxClients:          5000,
		MaxClientRequests:   5,
		MaxClientQueue:      1024,
		MaxClientQueueBytes: 16 << 20,
		ClientStuckTimeout:  30,
		ClientFrameTimeout:  60,
		MaxInflightBytes:    128 << 20,
		KeepaliveInterval:   5,
		KeepaliveCount:      5,
		LogLevel:            3,
		source:              name,
		lines:               map[string]int{},
		driverValues:        map[string]string{},
	}
	entries, err := parseConfText(name, text)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%s:%d: %s: %s", name, e.line, e.key, fmt.Sprintf(format, args...))
		}
		c.lines[e.key] = e.line
		if dk, ok := driverKeys[e.key]; ok {
			if err := setDriverKey(dk, e.value, apply); err != nil {
				return nil, bad("%v", err)
			}
			c.driverValues[e.key] = e.value.String()
			continue
		}
		set, ok := setters[e.key]
		if !ok {
			if unimplemented[e.key] {
				c.Warnings = append(c.Warnings, fmt.Sprintf("%s:%d: %s is a libvirtd setting govirtd does not implement; ignored", name, e.line, e.key))
			} else {
				c.Warnings = append(c.Warnings, fmt.Sprintf("%s:%d: unknown setting %s; ignored", name, e.line, e.key))
			}
			continue
		}
		if err := set(c, e.value); err != nil {
			return nil, bad("%v", err)
		}
	}
	return c, nil
}

type confValue struct {
	kind byte // 'i' integer, 's' string, 'l' list of strings
	i    int64
	s    string
	list []string
}

// String is the value as the file wrote it.
func (v confValue) String() string {
	switch v.kind {
	case 'i':
		return strconv.FormatInt(v.i, 10)
	case 's':
		return strconv.Quote(v.s)
	}
	q := make([]string, len(v.list))
	for i, s := range v.list {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func (v confValue) describe() string {
	switch v.kind {
	case 'i':
		return "an integer"
	case 's':
		return "a string"
	}
	return "a list"
}

type setter func(c *Config, v confValue) error

func intKey(field func(*Config) *int, lo, hi int64) setter {
	return func(c *Config, v confValue) error {
		if v.kind != 'i' {
			return fmt.Errorf("must be an integer, not %s", v.describe())
		}
		if v.i < lo || v.i > hi {
			return fmt.Errorf("%d is out of range [%d, %d]", v.i, lo, hi)
		}
		*field(c) = int(v.i)
		return nil
	}
}

func strKey(field func(*Config) *string) setter {
	return func(c *Config, v confValue) error {
		if v.kind != 's' {
			return fmt.Errorf("must be a quoted string, not %s", v.describe())
		}
		*field(c) = v.s
		return nil
	}
}

func permKey(field func(*Config) *os.FileMode) setter {
	return func(c *Config, v confValue) error {
		m, err := strconv.ParseUint(v.s, 8, 32)
		if v.kind != 's' || err != nil || m > 0o777 {
			return fmt.Errorf(`must be an octal mode in quotes, such as "0770"`)
		}
		*field(c) = os.FileMode(m)
		return nil
	}
}

func absPathKey(field func(*Config) *string) setter {
	return func(c *Config, v confValue) error {
		if err := strKey(field)(c, v); err != nil {
			return err
		}
		if !filepath.IsAbs(*field(c)) {
			return fmt.Errorf("%q must be an absolute path", *field(c))
		}
		return nil
	}
}

var setters = map[string]setter{
	"unix_sock_dir":          absPathKey(func(c *Config) *string { return &c.UnixSockDir }),
	"unix_sock_group":        strKey(func(c *Config) *string { return &c.UnixSockGroup }),
	"unix_sock_ro_perms":     permKey(func(c *Config) *os.FileMode { return &c.UnixSockROPerms }),
	"unix_sock_rw_perms":     permKey(func(c *Config) *os.FileMode { return &c.UnixSockRWPerms }),
	"max_clients":            intKey(func(c *Config) *int { return &c.MaxClients }, 1, 1<<20),
	"max_ro_clients":         intKey(func(c *Config) *int { return &c.MaxROClients }, 0, 1<<20),
	"max_client_requests":    intKey(func(c *Config) *int { return &c.MaxClientRequests }, 1, 1<<16),
	"max_client_queue":       intKey(func(c *Config) *int { return &c.MaxClientQueue }, 16, 1<<20),
	"max_client_queue_bytes": intKey(func(c *Config) *int { return &c.MaxClientQueueBytes }, 64<<10, 1<<30),
	// At least one largest frame (32 MiB), so that any call can run.
	"max_inflight_bytes":   intKey(func(c *Config) *int { return &c.MaxInflightBytes }, 32<<20, 16<<30),
	"client_stuck_timeout": intKey(func(c *Config) *int { return &c.ClientStuckTimeout }, 1, 1<<20),
	"client_frame_timeout": intKey(func(c *Config) *int { return &c.ClientFrameTimeout }, 1, 1<<20),
	"keepalive_interval":   intKey(func(c *Config) *int { return &c.KeepaliveInterval }, -1, 1<<20),
	"keepalive_count":      intKey(func(c *Config) *int { return &c.KeepaliveCount }, 0, 1<<16),
	"log_level":            intKey(func(c *Config) *int { return &c.LogLevel }, 1, 4),
}

// ROClientLimit is max_ro_clients, or nine tenths of max_clients when it
// is 0: the read-write socket always keeps places of its own.
func (c *Config) ROClientLimit() int {
	if c.MaxROClients > 0 {
		return min(c.MaxROClients, c.MaxClients)
	}
	return max(c.MaxClients-max(c.MaxClients/10, 1), 1)
}

// KeepaliveDuration is keepalive_interval as a duration; 0 never pings.
func (c *Config) KeepaliveDuration() time.Duration {
	if c.KeepaliveInterval <= 0 {
		return 0
	}
	return time.Duration(c.KeepaliveInterval) * time.Second
}

// SockDir is unix_sock_dir, or its default.
func (c *Config) SockDir() string {
	if c.UnixSockDir != "" {
		return c.UnixSockDir
	}
	return sockpath.DefaultDir()
}

// driverKey is a key a driver owns, and the driver's name for errors.
type driverKey struct {
	drivers.ConfigKey
	driver string
}

// collectDriverKeys gathers the keys of drvs; a key the daemon owns, or
// two drivers declare, is a programming error reported as such.
func collectDriverKeys(drvs []drivers.Driver) (map[string]driverKey, error) {
	out := map[string]driverKey{}
	for _, d := range drvs {
		cd, ok := d.(drivers.Configurable)
		if !ok {
			continue
		}
		for _, k := range cd.ConfigKeys() {
			if _, daemon := setters[k.Name]; daemon {
				return nil, fmt.Errorf("the %s driver declares the configuration key %s, which the daemon owns", d.Name(), k.Name)
			}
			if prev, dup := out[k.Name]; dup {
				return nil, fmt.Errorf("the %s and %s drivers both declare the configuration key %s", prev.driver, d.Name(), k.Name)
			}
			out[k.Name] = driverKey{k, d.Name()}
		}
	}
	return out, nil
}

// setDriverKey checks v against k's type and, when apply is set, hands
// it to the driver.
func setDriverKey(k driverKey, v confValue, apply bool) error {
	switch k.Type {
	case drivers.ConfigInt:
		if v.kind != 'i' {
			return fmt.Errorf("must be an integer, not %s", v.describe())
		}
		if v.i < k.Min || v.i > k.Max {
			return fmt.Errorf("%d is out of range [%d, %d]", v.i, k.Min, k.Max)
		}
		if !apply {
			return nil
		}
		return k.SetInt(v.i)
	case drivers.ConfigAbsPath:
		if v.kind == 's' && !filepath.IsAbs(v.s) {
			return fmt.Errorf("%q must be an absolute path", v.s)
		}
	}
	if v.kind != 's' {
		return fmt.Errorf("must be a quoted string, not %s", v.describe())
	}
	if !apply {
		return nil
	}
	return k.SetString(v.s)
}

type confEntry struct {
	line  int
	key   string
	value confValue
}

// parseConfText splits text into entries. A list may span lines.
func parseConfText(name, text string) ([]confEntry, error) {
	var out []confEntry
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		lineNo := i + 1
		line := stripComment(lines[i])
		if strings.TrimSpace(line) == "" {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !ok || key == "" || strings.ContainsAny(key, " \t\"") {
			return nil, fmt.Errorf("%s:%d: expected `key = value`, found %q", name, lineNo, strings.TrimSpace(lines[i]))
		}
		if strings.HasPrefix(val, "[") {
			for !strings.Contains(val, "]") && i+1 < len(lines) {
				i++
				val += " " + strings.TrimSpace(stripComment(lines[i]))
			}
		}
		v, err := parseConfValue(val)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %s: %v", name, lineNo, key, err)
		}
		out = append(out, confEntry{line: lineNo, key: key, value: v})
	}
	return out, nil
}

// stripComment removes a # comment that is not inside quotes.
func stripComment(line string) string {
	inQuote := false
	for i, r := range line {
		switch {
		case r == '"':
			inQuote = !inQuote
		case r == '#' && !inQuote:
			return line[:i]
		}
	}
	return line
}

func parseConfValue(s string) (confValue, error) {
	switch {
	case s == "":
		return confValue{}, fmt.Errorf("missing value")
	case strings.HasPrefix(s, `"`):
		str, err := unquote(s)
		return confValue{kind: 's', s: str}, err
	case strings.HasPrefix(s, "["):
		if !strings.HasSuffix(s, "]") {
			return confValue{}, fmt.Errorf("list %s is not closed with ]", s)
		}
		v := confValue{kind: 'l'}
		rest := strings.TrimSpace(s[1 : len(s)-1])
		for rest != "" {
			item, ok := strings.CutPrefix(rest, `"`)
			closing := strings.IndexByte(item, '"')
			if !ok || closing < 0 {
				return confValue{}, fmt.Errorf("list items must be quoted strings: %s", s)
			}
			v.list = append(v.list, item[:closing])
			rest = strings.TrimSpace(item[closing+1:])
			if r, ok := strings.CutPrefix(rest, ","); ok {
				rest = strings.TrimSpace(r)
			} else if rest != "" {
				return confValue{}, fmt.Errorf("list items must be separated by commas: %s", s)
			}
		}
		return v, nil
	}
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return confValue{}, fmt.Errorf("%s is neither an integer nor a quoted string", s)
	}
	return confValue{kind: 'i', i: i}, nil
}

func unquote(s string) (string, error) {
	if len(s) < 2 || !strings.HasPrefix(s, `"`) || !strings.HasSuffix(s, `"`) || strings.Count(s, `"`) != 2 {
		return "", fmt.Errorf("malformed string %s", s)
	}
	return s[1 : len(s)-1], nil
}
