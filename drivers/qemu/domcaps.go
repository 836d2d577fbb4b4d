package qemu

import (
	"context"
	"strings"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/vir"
)

// Domain capabilities (virConnectGetDomainCapabilities): what a domain
// of this driver may hold on this host's qemu, which virt-install and
// virt-manager read to choose a guest's devices. A value is offered when
// both hold: the driver serves it (servedCaps) and the qemu binary has
// what it needs (the probe, capsprobe.go). A device qemu has but the
// driver refuses at define is not offered.

// servedCaps is what the driver serves of the domain capabilities: the
// one place that says it. Whoever widens (or narrows) what validate.go
// and command*.go accept changes it here, so that domcapabilities
// follows. Keys:
//
//	"DEVICE"              the device is supported (disk, graphics, video,
//	                      hostdev, rng, filesystem, tpm, redirdev,
//	                      channel, crypto)
//	"DEVICE/ENUM/VALUE"   one value of one of its enums (capsDevices
//	                      lists them, with what qemu needs for each)
//	"cpu/MODE"            a CPU mode: host-passthrough (KVM only),
//	                      maximum, host-model, custom (with qemu's models)
//	"os/loader", "os/loader/ENUM/VALUE"   <os><loader>
//	"iothreads", "memoryBacking", "memoryBacking/sourceType/VALUE"
//	"features/NAME"       vmcoreinfo, genid, backingStoreInput, backup
//	"guest/NAME"          a feature of the capabilities' <guest>: apic,
//	                      cpuselection, deviceboot, disksnapshot
//
// The machine types served are machineOf's (command.go).
var servedCaps = setOf(
	"disk", "disk/diskDevice/disk", "disk/diskDevice/cdrom",
	"disk/bus/ide", "disk/bus/scsi", "disk/bus/sata", "disk/bus/virtio",
	"graphics", "graphics/type/vnc", "graphics/type/spice",
	"video", "video/modelType/vga", "video/modelType/cirrus", "video/modelType/qxl", "video/modelType/virtio",
	"video/modelType/none", "video/modelType/bochs",
	"rng", "rng/model/virtio", "rng/backendModel/random",
	"redirdev", "redirdev/bus/usb",
	"channel", "channel/type/unix", "channel/type/spicevmc",
	"cpu/host-passthrough", "cpu/maximum", "cpu/custom",
	"guest/apic", "guest/deviceboot", "guest/cpuselection",
)

// capsValue is one value of a domain capabilities enum and what qemu
// must have for it (nil: every qemu has it).
type capsValue struct {
	value string
	has   func(q *qemuCaps, m capsTarget) bool
}

// capsTarget is what a domain capabilities document is asked for.
type capsTarget struct {
	machine capsMachine
	q35     bool
	accel   string // tcg or kvm
}

func qomType(names ...string) func(*qemuCaps, capsTarget) bool {
	return func(q *qemuCaps, _ capsTarget) bool {
		for _, n := range names {
			if q.hasType(n) {
				return true
			}
		}
		return false
	}
}

func qmpCommand(name string) func(*qemuCaps, capsTarget) bool {
	return func(q *qemuCaps, _ capsTarget) bool { return q.commands[name] }
}

// capsEnum is one enum, its values in libvirt's order.
type capsEnum struct {
	name   string
	values []capsValue
}

