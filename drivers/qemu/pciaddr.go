package qemu

import (
	"fmt"
	"slices"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/vir"
)

// PCI addresses, assigned when a definition is accepted and kept in it
// as libvirt keeps them, so that every device has the same place in the
// guest at every start, and the live XML says where it is. The layout
// follows libvirt's for x86: the primary video card on slot 2 (pc) or 1
// (q35), the chipset's own functions where the chipset has them, then
// the devices in libvirt's order (interfaces, sound cards, controllers,
// virtio disks, balloon, RNGs, watchdog, virtio inputs). On pc each
// takes the next free slot of the root bus. On q35 a PCIe device takes
// a PCIe root port of its own (ports are added when none is free, and
// one spare port is left for hotplug) and a conventional PCI device a
// slot of a pcie-to-pci bridge, added on a root port of its own.

// pciLoc is a function on a bus.
type pciLoc struct{ bus, slot, fn uint }

// pciKind is what sort of slot a device needs.
type pciKind int

const (
	pciExpress      pciKind = iota // a PCIe endpoint: a root port on q35
	pciConventional                // a PCI device: a bridge slot on q35
	pciFixed                       // a place of its own (the chipset's, the primary video's)
)

// pciDevice is one device that sits on a PCI bus.
type pciDevice struct {
	addr  **libvirtxml.DomainAddress
	kind  pciKind
	fixed pciLoc
	// companion: an EHCI companion, placed on its master's slot at this
	// function.
	companion int
	master    **libvirtxml.DomainAddress
	what      string // for errors
}

// pciDevices lists a definition's PCI devices in the order addresses
// are given out.
func pciDevices(x *libvirtxml.Domain, m machine) []pciDevice {
	devs := x.Devices
	var out []pciDevice
	add := func(a **libvirtxml.DomainAddress, k pciKind, what string) {
		out = append(out, pciDevice{addr: a, kind: k, what: what})
	}
	fixed := func(a **libvirtxml.DomainAddress, loc pciLoc, what string) {
		out = append(out, pciDevice{addr: a, kind: pciFixed, fixed: loc, what: what})
	}
	for i := range devs.Videos {
		v := &devs.Videos[i]
		if v.Model.Type == "none" {
			continue
		}
		if i == 0 {
			fixed(&v.Address, pciLoc{0, 2, 0}, "the video card")
			if m.q35 {
				out[len(out)-1].fixed.slot = 1
			}
		}
	}
	for i := range devs.Controllers {
		c := &devs.Controllers[i]
		switch {
		case c.Type == "ide" && !m.q35:
			fixed(&c.Address, pciLoc{0, 1, 1}, "the IDE controller")
		case c.Type == "sata" && m.q35:
			fixed(&c.Address, pciLoc{0, 0x1f, 2}, "the SATA controller")
		case c.Type == "usb" && (c.Model == "" || c.Model == "piix3-uhci") && !m.q35:
			fixed(&c.Address, pciLoc{0, 1, 2}, "the USB controller")
		}
	}
	for i := range devs.Interfaces {
		n := &devs.Interfaces[i]
		k := pciConventional
		if n.Model != nil && n.Model.Type == "virtio" {
			k = pciExpress
		}
		add(&n.Address, k, fmt.Sprintf("interface %d", i+1))
	}
	for i := range devs.Sounds {
		s := &devs.Sounds[i]
		if s.Model == "ich9" && m.q35 {
			fixed(&s.Address, pciLoc{0, 0x1b, 0}, "the ich9 sound card")
			continue
		}
		add(&s.Address, pciConventional, fmt.Sprintf("sound card %d", i+1))
	}
	var ehci **libvirtxml.DomainAddress
	for i := range devs.Controllers {
		c := &devs.Controllers[i]
		what := fmt.Sprintf("controller %d", i+1)
		switch {
		case c.Type == "usb" && c.Model == "ich9-ehci1":
			ehci = &c.Address
			if m.q35 {
				fixed(&c.Address, pciLoc{0, 0x1d, 7}, what)
			} else {
				out = append(out, pciDevice{addr: &c.Address, kind: pciConventional, companion: 7, what: what})
			}
		case c.Type == "usb" && len(c.Model) == len("ich9-uhciN") && c.Model[:9] == "ich9-uhci" && ehci != nil:
			out = append(out, pciDevice{addr: &c.Address, kind: pciFixed, companion: int(c.Model[9] - '1'), master: ehci, what: what})
		case c.Type == "usb" && (c.Model == "qemu-xhci" || c.Model == "nec-xhci"):
			add(&c.Address, pciExpress, what)
		case c.Type == "usb" && (c.Model == "piix3-uhci" || c.Model == "piix4-uhci" || c.Model == "") && m.q35:
			add(&c.Address, pciConventional, what)
		case c.Type == "scsi" && c.Model == "virtio-scsi":
			add(&c.Address, pciExpress, what)
		case c.Type == "scsi":
			add(&c.Address, pciConventional, what)
		case c.Type == "sata" && !m.q35:
			add(&c.Address, pciConventional, what)
		case c.Type == "virtio-serial":
			add(&c.Address, pciExpress, what)
		}
	}
	for i := range devs.Disks {
		if t := devs.Disks[i].Target; t != nil && t.Bus == "virtio" {
			add(&devs.Disks[i].Address, pciExpress, fmt.Sprintf("disk %s", t.Dev))
		}
	}
	if mb := devs.MemBalloon; mb != nil && mb.Model == "virtio" {
		add(&mb.Address, pciExpress, "the memory balloon")
	}
	for i := range devs.RNGs {
		add(&devs.RNGs[i].Address, pciExpress, fmt.Sprintf("rng %d", i+1))
	}
	for i := range devs.Watchdogs {
		if devs.Watchdogs[i].Model == "i6300esb" {
			add(&devs.Watchdogs[i].Address, pciConventional, "the watchdog")
		}
	}
	for i := range devs.Inputs {
		if devs.Inputs[i].Bus == "virtio" {
			add(&devs.Inputs[i].Address, pciExpress, fmt.Sprintf("input %d", i+1))
		}
	}
	for i := 1; i < len(devs.Videos); i++ {
		add(&devs.Videos[i].Address, pciConventional, fmt.Sprintf("video %d", i+1))
	}
	return out
}

