package xen

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/vir"
)

// toolstack is the toolstack sub-driver: lifecycle through the xl
// command (create, pause, unpause, shutdown, reboot, destroy, save,
// restore), the only one of the three that can ask the hypervisor.
type toolstack struct {
	xl     string // the binary: the xen_xl_binary key
	socket string // passed as $XENSTORED_PATH so xl talks to our xenstored
}

// run runs xl with args; a failure quotes xl's stderr.
func (t *toolstack) run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, t.xl, args...)
	cmd.Env = append(os.Environ(), "XENSTORED_PATH="+t.socket)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", drivers.Errorf(vir.ErrOperationFailed, vir.FromXen, "%s %s: %s (the xl binary is the xen_xl_binary key)", t.xl, strings.Join(args, " "), msg)
	}
	return out.String(), nil
}

func (t *toolstack) create(ctx context.Context, cfgPath string, paused bool) error {
	args := []string{"create", cfgPath}
	if paused {
		args = append(args, "-p")
	}
	_, err := t.run(ctx, args...)
	return err
}

func (t *toolstack) do(ctx context.Context, verb, name string, more ...string) error {
	_, err := t.run(ctx, append([]string{verb, name}, more...)...)
	return err
}

func (t *toolstack) check() error {
	if _, err := exec.LookPath(t.xl); err != nil {
		return fmt.Errorf("xl binary %q: %w (set xen_xl_binary)", t.xl, err)
	}
	return nil
}
