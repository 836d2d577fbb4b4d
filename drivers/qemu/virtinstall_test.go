package qemu_test

import (
	"context"
	"encoding/hex"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// virtInstall runs real, unchanged virt-install against d for a guest
// named name with a new 0.05 GiB disk in a pool of its own (as root its
// default pool would be /var/lib/libvirt/images) and the given
// --graphics ("": virt-install's default), as a user creates a guest; the
// guest is destroyed and undefined when the test ends. Its --network is
// none unless network says otherwise.
func virtInstall(t *testing.T, d *testDaemon, name, graphics string, network ...string) string {
	t.Helper()
	bin, err := exec.LookPath("virt-install")
	if err != nil {
		t.Fatalf("virt-install is not installed (%v): `make deps` installs it (Debian package virtinst)", err)
	}
	pool := "pool-" + name
	d.mustVirsh("pool-define-as", pool, "dir", "--target", d.path("images-"+name))
	d.mustVirsh("pool-build", pool)
	d.mustVirsh("pool-start", pool)
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	args := []string{"--connect", d.uri(), "--name", name, "--memory", "64",
		"--disk", "pool=" + pool + ",size=0.05", "--import", "--osinfo", "detect=on,require=off",
		"--network", "none", "--noautoconsole"}
	if len(network) > 0 {
		args[len(args)-2] = network[0]
	}
	if graphics != "" {
		args = append(args, "--graphics", graphics)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "LC_ALL=C", "XDG_CACHE_HOME="+filepath.Join(home, ".cache"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("virt-install --graphics %s: %v\n%s", graphics, err, out)
	}
	t.Cleanup(func() {
		d.mustVirsh("destroy", name)
		d.mustVirsh("undefine", name)
	})
	if !strings.Contains(string(out), "Domain creation completed") {
		t.Errorf("virt-install did not say it created the domain:\n%s", out)
	}
	checkDomstate(t, d, name, "running (booted)")
	if _, err := os.Stat(filepath.Join(d.path("images-"+name), name+".qcow2")); err != nil {
		t.Errorf("no volume %s.qcow2 in the pool: %v", name, err)
	}
	return d.mustVirsh("dumpxml", name)
}

// TestVirtInstall: unchanged virt-install creates and starts a headless
// guest through the daemon: it allocates a qcow2 volume in a storage
// pool and defines the domain with what it writes by default (clock
// timers, <pm>, the ICH9 USB controllers, discard).
func TestVirtInstall(t *testing.T) {
	d := newTestDaemon(t)
	d.start()
	xml := virtInstall(t, d, "vi", "none")
	for _, want := range []string{"ich9-ehci1", "tickpolicy", "suspend-to-mem", "vi.qcow2"} {
		if !strings.Contains(xml, want) {
			t.Errorf("the guest's XML lacks %s:\n%s", want, xml)
		}
	}
}

// TestVirtInstallNetwork: unchanged virt-install puts the guest on the
// network default (--network network=default, as it chooses by itself
// on a host that has it): a NIC (e1000, virt-install's choice for an OS
// it does not know) on a tap on virbr0, listed by domiflist.
func TestVirtInstallNetwork(t *testing.T) {
	d := newNetDaemon(t)
	d.start()
	xml := virtInstall(t, d, "vinet", "none", "network=default")
	if !strings.Contains(xml, `<source network="default" bridge="virbr0"`) || !strings.Contains(xml, `<target dev="vnet`) {
		t.Errorf("the guest's live XML lacks its interface on default:\n%s", xml)
	}
	if out := d.mustVirsh("domiflist", "vinet"); !regexpMatch(`vnet\d+\s+network\s+default\s+e1000`, out) {
		t.Errorf("domiflist vinet:\n%s", out)
	}
}

// TestVirtInstallVNC: with --graphics vnc virt-install adds a USB
// tablet, a VNC display and a VGA card; the guest runs and its VNC
// display is reported.
func TestVirtInstallVNC(t *testing.T) {
	d := newTestDaemon(t)
	d.start()
	xml := virtInstall(t, d, "vnc", "vnc")
	if !strings.Contains(xml, "tablet") || !strings.Contains(xml, `type="vnc"`) {
		t.Errorf("the guest's XML lacks the tablet or VNC:\n%s", xml)
	}
	if out := d.mustVirsh("vncdisplay", "vnc"); !strings.HasPrefix(strings.TrimSpace(out), ":") {
		t.Errorf("vncdisplay: %q", out)
	}
}

// TestVirtInstallDefaults: given the driver's domain capabilities (VNC
// and SPICE, the machine's buses), virt-install's own defaults need no
// --graphics: it picks SPICE, with what it adds for it (a spicevmc
// channel, USB redirection, a sound card on SPICE audio, vmport off),
// and the guest runs with its SPICE server listening on the port the
// live definition shows.
func TestVirtInstallDefaults(t *testing.T) {
	d := newTestDaemon(t)
	d.start()
	caps := d.mustVirsh("domcapabilities")
	for _, want := range []string{"<domain>qemu</domain>", "<machine>pc-i440fx-", "<value>vnc</value>", "<value>spice</value>"} {
		if !strings.Contains(caps, want) {
			t.Errorf("domcapabilities lacks %s:\n%s", want, caps)
		}
	}
	xml := virtInstall(t, d, "dflt", "")
	for _, want := range []string{`<graphics type="spice" port="59`, `<channel type="spicevmc">`, `<redirdev type="spicevmc" bus="usb">`,
		`<sound model="`, `<audio id="1" type="spice">`, `<vmport state="off">`, `<alias name="redir0">`} {
		if !strings.Contains(xml, want) {
			t.Errorf("the running guest's XML lacks %s:\n%s", want, xml)
		}
	}
	m := regexp.MustCompile(`<graphics type="spice" port="(\d+)"`).FindStringSubmatch(xml)
	if m == nil {
		return
	}
	conn, err := net.Dial("tcp", "127.0.0.1:"+m[1])
	if err != nil {
		t.Fatalf("nothing listens on the SPICE port %s the live XML shows: %v", m[1], err)
	}
	// A SPICE server answers a link message (header: "REDQ", protocol
	// 2.2, size; then connection 0, main channel 0, no capabilities)
	// with a header of its own.
	link, _ := hex.DecodeString("52454451" + "02000000" + "02000000" + "12000000" + "00000000" + "01" + "00" + "00000000" + "00000000" + "12000000")
	conn.Write(link)
	buf := make([]byte, 4)
	conn.SetReadDeadline(time.Now().Add(hang))
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "REDQ" {
		t.Errorf("the SPICE port %s does not answer as a SPICE server: %q, %v", m[1], buf, err)
	}
	conn.Close()
}

// TestVirtXMLMemory: the definition is stored as libvirt stores it
// (sizes in KiB, currentMemory, a static vcpu, the implicit controllers
// and inputs listed), so that real virt-xml's read-modify-write of the
// memory works.
func TestVirtXMLMemory(t *testing.T) {
	bin, err := exec.LookPath("virt-xml")
	if err != nil {
		t.Fatalf("virt-xml is not installed (%v): `make deps` installs it (Debian package virtinst)", err)
	}
	d := newTestDaemon(t)
	d.start()
	d.mustVirsh("define", demoXMLPath) // <memory unit='MiB'>64</memory>
	defer d.mustVirsh("undefine", "demo")
	xml := d.mustVirsh("dumpxml", "demo")
	// demo is a q35 guest: its implicit devices are listed as libvirt
	// lists them.
	for _, want := range []string{`<memory unit="KiB">65536</memory>`, `<currentMemory unit="KiB">65536</currentMemory>`, `<vcpu placement="static">1</vcpu>`,
		`<controller type="pci" index="0" model="pcie-root">`, `<controller type="sata" index="0">`, `<input type="mouse" bus="ps2">`, `<input type="keyboard" bus="ps2">`} {
		if !strings.Contains(xml, want) {
			t.Errorf("dumpxml lacks %s:\n%s", want, xml)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--connect", d.uri(), "demo", "--edit", "--memory", "128")
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "LC_ALL=C", "XDG_CACHE_HOME="+filepath.Join(home, ".cache"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("virt-xml --edit --memory 128: %v\n%s", err, out)
	}
	if xml := d.mustVirsh("dumpxml", "demo"); !strings.Contains(xml, `<memory unit="KiB">131072</memory>`) {
		t.Errorf("after virt-xml --memory 128 the definition says:\n%s", xml)
	}
}

// TestVirtInstallDefaultPool: given only a size, unchanged virt-install
// makes its default pool (as root /var/lib/libvirt/images: here in the
// daemon's private /var/lib) and a qcow2 volume in it, and starts the
// guest on it.
func TestVirtInstallDefaultPool(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root: virt-install's default pool for qemu:///system is /var/lib/libvirt/images, which the test puts on a tmpfs in a mount namespace of the daemon's")
	}
	bin, err := exec.LookPath("virt-install")
	if err != nil {
		t.Fatalf("virt-install is not installed (%v): `make deps` installs it (Debian package virtinst)", err)
	}
	d := newTestDaemon(t)
	d.privateVarLib = true
	d.start()
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--connect", d.uri(), "--name", "dp", "--memory", "64",
		"--disk", "size=0.05", "--import", "--osinfo", "detect=on,require=off",
		"--network", "none", "--graphics", "none", "--noautoconsole")
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "LC_ALL=C", "XDG_CACHE_HOME="+filepath.Join(home, ".cache"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("virt-install --disk size=0.05: %v\n%s", err, out)
	}
	defer d.mustVirsh("undefine", "dp")
	defer d.mustVirsh("destroy", "dp")
	checkDomstate(t, d, "dp", "running (booted)")
	if out := d.mustVirsh("pool-dumpxml", "default"); !strings.Contains(out, "<path>/var/lib/libvirt/images</path>") {
		t.Errorf("virt-install's default pool:\n%s", out)
	}
	if out := d.mustVirsh("vol-list", "default"); !strings.Contains(out, "/var/lib/libvirt/images/dp.qcow2") {
		t.Errorf("no dp.qcow2 in the default pool:\n%s", out)
	}
	if _, err := os.Stat("/var/lib/libvirt/images/dp.qcow2"); err == nil {
		t.Error("the volume is on the host's /var/lib, not the daemon's private one")
	}
}

// TestVirtInstallExistingDisk: with --disk path= of an existing image
// outside any pool, unchanged virt-install uses that file as it is.
func TestVirtInstallExistingDisk(t *testing.T) {
	bin, err := exec.LookPath("virt-install")
	if err != nil {
		t.Fatalf("virt-install is not installed (%v): `make deps` installs it (Debian package virtinst)", err)
	}
	d := newTestDaemon(t)
	d.start()
	img := d.path("existing.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-f", "qcow2", img, "16M").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img create: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--connect", d.uri(), "--name", "ex", "--memory", "64",
		"--disk", "path="+img, "--import", "--osinfo", "detect=on,require=off",
		"--network", "none", "--graphics", "none", "--noautoconsole")
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "LC_ALL=C", "XDG_CACHE_HOME="+filepath.Join(home, ".cache"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("virt-install --disk path=%s: %v\n%s", img, err, out)
	}
	defer d.mustVirsh("undefine", "ex")
	defer d.mustVirsh("destroy", "ex")
	checkDomstate(t, d, "ex", "running (booted)")
	if xml := d.mustVirsh("dumpxml", "ex"); !strings.Contains(xml, img) || !strings.Contains(xml, `type="qcow2"`) {
		t.Errorf("the guest does not use %s as qcow2:\n%s", img, xml)
	}
}

// TestVirtInstallBootsOnDefault: unchanged virt-install creates the tiny
// test guest (its kernel and initrd through --boot, a volume of a pool as
// its disk) on the network default with a VNC display; the guest boots,
// gets its address from default's dnsmasq and pings the bridge, and the
// lease is listed.
func TestVirtInstallBootsOnDefault(t *testing.T) {
	bin, err := exec.LookPath("virt-install")
	if err != nil {
		t.Fatalf("virt-install is not installed (%v): `make deps` installs it (Debian package virtinst)", err)
	}
	d := newNetDaemon(t)
	d.start()
	guest := guestDir(t)
	d.mustVirsh("pool-define-as", "vbpool", "dir", "--target", d.path("images-vb"))
	d.mustVirsh("pool-build", "vbpool")
	d.mustVirsh("pool-start", "vbpool")
	console := d.path("vboot.console")
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	// --virt-type qemu: TCG, as the other tests run (this machine's KVM
	// may be nested and slow to boot, or absent on CI).
	cmd := exec.CommandContext(ctx, bin, "--connect", d.uri(), "--name", "vboot", "--memory", "128", "--virt-type", "qemu",
		"--disk", "pool=vbpool,size=0.05", "--import", "--osinfo", "detect=on,require=off",
		"--boot", "kernel="+guest+"/vmlinuz,initrd="+guest+"/initrd.gz,kernel_args=console=ttyS0 quiet panic=-1 govirt.net govirt.host=vboot govirt.ping=192.168.122.1",
		"--network", "network=default,model=virtio", "--graphics", "vnc", "--serial", "file,path="+console, "--noautoconsole")
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "LC_ALL=C", "XDG_CACHE_HOME="+filepath.Join(home, ".cache"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("virt-install: %v\n%s", err, out)
	}
	t.Cleanup(func() { d.virsh("destroy", "vboot") })
	defer func() {
		if t.Failed() {
			data, _ := os.ReadFile(d.path("log", "vboot.log"))
			t.Logf("qemu log:\n%s", data)
		}
	}()
	waitConsole(t, console, "GUEST-IP 192.168.122.", 1)
	waitConsole(t, console, "GUEST-PING 192.168.122.1", 1)
	if leases := d.mustVirsh("net-dhcp-leases", "default"); !regexpMatch(`ipv4\s+192\.168\.122\.\d+/24\s+vboot`, leases) {
		t.Errorf("net-dhcp-leases default lacks vboot:\n%s", leases)
	}
	if xml := d.mustVirsh("dumpxml", "vboot"); !strings.Contains(xml, `type="vnc"`) || !strings.Contains(xml, "vboot.qcow2") {
		t.Errorf("the guest lacks its VNC display or pool volume:\n%s", xml)
	}
}
