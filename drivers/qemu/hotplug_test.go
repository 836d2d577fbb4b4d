package qemu_test

import (
	"os"
	"strings"
	"testing"

	"github.com/govirt/govirtd/internal/testutil"
)

// TestHotplugConfig: attach-device, update-device and detach-device
// with --config change the persistent definition of a shut-off guest
// through the checks a define makes; duplicates and missing devices
// get libvirt's errors, and a device the driver cannot run is refused
// before anything changes.
func TestHotplugConfig(t *testing.T) {
	d := newTestDaemon(t)
	d.start()
	d.mustVirsh("define", demoXMLPath)
	img := d.path("data.img")
	writeFile(t, img, "")
	disk := d.path("disk.xml")
	writeFile(t, disk, "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='"+img+"'/><target dev='vdb' bus='virtio'/></disk>")
	d.mustVirsh("attach-device", "demo", disk, "--config")
	if out := d.mustVirsh("dumpxml", "--inactive", "demo"); !strings.Contains(out, `<target dev="vdb" bus="virtio">`) {
		t.Fatalf("the attached disk is not in the definition:\n%s", out)
	}
	if out, err := d.virsh("attach-device", "demo", disk, "--config"); err == nil || !strings.Contains(out, "target vdb already exists") {
		t.Errorf("a second vdb: %v %s, want 'target vdb already exists'", err, out)
	}
	bad := d.path("bad.xml")
	writeFile(t, bad, "<disk type='block' device='disk'><source dev='/dev/null'/><target dev='vdc' bus='virtio'/></disk>")
	if out, err := d.virsh("attach-device", "demo", bad, "--config"); err == nil || !strings.Contains(out, "of type 'block' (/domain/devices/disk[2]/source) is not supported") {
		t.Errorf("a block disk: %v %s, want the driver's refusal", err, out)
	}
	if out := d.mustVirsh("dumpxml", "--inactive", "demo"); strings.Contains(out, "vdc") {
		t.Errorf("a refused disk reached the definition:\n%s", out)
	}
	// update-device replaces the disk (here: read-only).
	writeFile(t, disk, "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='"+img+"'/><target dev='vdb' bus='virtio'/><readonly/></disk>")
	d.mustVirsh("update-device", "demo", disk, "--config")
	if out := d.mustVirsh("dumpxml", "--inactive", "demo"); !strings.Contains(out, "<readonly>") {
		t.Errorf("update-device did not change the disk:\n%s", out)
	}
	d.mustVirsh("detach-device", "demo", disk, "--config")
	if out := d.mustVirsh("dumpxml", "--inactive", "demo"); strings.Contains(out, "vdb") {
		t.Errorf("the detached disk is still defined:\n%s", out)
	}
	if out, err := d.virsh("detach-device", "demo", disk, "--config"); err == nil || !strings.Contains(out, "no target device vdb") {
		t.Errorf("detach of a missing disk: %v %s, want 'no target device vdb'", err, out)
	}
	if out, err := d.virsh("attach-device", "demo", disk, "--live"); err == nil || !strings.Contains(out, "domain is not running") {
		t.Errorf("--live on a shut-off guest: %v %s, want 'domain is not running'", err, out)
	}
	// The definition on disk is the changed one: it survives a restart.
	d.kill9()
	d.start()
	if out := d.mustVirsh("dumpxml", "--inactive", "demo"); strings.Contains(out, "vdb") {
		t.Errorf("after a restart the detached disk is back:\n%s", out)
	}
}

