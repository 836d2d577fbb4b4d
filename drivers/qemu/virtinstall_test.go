package qemu_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVirtInstall: real, unchanged virt-install creates a guest through
// the daemon as a user would for a headless guest with a new disk: it
// allocates a qcow2 volume in a storage pool, defines the domain with
// what it writes by default (clock timers, <pm>, the ICH9 USB
// controllers, discard) and starts it.
func TestVirtInstall(t *testing.T) {
	bin, err := exec.LookPath("virt-install")
	if err != nil {
		t.Fatalf("virt-install is not installed (%v): `make deps` installs it (Debian package virtinst)", err)
	}
	d := newTestDaemon(t)
	d.start()
	images := d.path("images")
	d.mustVirsh("pool-define-as", "tmp", "dir", "--target", images)
	d.mustVirsh("pool-build", "tmp")
	d.mustVirsh("pool-start", "tmp")
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--connect", d.uri(), "--name", "vi", "--memory", "64",
		"--disk", "pool=tmp,size=0.05", "--import", "--osinfo", "detect=on,require=off",
		"--network", "none", "--graphics", "none", "--noautoconsole")
	home := filepath.Join(t.TempDir(), "home")
	os.MkdirAll(home, 0o700)
	cmd.Env = append(os.Environ(), "HOME="+home, "LC_ALL=C", "XDG_CACHE_HOME="+filepath.Join(home, ".cache"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("virt-install: %v\n%s", err, out)
	}
	defer d.mustVirsh("undefine", "vi")
	defer d.mustVirsh("destroy", "vi")
	if !strings.Contains(string(out), "Domain creation completed") {
		t.Errorf("virt-install did not say it created the domain:\n%s", out)
	}
	checkDomstate(t, d, "vi", "running (booted)")
	if _, err := os.Stat(filepath.Join(images, "vi.qcow2")); err != nil {
		t.Errorf("no volume vi.qcow2 in the pool: %v", err)
	}
	xml := d.mustVirsh("dumpxml", "vi")
	for _, want := range []string{"ich9-ehci1", "tickpolicy", "suspend-to-mem", "vi.qcow2"} {
		if !strings.Contains(xml, want) {
			t.Errorf("the guest's XML lacks %s:\n%s", want, xml)
		}
	}
}
