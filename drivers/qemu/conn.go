package qemu

import (
	"bufio"
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// conn is one client's connection; it identifies its event callbacks.
type conn struct {
	drv       *Driver
	callbacks drivers.ConnCallbacks
}

func (c *conn) Close() error {
	c.callbacks.Close(&c.drv.events, c)
	return nil
}

func (c *conn) ConnectGetType(context.Context) (string, error) { return "QEMU", nil }

// ConnectIsSecure answers 1: the QEMU driver talks to its guests over
// local sockets and pipes only, as libvirt's QEMU driver says.
func (c *conn) ConnectIsSecure(context.Context) (int32, error) { return 1, nil }

// ConnectGetURI is the URI this driver serves, also for a client that let
// the daemon probe (opened with no URI).
func (c *conn) ConnectGetURI(context.Context) (string, error) { return "qemu://" + servedPath(), nil }

// ConnectGetVersion is qemu's version, as libvirt's QEMU driver reports it.
func (c *conn) ConnectGetVersion(context.Context) (uint64, error) { return c.drv.version, nil }

func (c *conn) ConnectGetHostname(context.Context) (string, error) {
	h, err := os.Hostname()
	if err != nil {
		return "", drivers.Errorf(vir.ErrSystemError, vir.FromQEMU, "cannot get hostname: %v", err)
	}
	return h, nil
}

// NodeGetInfo describes the host from /proc: one NUMA node and socket,
// a core per logical CPU.
func (c *conn) NodeGetInfo(context.Context) (drivers.NodeInfo, error) {
	info := drivers.NodeInfo{Model: "x86_64", CPUs: int32(runtime.NumCPU()), Nodes: 1, Sockets: 1, Threads: 1}
	info.Cores = info.CPUs
	info.Memory = meminfoKiB("MemTotal")
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		s := bufio.NewScanner(f)
		for s.Scan() {
			if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "cpu MHz" {
				mhz, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
				info.MHz = int32(mhz)
				break
			}
		}
	}
	return info, nil
}

// meminfoKiB reads one value of /proc/meminfo, in KiB.
func meminfoKiB(key string) uint64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == key {
			n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// kvmAvailable reports whether /dev/kvm can be opened.
func kvmAvailable() bool {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// ConnectGetCapabilities describes the x86_64 guests qemu runs: with
// TCG always, with KVM when /dev/kvm opens; the machine types the
// driver serves, as the binary's probe names them (domcaps.go).
func (c *conn) ConnectGetCapabilities(ctx context.Context) (string, error) {
	q, err := c.drv.capsOf(ctx, c.drv.binary, "tcg")
	if err != nil {
		return "", err
	}
	domains := []libvirtxml.CapsGuestDomain{{Type: "qemu"}}
	if kvmAvailable() {
		domains = append(domains, libvirtxml.CapsGuestDomain{Type: "kvm"})
	}
	features := &libvirtxml.CapsGuestFeatures{ACPI: &libvirtxml.CapsGuestFeatureACPI{Default: "on", Toggle: "yes"}}
	if servedCaps["guest/apic"] {
		features.APIC = &libvirtxml.CapsGuestFeatureAPIC{Default: "on", Toggle: "no"}
	}
	if servedCaps["guest/cpuselection"] {
		features.CPUSelection = &libvirtxml.CapsGuestFeatureCPUSelection{}
	}
	if servedCaps["guest/deviceboot"] {
		features.DeviceBoot = &libvirtxml.CapsGuestFeatureDeviceBoot{}
	}
	if servedCaps["guest/disksnapshot"] {
		features.DiskSnapshot = &libvirtxml.CapsGuestFeatureDiskSnapshot{Default: "on", Toggle: "no"}
	}
	caps := libvirtxml.Caps{
		Host: libvirtxml.CapsHost{CPU: &libvirtxml.CapsHostCPU{Arch: "x86_64"}},
		Guests: []libvirtxml.CapsGuest{{
			OSType: "hvm",
			Arch: libvirtxml.CapsGuestArch{
				Name: "x86_64", WordSize: "64", Emulator: c.drv.binary,
				Machines: capsMachines(q),
				Domains:  domains,
			},
			Features: features,
		}},
	}
	s, err := caps.Marshal()
	if err != nil {
		return "", drivers.Errorf(vir.ErrInternalError, vir.FromQEMU, "cannot format capabilities: %v", err)
	}
	return s + "\n", nil
}

func (c *conn) ConnectDomainEventRegisterAny(ctx context.Context, dom *drivers.Domain, eventID vir.DomainEventID, cb drivers.EventCallback) (int, error) {
	return c.callbacks.Register(&c.drv.events, c, eventID, dom, cb)
}

func (c *conn) ConnectDomainEventDeregisterAny(ctx context.Context, callbackID int) error {
	return c.drv.events.Deregister(c, callbackID)
}

// Callbacks is the number of event callbacks registered, for tests.
func (d *Driver) Callbacks() int { return d.events.Len() }

// The interfaces the driver implements.
var (
	_ drivers.StateDriver           = (*Driver)(nil)
	_ drivers.ConnectInfo           = (*conn)(nil)
	_ drivers.NodeInfoGetter        = (*conn)(nil)
	_ drivers.DomainLookup          = (*conn)(nil)
	_ drivers.DomainLister          = (*conn)(nil)
	_ drivers.DomainDefiner         = (*conn)(nil)
	_ drivers.DomainLifecycle       = (*conn)(nil)
	_ drivers.DomainSaver           = (*conn)(nil)
	_ drivers.DomainInspector       = (*conn)(nil)
	_ drivers.DomainAutostarter     = (*conn)(nil)
	_ drivers.DomainManagedSaver    = (*conn)(nil)
	_ drivers.DomainSnapshotCounter = (*conn)(nil)
	_ drivers.DomainEvents          = (*conn)(nil)
)

// ConnectSupportsFeature answers the driver features a client library
// asks about besides the transport's: typed parameters may be strings
// (the stats' names and paths are), and virNetworkUpdate's command and
// section travel in their declared order — which libvirt's client uses
// to decide the order it sends them in, and which every concern of this
// connection (the network driver's update included) takes.
func (c *conn) ConnectSupportsFeature(ctx context.Context, feature int32) (int32, error) {
	switch protocol.DrvFeature(feature) {
	case protocol.DrvFeatureTypedParamString, protocol.DrvFeatureNetworkUpdateHasCorrectOrder:
		return 1, nil
	}
	return 0, nil
}
