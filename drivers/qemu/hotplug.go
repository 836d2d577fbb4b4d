package qemu

import (
	"context"
	"encoding/xml"
	"fmt"
	"strings"
	"sync"
	"time"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/vir"
)

// Device hotplug: DOMAIN_ATTACH_DEVICE(_FLAGS), DOMAIN_DETACH_DEVICE(_FLAGS)
// and DOMAIN_UPDATE_DEVICE_FLAGS, on the persistent definition (CONFIG),
// the running guest (LIVE) or both.
//
// What the driver does live, and why no more:
//   - attach and detach of virtio disks: qemu's drive_add (the same
//     -drive value a start uses) and device_add (on q35, on a free PCIe
//     root port), device_del and the guest's acknowledgement
//     (DEVICE_DELETED); IDE and SATA disks cannot be hotplugged in qemu;
//   - update of a cdrom's medium: change (blockdev-change-medium) or
//     eject, with no guest involvement.
//
// Everything else is refused live with CONFIG_UNSUPPORTED naming the
// device; CONFIG handles disks and interfaces, through the same
// validation a define goes through.

const (
	affectLive   = uint32(vir.DomainAffectLive)
	affectConfig = uint32(vir.DomainAffectConfig)
	// unplugWait is how long a detach waits for the guest to let go of
	// the device, as libvirt waits; after it, the removal completes when
	// the guest acknowledges it, and its DEVICE_REMOVED event says so.
	unplugWait = 5 * time.Second
)

// device is one parsed <disk>, <interface> or <controller> element.
type device struct {
	kind string // the element's name
	disk *libvirtxml.DomainDisk
	nic  *libvirtxml.DomainInterface
	ctrl *libvirtxml.DomainController
}

