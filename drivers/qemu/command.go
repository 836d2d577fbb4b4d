package qemu

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers/domxml"
)

// launch is what a qemu command line needs besides the definition.
type launch struct {
	// emulator is the qemu binary for a definition without <emulator>.
	emulator string
	// monitorFD is the descriptor of the listening monitor socket qemu
	// inherits (its path is never on the command line).
	monitorFD int
	// incomingFD, when not 0, is a migration stream qemu loads before it
	// runs the guest (restore).
	incomingFD int
	// tapFDs are the descriptors of the interfaces' taps, by interface
	// index (0 for an interface without one); see plugInterfaces.
	tapFDs []int
}

// machine is what the command line depends on in <os><type> and the
// domain type.
type machine struct {
	name  string // as given, "pc" when absent
	q35   bool   // the q35 family (AHCI built in, no IDE) rather than i440fx
	accel string // "tcg" for type qemu, "kvm" for type kvm
}

// cmdline accumulates argv as groups of an option and its values, so
// the golden files and the log can show one option per line.
type cmdline struct{ groups [][]string }

func (c *cmdline) add(opt string, val ...string) {
	c.groups = append(c.groups, append([]string{opt}, val...))
}

// Args is the flat argv.
func (c *cmdline) Args() []string {
	var out []string
	for _, g := range c.groups {
		out = append(out, g...)
	}
	return out
}

// String shows the command line as a shell command, one option per line.
func (c *cmdline) String() string {
	lines := make([]string, len(c.groups))
	for i, g := range c.groups {
		q := make([]string, len(g))
		for j, a := range g {
			q[j] = shellQuote(a)
		}
		lines[i] = strings.Join(q, " ")
	}
	return strings.Join(lines, " \\\n") + "\n"
}

// opts joins key=value pairs into one option value, escaping commas in
// values as qemu's option parser wants (",," is a literal comma).
func opts(first string, kv ...string) string {
	parts := []string{first}
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, kv[i]+"="+escapeComma(kv[i+1]))
	}
	return strings.Join(parts, ",")
}

func escapeComma(s string) string { return strings.ReplaceAll(s, ",", ",,") }

// buildCommand turns a prepared definition (see prepareDefinition) into
// qemu's command line, the binary first. What the driver cannot honour is
// refused with VIR_ERR_CONFIG_UNSUPPORTED naming the element.
func buildCommand(def *domxml.Def, l launch) (*cmdline, error) {
	x := def.XML
	if err := checkSupported(x); err != nil {
		return nil, err
	}
	m, err := machineOf(x)
	if err != nil {
		return nil, err
	}
	b := &builder{def: def, x: x, m: m, c: &cmdline{}, tapFDs: l.tapFDs}
	if x.Devices != nil {
		if err := b.checkPCIAddresses(); err != nil {
			return nil, err
		}
	}
	emulator := l.emulator
	if x.Devices != nil && x.Devices.Emulator != "" {
		emulator = x.Devices.Emulator
	}
	b.c.add(emulator)
	for _, step := range []func() error{
		b.header, b.memoryCPU, func() error { return b.monitor(l.monitorFD) },
		b.lifecycle, b.boot, b.controllers, b.disks, b.interfaces, b.chardevs,
		b.channels, b.graphics, b.sounds, b.redirdevs, b.watchdogs, b.balloon, b.rngs,
	} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	b.c.add("-msg", "timestamp=on")
	if l.incomingFD > 0 {
		b.c.add("-incoming", "fd:"+strconv.Itoa(l.incomingFD))
	}
	return b.c, nil
}

// builder holds the state of one buildCommand.
type builder struct {
	def *domxml.Def
	x   *libvirtxml.Domain
	m   machine
	c   *cmdline

	tapFDs    []int  // launch.tapFDs
	usbBus    bool   // a USB controller makes bus usb.0
	scsi      bool   // a SCSI controller makes bus scsi0.0
	scsiModel string // its model
	ahci      bool   // the AHCI controller of an i440fx machine was added
	rootPorts int    // PCIe root ports added so far (rootPort)
}

