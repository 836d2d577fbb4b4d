package test

import (
	"fmt"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers/domxml"
)

// nameInterfaces gives each interface of def without a target device
// the first free name testnet0, testnet1…, as libvirt's test driver
// does when a domain is defined, created or restored.
func nameInterfaces(def *domxml.Def) {
	if def.XML.Devices == nil {
		return
	}
	nets := def.XML.Devices.Interfaces
	used := map[string]bool{}
	for _, n := range nets {
		if n.Target != nil {
			used[n.Target.Dev] = true
		}
	}
	next := 0
	for i := range nets {
		if nets[i].Target != nil && nets[i].Target.Dev != "" {
			continue
		}
		for used[fmt.Sprintf("testnet%d", next)] {
			next++
		}
		name := fmt.Sprintf("testnet%d", next)
		used[name] = true
		if nets[i].Target == nil {
			nets[i].Target = &libvirtxml.DomainInterfaceTarget{}
		}
		nets[i].Target.Dev = name
	}
}
