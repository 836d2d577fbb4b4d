package qemu_test

import (
	"context"
	"os"
	"os/exec"
)

// virshOn runs real virsh against uri and returns "ok" or "failed",
// a newline and its output: differential tests compare both.
func virshOn(uri string, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	c := exec.CommandContext(ctx, "virsh", append([]string{"-c", uri}, args...)...)
	c.Env = append(os.Environ(), "LIBVIRT_AUTOSTART=0")
	out, err := c.CombinedOutput()
	status := "ok"
	if err != nil {
		status = "failed"
	}
	return status + "\n" + string(out)
}
