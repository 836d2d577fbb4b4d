package xenstore

import (
	"fmt"
	"strconv"
)

// Access is one domain's right on a node.
type Access byte

// The accesses xenstore knows, as their wire letters.
const (
	AccessNone      Access = 'n'
	AccessRead      Access = 'r'
	AccessWrite     Access = 'w'
	AccessReadWrite Access = 'b'
)

// Perm is one entry of a node's permission list.
type Perm struct {
	Domain uint32
	Access Access
}

func (p Perm) String() string {
	return string(rune(p.Access)) + strconv.FormatUint(uint64(p.Domain), 10)
}

func parsePerms(path string, fields []string) ([]Perm, error) {
	out := make([]Perm, 0, len(fields))
	for _, f := range fields {
		if len(f) < 2 {
			return nil, fmt.Errorf("%w: get-perms %s: entry %q", ErrFrame, path, f)
		}
		a := Access(f[0])
		switch a {
		case AccessNone, AccessRead, AccessWrite, AccessReadWrite:
		default:
			return nil, fmt.Errorf("%w: get-perms %s: unknown access %q", ErrFrame, path, f)
		}
		d, err := strconv.ParseUint(f[1:], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%w: get-perms %s: domain of %q", ErrFrame, path, f)
		}
		out = append(out, Perm{Domain: uint32(d), Access: a})
	}
	return out, nil
}
