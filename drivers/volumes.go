package drivers

import "context"

// VolumeResolver finds the file behind a domain's <disk type='volume'>
// (a volume of a storage pool): its path and its format ("raw",
// "qcow2"). The storage driver implements it; a hypervisor driver is
// given one and asks it when it starts a domain.
type VolumeResolver interface {
	ResolveVolume(ctx context.Context, pool, volume string) (path, format string, err error)
}
