package qemu

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/vir"
)

// parseDefinition parses a definition a client sent, fills in what the
// driver chooses (MAC addresses, disk buses) and checks that it can run:
// what qemu cannot honour is refused now, not at start.
func (d *Driver) parseDefinition(xml string) (*domxml.Def, error) {
	def, err := domxml.Parse(xml)
	if err != nil {
		return nil, err
	}
	prepareDefinition(def, randomMAC)
	if def.XML.Devices.Emulator == "" && d.binary != "" {
		def.XML.Devices.Emulator = d.binary // as libvirt records the binary it chose
	}
	if err := validate(def); err != nil {
		return nil, err
	}
	return def, nil
}

// claim returns the domain def names, by uuid and name. A new one is
// added (hidden when transient is set, until it runs). The name and uuid
// of def must not belong to two different domains.
func (d *Driver) claim(def *domxml.Def, transient bool) (dom *domain, created bool, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var byUUID, byName *domain
	for _, x := range d.domains.Objects() {
		if x.uuid == def.UUID {
			byUUID = x
		}
		if x.name == def.Name() {
			byName = x
		}
	}
	switch {
	case byUUID != nil && byUUID.name != def.Name():
		return nil, false, drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU,
			"domain '%s' is already defined with uuid %s", byUUID.name, def.UUID)
	case byName != nil && byName.uuid != def.UUID:
		return nil, false, drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU,
			"domain '%s' already exists with uuid %s", def.Name(), byName.uuid)
	case byUUID != nil:
		return byUUID, false, nil
	}
	dom = newDomain(def)
	dom.hidden = transient
	d.domains.Add(dom)
	return dom, true, nil
}

func (c *conn) DomainDefineXML(ctx context.Context, xml string, flags uint32) (drivers.Domain, error) {
	// VALIDATE: the driver always validates.
	if err := badFlags("virDomainDefineXMLFlags", flags, vir.DomainDefineValidate); err != nil {
		return drivers.Domain{}, err
	}
	def, err := c.drv.parseDefinition(xml)
	if err != nil {
		return drivers.Domain{}, err
	}
	c.drv.canonicalMachine(ctx, def)
	return c.drv.define(def, false, true)
}

// canonicalMachine stores a machine alias (pc, q35, or none: qemu's
// default) as the versioned machine it stands for on this qemu, as
// libvirt stores it, so that the guest keeps its machine when qemu is
// upgraded. Without a probe of the binary (it cannot run, or it is a
// definition's own emulator), the name stays as given.
func (d *Driver) canonicalMachine(ctx context.Context, def *domxml.Def) {
	x := def.XML
	if x.OS == nil || x.OS.Type == nil {
		return
	}
	// Only the driver's own binary is probed here: a definition's own
	// <emulator> is run only when its guest starts.
	bin := d.binary
	if x.Devices != nil && x.Devices.Emulator != "" && x.Devices.Emulator != d.binary {
		return
	}
	m, err := machineOf(x)
	if err != nil || bin == "" {
		return
	}
	caps, err := d.capsOf(ctx, bin, m.accel)
	if err != nil {
		return
	}
	if cm, ok := caps.machine(m.name); ok && cm.alias == m.name && cm.name != "" {
		x.OS.Type.Machine = cm.name
	}
}

// define makes def dom's persistent definition, writing it to the config
// directory unless it was read from there (fromFile), and raises DEFINED
// (ADDED or UPDATED) when emit is set. The file is written with the
// domain's files lock held and its mu released: lookups, lists and state
// reads go on while the disk works. A new domain stays hidden until its
// definition is written.
func (d *Driver) define(def *domxml.Def, fromFile, emit bool) (drivers.Domain, error) {
	xml, err := def.Format(-1)
	if err != nil {
		return drivers.Domain{}, err
	}
	for {
		dom, created, err := d.claim(def, true)
		if err != nil {
			return drivers.Domain{}, err
		}
		dom.files.Lock()
		dom.mu.Lock()
		removed := dom.removed
		dom.mu.Unlock()
		if removed { // undefined meanwhile: claim again
			dom.files.Unlock()
			continue
		}
		ref, err := d.publishDefinition(dom, def, xml, created, fromFile, emit)
		dom.files.Unlock()
		return ref, err
	}
}

// publishDefinition writes def's file (unless fromFile) and then makes
// it dom's persistent definition; dom.files held, dom.mu not.
func (d *Driver) publishDefinition(dom *domain, def *domxml.Def, xml string, created, fromFile, emit bool) (drivers.Domain, error) {
	if !fromFile {
		os.MkdirAll(d.cfg.ConfigDir, 0o755) // a failure shows in the write
		if err := d.writeDef(d.cfg.definitionPath(dom.name), []byte(xml), 0o600); err != nil {
			dom.mu.Lock()
			if created && dom.persistent == nil && !dom.active() && dom.hidden {
				d.remove(dom) // never seen: take it off the list again
			}
			dom.mu.Unlock()
			return drivers.Domain{}, drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "cannot save the definition of '%s': %w (check qemu_config_dir)", dom.name, err)
		}
	}
	dom.mu.Lock()
	defer dom.mu.Unlock()
	detail := vir.DomainEventDefinedUpdated
	if dom.persistent == nil {
		detail = vir.DomainEventDefinedAdded // new, or a running transient domain made persistent
	}
	dom.persistent, dom.hidden = def, false
	if emit {
		d.emit(dom, vir.DomainEventDefined, int32(detail))
	}
	return dom.ref(), nil
}

