package qemu

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/vir"
)

// Live interface changes: attach (a tap made and passed to qemu with
// getfd, then netdev_add and device_add), detach (device_del, and once
// the guest let go, netdev_del, which closes qemu's tap and so removes
// it) and the link state (set_link), which is what virsh domif-setlink
// changes through DOMAIN_UPDATE_DEVICE_FLAGS.

// nicAlias is the qemu id of the live definition's interface i: the
// alias a start or an attach recorded, else its index's.
func nicAlias(x *libvirtxml.Domain, i int) string {
	if n := devices(x).Interfaces[i]; n.Alias != nil && n.Alias.Name != "" {
		return n.Alias.Name
	}
	return "net" + strconv.Itoa(i)
}

// setInterfaceAliases records the ids a start gives the interfaces.
func setInterfaceAliases(x *libvirtxml.Domain) {
	if x.Devices == nil {
		return
	}
	for i := range x.Devices.Interfaces {
		x.Devices.Interfaces[i].Alias = &libvirtxml.DomainAlias{Name: "net" + strconv.Itoa(i)}
	}
}

// freeNICAlias is the first netN no interface of x uses.
func freeNICAlias(x *libvirtxml.Domain) string {
	used := map[string]bool{}
	for i := range devices(x).Interfaces {
		used[nicAlias(x, i)] = true
	}
	for i := 0; ; i++ {
		if a := "net" + strconv.Itoa(i); !used[a] {
			return a
		}
	}
}

func (d *Driver) attachLiveNIC(ctx context.Context, dom *domain, in *libvirtxml.DomainInterface) error {
	nic := *in
	if nic.MAC == nil || nic.MAC.Address == "" {
		nic.MAC = &libvirtxml.DomainInterfaceMAC{Address: randomMAC()}
	}
	model := ""
	if nic.Model != nil {
		model = nic.Model.Type
	}
	qdev, ok := nicModels[model]
	if !ok {
		return unsupported("<model type='%s'>: supported models are virtio, e1000 and rtl8139", model)
	}
	if nic.Source == nil || (nic.Source.User == nil && !tapInterface(&nic)) {
		return liveRefused("attach of an interface other than of type network, bridge or user")
	}
	b, live, inst, err := d.liveBuilder(dom)
	if err != nil {
		return err
	}
	if findNIC(live.XML, nic.MAC.Address) >= 0 {
		return drivers.Errorf(vir.ErrOperationInvalid, vir.FromQEMU, "domain already has an interface with MAC address %s", nic.MAC.Address)
	}
	alias := freeNICAlias(live.XML)
	netdev := map[string]any{"type": "user", "id": "host" + alias}
	if tapInterface(&nic) {
		tap, err := d.plugInterface(ctx, &nic, "/interface")
		if err != nil {
			return err
		}
		defer tap.Close() // qemu holds its own copy once getfd succeeded
		if err := inst.mon.ExecuteWithFile(ctx, "getfd", map[string]any{"fdname": "host" + alias}, nil, tap); err != nil {
			return monitorErr(dom, fmt.Errorf("getfd: %w", err))
		}
		netdev = map[string]any{"type": "tap", "id": "host" + alias, "fd": "host" + alias}
	}
	if err := inst.mon.Execute(ctx, "netdev_add", netdev, nil); err != nil {
		inst.mon.Execute(ctx, "closefd", map[string]any{"fdname": "host" + alias}, nil)
		return monitorErr(dom, fmt.Errorf("netdev_add: %w", err))
	}
	devArgs := map[string]any{"driver": qdev, "netdev": "host" + alias, "id": alias, "mac": nic.MAC.Address}
	kind := pciConventional
	if qdev == "virtio-net-pci" {
		kind = pciExpress
	}
	loc, err := newPCIPlan(live.XML, b.m, false).place(kind, "interface "+nic.MAC.Address)
	if err != nil {
		inst.mon.Execute(ctx, "netdev_del", map[string]any{"id": "host" + alias}, nil)
		return err
	}
	nic.Address = pciAddr(loc)
	for k, v := range pairs(b.pciOpts(nic.Address)) {
		devArgs[k] = v
	}
	if err := inst.mon.Execute(ctx, "device_add", devArgs, nil); err != nil {
		inst.mon.Execute(ctx, "netdev_del", map[string]any{"id": "host" + alias}, nil)
		return monitorErr(dom, fmt.Errorf("device_add: %w", err))
	}
	nic.Alias = &libvirtxml.DomainAlias{Name: alias}
	d.changeLive(dom, live, func(x *libvirtxml.Domain) {
		devices(x).Interfaces = append(devices(x).Interfaces, nic)
	})
	d.events.Emit(drivers.DeviceAddedEvent{Dom: dom.ref(), Alias: alias})
	return nil
}

