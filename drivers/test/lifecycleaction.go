package test

import (
	"context"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// lifecycleWords are the XML words of virDomainLifecycleAction.
var lifecycleWords = []string{
	vir.DomainLifecycleActionDestroy:         "destroy",
	vir.DomainLifecycleActionRestart:         "restart",
	vir.DomainLifecycleActionRestartRename:   "rename-restart",
	vir.DomainLifecycleActionPreserve:        "preserve",
	vir.DomainLifecycleActionCoredumpDestroy: "coredump-destroy",
	vir.DomainLifecycleActionCoredumpRestart: "coredump-restart",
}

// DomainSetLifecycleAction sets what the domain does on power off,
// reboot or crash in the live and/or persistent definition; the
// coredump actions are for a crash only (drivers.OpDomainSetLifecycleAction).
func (c *conn) DomainSetLifecycleAction(ctx context.Context, ref protocol.Domain, typ, action, flags uint32) error {
	if flags&^(affectLive|affectConfig) != 0 {
		return badFlags(flags, "testDomainSetLifecycleAction")
	}
	if typ > uint32(vir.DomainLifecycleCrash) || action >= uint32(len(lifecycleWords)) {
		return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "unknown lifecycle type %d or action %d", typ, action)
	}
	coredump := action == uint32(vir.DomainLifecycleActionCoredumpDestroy) || action == uint32(vir.DomainLifecycleActionCoredumpRestart)
	if coredump && typ != uint32(vir.DomainLifecycleCrash) {
		return drivers.Errorf(vir.ErrConfigUnsupported, vir.FromTest, "lifecycle action '%s' is for a crash only", lifecycleWords[action])
	}
	word := lifecycleWords[action]
	return c.drv.withDomain(ref, func(dom *domain) error {
		live, config, err := bothDefs(dom, flags)
		if err != nil {
			return err
		}
		for _, def := range []*domxml.Def{live, config} {
			if def == nil {
				continue
			}
			switch vir.DomainLifecycle(typ) {
			case vir.DomainLifecyclePoweroff:
				def.XML.OnPoweroff = word
			case vir.DomainLifecycleReboot:
				def.XML.OnReboot = word
			default:
				def.XML.OnCrash = word
			}
		}
		return nil
	})
}