func parseDevice(doc string) (*device, error) {
	dec := xml.NewDecoder(strings.NewReader(doc))
	var name string
	for name == "" {
		tok, err := dec.Token()
		if err != nil {
			return nil, drivers.Errorf(vir.ErrXMLError, vir.FromDomain, "cannot parse the device XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			name = se.Name.Local
		}
	}
	dev := &device{kind: name}
	var err error
	switch name {
	case "disk":
		dev.disk = &libvirtxml.DomainDisk{}
		err = dev.disk.Unmarshal(doc)
	case "interface":
		dev.nic = &libvirtxml.DomainInterface{}
		err = dev.nic.Unmarshal(doc)
	case "controller":
		dev.ctrl = &libvirtxml.DomainController{}
		err = dev.ctrl.Unmarshal(doc)
	default:
		return nil, drivers.Errorf(vir.ErrConfigUnsupported, vir.FromQEMU, "hotplug of device '%s' is not supported by this driver (disks, interfaces and controllers are)", name)
	}
	if err != nil {
		return nil, drivers.Errorf(vir.ErrXMLError, vir.FromDomain, "cannot parse the <%s> XML: %v", name, err)
	}
	if dev.ctrl != nil {
		if err := checkController(dev.ctrl); err != nil {
			return nil, err
		}
	}
	return dev, nil
}

// resolveAffect turns AFFECT_CURRENT into LIVE or CONFIG and checks the
// domain has what the flags name, as libvirt's virDomainObjUpdateModificationImpact.
func resolveAffect(dom *domain, flags uint32) (uint32, error) {
	dom.mu.Lock()
	active, persistent := dom.active(), dom.persistent != nil
	dom.mu.Unlock()
	affect := flags & (affectLive | affectConfig)
	if affect == 0 {
		affect = affectConfig
		if active {
			affect = affectLive
		}
	}
	if affect&affectLive != 0 && !active {
		return 0, drivers.Errorf(vir.ErrOperationInvalid, vir.FromQEMU, "domain is not running")
	}
	if affect&affectConfig != 0 && !persistent {
		return 0, drivers.Errorf(vir.ErrOperationInvalid, vir.FromQEMU, "transient domains do not have any persistent config")
	}
	return affect, nil
}

func (c *conn) DomainAttachDevice(ctx context.Context, ref drivers.Domain, xml string) error {
	return c.DomainAttachDeviceFlags(ctx, ref, xml, affectLive)
}

func (c *conn) DomainAttachDeviceFlags(ctx context.Context, ref drivers.Domain, xml string, flags uint32) error {
	if err := badFlags("qemuDomainAttachDeviceFlags", flags, vir.DomainAffectLive|vir.DomainAffectConfig); err != nil {
		return err
	}
	return c.changeDevice(ctx, ref, xml, flags, "virDomainAttachDeviceFlags", attachConfig, c.drv.attachLive)
}

func (c *conn) DomainDetachDevice(ctx context.Context, ref drivers.Domain, xml string) error {
	return c.DomainDetachDeviceFlags(ctx, ref, xml, affectLive)
}

func (c *conn) DomainDetachDeviceFlags(ctx context.Context, ref drivers.Domain, xml string, flags uint32) error {
	if err := badFlags("qemuDomainDetachDeviceFlags", flags, vir.DomainAffectLive|vir.DomainAffectConfig); err != nil {
		return err
	}
	return c.changeDevice(ctx, ref, xml, flags, "virDomainDetachDeviceFlags", detachConfig, c.drv.detachLive)
}

func (c *conn) DomainUpdateDeviceFlags(ctx context.Context, ref drivers.Domain, xml string, flags uint32) error {
	// FORCE: a cdrom is ejected even if the guest locked its tray.
	if err := badFlags("qemuDomainUpdateDeviceFlags", flags, vir.DomainDeviceModifyLive|vir.DomainDeviceModifyConfig|vir.DomainDeviceModifyForce); err != nil {
		return err
	}
	return c.changeDevice(ctx, ref, xml, flags, "virDomainUpdateDeviceFlags", updateConfig, c.drv.updateLive)
}

// changeDevice runs one device change under the domain's job: the live
// change first (the one that can fail for reasons outside the driver),
// then the persistent one, as libvirt orders them.
func (c *conn) changeDevice(ctx context.Context, ref drivers.Domain, doc string, flags uint32, api string,
	config func(*libvirtxml.Domain, *device) error, live func(context.Context, *domain, *device, uint32) error) error {
	dev, err := parseDevice(doc)
	if err != nil {
		return err
	}
	return c.drv.withJob(ctx, ref, api, func(ctx context.Context, dom *domain) error {
		affect, err := resolveAffect(dom, flags)
		if err != nil {
			return err
		}
		// Check the persistent change before the live one is made.
		var newDef *domxml.Def
		if affect&affectConfig != 0 {
			dom.mu.Lock()
			newDef = dom.persistent.Copy()
			dom.mu.Unlock()
			if err := config(newDef.XML, dev); err != nil {
				return err
			}
			prepareDefinition(newDef, randomMAC)
			if err := validate(newDef); err != nil {
				return err
			}
		}
		if affect&affectLive != 0 {
			if err := live(ctx, dom, dev, flags); err != nil {
				return err
			}
		}
		if newDef != nil {
			if _, err := c.drv.define(newDef, false, false); err != nil {
				return err
			}
		}
		return nil
	})
}

func devices(x *libvirtxml.Domain) *libvirtxml.DomainDeviceList {
	if x.Devices == nil {
		x.Devices = &libvirtxml.DomainDeviceList{}
	}
	return x.Devices
}

// findDisk is the index of the disk with dev's target, or -1.
func findDisk(x *libvirtxml.Domain, target string) int {
	for i, d := range devices(x).Disks {
		if d.Target != nil && d.Target.Dev == target {
			return i
		}
	}
	return -1
}

// findNIC is the index of the interface with mac, or -1.
func findNIC(x *libvirtxml.Domain, mac string) int {
	for i, n := range devices(x).Interfaces {
		if n.MAC != nil && strings.EqualFold(n.MAC.Address, mac) {
			return i
		}
	}
	return -1
}

func diskTarget(dev *device) (string, error) {
	if dev.disk.Target == nil || dev.disk.Target.Dev == "" {
		return "", drivers.Errorf(vir.ErrXMLError, vir.FromDomain, "missing <target dev> in the <disk>")
	}
	return dev.disk.Target.Dev, nil
}

func attachConfig(x *libvirtxml.Domain, dev *device) error {
	devs := devices(x)
	switch dev.kind {
	case "disk":
		target, err := diskTarget(dev)
		if err != nil {
			return err
		}
		if findDisk(x, target) >= 0 {
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromQEMU, "target %s already exists", target)
		}
		devs.Disks = append(devs.Disks, *dev.disk)
	case "interface":
		if dev.nic.MAC != nil && findNIC(x, dev.nic.MAC.Address) >= 0 {
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromQEMU, "domain already has an interface with MAC address %s", dev.nic.MAC.Address)
		}
		devs.Interfaces = append(devs.Interfaces, *dev.nic)
	case "controller":
		return attachControllerConfig(x, dev.ctrl)
	}
	return nil
}

