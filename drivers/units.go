package drivers

import (
	"strings"

	"github.com/govirt/govirtd/vir"
)

// ScaleBytes is libvirt's virScaleInteger for a size in bytes: v in unit
// b/bytes, k/KiB (1024), KB (1000), … up to E, at most 2^63-1 bytes, as
// storage pool and volume XML give sizes.
func ScaleBytes(v uint64, unit string) (uint64, error) {
	scale := uint64(1)
	switch u := strings.ToLower(unit); {
	case u == "" || u == "b" || u == "byte" || u == "bytes":
	default:
		var base uint64
		switch {
		case len(u) == 1 || u[1:] == "ib":
			base = 1024
		case u[1:] == "b":
			base = 1000
		default:
			return 0, Errorf(vir.ErrInvalidArg, vir.FromNone, "unknown suffix '%s'", unit)
		}
		exp := strings.IndexByte("kmgtpe", u[0]) + 1
		if exp == 0 {
			return 0, Errorf(vir.ErrInvalidArg, vir.FromNone, "unknown suffix '%s'", unit)
		}
		for range exp {
			scale *= base
		}
	}
	const limit = 1<<63 - 1
	if v != 0 && v > limit/scale {
		return 0, Errorf(vir.ErrOverflow, vir.FromNone, "value too large: %d%s", v, unit)
	}
	return v * scale, nil
}