// TestHotplugLive: a virtio disk attached to a running guest (an i440fx
// machine, whose root bus hotplugs) is in the live XML and domblklist;
// detached, the guest lets go of it (qemu's DEVICE_DELETED) and it
// leaves, with a DEVICE_REMOVED event; a cdrom's medium is changed and ejected with change-media;
// what qemu cannot hotplug is refused, naming it.
func TestHotplugLive(t *testing.T) {
	d := newTestDaemon(t)
	console := d.writeTinyGuest(t, "")
	xml := strings.Replace(readFile(t, d.path("tiny.xml")), "machine='q35'", "machine='pc'", 1)
	iso := d.path("medium.iso")
	writeFile(t, iso, strings.Repeat("x", 2048))
	xml = strings.Replace(xml, "<devices>", "<devices><disk type='file' device='cdrom'><driver name='qemu' type='raw'/><target dev='hdc' bus='ide'/><readonly/></disk>", 1)
	writeFile(t, d.path("tiny.xml"), xml)
	d.start()
	d.mustVirsh("define", d.path("tiny.xml"))
	d.mustVirsh("start", "tiny")
	defer d.mustVirsh("destroy", "tiny")
	waitConsole(t, console, "GUEST-READY", 1)

	img := d.path("data.img")
	if err := os.WriteFile(img, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	disk := d.path("disk.xml")
	writeFile(t, disk, "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='"+img+"'/><target dev='vdb' bus='virtio'/></disk>")
	w := d.watchEvents()
	d.mustVirsh("attach-device", "tiny", disk, "--live")
	w.waitLine("event 'device-added' for domain 'tiny': virtio-disk1")
	if out := d.mustVirsh("domblklist", "tiny"); !strings.Contains(out, "vdb") || !strings.Contains(out, img) {
		t.Fatalf("domblklist after attach:\n%s", out)
	}
	if out := d.mustVirsh("dumpxml", "--inactive", "tiny"); strings.Contains(out, "vdb") {
		t.Errorf("a --live attach changed the persistent definition:\n%s", out)
	}
	d.mustVirsh("detach-device", "tiny", disk, "--live")
	w.waitLine("event 'device-removed' for domain 'tiny': virtio-disk1")
	testutil.WaitFor(t, "vdb to leave the live XML", func() bool {
		out, _ := d.virsh("domblklist", "tiny")
		return !strings.Contains(out, "vdb")
	})
	// virsh's own attach-disk and detach-disk (the bus from the target's
	// prefix).
	d.mustVirsh("attach-disk", "tiny", img, "vdc", "--live")
	if out := d.mustVirsh("domblklist", "tiny"); !strings.Contains(out, "vdc") {
		t.Fatalf("domblklist after attach-disk:\n%s", out)
	}
	d.mustVirsh("detach-disk", "tiny", "vdc", "--live")
	w.waitLine("event 'device-removed' for domain 'tiny': virtio-disk2")
	testutil.WaitFor(t, "vdc to leave the live XML", func() bool {
		out, _ := d.virsh("domblklist", "tiny")
		return !strings.Contains(out, "vdc")
	})
	sata := d.path("sata.xml")
	writeFile(t, sata, "<disk type='file' device='disk'><source file='"+img+"'/><target dev='sdb' bus='sata'/></disk>")
	if out, err := d.virsh("attach-device", "tiny", sata, "--live"); err == nil || !strings.Contains(out, "qemu hotplugs no IDE or SATA disk") {
		t.Errorf("live attach of a SATA disk: %v %s, want the driver's refusal", err, out)
	}

	// A SCSI controller and a disk on it, attached and detached live;
	// the controller stays while the disk uses it.
	ctrl := d.path("scsi.xml")
	writeFile(t, ctrl, "<controller type='scsi' model='virtio-scsi'/>")
	d.mustVirsh("attach-device", "tiny", ctrl, "--live")
	w.waitLine("event 'device-added' for domain 'tiny': scsi0")
	if out := d.mustVirsh("dumpxml", "tiny"); !regexpMatch(`<controller type="scsi" index="0" model="virtio-scsi">\s*<alias name="scsi0"></alias>\s*<address type="pci" domain="0x0000" bus="0x00" slot="0x`, out) {
		t.Errorf("the live XML lacks the SCSI controller with its alias and address:\n%s", out)
	}
	scsiDisk := d.path("scsi-disk.xml")
	writeFile(t, scsiDisk, "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='"+img+"'/><target dev='sdc' bus='scsi'/></disk>")
	d.mustVirsh("attach-device", "tiny", scsiDisk, "--live")
	w.waitLine("event 'device-added' for domain 'tiny': scsi0-0-0-2")
	if out, err := d.virsh("detach-device", "tiny", ctrl, "--live"); err == nil || !strings.Contains(out, "in use by disk sdc") {
		t.Errorf("detach of a SCSI controller in use: %v %s, want a refusal naming the disk", err, out)
	}
	d.mustVirsh("detach-device", "tiny", scsiDisk, "--live")
	w.waitLine("event 'device-removed' for domain 'tiny': scsi0-0-0-2")
	testutil.WaitFor(t, "sdc to leave the live XML", func() bool {
		out, _ := d.virsh("domblklist", "tiny")
		return !strings.Contains(out, "sdc")
	})
	d.mustVirsh("detach-device", "tiny", ctrl, "--live")
	w.waitLine("event 'device-removed' for domain 'tiny': scsi0")

	d.mustVirsh("change-media", "tiny", "hdc", iso, "--insert", "--live")
	if out := d.mustVirsh("domblklist", "tiny"); !strings.Contains(out, iso) {
		t.Errorf("domblklist after change-media --insert:\n%s", out)
	}
	if out, err := d.virsh("change-media", "tiny", "hdc", d.path("missing.iso"), "--update", "--live"); err == nil || !strings.Contains(out, "missing.iso") {
		t.Errorf("a medium that does not exist: %v %s, want qemu's error naming it", err, out)
	}
	d.mustVirsh("change-media", "tiny", "hdc", "--eject", "--live")
	if out := d.mustVirsh("domblklist", "tiny"); strings.Contains(out, iso) {
		t.Errorf("domblklist after change-media --eject:\n%s", out)
	}
}
