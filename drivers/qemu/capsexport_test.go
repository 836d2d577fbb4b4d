package qemu

import (
	"context"
	"time"

	"libvirt.org/go/libvirtxml"
)

// ServedCaps is servedCaps, for the differential tests of package
// qemu_test: what the driver says it serves is compared with libvirtd.
var ServedCaps = servedCaps

// ProbeCPUModels probes bin with TCG and returns its custom CPU models
// as domcapabilities would list them once the custom mode is served.
func ProbeCPUModels(bin string) ([]libvirtxml.DomainCapsCPUModel, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	q, err := probeQemu(ctx, bin, "tcg")
	if err != nil {
		return nil, err
	}
	var out []libvirtxml.DomainCapsCPUModel
	for _, c := range q.cpus {
		out = append(out, libvirtxml.DomainCapsCPUModel{Name: c.name, Usable: yesNo(c.usable)})
	}
	return out, nil
}
