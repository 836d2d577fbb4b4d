package xen

import (
	"context"
	"os"
	"path/filepath"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/vir"
)

// conn is one xen:/// connection. Which sub-driver does what:
//   - lists, lookups, info, state: the driver's list, kept by the
//     xenstore sub-driver's watches (and the config sub-driver's files);
//   - create, shutdown, reboot, destroy, pause, resume: the toolstack
//     (only xl can ask the hypervisor), then a resync from xenstore, so
//     the id and the STARTED/STOPPED events come from xenstore as for
//     domains started outside govirtd; pause and resume leave no
//     xenstore trace, so their SUSPENDED/RESUMED are raised here once xl
//     has succeeded;
//   - define, undefine, autostart, XML of inactive domains: the config
//     sub-driver.
//
// There is no fallback between them.
type conn struct {
	d         *Driver
	callbacks drivers.ConnCallbacks
}

func (c *conn) Close() error {
	c.callbacks.Close(&c.d.events, c)
	return nil
}

func (c *conn) ConnectGetType(context.Context) (string, error)    { return "Xen", nil }
func (c *conn) ConnectGetVersion(context.Context) (uint64, error) { return 4017000, nil }
func (c *conn) ConnectGetHostname(context.Context) (string, error) {
	return os.Hostname()
}
func (c *conn) ConnectGetCapabilities(context.Context) (string, error) {
	return "<capabilities>\n  <guest>\n    <os_type>xen</os_type>\n    <arch name='x86_64'>\n      <domain type='xen'/>\n    </arch>\n  </guest>\n</capabilities>\n", nil
}
func (c *conn) ConnectGetURI(context.Context) (string, error) { return "xen:///system", nil }

// live fails with a clear error while xenstored is unreachable: every
// lookup and domain call does, since whether a domain runs, and as
// what, is xenstore's to say and may have changed meanwhile.
func (c *conn) live() error {
	if !c.d.store.xs.Connected() {
		return drivers.Errorf(vir.ErrOperationFailed, vir.FromXen, "xenstored at %s is unreachable: the domain list is unknown until it is back (is xenstored running?)", c.d.cfg.Socket)
	}
	return nil
}

func (c *conn) ConnectListAllDomains(ctx context.Context, flags vir.ConnectListAllDomainsFlags) ([]drivers.Domain, error) {
	if err := c.live(); err != nil {
		return nil, err
	}
	return c.d.doms.ListAll(flags), nil
}

func (c *conn) DomainLookupByID(ctx context.Context, id int32) (drivers.Domain, error) {
	if err := c.live(); err != nil {
		return drivers.Domain{}, err
	}
	return c.d.doms.LookupByID(vir.FromXen, id)
}
func (c *conn) DomainLookupByName(ctx context.Context, name string) (drivers.Domain, error) {
	if err := c.live(); err != nil {
		return drivers.Domain{}, err
	}
	return c.d.doms.LookupByName(vir.FromXen, name)
}
func (c *conn) DomainLookupByUUID(ctx context.Context, u drivers.UUID) (drivers.Domain, error) {
	if err := c.live(); err != nil {
		return drivers.Domain{}, err
	}
	return c.d.doms.LookupByUUID(vir.FromXen, u)
}

func (c *conn) obj(ref drivers.Domain) (*dom, error) {
	if err := c.live(); err != nil {
		return nil, err
	}
	o, ok := c.d.doms.Find(func(o *dom) bool { return o.uuid == ref.UUID })
	if !ok {
		return nil, drivers.Errorf(vir.ErrNoDomain, vir.FromXen, "no domain with matching uuid '%s' (%s)", ref.UUID, ref.Name)
	}
	return o, nil
}

