package qemu

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/vir"
)

// Domain capabilities (virConnectGetDomainCapabilities): what a domain
// of this driver may hold on this host's qemu, which virt-install and
// virt-manager read to choose a guest's devices. They say what the
// driver serves — a device qemu has but the driver refuses is not
// offered — and name the machine types the binary has.

// machineTypes are one qemu binary's machine types, read once from
// `qemu -machine help` (a binary does not change under a running daemon;
// a new path is read anew).
type machineTypes struct {
	names   map[string]bool
	aliases map[string]string // pc → pc-i440fx-7.2
}

var machineCache sync.Map // binary path → *machineTypes

func machinesOf(ctx context.Context, bin string) (*machineTypes, error) {
	if m, ok := machineCache.Load(bin); ok {
		return m.(*machineTypes), nil
	}
	out, err := exec.CommandContext(ctx, bin, "-machine", "help").Output()
	if err != nil {
		return nil, drivers.Errorf(vir.ErrInternalError, vir.FromQEMU, "cannot list the machine types of %s: %v", bin, err)
	}
	m := &machineTypes{names: map[string]bool{}, aliases: map[string]string{}}
	s := bufio.NewScanner(bytes.NewReader(out))
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) < 2 || f[0] == "Supported" {
			continue
		}
		m.names[f[0]] = true
		line := s.Text()
		if i := strings.Index(line, "(alias of "); i >= 0 {
			m.aliases[f[0]] = strings.TrimSuffix(strings.TrimSpace(line[i+len("(alias of "):]), ")")
		}
	}
	machineCache.Store(bin, m)
	return m, nil
}

func enum(name string, values ...string) libvirtxml.DomainCapsEnum {
	return libvirtxml.DomainCapsEnum{Name: name, Values: values}
}

// ConnectGetDomainCapabilities answers the capabilities of a domain of
// virttype (qemu or kvm; kvm only where /dev/kvm is) on arch x86_64,
// machine (default pc) and emulator (default the driver's binary)
// (drivers.OpConnectGetDomainCapabilities).
func (c *conn) ConnectGetDomainCapabilities(ctx context.Context, emulator, arch, machine, virttype *string, flags uint32) (string, error) {
	if flags != 0 {
		return "", drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "unsupported flags (0x%x) in function qemuConnectGetDomainCapabilities", flags)
	}
	bin := c.drv.binary
	if emulator != nil && *emulator != "" {
		bin = *emulator
	}
	if _, err := os.Stat(bin); err != nil {
		return "", drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "cannot use emulator %s: %v", bin, err)
	}
	if arch != nil && *arch != "" && *arch != "x86_64" {
		return "", drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "the QEMU driver runs x86_64 guests only, not %s", *arch)
	}
	typ := "qemu"
	if virttype != nil && *virttype != "" {
		typ = *virttype
	}
	switch {
	case typ == "kvm" && !kvmAvailable():
		return "", drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "KVM is not available on this host (no /dev/kvm): use virttype qemu")
	case typ != "qemu" && typ != "kvm":
		return "", drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "virttype %s is not served by the QEMU driver: use qemu or kvm", typ)
	}
	mt, err := machinesOf(ctx, bin)
	if err != nil {
		return "", err
	}
	name := "pc"
	if machine != nil && *machine != "" {
		name = *machine
	}
	if !mt.names[name] {
		return "", drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "the emulator %s does not support machine type '%s'", bin, name)
	}
	if a, ok := mt.aliases[name]; ok {
		name = a
	}
	q35 := strings.HasPrefix(name, "pc-q35-") || name == "q35"
	if !q35 && !strings.HasPrefix(name, "pc-i440fx-") && name != "pc" {
		return "", drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "machine type '%s': only the pc (i440fx) and q35 families are served", name)
	}
	buses := []string{"ide", "scsi", "sata", "virtio"}
	if q35 {
		buses = []string{"scsi", "sata", "virtio"}
	}
	no := &libvirtxml.DomainCapsDevice{Supported: "no"}
	caps := libvirtxml.DomainCaps{
		Path: bin, Domain: typ, Machine: name, Arch: "x86_64",
		VCPU:      &libvirtxml.DomainCapsVCPU{Max: 255},
		IOThreads: &libvirtxml.DomainCapsIOThreads{Supported: "no"},
		OS:        &libvirtxml.DomainCapsOS{Supported: "yes", Enums: []libvirtxml.DomainCapsEnum{enum("firmware")}},
		CPU: &libvirtxml.DomainCapsCPU{Modes: []libvirtxml.DomainCapsCPUMode{
			{Name: "host-passthrough", Supported: yesIf(typ == "kvm")}, {Name: "maximum", Supported: "yes"},
			{Name: "host-model", Supported: "no"}, {Name: "custom", Supported: "no"},
		}},
		MemoryBacking: &libvirtxml.DomainCapsMemoryBacking{Supported: "no"},
		Devices: &libvirtxml.DomainCapsDevices{
			Disk: &libvirtxml.DomainCapsDevice{Supported: "yes", Enums: []libvirtxml.DomainCapsEnum{
				enum("diskDevice", "disk", "cdrom"), enum("bus", buses...), enum("model"),
			}},
			Graphics: &libvirtxml.DomainCapsDevice{Supported: "yes", Enums: []libvirtxml.DomainCapsEnum{enum("type", "vnc", "spice")}},
			Video: &libvirtxml.DomainCapsDevice{Supported: "yes", Enums: []libvirtxml.DomainCapsEnum{
				enum("modelType", "vga", "cirrus", "virtio", "qxl", "bochs", "none"),
			}},
			RNG: &libvirtxml.DomainCapsDevice{Supported: "yes", Enums: []libvirtxml.DomainCapsEnum{
				enum("model", "virtio"), enum("backendModel", "random"),
			}},
			Redirdev: &libvirtxml.DomainCapsDevice{Supported: "yes", Enums: []libvirtxml.DomainCapsEnum{enum("bus", "usb")}},
			Channel:  &libvirtxml.DomainCapsDevice{Supported: "yes", Enums: []libvirtxml.DomainCapsEnum{enum("type", "unix", "spicevmc")}},
			HostDev:  no, FileSystem: no, TPM: no, Crypto: no,
			Console: &libvirtxml.DomainCapsDevice{Supported: "yes", Enums: []libvirtxml.DomainCapsEnum{enum("type", "pty", "file")}},
		},
	}
	doc, err := caps.Marshal()
	if err != nil {
		return "", drivers.Errorf(vir.ErrInternalError, vir.FromQEMU, "%v", err)
	}
	return doc + "\n", nil
}

func yesIf(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
