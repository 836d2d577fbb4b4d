package rpc

import (
	"fmt"
	"os"
	"path/filepath"
)

// Socket names in the daemon's socket directory.
const (
	SockRW = "govirtd-sock"
	SockRO = "govirtd-sock-ro"
)

// DefaultSocketDir is where the daemon listens and clients look when
// nothing says otherwise: /run/govirtd as root, else
// $XDG_RUNTIME_DIR/govirtd (or a per-user directory in $TMPDIR).
func DefaultSocketDir() string {
	if os.Geteuid() == 0 {
		return "/run/govirtd"
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "govirtd")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("govirtd-%d", os.Geteuid()))
}