func machineOf(x *libvirtxml.Domain) (machine, error) {
	m := machine{name: "pc"}
	switch x.Type {
	case "qemu":
		m.accel = "tcg"
	case "kvm":
		m.accel = "kvm"
	default:
		return m, unsupported("domain type '%s' is not supported by the QEMU driver: use <domain type='qemu'> (TCG) or 'kvm'", x.Type)
	}
	if x.OS == nil || x.OS.Type == nil {
		return m, nil
	}
	t := x.OS.Type
	if t.Type != "" && t.Type != "hvm" {
		return m, unsupported("<os><type>%s</type>: only hvm guests are supported", t.Type)
	}
	if t.Arch != "" && t.Arch != "x86_64" {
		return m, unsupported("<os><type arch='%s'>: only x86_64 guests are supported", t.Arch)
	}
	if t.Machine != "" {
		m.name = t.Machine
	}
	switch {
	case m.name == "q35" || strings.HasPrefix(m.name, "pc-q35-"):
		m.q35 = true
	case m.name == "pc" || strings.HasPrefix(m.name, "pc-i440fx-"):
	default:
		return m, unsupported("<os><type machine='%s'>: only the pc (i440fx) and q35 machine families are supported", m.name)
	}
	return m, nil
}

func (b *builder) header() error {
	x := b.x
	b.c.add("-name", opts("guest="+escapeComma(x.Name), "debug-threads", "on"))
	b.c.add("-S")
	mopts := []string{}
	if x.Features == nil || x.Features.ACPI == nil {
		mopts = append(mopts, "acpi", "off")
	}
	if x.Features != nil && x.Features.VMPort != nil {
		switch s := x.Features.VMPort.State; s {
		case "on", "off":
			mopts = append(mopts, "vmport", s)
		default:
			return unsupported("<features><vmport state='%s'>: use on or off", s)
		}
	}
	if x.Clock != nil {
		for _, t := range x.Clock.Timer {
			if t.Name == "hpet" && t.Present == "no" {
				mopts = append(mopts, "hpet", "off")
			}
		}
	}
	b.c.add("-machine", opts(b.m.name, mopts...))
	b.c.add("-accel", b.m.accel)
	return nil
}

func (b *builder) memoryCPU() error {
	x := b.x
	if err := b.cpu(); err != nil {
		return err
	}
	b.c.add("-m", fmt.Sprintf("size=%dk", alignMiB(b.def.MaxMemKiB())))
	n := uint(1)
	if v := x.VCPU; v != nil {
		if v.Placement != "" && v.Placement != "static" {
			return unsupported("<vcpu placement='%s'>: only static placement is supported", v.Placement)
		}
		if v.Value > 0 {
			n = v.Value
		}
		if v.Current != 0 && v.Current != n {
			return unsupported("<vcpu current='%d'> below the maximum %d needs vCPU hotplug, which is not supported", v.Current, n)
		}
	}
	smp, err := b.smp(n)
	if err != nil {
		return err
	}
	b.c.add("-smp", smp)
	b.c.add("-uuid", x.UUID)
	b.c.add("-no-user-config")
	b.c.add("-nodefaults")
	return nil
}

// alignMiB rounds a size in KiB up to a whole MiB, as qemu's RAM is.
func alignMiB(kib uint64) uint64 { return (kib + 1023) / 1024 * 1024 }

func (b *builder) monitor(fd int) error {
	b.c.add("-chardev", opts("socket", "id", "charmonitor", "fd", strconv.Itoa(fd), "server", "on", "wait", "off"))
	b.c.add("-mon", opts("chardev=charmonitor", "id", "monitor", "mode", "control"))
	return nil
}

// lifecycle maps the clock and the on_* actions. qemu always runs with
// -no-shutdown: a guest power-off leaves it alive, and the driver decides
// what happens next (stop it, or restart the guest for on_poweroff
// restart and for a reboot request).
func (b *builder) lifecycle() error {
	x := b.x
	base := "utc"
	if c := x.Clock; c != nil {
		switch c.Offset {
		case "", "utc":
		case "localtime":
			base = "localtime"
		default:
			return unsupported("<clock offset='%s'>: only utc and localtime are supported", c.Offset)
		}
	}
	rtc := []string{}
	if c := x.Clock; c != nil {
		for i, t := range c.Timer {
			var err error
			if rtc, err = b.timer(t, fmt.Sprintf("/domain/clock/timer[%d]", i+1), rtc); err != nil {
				return err
			}
		}
	}
	b.c.add("-rtc", opts("base="+base, rtc...))
	if err := b.pm(); err != nil {
		return err
	}
	b.c.add("-no-shutdown")
	for _, a := range []struct {
		elem, val string
		allowed   []string
		note      string
	}{
		{"on_poweroff", x.OnPoweroff, []string{"destroy", "restart"}, ""},
		{"on_reboot", x.OnReboot, []string{"restart", "destroy"}, ""},
		{"on_crash", x.OnCrash, []string{"destroy"}, " (a crash is only seen through a <panic> device, which is not supported)"},
	} {
		if a.val != "" && !slices.Contains(a.allowed, a.val) {
			return unsupported("<%s>%s</%s>: supported actions are %s%s", a.elem, a.val, a.elem, strings.Join(a.allowed, ", "), a.note)
		}
	}
	if x.OnReboot == "destroy" {
		b.c.add("-no-reboot")
	}
	return nil
}

