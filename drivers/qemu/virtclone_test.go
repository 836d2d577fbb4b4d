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
