package storage_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/qemu"
	"github.com/govirt/govirtd/drivers/storage"
	"github.com/govirt/govirtd/internal/testdaemon"
)

// TestVirshStorage drives the storage driver with the real virsh through
// an in-process daemon serving qemu:///system (or session) with the real
// QEMU driver beside it.
func TestVirshStorage(t *testing.T) {
	for _, b := range []string{"virsh", "qemu-img", "qemu-system-x86_64"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Fatalf("%s is not installed: `make deps` installs it", b)
		}
	}
	root := t.TempDir()
	qd := qemu.New(qemu.Config{ConfigDir: filepath.Join(root, "qemu"), StateDir: filepath.Join(root, "qrun"), LogDir: filepath.Join(root, "qlog")}, nil)
	sd := storage.New(storage.Config{ConfigDir: filepath.Join(root, "storage"), StateDir: filepath.Join(root, "srun")}, nil)
	qd.SetVolumeResolver(sd)
	d := testdaemon.Start(t, testdaemon.Options{
		Drivers: []drivers.Driver{qd},
		Shared:  map[drivers.Concern]drivers.Driver{drivers.ConcernStorage: sd},
	})
	path := "/system"
	if os.Geteuid() != 0 {
		path = "/session"
	}
	uri := "qemu+unix://" + path + "?socket=" + d.RW()
	virsh := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("virsh", append([]string{"-q", "-c", uri}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("virsh %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	dir := filepath.Join(root, "images")
	virsh("pool-define-as", "img", "dir", "--target", dir)
	virsh("pool-build", "img")
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("pool-build made no directory: %v", err)
	}
	virsh("pool-start", "img")
	if out := virsh("pool-list", "--all"); !regexp.MustCompile(`img\s+active\s+no`).MatchString(out) {
		t.Fatalf("pool-list:\n%s", out)
	}
	if out := virsh("pool-info", "img"); !regexp.MustCompile(`State:\s+running`).MatchString(out) || !regexp.MustCompile(`Capacity:\s+[0-9.]+ [KMGT]iB`).MatchString(out) {
		t.Fatalf("pool-info:\n%s", out)
	}
	virsh("vol-create-as", "img", "disk.qcow2", "10M", "--format", "qcow2")
	out := virsh("vol-list", "img", "--details")
	t.Logf("vol-list --details:\n%s", out)
	if !regexp.MustCompile(`disk\.qcow2\s+` + regexp.QuoteMeta(filepath.Join(dir, "disk.qcow2")) + `\s+file\s+10\.00 MiB\s+\d`).MatchString(out) {
		t.Fatalf("vol-list --details:\n%s", out)
	}
	out = virsh("vol-info", "disk.qcow2", "--pool", "img")
	if !regexp.MustCompile(`Type:\s+file`).MatchString(out) || !regexp.MustCompile(`Capacity:\s+10\.00 MiB`).MatchString(out) {
		t.Fatalf("vol-info:\n%s", out)
	}
	out = virsh("vol-dumpxml", "disk.qcow2", "--pool", "img")
	if !strings.Contains(out, `<format type="qcow2"></format>`) || !strings.Contains(out, "<key>"+filepath.Join(dir, "disk.qcow2")+"</key>") {
		t.Fatalf("vol-dumpxml:\n%s", out)
	}
	if out := virsh("vol-path", "disk.qcow2", "--pool", "img"); strings.TrimSpace(out) != filepath.Join(dir, "disk.qcow2") {
		t.Fatalf("vol-path: %q", out)
	}
	// Streams: vol-upload and vol-download carry the bytes, and with
	// --sparse the holes as holes.
	virsh("vol-create-as", "img", "data.raw", "64M", "--format", "raw")
	src := filepath.Join(root, "src.img")
	data := make([]byte, 64<<20)
	for i := range 16 << 20 { // the first 16 MiB are data, the rest a hole
		data[i] = byte(i*7 + i>>12)
	}
	// A sparse source of 64 MiB: the first 16 MiB written, the rest never.
	if err := os.WriteFile(src, data[:16<<20], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(src, int64(len(data))); err != nil {
		t.Fatal(err)
	}
	for _, sparse := range []bool{false, true} {
		flag := []string{}
		if sparse {
			flag = []string{"--sparse"}
		}
		virsh(append([]string{"vol-upload", "data.raw", src, "--pool", "img"}, flag...)...)
		dst := filepath.Join(root, "dst.img")
		os.Remove(dst)
		virsh(append([]string{"vol-download", "data.raw", dst, "--pool", "img"}, flag...)...)
		got, err := os.ReadFile(dst)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("vol-upload then vol-download (sparse %v) changed the bytes: %d of %d back", sparse, len(got), len(data))
		}
		if sparse {
			var st syscall.Stat_t
			if err := syscall.Stat(dst, &st); err != nil {
				t.Fatal(err)
			}
			if st.Blocks*512 >= 32<<20 {
				t.Errorf("a sparse download of 16 MiB of data in 64 MiB allocated %d bytes: the hole did not cross as a hole", st.Blocks*512)
			}
		}
	}
	// A guest whose disk is a volume of the pool: qemu gets the
	// volume's file, the XML keeps the pool and volume.
	guest := filepath.Join(root, "vm.xml")
	if err := os.WriteFile(guest, []byte(`<domain type='qemu'>
  <name>vm</name>
  <memory unit='MiB'>64</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
    <disk type='volume' device='disk'>
      <source pool='img' volume='disk.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>`), 0o644); err != nil {
		t.Fatal(err)
	}
	virsh("define", guest)
	virsh("start", "vm")
	if out := virsh("dumpxml", "vm"); !regexp.MustCompile(`<disk type=.volume. device=.disk.>`).MatchString(out) || !regexp.MustCompile(`<source pool=.img. volume=.disk\.qcow2.`).MatchString(out) {
		t.Errorf("the live XML does not keep the volume disk:\n%s", out)
	}
	cmdline, err := os.ReadFile("/proc/" + strings.TrimSpace(pidOf(t, filepath.Join(root, "qrun"), "vm")) + "/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	if want := "file=" + filepath.Join(dir, "disk.qcow2") + ",format=qcow2"; !strings.Contains(string(cmdline), want) {
		t.Errorf("qemu's command line has no %q:\n%s", want, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
	}
	virsh("destroy", "vm")
	virsh("undefine", "vm")
	virsh("vol-delete", "data.raw", "--pool", "img")
	virsh("vol-delete", "disk.qcow2", "--pool", "img")
	if _, err := os.Stat(filepath.Join(dir, "disk.qcow2")); !os.IsNotExist(err) {
		t.Fatalf("vol-delete kept the file: %v", err)
	}
	// The rest of a libvirt user's volume commands.
	virsh("pool-autostart", "img")
	if out := virsh("pool-info", "img"); !regexp.MustCompile(`Autostart:\s+yes`).MatchString(out) {
		t.Errorf("pool-info after pool-autostart:\n%s", out)
	}
	virsh("vol-create-as", "img", "base.raw", "2M", "--format", "raw")
	virsh("vol-clone", "base.raw", "copy.raw", "--pool", "img")
	virsh("vol-resize", "copy.raw", "3M", "--pool", "img")
	if out := virsh("vol-info", "copy.raw", "--pool", "img"); !regexp.MustCompile(`Capacity:\s+3\.00 MiB`).MatchString(out) {
		t.Errorf("vol-info after vol-resize to 3M:\n%s", out)
	}
	virsh("vol-wipe", "copy.raw", "--pool", "img")
	if err := os.WriteFile(filepath.Join(dir, "byhand.img"), make([]byte, 512<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := virsh("vol-list", "img"); strings.Contains(out, "byhand.img") {
		t.Errorf("a file copied in by hand listed before pool-refresh:\n%s", out)
	}
	virsh("pool-refresh", "img")
	if out := virsh("vol-list", "img"); !strings.Contains(out, "byhand.img") {
		t.Errorf("pool-refresh did not find the file copied in by hand:\n%s", out)
	}
	for _, v := range []string{"base.raw", "copy.raw", "byhand.img"} {
		virsh("vol-delete", v, "--pool", "img")
	}
	virsh("pool-autostart", "img", "--disable")
	virsh("pool-destroy", "img")
	virsh("pool-undefine", "img")
	if out := virsh("pool-list", "--all"); strings.Contains(out, "img") {
		t.Fatalf("pool still listed:\n%s", out)
	}
}

// pidOf reads the pid of the QEMU driver's domain name from its status
// file in stateDir.
func pidOf(t *testing.T, stateDir, name string) string {
	t.Helper()
	var st struct {
		PID int `json:"pid"`
	}
	data, err := os.ReadFile(filepath.Join(stateDir, name+".status"))
	if err == nil {
		err = json.Unmarshal(data, &st)
	}
	if err != nil || st.PID == 0 {
		t.Fatalf("no pid for %s in %s: %v", name, stateDir, err)
	}
	return strconv.Itoa(st.PID)
}