// capsDevices are the devices of <devices>, in libvirt's order, with
// every enum value libvirt 9.0 knows and what qemu needs for it.
var capsDevices = []struct {
	name  string
	enums []capsEnum
}{
	{"disk", []capsEnum{
		{"diskDevice", []capsValue{{"disk", nil}, {"cdrom", nil}, {"floppy", qomType("isa-fdc")}, {"lun", qomType("scsi-block")}}},
		{"bus", []capsValue{
			{"ide", func(q *qemuCaps, t capsTarget) bool { return !t.q35 }},
			{"fdc", qomType("isa-fdc")}, {"scsi", qomType("virtio-scsi-pci", "lsi53c895a")},
			{"virtio", qomType("virtio-blk-pci")}, {"usb", qomType("usb-storage")}, {"sata", qomType("ich9-ahci")},
		}},
		{"model", []capsValue{{"virtio", qomType("virtio-blk-pci")}, {"virtio-transitional", qomType("virtio-blk-pci-transitional")},
			{"virtio-non-transitional", qomType("virtio-blk-pci-non-transitional")}}},
	}},
	{"graphics", []capsEnum{
		{"type", []capsValue{{"sdl", nil}, {"vnc", qmpCommand("query-vnc")}, {"spice", qmpCommand("query-spice")},
			{"egl-headless", nil}, {"dbus", nil}}},
	}},
	{"video", []capsEnum{
		{"modelType", []capsValue{{"vga", qomType("VGA")}, {"cirrus", qomType("cirrus-vga")}, {"vmvga", qomType("vmware-svga")},
			{"qxl", qomType("qxl-vga")}, {"virtio", qomType("virtio-vga", "virtio-gpu-pci")}, {"none", nil},
			{"bochs", qomType("bochs-display")}, {"ramfb", qomType("ramfb")}}},
	}},
	{"hostdev", []capsEnum{
		{"mode", []capsValue{{"subsystem", nil}}},
		{"startupPolicy", []capsValue{{"default", nil}, {"mandatory", nil}, {"requisite", nil}, {"optional", nil}}},
		{"subsysType", []capsValue{{"usb", qomType("usb-host")}, {"pci", qomType("vfio-pci")}, {"scsi", qomType("scsi-generic")}}},
		{"capsType", nil}, {"pciBackend", nil},
	}},
	{"rng", []capsEnum{
		{"model", []capsValue{{"virtio", qomType("virtio-rng-pci")}, {"virtio-transitional", qomType("virtio-rng-pci-transitional")},
			{"virtio-non-transitional", qomType("virtio-rng-pci-non-transitional")}}},
		{"backendModel", []capsValue{{"random", qomType("rng-random")}, {"egd", qomType("rng-egd")}, {"builtin", qomType("rng-builtin")}}},
	}},
	{"filesystem", []capsEnum{
		{"driverType", []capsValue{{"path", qomType("virtio-9p-pci")}, {"handle", qomType("virtio-9p-pci")}, {"virtiofs", qomType("vhost-user-fs-pci")}}},
	}},
	{"tpm", []capsEnum{
		{"model", []capsValue{{"tpm-tis", qomType("tpm-tis")}, {"tpm-crb", qomType("tpm-crb")}}},
		{"backendModel", []capsValue{{"passthrough", qomType("tpm-passthrough")}, {"emulator", qomType("tpm-emulator")}}},
	}},
	{"redirdev", []capsEnum{{"bus", []capsValue{{"usb", qomType("usb-redir")}}}}},
	{"channel", []capsEnum{
		{"type", []capsValue{{"pty", nil}, {"unix", nil}, {"spicevmc", qmpCommand("query-spice")}}},
	}},
	{"crypto", []capsEnum{
		{"model", []capsValue{{"virtio", qomType("virtio-crypto-pci")}}},
		{"type", []capsValue{{"qemu", nil}}},
		{"backendModel", []capsValue{{"builtin", qomType("cryptodev-backend-builtin")}, {"lkcf", qomType("cryptodev-backend-lkcf")}}},
	}},
}

// offered is the enums of one element (prefix "disk", "os/loader"):
// the values that are served and that qemu has, in libvirt's order.
func offered(prefix string, enums []capsEnum, q *qemuCaps, t capsTarget) []libvirtxml.DomainCapsEnum {
	out := make([]libvirtxml.DomainCapsEnum, 0, len(enums))
	for _, e := range enums {
		ce := libvirtxml.DomainCapsEnum{Name: e.name}
		for _, v := range e.values {
			if servedCaps[prefix+"/"+e.name+"/"+v.value] && (v.has == nil || v.has(q, t)) {
				ce.Values = append(ce.Values, v.value)
			}
		}
		out = append(out, ce)
	}
	return out
}

// yesNo is a domain capabilities' supported attribute.
func yesNo(yes bool) string {
	if yes {
		return "yes"
	}
	return "no"
}

// capsDevice is one device's element: its enums when served, else
// supported='no'.
func capsDevice(name string, enums []capsEnum, q *qemuCaps, t capsTarget) *libvirtxml.DomainCapsDevice {
	if !servedCaps[name] {
		return &libvirtxml.DomainCapsDevice{Supported: "no"}
	}
	return &libvirtxml.DomainCapsDevice{Supported: "yes", Enums: offered(name, enums, q, t)}
}

