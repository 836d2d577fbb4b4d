package network

import (
	"context"
	"errors"

	"github.com/vishvananda/netlink"
	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers/netxml"
	"github.com/govirt/govirtd/vir"
)

func linkExists(name string) bool {
	_, err := netlink.LinkByName(name)
	return err == nil
}

// start brings o up: the bridge with its addresses, forwarding, the
// nftables table, dnsmasq, then the live definition in the state
// directory; every step done is undone when a later one fails, so a
// network that did not start leaves nothing behind. The job lock is
// held.
func (d *Driver) start(ctx context.Context, o *netxml.Obj) (err error) {
	def := netxml.Copy(o.Def)
	if mode(def) == "nat" {
		// The live definition says which ports masquerading uses, as
		// libvirt's does: 1024-65535 unless <nat><port> says.
		if def.Forward.NAT == nil {
			def.Forward.NAT = &libvirtxml.NetworkForwardNAT{}
		}
		if len(def.Forward.NAT.Ports) == 0 {
			def.Forward.NAT.Ports = []libvirtxml.NetworkForwardNATPort{{Start: 1024, End: 65535}}
		}
	}
	subs, err := subnets(def)
	if err != nil {
		return err
	}
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()
	pid := 0
	if ownBridge(def) {
		if err := checkFree(def, subs); err != nil {
			return err
		}
		if err := makeBridge(def, subs); err != nil {
			deleteBridge(bridgeName(def))
			return err
		}
		undo = append(undo, func() { deleteBridge(bridgeName(def)) })
		if err := enableForwarding(def, subs); err != nil {
			return err
		}
		if err := d.addRules(def, subs); err != nil {
			return err
		}
		undo = append(undo, func() { d.removeRules(def) })
		if needsDnsmasq(def) {
			if pid, err = d.startDnsmasq(def, subs); err != nil {
				d.stopDnsmasq(def.Name, false)
				return err
			}
			undo = append(undo, func() { d.stopDnsmasq(def.Name, false) })
		}
	} else if m := mode(def); m == "bridge" && !linkExists(bridgeName(def)) {
		return failed("cannot start network '%s': host bridge '%s' does not exist: create it, or name another in <bridge name>", def.Name, bridgeName(def))
	}
	if err := d.saveState(def); err != nil {
		return err
	}
	d.mu.Lock()
	if o.Persistent && o.NewDef == nil {
		// The persistent definition stays apart from the live one, so
		// that a live-only update ends with the network.
		o.NewDef = o.Def
	}
	o.Def, o.Active = def, true
	if pid > 0 {
		d.dns[def.Name] = pid
	}
	d.mu.Unlock()
	if pid > 0 {
		d.watchDnsmasq(def.Name, pid)
	}
	d.log.Info("network started", "network", def.Name, "bridge", bridgeName(def), "mode", modeName(def), "dnsmasq", pid)
	d.emit(o, vir.NetworkEventStarted)
	return nil
}

func modeName(def *libvirtxml.Network) string {
	if m := mode(def); m != "" {
		return m
	}
	return "isolated"
}

// reattach checks what a previous daemon left of an active network: the
// bridge must exist; a dnsmasq that is gone is started again; the rules
// are put back (an atomic replace of the table, unchanged when they
// were still there).
func (d *Driver) reattach(ctx context.Context, def *libvirtxml.Network) error {
	if !ownBridge(def) {
		return nil
	}
	if !linkExists(bridgeName(def)) {
		return errors.New("its bridge " + bridgeName(def) + " is gone")
	}
	subs, err := subnets(def)
	if err != nil {
		return err
	}
	if err := d.addRules(def, subs); err != nil {
		return err
	}
	if !needsDnsmasq(def) {
		return nil
	}
	pid := d.runningDnsmasq(def.Name)
	if pid == 0 {
		d.log.Warn("dnsmasq of re-attached network is gone: starting it again", "network", def.Name)
		if pid, err = d.startDnsmasq(def, subs); err != nil {
			return err
		}
	}
	d.mu.Lock()
	d.dns[def.Name] = pid
	d.mu.Unlock()
	d.watchDnsmasq(def.Name, pid)
	return nil
}

// stop takes o down: dnsmasq, the rules, the bridge, the state file, in
// the reverse order of start; the persistent definition comes back as
// the current one, and a transient network is gone. The job lock is
// held.
func (d *Driver) stop(o *netxml.Obj) {
	d.teardown(o.Def)
	d.mu.Lock()
	d.deactivate(o)
	d.mu.Unlock()
	d.log.Info("network stopped", "network", o.Def.Name)
	d.emit(o, vir.NetworkEventStopped)
}

// teardown removes what start made for def; errors are logged, the rest
// goes on.
func (d *Driver) teardown(def *libvirtxml.Network) {
	if ownBridge(def) {
		if needsDnsmasq(def) {
			d.stopDnsmasq(def.Name, false)
		}
		if err := d.removeRules(def); err != nil {
			d.log.Error("network's firewall rules not removed", "network", def.Name, "table", tableName(def), "err", err)
		}
		if err := deleteBridge(bridgeName(def)); err != nil {
			d.log.Error("network's bridge not removed", "network", def.Name, "bridge", bridgeName(def), "err", err)
		}
	}
	d.cfg.removeState(def.Name)
}

// deactivate marks o inactive; mu is held.
func (d *Driver) deactivate(o *netxml.Obj) {
	delete(d.dns, o.Def.Name)
	o.Active = false
	if o.NewDef != nil {
		o.Def, o.NewDef = o.NewDef, nil
	}
	if !o.Persistent {
		d.nets.Remove(o)
	}
}