func (d *Driver) detachLiveNIC(ctx context.Context, dom *domain, nic *libvirtxml.DomainInterface) error {
	_, live, inst, err := d.liveBuilder(dom)
	if err != nil {
		return err
	}
	i, err := nicIndex(live.XML, nic)
	if err != nil {
		return err
	}
	alias := nicAlias(live.XML, i)
	deleted := d.unplugs.expect(inst, alias)
	if err := inst.mon.Execute(ctx, "device_del", map[string]any{"id": alias}, nil); err != nil {
		d.unplugs.forget(inst, alias)
		return monitorErr(dom, fmt.Errorf("device_del: %w", err))
	}
	select {
	case <-deleted:
	case <-ctx.Done():
	case <-time.After(unplugWait):
		// The removal finishes when the guest lets go (nicDeleted).
	}
	return nil
}

// nicDeleted is DEVICE_DELETED for an interface: it leaves the live
// definition, its netdev is deleted (closing qemu's tap, which removes
// it) and DEVICE_REMOVED is raised. dom.mu held; the monitor is not
// used from here (this runs on its event path).
func (d *Driver) nicDeleted(dom *domain, inst *instance, alias string) {
	x := dom.live.XML
	for i := range devices(x).Interfaces {
		if nicAlias(x, i) != alias {
			continue
		}
		nl := dom.live.Copy()
		nl.XML.Devices.Interfaces = append(nl.XML.Devices.Interfaces[:i], nl.XML.Devices.Interfaces[i+1:]...)
		dom.live = nl
		d.saveStatus(dom)
		if mon := inst.mon; mon != nil {
			go mon.Execute(context.Background(), "netdev_del", map[string]any{"id": "host" + alias}, nil)
		}
		d.events.Emit(drivers.DeviceRemovedEvent{Dom: dom.ref(), Alias: alias})
		return
	}
}

// updateLiveNIC changes a running interface's link state, the one live
// change of an interface the driver makes.
func (d *Driver) updateLiveNIC(ctx context.Context, dom *domain, nic *libvirtxml.DomainInterface) error {
	_, live, inst, err := d.liveBuilder(dom)
	if err != nil {
		return err
	}
	i, err := nicIndex(live.XML, nic)
	if err != nil {
		return err
	}
	old := live.XML.Devices.Interfaces[i]
	if modelOf(old.Model) != modelOf(nic.Model) || sourceOf(old.Source) != sourceOf(nic.Source) {
		return liveRefused("change of an interface's model or source")
	}
	up := nic.Link == nil || nic.Link.State != "down"
	if err := inst.mon.Execute(ctx, "set_link", map[string]any{"name": nicAlias(live.XML, i), "up": up}, nil); err != nil {
		return monitorErr(dom, fmt.Errorf("set_link: %w", err))
	}
	d.changeLive(dom, live, func(x *libvirtxml.Domain) {
		n := &x.Devices.Interfaces[i]
		n.Link = nil
		if !up {
			n.Link = &libvirtxml.DomainInterfaceLink{State: "down"}
		}
	})
	return nil
}

func modelOf(m *libvirtxml.DomainInterfaceModel) string {
	if m == nil {
		return ""
	}
	return m.Type
}

// sourceOf names what an interface is plugged into, for comparing.
func sourceOf(s *libvirtxml.DomainInterfaceSource) string {
	switch {
	case s == nil:
		return ""
	case s.Network != nil:
		return "network:" + s.Network.Network
	case s.Bridge != nil:
		return "bridge:" + s.Bridge.Bridge
	case s.User != nil:
		return "user"
	}
	return "other"
}