// pciPlan is the state of a PCI layout: what is taken, and the buses.
type pciPlan struct {
	x    *libvirtxml.Domain
	m    machine
	used map[pciLoc]bool
	// adding: the plan may add root ports and a bridge (a definition
	// being accepted); a hotplug may not.
	adding bool
	bridge int // the pcie-to-pci bridge's index, -1 if none
	// bridgePort is the root port kept for a bridge still to be added.
	bridgePort int
}

func pciAddr(loc pciLoc) *libvirtxml.DomainAddress {
	zero, bus, slot, fn := uint(0), loc.bus, loc.slot, loc.fn
	return &libvirtxml.DomainAddress{PCI: &libvirtxml.DomainAddressPCI{Domain: &zero, Bus: &bus, Slot: &slot, Function: &fn}}
}

func locOf(a *libvirtxml.DomainAddress) (pciLoc, bool) {
	if a == nil || a.PCI == nil {
		return pciLoc{}, false
	}
	var l pciLoc
	if a.PCI.Bus != nil {
		l.bus = *a.PCI.Bus
	}
	if a.PCI.Slot != nil {
		l.slot = *a.PCI.Slot
	}
	if a.PCI.Function != nil {
		l.fn = *a.PCI.Function
	}
	return l, true
}

// newPCIPlan reads what a definition's addresses already take.
func newPCIPlan(x *libvirtxml.Domain, m machine, adding bool) *pciPlan {
	p := &pciPlan{x: x, m: m, used: map[pciLoc]bool{}, adding: adding, bridge: -1, bridgePort: -1}
	for _, d := range pciDevices(x, m) {
		if l, ok := locOf(*d.addr); ok {
			p.used[l] = true
		}
	}
	for _, c := range x.Devices.Controllers {
		if l, ok := locOf(c.Address); ok && c.Type == "pci" {
			p.used[l] = true
		}
		if c.Type == "pci" && c.Model == "pcie-to-pci-bridge" && c.Index != nil {
			p.bridge = int(*c.Index)
		}
	}
	return p
}