// timer maps one <clock><timer> as libvirt does, returning the -rtc
// options: rtc catchup is the RTC's drift fix, pit delay the KVM PIT's
// lost-tick policy (TCG's PIT only delays), hpet present='no' turns the
// machine's HPET off. Others are refused by name.
func (b *builder) timer(t libvirtxml.DomainTimer, xpath string, rtc []string) ([]string, error) {
	switch t.Name {
	case "rtc":
		if t.Present == "no" {
			return nil, unsupported("<timer name='rtc' present='no'> (%s): the RTC cannot be removed", xpath)
		}
		switch t.TickPolicy {
		case "", "delay":
		case "catchup":
			rtc = append(rtc, "driftfix", "slew")
		default:
			return nil, unsupported("<timer name='rtc' tickpolicy='%s'> (%s): use catchup or delay", t.TickPolicy, xpath)
		}
	case "pit":
		if t.Present == "no" {
			return nil, unsupported("<timer name='pit' present='no'> (%s): the PIT cannot be removed", xpath)
		}
		switch t.TickPolicy {
		case "":
		case "delay":
			if b.m.accel == "kvm" {
				b.c.add("-global", "kvm-pit.lost_tick_policy=delay")
			}
		default:
			return nil, unsupported("<timer name='pit' tickpolicy='%s'> (%s): only delay is supported", t.TickPolicy, xpath)
		}
	case "hpet":
		if t.TickPolicy != "" {
			return nil, unsupported("<timer name='hpet' tickpolicy='%s'> (%s): the HPET has no tick policy here", t.TickPolicy, xpath)
		}
		switch t.Present {
		case "", "yes":
		case "no": // header turns it off on -machine
		default:
			return nil, unsupported("<timer name='hpet' present='%s'> (%s): use yes or no", t.Present, xpath)
		}
	default:
		return nil, unsupported("<timer name='%s'> (%s): supported timers are rtc, pit and hpet", t.Name, xpath)
	}
	return rtc, nil
}

// pm maps <pm>: whether the guest may suspend to RAM (S3) and to disk
// (S4), on the machine's power-management device.
func (b *builder) pm() error {
	pm := b.x.PM
	if pm == nil {
		return nil
	}
	dev := "PIIX4_PM"
	if b.m.q35 {
		dev = "ICH9-LPC"
	}
	for _, s := range []struct {
		p    *libvirtxml.DomainPMPolicy
		name string
		prop string
	}{{pm.SuspendToMem, "suspend-to-mem", "disable_s3"}, {pm.SuspendToDisk, "suspend-to-disk", "disable_s4"}} {
		if s.p == nil {
			continue
		}
		switch s.p.Enabled {
		case "no":
			b.c.add("-global", dev+"."+s.prop+"=1")
		case "yes":
			b.c.add("-global", dev+"."+s.prop+"=0")
		default:
			return unsupported("<pm><%s enabled='%s'>: use yes or no", s.name, s.p.Enabled)
		}
	}
	return nil
}

// bootDevs maps <os><boot dev> to qemu's -boot order letters.
var bootDevs = map[string]string{"fd": "a", "hd": "c", "cdrom": "d", "network": "n"}

func (b *builder) boot() error {
	os := b.x.OS
	if os == nil {
		return nil
	}
	order := ""
	for _, bd := range os.BootDevices {
		l, ok := bootDevs[bd.Dev]
		if !ok {
			return unsupported("<os><boot dev='%s'>: supported devices are hd, cdrom, network and fd", bd.Dev)
		}
		order += l
	}
	perDevice := hasDeviceBoot(b.x)
	switch {
	case order != "" && perDevice:
		return unsupported("<os><boot> cannot be combined with a device's <boot order>: use one or the other")
	case order != "":
		b.c.add("-boot", "order="+order)
	case perDevice:
		b.c.add("-boot", "strict=on")
	}
	if os.Kernel != "" {
		b.c.add("-kernel", os.Kernel)
	}
	if os.Initrd != "" {
		b.c.add("-initrd", os.Initrd)
	}
	if os.Cmdline != "" {
		b.c.add("-append", os.Cmdline)
	}
	return nil
}

func hasDeviceBoot(x *libvirtxml.Domain) bool {
	if x.Devices == nil {
		return false
	}
	for _, d := range x.Devices.Disks {
		if d.Boot != nil {
			return true
		}
	}
	for _, n := range x.Devices.Interfaces {
		if n.Boot != nil {
			return true
		}
	}
	return false
}