// loaderEnums are <os><loader>'s enums: qemu's x86 machines take a ROM
// and pflash; secure boot needs firmware descriptors the driver does
// not read.
var loaderEnums = []capsEnum{
	{"type", []capsValue{{"rom", nil}, {"pflash", nil}}},
	{"readonly", []capsValue{{"yes", nil}, {"no", nil}}},
	{"secure", []capsValue{{"no", nil}}},
}

// capsCPU is <cpu>: the modes in libvirt's order, custom with qemu's
// models and whether this accelerator runs each.
func capsCPU(q *qemuCaps, t capsTarget) *libvirtxml.DomainCapsCPU {
	mode := func(name string, ok bool, enum string) libvirtxml.DomainCapsCPUMode {
		m := libvirtxml.DomainCapsCPUMode{Name: name, Supported: yesNo(servedCaps["cpu/"+name] && ok)}
		if m.Supported == "yes" && enum != "" {
			m.Enums = []libvirtxml.DomainCapsEnum{enum2(enum, "on", "off")}
		}
		return m
	}
	custom := mode("custom", true, "")
	if custom.Supported == "yes" {
		for _, c := range q.cpus {
			m := libvirtxml.DomainCapsCPUModel{Name: c.name, Usable: yesNo(c.usable)}
			if c.deprecated {
				m.Deprecated = "yes"
			}
			custom.Models = append(custom.Models, m)
		}
	}
	return &libvirtxml.DomainCapsCPU{Modes: []libvirtxml.DomainCapsCPUMode{
		mode("host-passthrough", t.accel == "kvm", "hostPassthroughMigratable"),
		mode("maximum", true, "maximumMigratable"),
		mode("host-model", true, ""),
		custom,
	}}
}

func enum2(name string, values ...string) libvirtxml.DomainCapsEnum {
	return libvirtxml.DomainCapsEnum{Name: name, Values: values}
}

