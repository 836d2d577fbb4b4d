package qemu

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Config says where the QEMU driver finds qemu and keeps its files. Every
// field may be left empty: Defaults fills it for the daemon's user, as
// libvirt does for qemu:///system (root) and qemu:///session (others).
type Config struct {
	// Binary is the qemu executable for domains whose definition names no
	// <emulator> (qemu_binary). Empty: qemu-system-x86_64 from $PATH.
	Binary string
	// ConfigDir holds the persistent definitions, NAME.xml
	// (qemu_config_dir).
	ConfigDir string
	// AutostartDir holds a link NAME.xml -> ../NAME.xml for each domain
	// flagged autostart (qemu_autostart_dir; default ConfigDir/autostart).
	AutostartDir string
	// StateDir holds what lives as long as the guests: the status file
	// and monitor socket of each running domain, and the marker that
	// autostart ran this boot (qemu_state_dir). It should be on a tmpfs
	// such as /run, so that the marker goes away with a reboot.
	StateDir string
	// LogDir holds each domain's qemu log, NAME.log (qemu_log_dir).
	LogDir string

	// DestroyGrace is how long destroy waits after SIGTERM before it
	// sends SIGKILL (default 10s, as libvirt).
	DestroyGrace time.Duration
	// MonitorTimeout bounds each monitor command and the reconnection to
	// one guest at startup (default 30s).
	MonitorTimeout time.Duration
	// JobTimeout bounds how long an operation waits for the one running
	// on the same domain (default 30s, as libvirt).
	JobTimeout time.Duration
}

// privileged reports whether the driver serves qemu:///system (root)
// rather than qemu:///session.
func privileged() bool { return os.Geteuid() == 0 }

// Defaults returns c with every empty field set: under /etc/govirtd/qemu,
// /run/govirtd/qemu and /var/log/govirtd/qemu as root, else under the
// user's XDG directories.
func (c Config) Defaults() Config {
	if privileged() {
		setDefault(&c.ConfigDir, "/etc/govirtd/qemu")
		setDefault(&c.StateDir, "/run/govirtd/qemu")
		setDefault(&c.LogDir, "/var/log/govirtd/qemu")
	} else {
		setDefault(&c.ConfigDir, filepath.Join(xdgDir("XDG_CONFIG_HOME", ".config"), "govirtd", "qemu"))
		setDefault(&c.StateDir, filepath.Join(runtimeDir(), "govirtd", "qemu"))
		setDefault(&c.LogDir, filepath.Join(xdgDir("XDG_CACHE_HOME", ".cache"), "govirtd", "qemu", "log"))
	}
	setDefault(&c.AutostartDir, filepath.Join(c.ConfigDir, "autostart"))
	if c.DestroyGrace <= 0 {
		c.DestroyGrace = 10 * time.Second
	}
	if c.MonitorTimeout <= 0 {
		c.MonitorTimeout = 30 * time.Second
	}
	if c.JobTimeout <= 0 {
		c.JobTimeout = 30 * time.Second
	}
	return c
}

func setDefault(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

func xdgDir(env, fallback string) string {
	if d := os.Getenv(env); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = os.TempDir()
	}
	return filepath.Join(home, fallback)
}

func runtimeDir() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("govirtd-%d", os.Geteuid()))
}

// findBinary resolves the qemu binary: the configured one, else
// qemu-system-x86_64 from $PATH.
func (c Config) findBinary() (string, error) {
	if c.Binary != "" {
		if _, err := exec.LookPath(c.Binary); err != nil {
			return "", fmt.Errorf("qemu_binary %s is not an executable (%v); install qemu-system-x86 or fix qemu_binary", c.Binary, err)
		}
		return c.Binary, nil
	}
	p, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		return "", fmt.Errorf("no qemu-system-x86_64 in $PATH (install qemu-system-x86, run `make deps`, or set qemu_binary)")
	}
	return p, nil
}

// path helpers: where each file of a domain lives.

func (c Config) definitionPath(name string) string { return filepath.Join(c.ConfigDir, name+".xml") }
func (c Config) autostartPath(name string) string  { return filepath.Join(c.AutostartDir, name+".xml") }
func (c Config) statusPath(name string) string     { return filepath.Join(c.StateDir, name+".status") }
func (c Config) logPath(name string) string        { return filepath.Join(c.LogDir, name+".log") }
func (c Config) autostartedMarker() string         { return filepath.Join(c.StateDir, "autostarted") }

// maxSocketPath is the longest path a unix socket address holds.
const maxSocketPath = 107

// monitorPath is the monitor socket of a domain: NAME.monitor in the state
// directory, or UUID.monitor when the name makes the path too long.
func (c Config) monitorPath(name, uuid string) (string, error) {
	p := filepath.Join(c.StateDir, name+".monitor")
	if len(p) <= maxSocketPath {
		return p, nil
	}
	p = filepath.Join(c.StateDir, uuid+".monitor")
	if len(p) <= maxSocketPath {
		return p, nil
	}
	return "", fmt.Errorf("monitor socket path %s is longer than %d bytes; set a shorter qemu_state_dir", p, maxSocketPath)
}