func detachConfig(x *libvirtxml.Domain, dev *device) error {
	devs := devices(x)
	switch dev.kind {
	case "disk":
		target, err := diskTarget(dev)
		if err != nil {
			return err
		}
		i := findDisk(x, target)
		if i < 0 {
			return drivers.Errorf(vir.ErrDeviceMissing, vir.FromQEMU, "no target device %s", target)
		}
		devs.Disks = append(devs.Disks[:i], devs.Disks[i+1:]...)
	case "interface":
		i, err := nicIndex(x, dev.nic)
		if err != nil {
			return err
		}
		devs.Interfaces = append(devs.Interfaces[:i], devs.Interfaces[i+1:]...)
	case "controller":
		return detachControllerConfig(x, dev.ctrl)
	}
	return nil
}

// nicIndex finds the interface a detach or update names: by MAC, or the
// only one when the XML gives none.
func nicIndex(x *libvirtxml.Domain, nic *libvirtxml.DomainInterface) (int, error) {
	if nic.MAC == nil {
		if n := len(devices(x).Interfaces); n != 1 {
			return -1, drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "no <mac address> given and the domain has %d interfaces: say which", n)
		}
		return 0, nil
	}
	i := findNIC(x, nic.MAC.Address)
	if i < 0 {
		return -1, drivers.Errorf(vir.ErrDeviceMissing, vir.FromQEMU, "no device matching MAC address %s found", nic.MAC.Address)
	}
	return i, nil
}

func updateConfig(x *libvirtxml.Domain, dev *device) error {
	devs := devices(x)
	switch dev.kind {
	case "disk":
		target, err := diskTarget(dev)
		if err != nil {
			return err
		}
		i := findDisk(x, target)
		if i < 0 {
			return drivers.Errorf(vir.ErrDeviceMissing, vir.FromQEMU, "target %s doesn't exist.", target)
		}
		devs.Disks[i] = *dev.disk
	case "interface":
		i, err := nicIndex(x, dev.nic)
		if err != nil {
			return err
		}
		mac := devs.Interfaces[i].MAC
		devs.Interfaces[i] = *dev.nic
		if devs.Interfaces[i].MAC == nil {
			devs.Interfaces[i].MAC = mac
		}
	case "controller":
		return drivers.Errorf(vir.ErrConfigUnsupported, vir.FromQEMU, "a controller cannot be updated: detach it and attach the new one")
	}
	return nil
}

// liveRefused is the answer for a live change the driver cannot make.
func liveRefused(what string) error {
	return drivers.Errorf(vir.ErrConfigUnsupported, vir.FromQEMU, "live %s is not supported by this driver; change the persistent definition (--config) and restart the guest", what)
}

