package qemu_test

import (
	"context"
	"os"
	"os/exec"
)

// runVirsh runs real virsh against uri (libvirt's autostart of a
// session daemon off) and returns its combined output.
func runVirsh(uri string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	c := exec.CommandContext(ctx, "virsh", append([]string{"-c", uri}, args...)...)
	c.Env = append(os.Environ(), "LIBVIRT_AUTOSTART=0")
	out, err := c.CombinedOutput()
	return string(out), err
}

// virshOn runs virsh against uri and returns "ok" or "failed", a
// newline and its output: differential tests compare both.
func virshOn(uri string, args ...string) string {
	out, err := runVirsh(uri, args...)
	if err != nil {
		return "failed\n" + out
	}
	return "ok\n" + out
}
