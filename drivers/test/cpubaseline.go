package test

import (
	"context"
	"encoding/xml"
	"slices"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/vir"
	"libvirt.org/go/libvirtxml"
)

// notAsIs are the x86 models whose baseline libvirt 9.0 does not answer
// as the model alone: it adds disabled features (EPYC: monitor), or
// names another model (cpu64-rhel5: Opteron_G1), from the features its
// CPU model database gives each model. Measured against libvirt 9.0's
// test driver, model by model; the compat test checks a few.
var notAsIs = []string{
	"cpu64-rhel5", "cpu64-rhel6", "Skylake-Client-noTSX-IBRS", "Skylake-Server-noTSX-IBRS",
	"Cascadelake-Server-noTSX", "Icelake-Client", "Icelake-Client-noTSX", "Icelake-Server",
	"Icelake-Server-noTSX", "Opteron_G3", "EPYC", "EPYC-IBPB", "Dhyana",
}

// ConnectBaselineCPU answers the baseline of CPUs that all name the
// same known x86 model and nothing else: that model, as libvirt's test
// driver answers it, for the models whose baseline is the model itself
// (all but notAsIs). A baseline of different models, or of CPUs with
// vendors or features, needs libvirt's CPU model database (the features
// of every model) to compute, which govirtd does not have: it is
// refused as unsupported rather than guessed, and so is
// VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES.
func (c *conn) ConnectBaselineCPU(ctx context.Context, xmlCPUs []string, flags uint32) (string, error) {
	if err := checkFlags(flags, uint32(vir.ConnectBaselineCPUExpandFeatures), "testConnectBaselineCPU"); err != nil {
		return "", err
	}
	if flags != 0 {
		return "", drivers.Errorf(vir.ErrOperationUnsupported, vir.FromTest,
			"expanding a baseline's features needs libvirt's CPU model database, which govirtd's test driver does not have")
	}
	if len(xmlCPUs) == 0 {
		return "", drivers.Errorf(vir.ErrInvalidArg, vir.FromCPU, "nothing to baseline")
	}
	model := ""
	for i, doc := range xmlCPUs {
		var cpu libvirtxml.CapsHostCPU
		if err := xml.Unmarshal([]byte(doc), &cpu); err != nil {
			return "", drivers.Errorf(vir.ErrXMLError, vir.FromCPU, "CPU %d: %v", i, err)
		}
		if cpu.Model == "" {
			return "", drivers.Errorf(vir.ErrInvalidArg, vir.FromCPU, "CPU %d has no model", i)
		}
		if cpu.Vendor != "" || len(cpu.FeatureFlags) > 0 || cpu.Features != nil || (cpu.Arch != "" && cpu.Arch != "i686" && cpu.Arch != "x86_64") {
			return "", drivers.Errorf(vir.ErrOperationUnsupported, vir.FromTest,
				"the baseline of CPUs with vendors, features or other architectures than x86 needs libvirt's CPU model database, which govirtd's test driver does not have")
		}
		if !slices.Contains(x86Models, cpu.Model) || slices.Contains(notAsIs, cpu.Model) {
			return "", drivers.Errorf(vir.ErrOperationUnsupported, vir.FromTest, "the baseline of CPU model %s needs libvirt's CPU model database, which govirtd's test driver does not have", cpu.Model)
		}
		if model != "" && cpu.Model != model {
			return "", drivers.Errorf(vir.ErrOperationUnsupported, vir.FromTest,
				"the baseline of different CPU models (%s, %s) needs libvirt's CPU model database, which govirtd's test driver does not have", model, cpu.Model)
		}
		model = cpu.Model
	}
	out := libvirtxml.DomainCPU{Mode: "custom", Match: "exact", Model: &libvirtxml.DomainCPUModel{Fallback: "forbid", Value: model}}
	doc, err := out.Marshal()
	if err != nil {
		return "", drivers.Errorf(vir.ErrInternalError, vir.FromTest, "%v", err)
	}
	return doc + "\n", nil
}