func (p *pciPlan) slotFree(bus, slot uint) bool {
	for fn := uint(0); fn < 8; fn++ {
		if p.used[pciLoc{bus, slot, fn}] {
			return false
		}
	}
	return true
}

// rootSlot is the next free slot of the root bus (slot 0 is the host
// bridge).
func (p *pciPlan) rootSlot() (pciLoc, error) {
	for slot := uint(1); slot < 32; slot++ {
		if p.slotFree(0, slot) {
			return pciLoc{0, slot, 0}, nil
		}
	}
	return pciLoc{}, p.full("the root bus")
}

func (p *pciPlan) full(bus string) error {
	return drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "no free PCI slot on %s", bus)
}

// rootPorts are the root ports by index, in order.
func (p *pciPlan) rootPorts() []*libvirtxml.DomainController {
	var ports []*libvirtxml.DomainController
	for i := range p.x.Devices.Controllers {
		c := &p.x.Devices.Controllers[i]
		if c.Type == "pci" && c.Model == "pcie-root-port" && c.Index != nil {
			ports = append(ports, c)
		}
	}
	slices.SortFunc(ports, func(a, b *libvirtxml.DomainController) int { return int(*a.Index) - int(*b.Index) })
	return ports
}

// busInUse says whether a device sits on bus.
func (p *pciPlan) busInUse(bus uint) bool {
	for l := range p.used {
		if l.bus == bus {
			return true
		}
	}
	return false
}

// rootPortPlace is where the next root port goes: the function after
// the last root port's, in a slot of root ports, else a free slot.
func (p *pciPlan) rootPortPlace() (pciLoc, error) {
	var last *pciLoc
	for _, c := range p.rootPorts() {
		if l, ok := locOf(c.Address); ok && (last == nil || l.slot > last.slot || l.slot == last.slot && l.fn > last.fn) {
			last = &l
		}
	}
	if last != nil && last.fn < 7 && !p.used[pciLoc{0, last.slot, last.fn + 1}] {
		return pciLoc{0, last.slot, last.fn + 1}, nil
	}
	return p.rootSlot()
}

// placeRootPort gives a root port its address.
func (p *pciPlan) placeRootPort(c *libvirtxml.DomainController) error {
	l, err := p.rootPortPlace()
	if err != nil {
		return err
	}
	p.used[l] = true
	c.Address = pciAddr(l)
	return nil
}

// addRootPort adds a root port with the next free controller index.
func (p *pciPlan) addRootPort() (uint, error) {
	idx := p.nextPCIIndex()
	chassis, port := idx, uint(0x10+len(p.rootPorts()))
	c := libvirtxml.DomainController{Type: "pci", Index: &idx, Model: "pcie-root-port",
		PCI: &libvirtxml.DomainControllerPCI{Model: &libvirtxml.DomainControllerPCIModel{Name: "pcie-root-port"},
			Target: &libvirtxml.DomainControllerPCITarget{Chassis: &chassis, Port: &port}}}
	p.x.Devices.Controllers = append(p.x.Devices.Controllers, c)
	return idx, p.placeRootPort(&p.x.Devices.Controllers[len(p.x.Devices.Controllers)-1])
}

func (p *pciPlan) nextPCIIndex() uint {
	used := map[uint]bool{}
	for _, c := range p.x.Devices.Controllers {
		if c.Type == "pci" && c.Index != nil {
			used[*c.Index] = true
		}
	}
	idx := uint(1)
	for used[idx] {
		idx++
	}
	return idx
}

// freeRootPort is a root port no device sits on, or -1.
func (p *pciPlan) freeRootPort() int {
	for _, c := range p.rootPorts() {
		if !p.busInUse(*c.Index) && int(*c.Index) != p.bridgePort {
			return int(*c.Index)
		}
	}
	return -1
}

