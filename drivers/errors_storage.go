package drivers

import "github.com/govirt/govirtd/vir"

// libvirt's messages for the storage errors (virerror.c), kept apart from
// errors.go's table so that the storage concern adds them on its own;
// the lead may fold them into that table.
func init() {
	messages[vir.ErrNoStoragePool] = [2]string{"Storage pool not found", "Storage pool not found: %s"}
	messages[vir.ErrNoStorageVol] = [2]string{"Storage volume not found", "Storage volume not found: %s"}
	messages[vir.ErrOverflow] = [2]string{"numerical overflow", "numerical overflow: %s"}
}
