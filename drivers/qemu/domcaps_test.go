package qemu_test

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers/qemu"
)

// virshAt runs virsh on uri and fails the test if it fails.
func virshAt(t *testing.T, uri string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	c := exec.CommandContext(ctx, "virsh", append([]string{"-c", uri}, args...)...)
	c.Env = append(os.Environ(), "LIBVIRT_AUTOSTART=0")
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("virsh -c %s %s: %v\n%s", uri, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// notInLibvirtCPUMap are the CPU models qemu 7.2 has that libvirt 9.0's
// own CPU map does not know, so libvirtd leaves them out; govirtd passes
// qemu's names through and offers them.
var notInLibvirtCPUMap = map[string]bool{"Denverton": true, "KnightsMill": true}

// TestDomainCapabilitiesDifferential: the real virsh domcapabilities
// (for the default machine, pc and q35) and the capabilities' x86_64
// guest, from govirtd and from a private libvirtd 9.0 on the same qemu,
// compared on what govirtd serves: the machine and its vCPU limit; the
// CPU models and whether TCG runs each; os/loader; for every served
// device, each served enum value is offered by govirtd exactly when
// libvirtd offers it (so both read the same qemu the same way), and
// govirtd offers nothing it does not serve; the machine list with
// canonical names.
func TestDomainCapabilitiesDifferential(t *testing.T) {
	d := newTestDaemon(t)
	d.start()
	lvURI := startPrivLibvirtd(t, d.path("libvirtd"), "").uri()

	for _, machine := range []string{"", "pc", "q35", "pc-q35-7.1"} {
		args := []string{"domcapabilities"}
		if machine != "" {
			args = append(args, "--machine", machine)
		}
		var gv, lv libvirtxml.DomainCaps
		if err := gv.Unmarshal(d.mustVirsh(args...)); err != nil {
			t.Fatal(err)
		}
		if err := lv.Unmarshal(virshAt(t, lvURI, args...)); err != nil {
			t.Fatal(err)
		}
		compareDomCaps(t, "machine "+machine, &gv, &lv)
	}

	var gv, lv libvirtxml.Caps
	if err := gv.Unmarshal(d.mustVirsh("capabilities")); err != nil {
		t.Fatal(err)
	}
	if err := lv.Unmarshal(virshAt(t, lvURI, "capabilities")); err != nil {
		t.Fatal(err)
	}
	compareGuests(t, &gv, &lv)
}

func compareDomCaps(t *testing.T, what string, gv, lv *libvirtxml.DomainCaps) {
	t.Helper()
	if gv.Path != lv.Path || gv.Domain != lv.Domain || gv.Machine != lv.Machine || gv.Arch != lv.Arch {
		t.Errorf("%s: govirtd path %s domain %s machine %s arch %s; libvirtd %s %s %s %s", what,
			gv.Path, gv.Domain, gv.Machine, gv.Arch, lv.Path, lv.Domain, lv.Machine, lv.Arch)
	}
	if gv.VCPU == nil || lv.VCPU == nil || gv.VCPU.Max != lv.VCPU.Max {
		t.Errorf("%s: vcpu max: govirtd %+v, libvirtd %+v", what, gv.VCPU, lv.VCPU)
	}
	// <os>: firmware (no descriptors on either), and the loader when
	// govirtd serves it.
	if gv.OS == nil || gv.OS.Supported != "yes" || len(gv.OS.Enums) != 1 || gv.OS.Enums[0].Name != "firmware" {
		t.Errorf("%s: <os>: %+v", what, gv.OS)
	}
	if gv.OS.Loader == nil {
		t.Errorf("%s: no <os><loader>", what)
	} else if gv.OS.Loader.Supported == "yes" {
		compareEnums(t, what+" os/loader", "os/loader", gv.OS.Loader.Enums, lv.OS.Loader.Enums)
	} else if qemu.ServedCaps["os/loader"] {
		t.Errorf("%s: the loader is served but not offered", what)
	}

	// CPU: every mode govirtd offers libvirtd offers; the custom models
	// are qemu's, with the same usability as libvirtd reads.
	lvModes := map[string]libvirtxml.DomainCapsCPUMode{}
	for _, m := range lv.CPU.Modes {
		lvModes[m.Name] = m
	}
	for _, m := range gv.CPU.Modes {
		served := qemu.ServedCaps["cpu/"+m.Name]
		if (m.Supported == "yes") != (served && lvModes[m.Name].Supported == "yes") {
			t.Errorf("%s: cpu mode %s supported=%s; served %v, libvirtd %s", what, m.Name, m.Supported, served, lvModes[m.Name].Supported)
		}
		if m.Name == "custom" && m.Supported == "yes" {
			compareCPUModels(t, what, m.Models, lvModes["custom"].Models)
		}
	}
	compareCPUModels(t, what+" (probe)", probedCustomModels(t, gv), lvModes["custom"].Models)

	// Devices: each device govirtd serves is supported on both, with
	// the same served values.
	devs := func(c *libvirtxml.DomainCaps) map[string]*libvirtxml.DomainCapsDevice {
		x := c.Devices
		return map[string]*libvirtxml.DomainCapsDevice{
			"disk": x.Disk, "graphics": x.Graphics, "video": x.Video, "hostdev": x.HostDev, "rng": x.RNG,
			"filesystem": x.FileSystem, "tpm": x.TPM, "redirdev": x.Redirdev, "channel": x.Channel, "crypto": x.Crypto,
		}
	}
	lvDevs := devs(lv)
	for name, g := range devs(gv) {
		if g == nil {
			t.Errorf("%s: no <%s> in govirtd's devices", what, name)
			continue
		}
		if !qemu.ServedCaps[name] {
			if g.Supported != "no" {
				t.Errorf("%s: <%s supported='%s'>, which the driver does not serve", what, name, g.Supported)
			}
			continue
		}
		l := lvDevs[name]
		if g.Supported != "yes" || l == nil || l.Supported != "yes" {
			t.Errorf("%s: <%s>: govirtd %+v, libvirtd %+v", what, name, g, l)
			continue
		}
		compareEnums(t, what+" "+name, name, g.Enums, l.Enums)
	}
}

// compareEnums checks that each value govirtd offers is served, and that
// each served value is offered by govirtd exactly when libvirtd offers
// it, in libvirtd's order.
func compareEnums(t *testing.T, what, prefix string, gv, lv []libvirtxml.DomainCapsEnum) {
	t.Helper()
	lvEnum := map[string][]string{}
	for _, e := range lv {
		lvEnum[e.Name] = e.Values
	}
	for _, e := range gv {
		lvVals, ok := lvEnum[e.Name]
		if !ok {
			t.Errorf("%s: enum %s, which libvirtd does not have", what, e.Name)
			continue
		}
		var want []string
		for _, v := range lvVals {
			if qemu.ServedCaps[prefix+"/"+e.Name+"/"+v] {
				want = append(want, v)
			}
		}
		if strings.Join(e.Values, " ") != strings.Join(want, " ") {
			t.Errorf("%s: enum %s: govirtd offers [%s]; of what it serves libvirtd offers [%s] (libvirtd's whole list [%s])",
				what, e.Name, strings.Join(e.Values, " "), strings.Join(want, " "), strings.Join(lvVals, " "))
		}
	}
}

func compareCPUModels(t *testing.T, what string, gv, lv []libvirtxml.DomainCapsCPUModel) {
	t.Helper()
	var g, l []string
	for _, m := range gv {
		if !notInLibvirtCPUMap[m.Name] {
			g = append(g, m.Name+"="+m.Usable)
		}
	}
	for _, m := range lv {
		l = append(l, m.Name+"="+m.Usable)
	}
	if len(l) == 0 {
		t.Fatalf("%s: libvirtd lists no CPU models", what)
	}
	if strings.Join(g, " ") != strings.Join(l, " ") {
		t.Errorf("%s: CPU models (name=usable):\ngovirtd  %s\nlibvirtd %s", what, strings.Join(g, " "), strings.Join(l, " "))
	}
}

// probedCustomModels are the custom CPU models govirtd's probe of the
// binary found, whether or not the driver serves the custom mode yet.
func probedCustomModels(t *testing.T, c *libvirtxml.DomainCaps) []libvirtxml.DomainCapsCPUModel {
	t.Helper()
	models, err := qemu.ProbeCPUModels(c.Path)
	if err != nil {
		t.Fatal(err)
	}
	return models
}

// compareGuests compares the x86_64 guest of the capabilities: the
// machine list (the served families of libvirtd's, in its order, with
// canonical names and limits), the domain types, the features served.
func compareGuests(t *testing.T, gv, lv *libvirtxml.Caps) {
	t.Helper()
	guest := func(c *libvirtxml.Caps) *libvirtxml.CapsGuest {
		for i := range c.Guests {
			if c.Guests[i].Arch.Name == "x86_64" {
				return &c.Guests[i]
			}
		}
		t.Fatalf("no x86_64 guest in the capabilities")
		return nil
	}
	g, l := guest(gv), guest(lv)
	if g.OSType != l.OSType || g.Arch.Emulator != l.Arch.Emulator || g.Arch.WordSize != l.Arch.WordSize {
		t.Errorf("guest: govirtd %s %s %s; libvirtd %s %s %s", g.OSType, g.Arch.Emulator, g.Arch.WordSize, l.OSType, l.Arch.Emulator, l.Arch.WordSize)
	}
	served := func(name string) bool {
		return name == "pc" || name == "q35" || strings.HasPrefix(name, "pc-i440fx-") || strings.HasPrefix(name, "pc-q35-")
	}
	line := func(m libvirtxml.CapsGuestMachine) string {
		s := m.Name
		if m.Canonical != "" {
			s += " canonical=" + m.Canonical
		}
		if m.Deprecated != "" {
			s += " deprecated=" + m.Deprecated
		}
		return s + " maxCpus=" + strconv.Itoa(m.MaxCPUs)
	}
	var gm, lm []string
	for _, m := range g.Arch.Machines {
		gm = append(gm, line(m))
	}
	left := 0
	for _, m := range l.Arch.Machines {
		if served(m.Name) {
			lm = append(lm, line(m))
		} else {
			left++
		}
	}
	if strings.Join(gm, "\n") != strings.Join(lm, "\n") {
		t.Errorf("guest machines:\ngovirtd:\n%s\nlibvirtd (pc and q35 families):\n%s", strings.Join(gm, "\n"), strings.Join(lm, "\n"))
	}
	if len(lm) < 40 || left == 0 || lm[1] != "pc canonical=pc-i440fx-7.2 maxCpus=255" {
		t.Errorf("libvirtd's machine list is not what this test expects of qemu 7.2 (%d served, %d left out, second %q)", len(lm), left, lm[1])
	}
	var gd, ld []string
	for _, x := range g.Arch.Domains {
		gd = append(gd, x.Type)
	}
	for _, x := range l.Arch.Domains {
		ld = append(ld, x.Type)
	}
	if strings.Join(gd, " ") != strings.Join(ld, " ") {
		t.Errorf("guest domain types: govirtd %v, libvirtd %v", gd, ld)
	}
	gf, lf := g.Features, l.Features
	if gf == nil || gf.ACPI == nil || lf.ACPI == nil || *gf.ACPI != *lf.ACPI {
		t.Errorf("guest feature acpi: govirtd %+v, libvirtd %+v", gf, lf)
	}
	if qemu.ServedCaps["guest/apic"] != (gf.APIC != nil) || (gf.APIC != nil && (lf.APIC == nil || *gf.APIC != *lf.APIC)) {
		t.Errorf("guest feature apic: govirtd %+v, libvirtd %+v", gf.APIC, lf.APIC)
	}
	if qemu.ServedCaps["guest/deviceboot"] != (gf.DeviceBoot != nil) || (gf.DeviceBoot != nil && lf.DeviceBoot == nil) {
		t.Errorf("guest feature deviceboot: govirtd %+v, libvirtd %+v", gf.DeviceBoot, lf.DeviceBoot)
	}
	if qemu.ServedCaps["guest/cpuselection"] != (gf.CPUSelection != nil) {
		t.Errorf("guest feature cpuselection: govirtd %+v", gf.CPUSelection)
	}
}

// TestDomainCapabilitiesRefresh: the probe of a binary is kept and
// reused until the binary changes. The emulator is a wrapper script
// that logs each run and execs qemu: two domcapabilities run it once;
// the script replaced by another (a new file renamed over it) is probed
// anew; a replacement that is no working qemu makes domcapabilities
// fail naming it, and a working one after it is probed again.
func TestDomainCapabilitiesRefresh(t *testing.T) {
	d := newTestDaemon(t)
	d.start()
	qemuBin, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Fatal(err)
	}
	wrapper, runs := d.path("qemu-wrapper"), d.path("wrapper-runs")
	install := func(body string) {
		tmp := wrapper + ".new"
		if err := os.WriteFile(tmp, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, wrapper); err != nil {
			t.Fatal(err)
		}
	}
	logged := func() string {
		data, _ := os.ReadFile(runs)
		return strings.TrimSpace(string(data))
	}
	install("echo first >>" + runs + "\nexec " + qemuBin + ` "$@"`)
	for i := 0; i < 2; i++ {
		out := d.mustVirsh("domcapabilities", "--emulatorbin", wrapper)
		if !strings.Contains(out, "<path>"+wrapper+"</path>") || !strings.Contains(out, "<machine>pc-i440fx-") {
			t.Fatalf("domcapabilities of the wrapper:\n%s", out)
		}
	}
	if got := logged(); got != "first" {
		t.Fatalf("the wrapper ran %q; want one probe for two calls", got)
	}

	install("echo second >>" + runs + "\nexec " + qemuBin + ` "$@"`)
	d.mustVirsh("domcapabilities", "--emulatorbin", wrapper, "--machine", "q35")
	if got := logged(); got != "first\nsecond" {
		t.Fatalf("after the binary changed the wrapper ran %q; want a second probe", got)
	}

	install("echo broken >>" + runs + "\necho 'this is no qemu' >&2\nexit 1")
	out, err := d.virsh("domcapabilities", "--emulatorbin", wrapper)
	if err == nil || !strings.Contains(out, "cannot probe the capabilities of "+wrapper) || !strings.Contains(out, "this is no qemu") {
		t.Fatalf("domcapabilities of a broken binary: %v\n%s", err, out)
	}
	install("echo third >>" + runs + "\nexec " + qemuBin + ` "$@"`)
	d.mustVirsh("domcapabilities", "--emulatorbin", wrapper)
	d.mustVirsh("domcapabilities", "--emulatorbin", wrapper)
	if got := logged(); got != "first\nsecond\nbroken\nthird" {
		t.Fatalf("the wrapper ran %q; want one probe per version of the binary", got)
	}
}
