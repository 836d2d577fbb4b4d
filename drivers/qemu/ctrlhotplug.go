package qemu

import (
	"context"
	"fmt"
	"time"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/vir"
)

// Controller hotplug: the SCSI (virtio-scsi, lsilogic) and
// virtio-serial controllers, the ones libvirt hotplugs on x86, index 0
// as the driver serves them; in the persistent definition (CONFIG) and
// in the running guest (LIVE: device_add at a free place of the PCI
// plan, device_del and the guest's acknowledgement). A controller a disk
// or channel still uses is not detached.

// hotplugControllers are the controller types that attach and detach.
var hotplugControllers = map[string]bool{"scsi": true, "virtio-serial": true}

// checkController normalises a parsed <controller> for hotplug.
func checkController(c *libvirtxml.DomainController) error {
	if !hotplugControllers[c.Type] {
		return drivers.Errorf(vir.ErrConfigUnsupported, vir.FromQEMU, "hotplug of a <controller type='%s'> is not supported by this driver (scsi and virtio-serial controllers are)", c.Type)
	}
	if c.Index == nil {
		var zero uint
		c.Index = &zero
	}
	if *c.Index != 0 {
		return drivers.Errorf(vir.ErrConfigUnsupported, vir.FromQEMU, "<controller type='%s' index='%d'>: only index 0 is served", c.Type, *c.Index)
	}
	if c.Type == "scsi" && c.Model == "" {
		c.Model = "lsilogic" // libvirt's default on x86
	}
	return nil
}

// findController is the position of controller typ index 0, or -1.
func findController(x *libvirtxml.Domain, typ string) int {
	for i, c := range devices(x).Controllers {
		if c.Type == typ && (c.Index == nil || *c.Index == 0) {
			return i
		}
	}
	return -1
}

// controllerInUse names what sits on controller typ, or "".
func controllerInUse(x *libvirtxml.Domain, typ string) string {
	devs := devices(x)
	switch typ {
	case "scsi":
		for _, d := range devs.Disks {
			if d.Target != nil && d.Target.Bus == "scsi" {
				return "disk " + d.Target.Dev
			}
		}
	case "virtio-serial":
		for i, ch := range devs.Channels {
			if ch.Target != nil && ch.Target.VirtIO != nil {
				return fmt.Sprintf("channel %d", i+1)
			}
		}
	}
	return ""
}

func attachControllerConfig(x *libvirtxml.Domain, c *libvirtxml.DomainController) error {
	if findController(x, c.Type) >= 0 {
		return drivers.Errorf(vir.ErrOperationInvalid, vir.FromQEMU, "the domain already has a %s controller with index 0", c.Type)
	}
	devices(x).Controllers = append(devices(x).Controllers, *c)
	return nil
}

func detachControllerConfig(x *libvirtxml.Domain, c *libvirtxml.DomainController) error {
	i := findController(x, c.Type)
	if i < 0 {
		return drivers.Errorf(vir.ErrDeviceMissing, vir.FromQEMU, "no %s controller with index 0", c.Type)
	}
	if user := controllerInUse(x, c.Type); user != "" {
		return drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "the %s controller is in use by %s: detach that first", c.Type, user)
	}
	devs := devices(x)
	devs.Controllers = append(devs.Controllers[:i], devs.Controllers[i+1:]...)
	return nil
}

// controllerDevice is qemu's device and id for a hotplugged controller.
func controllerDevice(c *libvirtxml.DomainController) (qdev, id string, kind pciKind, err error) {
	switch {
	case c.Type == "virtio-serial":
		return "virtio-serial-pci", "virtio-serial0", pciExpress, nil
	case c.Type == "scsi" && c.Model == "virtio-scsi":
		return "virtio-scsi-pci", "scsi0", pciExpress, nil
	case c.Type == "scsi" && c.Model == "lsilogic":
		return "lsi", "scsi0", pciConventional, nil
	}
	return "", "", 0, drivers.Errorf(vir.ErrConfigUnsupported, vir.FromQEMU, "<controller type='%s' model='%s'>: supported models are virtio-scsi and lsilogic", c.Type, c.Model)
}

func (d *Driver) attachLiveController(ctx context.Context, dom *domain, c libvirtxml.DomainController) error {
	qdev, id, kind, err := controllerDevice(&c)
	if err != nil {
		return err
	}
	b, live, inst, err := d.liveBuilder(dom)
	if err != nil {
		return err
	}
	if findController(live.XML, c.Type) >= 0 {
		return drivers.Errorf(vir.ErrOperationInvalid, vir.FromQEMU, "the domain already has a %s controller with index 0", c.Type)
	}
	loc, err := newPCIPlan(live.XML, b.m, false).place(kind, "the "+c.Type+" controller")
	if err != nil {
		return err
	}
	c.Address = pciAddr(loc)
	args := map[string]any{"driver": qdev, "id": id}
	for k, v := range pairs(b.pciOpts(c.Address)) {
		args[k] = v
	}
	if err := inst.mon.Execute(ctx, "device_add", args, nil); err != nil {
		return monitorErr(dom, fmt.Errorf("device_add: %w", err))
	}
	c.Alias = &libvirtxml.DomainAlias{Name: id}
	d.changeLive(dom, live, func(x *libvirtxml.Domain) {
		devices(x).Controllers = append(devices(x).Controllers, c)
	})
	d.events.Emit(drivers.DeviceAddedEvent{Dom: dom.ref(), Alias: id})
	return nil
}

func (d *Driver) detachLiveController(ctx context.Context, dom *domain, c libvirtxml.DomainController) error {
	_, live, inst, err := d.liveBuilder(dom)
	if err != nil {
		return err
	}
	i := findController(live.XML, c.Type)
	if i < 0 {
		return drivers.Errorf(vir.ErrDeviceMissing, vir.FromQEMU, "no %s controller with index 0", c.Type)
	}
	if user := controllerInUse(live.XML, c.Type); user != "" {
		return drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "the %s controller is in use by %s: detach that first", c.Type, user)
	}
	have := live.XML.Devices.Controllers[i]
	if _, _, _, err := controllerDevice(&have); err != nil {
		return err
	}
	alias := "scsi0"
	if c.Type == "virtio-serial" {
		alias = "virtio-serial0"
	}
	deleted := d.unplugs.expect(inst, alias)
	if err := inst.mon.Execute(ctx, "device_del", map[string]any{"id": alias}, nil); err != nil {
		d.unplugs.forget(inst, alias)
		return monitorErr(dom, fmt.Errorf("device_del: %w", err))
	}
	select {
	case <-deleted:
	case <-time.After(unplugWait): // finished when the guest lets go (controllerDeleted)
	}
	return nil
}

// controllerDeleted drops a controller qemu reports removed from the
// live definition; it reports whether alias was one.
func (d *Driver) controllerDeleted(dom *domain, alias string) bool {
	typ := map[string]string{"scsi0": "scsi", "virtio-serial0": "virtio-serial"}[alias]
	if typ == "" {
		return false
	}
	i := findController(dom.live.XML, typ)
	if i < 0 {
		return false
	}
	nl := dom.live.Copy()
	nl.XML.Devices.Controllers = append(nl.XML.Devices.Controllers[:i], nl.XML.Devices.Controllers[i+1:]...)
	dom.live = nl
	d.saveStatus(dom)
	d.events.Emit(drivers.DeviceRemovedEvent{Dom: dom.ref(), Alias: alias})
	return true
}