// ConnectGetDomainCapabilities answers the capabilities of a domain of
// virttype (qemu or kvm; kvm only where /dev/kvm is) on arch x86_64,
// machine (default qemu's) and emulator (default the driver's binary)
// (drivers.OpConnectGetDomainCapabilities), from the binary's probe.
func (c *conn) ConnectGetDomainCapabilities(ctx context.Context, emulator, arch, machine, virttype *string, flags uint32) (string, error) {
	if flags != 0 {
		return "", drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "unsupported flags (0x%x) in function qemuConnectGetDomainCapabilities", flags)
	}
	bin := c.drv.binary
	if emulator != nil && *emulator != "" {
		bin = *emulator
	}
	if arch != nil && *arch != "" && *arch != "x86_64" {
		return "", drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "the QEMU driver runs x86_64 guests only, not %s", *arch)
	}
	typ := "qemu"
	if virttype != nil && *virttype != "" {
		typ = *virttype
	}
	accel := "tcg"
	switch {
	case typ == "kvm" && !kvmAvailable():
		return "", drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "KVM is not available on this host (no /dev/kvm): use virttype qemu")
	case typ == "kvm":
		accel = "kvm"
	case typ != "qemu":
		return "", drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "virttype %s is not served by the QEMU driver: use qemu or kvm", typ)
	}
	q, err := c.drv.capsOf(ctx, bin, accel)
	if err != nil {
		return "", err
	}
	m, ok := q.defaultMachine()
	if machine != nil && *machine != "" {
		m, ok = q.machine(*machine)
		if !ok {
			return "", drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "the emulator %s does not support machine type '%s'", bin, *machine)
		}
	}
	if !ok {
		return "", drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "the emulator %s has no default machine type: name one", bin)
	}
	q35, served := servedMachine(m.name)
	if !served {
		return "", drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "machine type '%s': only the pc (i440fx) and q35 families are served", m.name)
	}
	t := capsTarget{machine: m, q35: q35, accel: accel}
	caps := libvirtxml.DomainCaps{
		Path: bin, Domain: typ, Machine: m.name, Arch: "x86_64",
		VCPU:          &libvirtxml.DomainCapsVCPU{Max: uint(m.maxCPUs)},
		IOThreads:     &libvirtxml.DomainCapsIOThreads{Supported: yesNo(servedCaps["iothreads"] && q.hasType("iothread"))},
		OS:            &libvirtxml.DomainCapsOS{Supported: "yes", Enums: []libvirtxml.DomainCapsEnum{{Name: "firmware"}}},
		CPU:           capsCPU(q, t),
		MemoryBacking: &libvirtxml.DomainCapsMemoryBacking{Supported: yesNo(servedCaps["memoryBacking"])},
		Devices:       &libvirtxml.DomainCapsDevices{},
		Features: &libvirtxml.DomainCapsFeatures{
			GIC:               &libvirtxml.DomainCapsFeatureGIC{Supported: "no"},
			VMCoreInfo:        &libvirtxml.DomainCapsFeatureVMCoreInfo{Supported: yesNo(servedCaps["features/vmcoreinfo"] && q.hasType("vmcoreinfo"))},
			GenID:             &libvirtxml.DomainCapsFeatureGenID{Supported: yesNo(servedCaps["features/genid"] && q.hasType("vmgenid"))},
			BackingStoreInput: &libvirtxml.DomainCapsFeatureBackingStoreInput{Supported: yesNo(servedCaps["features/backingStoreInput"])},
			Backup:            &libvirtxml.DomainCapsFeatureBackup{Supported: yesNo(servedCaps["features/backup"])},
			SEV:               &libvirtxml.DomainCapsFeatureSEV{Supported: "no"},
			SGX:               &libvirtxml.DomainCapsFeatureSGX{Supported: "no"},
		},
	}
	if servedCaps["os/loader"] {
		caps.OS.Loader = &libvirtxml.DomainCapsOSLoader{Supported: "yes", Enums: offered("os/loader", loaderEnums, q, t)}
	} else {
		caps.OS.Loader = &libvirtxml.DomainCapsOSLoader{Supported: "no"}
	}
	if caps.MemoryBacking.Supported == "yes" {
		caps.MemoryBacking.Enums = offered("memoryBacking", []capsEnum{{"sourceType", []capsValue{
			{"file", qomType("memory-backend-file")}, {"anonymous", qomType("memory-backend-ram")}, {"memfd", qomType("memory-backend-memfd")},
		}}}, q, t)
	}
	devs := caps.Devices
	for _, d := range capsDevices {
		el := capsDevice(d.name, d.enums, q, t)
		switch d.name {
		case "disk":
			devs.Disk = el
		case "graphics":
			devs.Graphics = el
		case "video":
			devs.Video = el
		case "hostdev":
			devs.HostDev = el
		case "rng":
			devs.RNG = el
		case "filesystem":
			devs.FileSystem = el
		case "tpm":
			devs.TPM = el
		case "redirdev":
			devs.Redirdev = el
		case "channel":
			devs.Channel = el
		case "crypto":
			devs.Crypto = el
		}
	}
	doc, err := caps.Marshal()
	if err != nil {
		return "", drivers.Errorf(vir.ErrInternalError, vir.FromQEMU, "%v", err)
	}
	return doc + "\n", nil
}

// servedMachine reports whether the driver runs guests on the machine
// type name (machineOf decides), and whether it is a q35.
func servedMachine(name string) (q35, ok bool) {
	m, err := machineOf(&libvirtxml.Domain{Type: "qemu", OS: &libvirtxml.DomainOS{Type: &libvirtxml.DomainOSType{Type: "hvm", Machine: name}}})
	return m.q35, err == nil
}

// capsMachines are the capabilities' <machine> elements of the machine
// types the driver serves, as libvirt lists them: qemu's default first,
// each alias after the machine it stands for, with canonical naming
// that machine.
func capsMachines(q *qemuCaps) []libvirtxml.CapsGuestMachine {
	ordered := make([]capsMachine, 0, len(q.machines))
	if m, ok := q.defaultMachine(); ok {
		ordered = append(ordered, m)
	}
	for _, m := range q.machines {
		if !m.isDefault {
			ordered = append(ordered, m)
		}
	}
	var out []libvirtxml.CapsGuestMachine
	for _, m := range ordered {
		if _, ok := servedMachine(m.name); !ok {
			continue
		}
		e := libvirtxml.CapsGuestMachine{Name: m.name, MaxCPUs: m.maxCPUs}
		if m.deprecated {
			e.Deprecated = "yes"
		}
		out = append(out, e)
		if m.alias != "" && !strings.EqualFold(m.alias, m.name) {
			a := e
			a.Name, a.Canonical = m.alias, m.name
			out = append(out, a)
		}
	}
	return out
}