// place gives a device of kind k an address.
func (p *pciPlan) place(k pciKind, what string) (pciLoc, error) {
	if !p.m.q35 {
		return p.rootSlot()
	}
	if k == pciExpress {
		port := p.freeRootPort()
		if port < 0 {
			if !p.adding {
				return pciLoc{}, drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "no free PCIe root port to plug %s into: q35's root bus does not hotplug; add <controller type='pci' model='pcie-root-port'/> to the definition (virt-install adds 14) and restart the guest", what)
			}
			idx, err := p.addRootPort()
			if err != nil {
				return pciLoc{}, err
			}
			port = int(idx)
		}
		return pciLoc{uint(port), 0, 0}, nil
	}
	if p.bridge < 0 {
		if !p.adding || p.bridgePort < 0 {
			return pciLoc{}, drivers.Errorf(vir.ErrOperationFailed, vir.FromQEMU, "%s is a conventional PCI device, which a q35 guest takes on a pcie-to-pci bridge; it has none: add <controller type='pci' model='pcie-to-pci-bridge'/> and restart the guest", what)
		}
		idx := p.nextPCIIndex()
		c := libvirtxml.DomainController{Type: "pci", Index: &idx, Model: "pcie-to-pci-bridge",
			PCI:     &libvirtxml.DomainControllerPCI{Model: &libvirtxml.DomainControllerPCIModel{Name: "pcie-pci-bridge"}},
			Address: pciAddr(pciLoc{uint(p.bridgePort), 0, 0})}
		p.used[pciLoc{uint(p.bridgePort), 0, 0}] = true
		p.x.Devices.Controllers = append(p.x.Devices.Controllers, c)
		p.bridge, p.bridgePort = int(idx), -1
	}
	for slot := uint(1); slot < 32; slot++ {
		if p.slotFree(uint(p.bridge), slot) {
			return pciLoc{uint(p.bridge), slot, 0}, nil
		}
	}
	return pciLoc{}, p.full(fmt.Sprintf("the pcie-to-pci bridge (pci.%d)", p.bridge))
}

// assignPCIAddresses gives every PCI device of a definition without an
// address one, adding the root ports and bridge a q35 layout needs.
func assignPCIAddresses(x *libvirtxml.Domain) error {
	m, err := machineOf(x)
	if err != nil {
		return nil // refused when checked
	}
	p := newPCIPlan(x, m, true)
	devs := pciDevices(x, m)
	// The fixed places first, then the root ports, then the rest.
	for _, d := range devs {
		if d.kind == pciFixed && d.master == nil && *d.addr == nil {
			*d.addr = pciAddr(d.fixed)
			p.used[d.fixed] = true
		}
	}
	if m.q35 {
		for _, c := range p.rootPorts() {
			if c.Address == nil {
				if err := p.placeRootPort(c); err != nil {
					return err
				}
			}
		}
		// A bridge to add takes the first root port (libvirt's layout).
		if p.bridge < 0 && slices.ContainsFunc(devs, func(d pciDevice) bool { return d.kind == pciConventional && *d.addr == nil }) {
			if port := p.freeRootPort(); port >= 0 {
				p.bridgePort = port
			} else if idx, err := p.addRootPort(); err == nil {
				p.bridgePort = int(idx)
			} else {
				return err
			}
		}
	}
	// Devices pointing into the controller list must be listed again
	// whenever a controller was appended (the slice may have moved).
	for i := 0; ; i++ {
		devs = pciDevices(x, m)
		if i >= len(devs) {
			break
		}
		d := devs[i]
		if *d.addr != nil {
			continue
		}
		var l pciLoc
		switch {
		case d.master != nil:
			ml, ok := locOf(*d.master)
			if !ok {
				continue
			}
			l = pciLoc{ml.bus, ml.slot, uint(d.companion)}
		case d.companion != 0: // an EHCI master: function 7 of a slot its companions share
			if l, err = p.place(d.kind, d.what); err != nil {
				return err
			}
			l.fn = uint(d.companion)
		default:
			if l, err = p.place(d.kind, d.what); err != nil {
				return err
			}
		}
		p.used[l] = true
		// Placing may have added a controller, moving the list d.addr
		// points into: write through a fresh listing.
		*pciDevices(x, m)[i].addr = pciAddr(l)
	}
	if m.q35 && p.freeRootPort() < 0 {
		if _, err := p.addRootPort(); err != nil {
			return err
		}
	}
	p.markMultifunction()
	return nil
}