func (c *conn) DomainUndefine(ctx context.Context, ref drivers.Domain, flags uint32) error {
	// Managed save, snapshot, checkpoint, NVRAM and TPM flags: the driver
	// keeps none of these, so there is nothing for them to remove or keep.
	const known = vir.DomainUndefineManagedSave | vir.DomainUndefineSnapshotsMetadata | vir.DomainUndefineNvram |
		vir.DomainUndefineKeepNvram | vir.DomainUndefineCheckpointsMetadata | vir.DomainUndefineTpm
	if err := badFlags("virDomainUndefineFlags", flags, known); err != nil {
		return err
	}
	// The job: a start under way publishes its qemu into this domain, so
	// removing the domain meanwhile would hide a running guest.
	d := c.drv
	return d.withJob(ctx, ref, "virDomainUndefine", func(ctx context.Context, dom *domain) error {
		// The files are removed with mu released (files held), so
		// reads go on meanwhile; the job keeps the domain's state still.
		dom.files.Lock()
		defer dom.files.Unlock()
		dom.mu.Lock()
		persistent := dom.persistent != nil
		dom.mu.Unlock()
		if !persistent {
			return drivers.Errorf(vir.ErrOperationInvalid, vir.FromQEMU, "cannot undefine transient domain '%s'", dom.name)
		}
		if err := os.Remove(d.cfg.definitionPath(dom.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "cannot remove the definition of '%s': %w", dom.name, err)
		}
		os.Remove(d.cfg.autostartPath(dom.name))
		dom.mu.Lock()
		defer dom.mu.Unlock()
		d.emit(dom, vir.DomainEventUndefined, int32(vir.DomainEventUndefinedRemoved))
		dom.persistent, dom.autostart = nil, false
		if !dom.active() {
			d.remove(dom)
		} // else it runs on as a transient domain
		return nil
	})
}

func (c *conn) DomainGetAutostart(ctx context.Context, ref drivers.Domain) (bool, error) {
	dom, err := c.drv.lock(ref)
	if err != nil {
		return false, err
	}
	defer dom.mu.Unlock()
	return dom.autostart, nil
}

// DomainSetAutostart links (or unlinks) the definition from the
// autostart directory, as libvirt does.
func (c *conn) DomainSetAutostart(ctx context.Context, ref drivers.Domain, autostart bool) error {
	d := c.drv
	dom, err := d.find(ref)
	if err != nil {
		return err
	}
	// The link is made with files held and mu released (see define).
	dom.files.Lock()
	defer dom.files.Unlock()
	dom.mu.Lock()
	visible, persistent := dom.visible(), dom.persistent != nil
	dom.mu.Unlock()
	if !visible {
		return noDomain(ref)
	}
	if !persistent {
		return drivers.Errorf(vir.ErrOperationInvalid, vir.FromQEMU, "cannot set autostart for transient domain '%s'", dom.name)
	}
	link := d.cfg.autostartPath(dom.name)
	if autostart {
		if err := os.MkdirAll(d.cfg.AutostartDir, 0o755); err != nil {
			return drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "cannot create %s: %w", d.cfg.AutostartDir, err)
		}
		os.Remove(link)
		if err := os.Symlink(d.cfg.definitionPath(dom.name), link); err != nil {
			return drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "cannot create autostart link %s: %w", link, err)
		}
	} else if err := os.Remove(link); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "cannot remove autostart link %s: %w", link, err)
	}
	dom.mu.Lock()
	dom.autostart = autostart
	dom.mu.Unlock()
	return nil
}

// loadDefinitions reads the config directory: each NAME.xml becomes, or
// updates, a persistent domain; the autostart links set the flags. On a
// reload (emit) a new or changed definition raises DEFINED ADDED or
// UPDATED; at startup they are the driver's initial state. A file that
// cannot be used is logged and skipped. Domains whose file went away are
// kept, as libvirt keeps them.
func (d *Driver) loadDefinitions(ctx context.Context, emit bool) {
	paths, _ := filepath.Glob(filepath.Join(d.cfg.ConfigDir, "*.xml"))
	for _, p := range paths {
		def, xml, err := d.readDefinition(p)
		if err != nil {
			d.log.Error("ignoring a definition", "file", p, "err", err)
			continue
		}
		if d.unchanged(def, xml) {
			continue
		}
		if _, err := d.define(def, true, emit); err != nil {
			d.log.Error("ignoring a definition", "file", p, "err", err)
		}
	}
	for _, dom := range d.list() {
		_, err := os.Stat(d.cfg.autostartPath(dom.name))
		dom.mu.Lock()
		dom.autostart = err == nil && dom.persistent != nil
		dom.mu.Unlock()
	}
}

// readDefinition reads a definition file. When the driver fills in
// something (a MAC address) it writes the file back, so that reading it
// again gives the same definition.
func (d *Driver) readDefinition(path string) (*domxml.Def, string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	def, err := d.parseDefinition(string(data))
	if err != nil {
		return nil, "", err
	}
	if want := strings.TrimSuffix(filepath.Base(path), ".xml"); def.Name() != want {
		return nil, "", errors.New("the file of domain '" + def.Name() + "' must be named " + def.Name() + ".xml")
	}
	xml, err := def.Format(-1)
	if err != nil {
		return nil, "", err
	}
	if xml != string(data) {
		if err := writeFileAtomic(path, []byte(xml), 0o600); err != nil {
			d.log.Warn("cannot write back a completed definition", "file", path, "err", err)
		}
	}
	return def, xml, nil
}

// unchanged reports whether def is already the persistent definition of
// its domain.
func (d *Driver) unchanged(def *domxml.Def, xml string) bool {
	dom := d.findBy(func(x *domain) bool { return x.uuid == def.UUID })
	if dom == nil {
		return false
	}
	dom.mu.Lock()
	defer dom.mu.Unlock()
	if dom.persistent == nil {
		return false
	}
	cur, err := dom.persistent.Format(-1)
	return err == nil && cur == xml
}
