// Package sockpath names the daemon's unix sockets and their default
// directory, shared by the daemon (which listens there) and the client
// library (which looks there); the transport, rpc, knows no daemon
// names.
package sockpath

import (
	"fmt"
	"os"
	"path/filepath"
)

// Socket names in the daemon's socket directory.
const (
	RW = "govirtd-sock"
	RO = "govirtd-sock-ro"
)

// DefaultDir is where the daemon listens and clients look when
// nothing says otherwise: /run/govirtd as root, else
// $XDG_RUNTIME_DIR/govirtd (or a per-user directory in $TMPDIR).
func DefaultDir() string {
	if os.Geteuid() == 0 {
		return "/run/govirtd"
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "govirtd")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("govirtd-%d", os.Geteuid()))
}