// liveBuilder returns what a live change needs: a command builder for
// the running definition (its machine decides the qemu devices, as at
// start), that definition and the running qemu.
func (d *Driver) liveBuilder(dom *domain) (*builder, *domxml.Def, *instance, error) {
	dom.mu.Lock()
	live, inst := dom.live, dom.proc
	dom.mu.Unlock()
	if inst == nil || live == nil {
		return nil, nil, nil, notRunning(dom.name)
	}
	if inst.mon == nil {
		return nil, nil, nil, monitorErr(dom, fmt.Errorf("the driver has no monitor connection to qemu (pid %d): %s", inst.pid, inst.degraded))
	}
	m, err := machineOf(live.XML)
	if err != nil {
		return nil, nil, nil, err
	}
	return liveBuilderOf(live, m), live, inst, nil
}

// changeLive records a live change: a copy of live, changed by f,
// becomes the running definition and its status is saved, unless live
// was replaced meanwhile (the guest stopped, or another change won).
func (d *Driver) changeLive(dom *domain, live *domxml.Def, f func(*libvirtxml.Domain)) {
	dom.mu.Lock()
	defer dom.mu.Unlock()
	if dom.live != live {
		return
	}
	nl := live.Copy()
	f(nl.XML)
	dom.live = nl
	d.saveStatus(dom)
}

// liveBuilderOf is a builder for the running definition live, with the
// buses its controllers make.
func liveBuilderOf(live *domxml.Def, m machine) *builder {
	b := &builder{def: live, x: live.XML, m: m, c: &cmdline{}}
	for _, c := range devices(live.XML).Controllers {
		if c.Type == "scsi" {
			b.scsi, b.scsiModel = true, c.Model
		}
		b.usbBus = b.usbBus || c.Type == "usb" && c.Model != "none"
	}
	return b
}

func (d *Driver) attachLive(ctx context.Context, dom *domain, dev *device, flags uint32) error {
	if dev.kind == "interface" {
		return d.attachLiveNIC(ctx, dom, dev.nic)
	}
	if dev.kind == "controller" {
		return d.attachLiveController(ctx, dom, *dev.ctrl)
	}
	if dev.kind != "disk" {
		return liveRefused("attach of an <" + dev.kind + ">")
	}
	disk := *dev.disk
	if disk.Device == "" {
		disk.Device = "disk"
	}
	if disk.Target != nil {
		t := *disk.Target
		defaultDiskBus(&t)
		disk.Target = &t
	}
	if disk.Target == nil || !(disk.Target.Bus == "virtio" && disk.Device == "disk" || disk.Target.Bus == "scsi") {
		return liveRefused("attach of a disk other than a virtio disk or a SCSI disk or cdrom (qemu hotplugs no IDE or SATA disk)")
	}
	b, live, inst, err := d.liveBuilder(dom)
	if err != nil {
		return err
	}
	if findDisk(live.XML, disk.Target.Dev) >= 0 {
		return drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "target %s already exists", disk.Target.Dev)
	}
	if disk.Target.Bus == "virtio" {
		// A free place recorded in the live definition: on q35 a PCIe
		// root port, since q35's root bus does not hotplug.
		loc, err := newPCIPlan(live.XML, b.m, false).place(pciExpress, "disk "+disk.Target.Dev)
		if err != nil {
			return err
		}
		disk.Address = pciAddr(loc)
	}
	args, err := b.disk(disk, "/disk")
	if err != nil {
		return err
	}
	alias, err := b.diskAlias(disk)
	if err != nil {
		return err
	}
	// drive_add takes the same value as -drive; its first argument
	// (the PCI address) is ignored with if=none.
	devArgs := deviceArgs(args.device)
	disk.Alias = &libvirtxml.DomainAlias{Name: alias}
	var out string
	if err := inst.mon.Execute(ctx, "human-monitor-command", map[string]any{"command-line": "drive_add 0 " + args.drive}, &out); err != nil {
		return monitorErr(dom, fmt.Errorf("drive_add: %w", err))
	}
	if strings.TrimSpace(out) != "OK" {
		return drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "qemu refused the disk %s of domain '%s': %s", disk.Target.Dev, dom.name, strings.TrimSpace(out))
	}
	if err := inst.mon.Execute(ctx, "device_add", devArgs, nil); err != nil {
		inst.mon.Execute(ctx, "human-monitor-command", map[string]any{"command-line": "drive_del drive-" + alias}, nil)
		return monitorErr(dom, fmt.Errorf("device_add: %w", err))
	}
	d.changeLive(dom, live, func(x *libvirtxml.Domain) {
		devices(x).Disks = append(devices(x).Disks, disk)
	})
	// qemu reports no addition: the driver raises DEVICE_ADDED once
	// device_add succeeded, as libvirt does.
	d.events.Emit(drivers.DeviceAddedEvent{Dom: dom.ref(), Alias: alias})
	return nil
}