func (c *conn) DomainGetInfo(ctx context.Context, ref drivers.Domain) (drivers.DomainInfo, error) {
	o, err := c.obj(ref)
	if err != nil {
		return drivers.DomainInfo{}, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	info := drivers.DomainInfo{State: o.stateLocked()}
	switch {
	case o.live != nil:
		info.Memory, info.MaxMem, info.NrVirtCPU = o.live.MemKiB, o.live.MaxKiB, o.live.VCPUs
	case o.cfg != nil:
		info.Memory, info.MaxMem, info.NrVirtCPU = o.cfg.Memory*1024, max(o.cfg.MaxMem, o.cfg.Memory)*1024, o.cfg.VCPUs
	}
	return info, nil
}

func (c *conn) DomainGetState(ctx context.Context, ref drivers.Domain, flags uint32) (vir.DomainState, int32, error) {
	o, err := c.obj(ref)
	if err != nil {
		return 0, 0, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.stateLocked(), 1, nil
}

func (c *conn) DomainGetOSType(ctx context.Context, ref drivers.Domain) (string, error) {
	o, err := c.obj(ref)
	if err != nil {
		return "", err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.cfg != nil && o.cfg.Type == "hvm" {
		return "hvm", nil
	}
	return "linux", nil
}

func (c *conn) DomainGetXMLDesc(ctx context.Context, ref drivers.Domain, flags uint32) (string, error) {
	o, err := c.obj(ref)
	if err != nil {
		return "", err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	x := xlCfg{Name: o.name, UUID: o.uuid, VCPUs: 1, Type: "pv"}
	if o.cfg != nil {
		x = *o.cfg
	}
	id := int32(-1)
	if o.live != nil {
		id = o.live.ID
		x.Memory, x.VCPUs = o.live.MemKiB/1024, o.live.VCPUs
		if o.live.MaxKiB > o.live.MemKiB {
			x.MaxMem = o.live.MaxKiB / 1024
		}
	}
	return x.xml(id), nil
}

func (c *conn) DomainIsActive(ctx context.Context, ref drivers.Domain) (bool, error) {
	o, err := c.obj(ref)
	if err != nil {
		return false, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.live != nil, nil
}

func (c *conn) DomainIsPersistent(ctx context.Context, ref drivers.Domain) (bool, error) {
	o, err := c.obj(ref)
	if err != nil {
		return false, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.cfg != nil, nil
}

func (c *conn) DomainGetAutostart(ctx context.Context, ref drivers.Domain) (bool, error) {
	o, err := c.obj(ref)
	if err != nil {
		return false, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.auto, nil
}

func (c *conn) DomainSetAutostart(ctx context.Context, ref drivers.Domain, on bool) error {
	o, err := c.obj(ref)
	if err != nil {
		return err
	}
	o.mu.Lock()
	defined := o.cfg != nil
	o.mu.Unlock()
	if !defined {
		return drivers.Errorf(vir.ErrOperationInvalid, vir.FromXen, "cannot set autostart for transient domain %s: define it first", o.name)
	}
	if err := c.d.defs.setAutostart(o.name, on); err != nil {
		return drivers.Errorf(vir.ErrOperationFailed, vir.FromXen, "autostart %s: %v", o.name, err)
	}
	return c.d.resync(ctx)
}

func (c *conn) ConnectDomainEventRegisterAny(ctx context.Context, ref *drivers.Domain, eventID vir.DomainEventID, cb drivers.EventCallback) (int, error) {
	return c.callbacks.Register(&c.d.events, c, eventID, ref, cb)
}

func (c *conn) ConnectDomainEventDeregisterAny(ctx context.Context, id int) error {
	return c.d.events.Deregister(c, id)
}

// DomainDefineXML writes the definition as NAME.cfg (config sub-driver).
func (c *conn) DomainDefineXML(ctx context.Context, doc string, flags uint32) (drivers.Domain, error) {
	def, err := domxml.Parse(doc)
	if err != nil {
		return drivers.Domain{}, err
	}
	x, err := cfgFromDef(def)
	if err != nil {
		return drivers.Domain{}, drivers.Errorf(vir.ErrConfigUnsupported, vir.FromXen, "%v", err)
	}
	if o, ok := c.d.doms.Find(func(o *dom) bool { return o.name == x.Name && o.uuid != x.UUID }); ok {
		return drivers.Domain{}, drivers.Errorf(vir.ErrOperationFailed, vir.FromXen, "domain '%s' already exists with uuid %s", x.Name, o.uuid)
	}
	if err := c.d.defs.save(x); err != nil {
		return drivers.Domain{}, drivers.Errorf(vir.ErrOperationFailed, vir.FromXen, "define %s: %v (xen_config_dir is %s)", x.Name, err, c.d.cfg.ConfigDir)
	}
	if err := c.d.resync(ctx); err != nil {
		return drivers.Domain{}, err
	}
	return c.d.doms.LookupByUUID(vir.FromXen, x.UUID)
}

// DomainUndefine removes NAME.cfg and its autostart link.
func (c *conn) DomainUndefine(ctx context.Context, ref drivers.Domain, flags uint32) error {
	o, err := c.obj(ref)
	if err != nil {
		return err
	}
	if err := c.d.defs.remove(o.name); err != nil {
		return drivers.Errorf(vir.ErrOperationInvalid, vir.FromXen, "cannot undefine transient domain %s: %v", o.name, err)
	}
	return c.d.resync(ctx)
}

// DomainCreate starts a defined domain with xl create NAME.cfg.
func (c *conn) DomainCreate(ctx context.Context, ref drivers.Domain, flags uint32) (drivers.Domain, error) {
	o, err := c.obj(ref)
	if err != nil {
		return drivers.Domain{}, err
	}
	o.mu.Lock()
	running, defined := o.live != nil, o.cfg != nil
	o.mu.Unlock()
	if running {
		return drivers.Domain{}, drivers.Errorf(vir.ErrOperationInvalid, vir.FromXen, "domain %s is already running", o.name)
	}
	if !defined {
		return drivers.Domain{}, drivers.Errorf(vir.ErrOperationInvalid, vir.FromXen, "domain %s has no xl.cfg in %s", o.name, c.d.cfg.ConfigDir)
	}
	if err := c.d.tools.create(ctx, c.d.defs.path(o.name), false); err != nil {
		return drivers.Domain{}, err
	}
	if err := c.d.resync(ctx); err != nil {
		return drivers.Domain{}, err
	}
	return o.ref(), nil
}

// DomainCreateXML starts a transient domain from a cfg in a temp file.
func (c *conn) DomainCreateXML(ctx context.Context, doc string, flags uint32) (drivers.Domain, error) {
	def, err := domxml.Parse(doc)
	if err != nil {
		return drivers.Domain{}, err
	}
	x, err := cfgFromDef(def)
	if err != nil {
		return drivers.Domain{}, drivers.Errorf(vir.ErrConfigUnsupported, vir.FromXen, "%v", err)
	}
	dir, err := os.MkdirTemp("", "govirtd-xen-")
	if err != nil {
		return drivers.Domain{}, drivers.Errorf(vir.ErrSystemError, vir.FromXen, "%v", err)
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, x.Name+".cfg")
	if err := os.WriteFile(p, []byte(x.format()), 0o600); err != nil {
		return drivers.Domain{}, drivers.Errorf(vir.ErrSystemError, vir.FromXen, "%v", err)
	}
	if err := c.d.tools.create(ctx, p, false); err != nil {
		return drivers.Domain{}, err
	}
	if err := c.d.resync(ctx); err != nil {
		return drivers.Domain{}, err
	}
	return c.d.doms.LookupByUUID(vir.FromXen, x.UUID)
}

// stop runs an xl verb that ends the domain, recording the STOPPED
// detail the resync raises.
func (c *conn) stop(ctx context.Context, ref drivers.Domain, verb string, detail vir.DomainEventStoppedDetailType) error {
	o, err := c.runningObj(ref)
	if err != nil {
		return err
	}
	c.d.syncMu.Lock()
	c.d.intents[o.uuid] = int32(detail)
	c.d.syncMu.Unlock()
	if err := c.d.tools.do(ctx, verb, o.name); err != nil {
		c.d.syncMu.Lock()
		delete(c.d.intents, o.uuid)
		c.d.syncMu.Unlock()
		return err
	}
	return c.d.resync(ctx)
}

func (c *conn) runningObj(ref drivers.Domain) (*dom, error) {
	o, err := c.obj(ref)
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.live == nil {
		return nil, drivers.Errorf(vir.ErrOperationInvalid, vir.FromXen, "domain %s is not running", o.name)
	}
	return o, nil
}

// DomainSave saves the running domain to a file with xl save; it stops
// (STOPPED Saved, from the resync).
func (c *conn) DomainSave(ctx context.Context, ref drivers.Domain, to string, dxml string, flags uint32) error {
	if dxml != "" {
		return drivers.Errorf(vir.ErrArgumentUnsupported, vir.FromXen, "xl save keeps the domain's own configuration: an alternative XML is not supported")
	}
	o, err := c.runningObj(ref)
	if err != nil {
		return err
	}
	c.d.syncMu.Lock()
	c.d.intents[o.uuid] = int32(vir.DomainEventStoppedSaved)
	c.d.syncMu.Unlock()
	if err := c.d.tools.do(ctx, "save", o.name, to); err != nil {
		c.d.syncMu.Lock()
		delete(c.d.intents, o.uuid)
		c.d.syncMu.Unlock()
		return err
	}
	return c.d.resync(ctx)
}

// DomainRestore starts a domain from an xl save file with xl restore;
// the resync raises STARTED Restored for the domain that appears.
func (c *conn) DomainRestore(ctx context.Context, from string, dxml string, flags uint32) error {
	if dxml != "" {
		return drivers.Errorf(vir.ErrArgumentUnsupported, vir.FromXen, "xl restore keeps the saved configuration: an alternative XML is not supported")
	}
	// Which domain the file holds is known once xenstore shows it, and
	// the watch may resync before xl returns: while a restore runs, a
	// domain that appears is taken for the restored one (one started
	// with xl meanwhile would be too: the price of not parsing the file).
	c.d.syncMu.Lock()
	c.d.restoring++
	c.d.syncMu.Unlock()
	defer func() {
		c.d.syncMu.Lock()
		c.d.restoring--
		c.d.syncMu.Unlock()
	}()
	if _, err := c.d.tools.run(ctx, "restore", from); err != nil {
		return err
	}
	return c.d.resync(ctx)
}

func (c *conn) DomainDestroy(ctx context.Context, ref drivers.Domain, flags uint32) error {
	return c.stop(ctx, ref, "destroy", vir.DomainEventStoppedDestroyed)
}

func (c *conn) DomainShutdown(ctx context.Context, ref drivers.Domain, flags uint32) error {
	return c.stop(ctx, ref, "shutdown", vir.DomainEventStoppedShutdown)
}

func (c *conn) DomainReboot(ctx context.Context, ref drivers.Domain, flags uint32) error {
	o, err := c.runningObj(ref)
	if err != nil {
		return err
	}
	if err := c.d.tools.do(ctx, "reboot", o.name); err != nil {
		return err
	}
	return c.d.resync(ctx)
}

// DomainSuspend pauses with xl pause; the event is raised here, since a
// pause leaves no trace in xenstore to watch.
func (c *conn) DomainSuspend(ctx context.Context, ref drivers.Domain) error {
	return c.pause(ctx, ref, true)
}

// DomainResume unpauses with xl unpause; the event is raised here.
func (c *conn) DomainResume(ctx context.Context, ref drivers.Domain) error {
	return c.pause(ctx, ref, false)
}

func (c *conn) pause(ctx context.Context, ref drivers.Domain, on bool) error {
	o, err := c.runningObj(ref)
	if err != nil {
		return err
	}
	verb := map[bool]string{true: "pause", false: "unpause"}[on]
	if err := c.d.tools.do(ctx, verb, o.name); err != nil {
		return err
	}
	o.mu.Lock()
	changed := o.paused != on
	o.paused = on
	r := o.refLocked()
	o.mu.Unlock()
	if changed && on {
		c.d.emit(r, vir.DomainEventSuspended, int32(vir.DomainEventSuspendedPaused))
	} else if changed {
		c.d.emit(r, vir.DomainEventResumed, int32(vir.DomainEventResumedUnpaused))
	}
	return nil
}
