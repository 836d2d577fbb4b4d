package protocol

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// ParseUUID parses the 36-character form of a UUID, or the 32 hex digits
// without dashes that libvirt also accepts.
func ParseUUID(s string) (UUID, error) {
	var u UUID
	h := strings.ReplaceAll(strings.TrimSpace(s), "-", "")
	if len(h) != 32 {
		return u, fmt.Errorf("malformed uuid %q", s)
	}
	if _, err := hex.Decode(u[:], []byte(h)); err != nil {
		return u, fmt.Errorf("malformed uuid %q", s)
	}
	return u, nil
}

// String formats u as libvirt does: 8-4-4-4-12 lowercase hex.
func (u UUID) String() string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