// deviceArgs turns a -device value (driver,key=value,…) into
// device_add's arguments. The driver's device values hold no escaped
// commas (no paths).
func deviceArgs(value string) map[string]any {
	parts := strings.Split(value, ",")
	args := map[string]any{"driver": parts[0]}
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(p, "=")
		args[k] = v
	}
	return args
}

// diskAlias is the qemu id a disk of the live definition was started
// with (the -device id).
func (b *builder) diskAlias(disk libvirtxml.DomainDisk) (string, error) {
	args, err := b.disk(disk, "/disk")
	if err != nil {
		return "", err
	}
	for _, p := range strings.Split(args.device, ",") {
		if v, ok := strings.CutPrefix(p, "id="); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("no id in %q", args.device)
}

func (d *Driver) detachLive(ctx context.Context, dom *domain, dev *device, flags uint32) error {
	if dev.kind == "interface" {
		return d.detachLiveNIC(ctx, dom, dev.nic)
	}
	if dev.kind == "controller" {
		return d.detachLiveController(ctx, dom, *dev.ctrl)
	}
	if dev.kind != "disk" {
		return liveRefused("detach of an <" + dev.kind + ">")
	}
	target, err := diskTarget(dev)
	if err != nil {
		return err
	}
	b, live, inst, err := d.liveBuilder(dom)
	if err != nil {
		return err
	}
	i := findDisk(live.XML, target)
	if i < 0 {
		return drivers.Errorf(vir.ErrDeviceMissing, vir.FromQEMU, "disk %s not found", target)
	}
	disk := live.XML.Devices.Disks[i]
	if disk.Target.Bus != "virtio" && disk.Target.Bus != "scsi" {
		return liveRefused("detach of a disk on the " + disk.Target.Bus + " bus")
	}
	alias, err := b.diskAlias(disk)
	if err != nil {
		return err
	}
	deleted := d.unplugs.expect(inst, alias)
	if err := inst.mon.Execute(ctx, "device_del", map[string]any{"id": alias}, nil); err != nil {
		d.unplugs.forget(inst, alias)
		return monitorErr(dom, fmt.Errorf("device_del: %w", err))
	}
	select {
	case <-deleted:
	case <-time.After(unplugWait):
		// The guest has not let go yet: the removal finishes when it
		// does (deviceDeleted), as libvirt's does.
		return nil
	}
	return nil
}

// deviceDeleted is qemu's DEVICE_DELETED: the guest let go of a device
// (a detach finished). The disk leaves the live definition and
// DEVICE_REMOVED is raised. dom.mu held.
func (d *Driver) deviceDeleted(dom *domain, inst *instance, alias string) {
	d.unplugs.done(inst, alias)
	if dom.proc != inst || dom.live == nil {
		return
	}
	m, err := machineOf(dom.live.XML)
	if err != nil {
		return
	}
	b := liveBuilderOf(dom.live, m)
	for i, disk := range devices(dom.live.XML).Disks {
		if a, err := b.diskAlias(disk); err == nil && a == alias {
			nl := dom.live.Copy()
			nl.XML.Devices.Disks = append(nl.XML.Devices.Disks[:i], nl.XML.Devices.Disks[i+1:]...)
			dom.live = nl
			d.saveStatus(dom)
			d.events.Emit(drivers.DeviceRemovedEvent{Dom: dom.ref(), Alias: alias})
			return
		}
	}
	if !d.controllerDeleted(dom, alias) {
		d.nicDeleted(dom, inst, alias)
	}
}

func (d *Driver) updateLive(ctx context.Context, dom *domain, dev *device, flags uint32) error {
	if dev.kind == "interface" {
		return d.updateLiveNIC(ctx, dom, dev.nic)
	}
	if dev.kind != "disk" || dev.disk.Device != "cdrom" && dev.disk.Device != "floppy" {
		return liveRefused("update of a device other than a cdrom's medium")
	}
	target, err := diskTarget(dev)
	if err != nil {
		return err
	}
	b, live, inst, err := d.liveBuilder(dom)
	if err != nil {
		return err
	}
	i := findDisk(live.XML, target)
	if i < 0 {
		return drivers.Errorf(vir.ErrDeviceMissing, vir.FromQEMU, "target %s doesn't exist.", target)
	}
	old := live.XML.Devices.Disks[i]
	if old.Device != dev.disk.Device || old.Target.Bus != dev.disk.Target.Bus && dev.disk.Target.Bus != "" {
		return liveRefused("change of a disk's device type or bus")
	}
	alias, err := b.diskAlias(old)
	if err != nil {
		return err
	}
	nd := old
	nd.Source = dev.disk.Source
	nd.Driver = dev.disk.Driver
	if nd.Driver == nil {
		nd.Driver = old.Driver
	}
	path := ""
	if nd.Source != nil {
		if nd.Source.File == nil {
			return liveRefused("medium change to a source other than a file")
		}
		path = nd.Source.File.File
	}
	if path == "" {
		args := map[string]any{"id": alias, "force": flags&uint32(vir.DomainDeviceModifyForce) != 0}
		if err := inst.mon.Execute(ctx, "eject", args, nil); err != nil {
			return monitorErr(dom, fmt.Errorf("eject: %w", err))
		}
		nd.Source = nil
	} else {
		format := "raw"
		if nd.Driver != nil && nd.Driver.Type != "" {
			format = nd.Driver.Type
		}
		args := map[string]any{"id": alias, "filename": path, "format": format, "read-only-mode": "read-only"}
		if err := inst.mon.Execute(ctx, "blockdev-change-medium", args, nil); err != nil {
			return monitorErr(dom, fmt.Errorf("blockdev-change-medium: %w", err))
		}
	}
	d.changeLive(dom, live, func(x *libvirtxml.Domain) { x.Devices.Disks[i] = nd })
	return nil
}

// unplugs are the device removals waiting for qemu's DEVICE_DELETED, by
// qemu and device id.
type unplugs struct {
	mu      sync.Mutex
	waiting map[unplugKey]chan struct{}
}

type unplugKey struct {
	inst  *instance
	alias string
}

func (u *unplugs) expect(inst *instance, alias string) <-chan struct{} {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.waiting == nil {
		u.waiting = map[unplugKey]chan struct{}{}
	}
	ch := make(chan struct{})
	u.waiting[unplugKey{inst, alias}] = ch
	return ch
}

func (u *unplugs) forget(inst *instance, alias string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.waiting, unplugKey{inst, alias})
}

func (u *unplugs) done(inst *instance, alias string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if ch, ok := u.waiting[unplugKey{inst, alias}]; ok {
		close(ch)
		delete(u.waiting, unplugKey{inst, alias})
	}
}
