package qemu_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// virtTool runs one of virtinst's tools (virt-clone, virt-xml)
// unchanged against the daemon, with a private HOME.
func virtTool(t *testing.T, d *testDaemon, tool string, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath(tool)
	if err != nil {
		t.Fatalf("%s is not installed (%v): `make deps` installs it (Debian package virtinst)", tool, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--connect", d.uri()}, args...)...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "LC_ALL=C", "XDG_CACHE_HOME="+filepath.Join(home, ".cache"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestVirtClone: unchanged virt-clone copies a shut-off guest and its
// disk: the clone has its own name, uuid, MAC and disk file with the
// original's bytes, and starts.
func TestVirtClone(t *testing.T) {
	d := newTestDaemon(t)
	d.start()
	disk := d.path("orig.img")
	content := bytes.Repeat([]byte("govirtd-clone "), 4096)
	if err := os.WriteFile(disk, content, 0o644); err != nil {
		t.Fatal(err)
	}
	xml := strings.Replace(readFile(t, demoXMLPath), "<on_poweroff>",
		"<devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='"+disk+"'/><target dev='vda' bus='virtio'/></disk>"+
			"<interface type='user'><model type='virtio'/></interface></devices><on_poweroff>", 1)
	writeFile(t, d.path("orig.xml"), xml)
	d.mustVirsh("define", d.path("orig.xml"))
	clone := d.path("clone.img")
	virtTool(t, d, "virt-clone", "--original", "demo", "--name", "demo-clone", "--file", clone)
	orig, cl := d.mustVirsh("dumpxml", "demo"), d.mustVirsh("dumpxml", "demo-clone")
	if !strings.Contains(cl, clone) || strings.Contains(cl, disk) {
		t.Errorf("the clone's disk is not %s:\n%s", clone, cl)
	}
	for _, field := range []string{"<uuid>", "<mac address="} {
		if extract(orig, field) == extract(cl, field) {
			t.Errorf("the clone kept the original's %s %s", field, extract(orig, field))
		}
	}
	got, err := os.ReadFile(clone)
	if err != nil || !bytes.Equal(got, content) {
		t.Errorf("the clone's disk does not hold the original's bytes (%v)", err)
	}
	d.mustVirsh("start", "demo-clone")
	checkDomstate(t, d, "demo-clone", "running (booted)")
	d.mustVirsh("destroy", "demo-clone")
}

// extract is the rest of the line of xml that starts with field.
func extract(xml, field string) string {
	i := strings.Index(xml, field)
	if i < 0 {
		return ""
	}
	line, _, _ := strings.Cut(xml[i:], "\n")
	return line
}

// TestVirtXMLVcpus: virt-xml's read-modify-write of the vcpus of a
// defined guest, as of its memory (TestVirtXMLMemory).
func TestVirtXMLVcpus(t *testing.T) {
	d := newTestDaemon(t)
	d.start()
	d.mustVirsh("define", demoXMLPath)
	virtTool(t, d, "virt-xml", "demo", "--edit", "--vcpus", "2")
	if xml := d.mustVirsh("dumpxml", "demo"); !strings.Contains(xml, `<vcpu placement="static">2</vcpu>`) {
		t.Errorf("after virt-xml --vcpus 2 the definition says:\n%s", xml)
	}
	if out := d.mustVirsh("dominfo", "demo"); !strings.Contains(out, "CPU(s):         2") {
		t.Errorf("dominfo after virt-xml --vcpus 2:\n%s", out)
	}
}

// TestVirtInstallOSInfo: unchanged virt-install with a real OS's
// osinfo (debian11) writes what it writes for such a guest — 14 PCIe
// root ports, the qemu guest agent's channel, a virtio RNG, an XHCI
// controller with its ports — and the guest runs: the channel's socket
// exists where the live XML says, and a disk hot-plugged into the
// running q35 guest lands on a free root port.
func TestVirtInstallOSInfo(t *testing.T) {
	d := newTestDaemon(t)
	d.start()
	img := d.path("os.img")
	if err := os.WriteFile(img, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	out := virtTool(t, d, "virt-install", "--name", "deb", "--memory", "128", "--disk", img, "--import",
		"--osinfo", "debian11", "--network", "none", "--graphics", "vnc", "--noautoconsole")
	if !strings.Contains(out, "Domain creation completed") {
		t.Errorf("virt-install did not say it created the domain:\n%s", out)
	}
	defer d.mustVirsh("destroy", "deb")
	checkDomstate(t, d, "deb", "running (booted)")
	live := d.mustVirsh("dumpxml", "deb")
	for _, want := range []string{`model="pcie-root-port"`, `<controller type="virtio-serial" index="0">`,
		`name="org.qemu.guest_agent.0"`, `<rng model="virtio">`, `<controller ports="15" type="usb" index="0" model="qemu-xhci">`} {
		if !strings.Contains(live, want) {
			t.Errorf("the live XML lacks %s:\n%s", want, live)
		}
	}
	if n := strings.Count(live, `model="pcie-root-port"`); n != 14 {
		t.Errorf("%d PCIe root ports, want virt-install's 14", n)
	}
	sock := extractAttr(live, `<source mode="bind" path="`)
	if fi, err := os.Stat(sock); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("the guest agent's channel %q is no socket qemu listens on: %v", sock, err)
	}
	if inactive := d.mustVirsh("dumpxml", "--inactive", "deb"); strings.Contains(inactive, sock) {
		t.Errorf("the persistent definition holds the live socket path:\n%s", inactive)
	}
	extra := d.path("extra.img")
	writeFile(t, extra, "")
	d.mustVirsh("attach-disk", "deb", extra, "vdb", "--live")
	if live := d.mustVirsh("dumpxml", "deb"); !strings.Contains(live, `<address type="pci" domain="0x0000" bus="0x01" slot="0x00" function="0x0">`) {
		t.Errorf("the hot-plugged disk is not on the first root port:\n%s", live)
	}
}

// extractAttr is the value that follows prefix in xml, up to its quote.
func extractAttr(xml, prefix string) string {
	i := strings.Index(xml, prefix)
	if i < 0 {
		return ""
	}
	v, _, _ := strings.Cut(xml[i+len(prefix):], `"`)
	return v
}