// markMultifunction sets multifunction='on' on function 0 of every slot
// whose other functions are taken, as qemu needs it.
func (p *pciPlan) markMultifunction() {
	mark := func(a *libvirtxml.DomainAddress) {
		l, ok := locOf(a)
		if !ok || l.fn != 0 || a.PCI.MultiFunction != "" {
			return
		}
		for fn := uint(1); fn < 8; fn++ {
			if p.used[pciLoc{l.bus, l.slot, fn}] {
				a.PCI.MultiFunction = "on"
				return
			}
		}
	}
	for _, d := range pciDevices(p.x, p.m) {
		mark(*d.addr)
	}
	for i := range p.x.Devices.Controllers {
		mark(p.x.Devices.Controllers[i].Address)
	}
}

// pciOpts are the -device properties that put a device at its address:
// bus (the root bus, pci.0 or pcie.0, or the controller pci.N),
// multifunction and addr. Without an address qemu chooses.
func (b *builder) pciOpts(a *libvirtxml.DomainAddress) []string {
	l, ok := locOf(a)
	if !ok {
		return nil
	}
	bus := fmt.Sprintf("pci.%d", l.bus)
	if l.bus == 0 && b.m.q35 {
		bus = "pcie.0"
	}
	kv := []string{"bus", bus}
	if a.PCI.MultiFunction == "on" {
		kv = append(kv, "multifunction", "on")
	}
	return append(kv, "addr", pciAddrValue(l.slot, l.fn))
}

// pciAddrValue is qemu's addr: slot, and function when not 0.
func pciAddrValue(slot, fn uint) string {
	if fn == 0 {
		return fmt.Sprintf("0x%x", slot)
	}
	return fmt.Sprintf("0x%x.0x%x", slot, fn)
}

// checkPCIAddresses refuses addresses qemu could not honour: another
// PCI domain, a bus that is no controller of the definition, a slot or
// function out of range, two devices in one place.
func (b *builder) checkPCIAddresses() error {
	buses := map[uint]string{0: "root"}
	for _, c := range b.devices().Controllers {
		if c.Type == "pci" && c.Index != nil {
			buses[*c.Index] = c.Model
		}
	}
	seen := map[pciLoc]string{}
	check := func(a *libvirtxml.DomainAddress, what string) error {
		l, ok := locOf(a)
		if !ok {
			return nil
		}
		if a.PCI.Domain != nil && *a.PCI.Domain != 0 {
			return unsupported("%s: <address type='pci' domain='%#x'>: only PCI domain 0 is supported", what, *a.PCI.Domain)
		}
		model, ok := buses[l.bus]
		if !ok {
			return unsupported("%s: <address type='pci' bus='%#02x'>: the definition has no PCI controller with index %d", what, l.bus, l.bus)
		}
		if l.slot > 31 || l.fn > 7 || model == "pcie-root-port" && l.slot != 0 {
			return unsupported("%s: <address type='pci' bus='%#02x' slot='%#02x' function='%#x'> is not a place on that bus", what, l.bus, l.slot, l.fn)
		}
		if other, dup := seen[l]; dup {
			return unsupported("%s and %s have the same PCI address (bus %#02x slot %#02x function %#x)", other, what, l.bus, l.slot, l.fn)
		}
		seen[l] = what
		return nil
	}
	for _, d := range pciDevices(b.x, b.m) {
		if err := check(*d.addr, d.what); err != nil {
			return err
		}
	}
	for i, c := range b.devices().Controllers {
		if c.Type == "pci" {
			if err := check(c.Address, fmt.Sprintf("controller %d", i+1)); err != nil {
				return err
			}
		}
	}
	return nil
}

// pairs turns key, value, … into a map, for QMP's device_add.
func pairs(kv []string) map[string]string {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}
