package daemon_test

import (
	"strings"
	"testing"

	"github.com/govirt/govirtd/daemon"
	"github.com/govirt/govirtd/drivers/qemu"
	testdriver "github.com/govirt/govirtd/drivers/test"
)

// TestDriversOwnTheirKeys: the QEMU driver declares its keys and keeps
// their values; the daemon's Config holds none of them, checks their
// type, names file, line and key on a bad value, and without the driver
// calls them unknown.
func TestDriversOwnTheirKeys(t *testing.T) {
	drv := qemu.New(qemu.Config{}, nil)
	cfg, err := daemon.ParseConfig("x.conf", `
qemu_binary = "/opt/qemu/bin/qemu-system-x86_64"
qemu_config_dir = "/srv/govirtd/qemu"
qemu_state_dir = "/run/x/qemu"
max_clients = 7
`, testdriver.New(), drv)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 0 || cfg.MaxClients != 7 {
		t.Fatalf("warnings %v, max_clients %d; want none and 7", cfg.Warnings, cfg.MaxClients)
	}
	got := drv.Config()
	if got.Binary != "/opt/qemu/bin/qemu-system-x86_64" || got.ConfigDir != "/srv/govirtd/qemu" || got.StateDir != "/run/x/qemu" {
		t.Fatalf("the driver's configuration %+v does not hold the file's values", got)
	}
	if got.AutostartDir != "/srv/govirtd/qemu/autostart" {
		t.Fatalf("autostart dir %q, want the default under the configured qemu_config_dir", got.AutostartDir)
	}
	if got.LogDir == "" {
		t.Fatal("qemu_log_dir unset lost its default")
	}

	_, err = daemon.ParseConfig("y.conf", "\nqemu_log_dir = \"relative/log\"\n", qemu.New(qemu.Config{}, nil))
	if err == nil || !strings.Contains(err.Error(), `y.conf:2: qemu_log_dir: "relative/log" must be an absolute path`) {
		t.Fatalf("a relative qemu_log_dir: %v, want an error naming y.conf:2 and the key", err)
	}
	_, err = daemon.ParseConfig("y.conf", "qemu_binary = 3\n", qemu.New(qemu.Config{}, nil))
	if err == nil || !strings.Contains(err.Error(), "y.conf:1: qemu_binary: must be a quoted string, not an integer") {
		t.Fatalf("an integer qemu_binary: %v, want a type error naming the key", err)
	}
	cfg, err = daemon.ParseConfig("z.conf", "qemu_binary = \"/x\"\n")
	if err != nil || len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0], "unknown setting qemu_binary") {
		t.Fatalf("qemu_binary with no QEMU driver: %v, warnings %v; want it called unknown", err, cfg.Warnings)
	}
}
