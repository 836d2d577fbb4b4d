package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

// The tests run the real driver on real directories under t.TempDir()
// with the real qemu-img.

type env struct {
	t    *testing.T
	cfg  Config
	drv  *Driver
	c    *conn
	evs  chan drivers.StoragePoolEvent
	root string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Fatal("qemu-img is not installed: `make deps` installs qemu-utils")
	}
	root := t.TempDir()
	e := &env{t: t, root: root, cfg: Config{ConfigDir: filepath.Join(root, "etc"), StateDir: filepath.Join(root, "run")}}
	e.start()
	return e
}

// start makes a new driver on the same directories and starts it.
func (e *env) start() {
	e.t.Helper()
	e.drv = New(e.cfg, nil)
	if err := e.drv.Startup(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	u, _ := url.Parse("qemu:///system")
	c, err := e.drv.Open(context.Background(), u, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	e.c = c.(*conn)
	e.evs = make(chan drivers.StoragePoolEvent, 64)
	for _, id := range []vir.StoragePoolEventID{vir.StoragePoolEventIDLifecycle, vir.StoragePoolEventIDRefresh} {
		if _, err := e.c.ConnectStoragePoolEventRegisterAny(context.Background(), nil, id, func(_ int, ev drivers.StoragePoolEvent) { e.evs <- ev }); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) stop() {
	e.t.Helper()
	e.c.Close()
	if err := e.drv.Shutdown(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

// want waits for the next event and checks it.
func (e *env) want(pool string, kind string) {
	e.t.Helper()
	select {
	case ev := <-e.evs:
		got := "refresh"
		if l, ok := ev.(drivers.StoragePoolLifecycleEvent); ok {
			got = l.Event.String()
			if l.Detail != 0 {
				e.t.Errorf("event %s detail %d, libvirt raises 0", got, l.Detail)
			}
		}
		if ev.EventPool().Name != pool || !strings.Contains(got, kind) {
			e.t.Fatalf("event %s of pool %s, want %s of %s", got, ev.EventPool().Name, kind, pool)
		}
	case <-time.After(10 * time.Second):
		e.t.Fatalf("no %s event of pool %s", kind, pool)
	}
}

func (e *env) noEvent() {
	e.t.Helper()
	select {
	case ev := <-e.evs:
		e.t.Fatalf("unexpected event %#v", ev)
	default:
	}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantCode(t *testing.T, err error, code vir.ErrorNumber, what string) {
	t.Helper()
	var de *drivers.Error
	if err == nil || !errorsAs(err, &de) || de.Code != code {
		t.Fatalf("%s: got %v, want error %v", what, err, code)
	}
}

func poolDoc(name, dir string) string {
	return fmt.Sprintf(`<pool type='dir'><name>%s</name><target><path>%s</path><permissions><mode>0750</mode></permissions></target></pool>`, name, dir)
}

func volDoc(name, format string, capacity uint64, extra string) string {
	return fmt.Sprintf(`<volume><name>%s</name><capacity unit='bytes'>%d</capacity><allocation>0</allocation><target><format type='%s'/></target>%s</volume>`, name, capacity, format, extra)
}

func qemuImgInfo(t *testing.T, path string) imgInfo {
	t.Helper()
	out, err := exec.Command("qemu-img", "info", "-U", "--output=json", path).Output()
	if err != nil {
		t.Fatalf("qemu-img info %s: %v", path, err)
	}
	var in imgInfo
	ok(t, json.Unmarshal(out, &in))
	return in
}

func TestPoolLifeAndRestart(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	dir := filepath.Join(e.root, "pool1")
	ref := must[protocol.StoragePool](t)(e.c.StoragePoolDefineXML(ctx, poolDoc("p1", dir), 0))
	e.want("p1", "DEFINED")
	if _, err := os.Stat(e.cfg.configPath("p1")); err != nil {
		t.Fatalf("no persistent definition: %v", err)
	}
	wantCode(t, e.c.StoragePoolCreate(ctx, ref, 0), vir.ErrOperationFailed, "start before build")
	ok(t, e.c.StoragePoolBuild(ctx, ref, 0))
	e.want("p1", "CREATED")
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o750 {
		t.Fatalf("built directory: %v %v, want mode 0750", fi, err)
	}
	ok(t, e.c.StoragePoolCreate(ctx, ref, 0))
	e.want("p1", "STARTED")
	info := must[*protocol.StoragePoolGetInfoRet](t)(e.c.StoragePoolGetInfo(ctx, ref))
	var st syscall.Statfs_t
	ok(t, syscall.Statfs(dir, &st))
	if info.State != uint8(vir.StoragePoolRunning) || info.Capacity != st.Blocks*uint64(st.Frsize) || info.Available == 0 {
		t.Fatalf("info %+v, statfs capacity %d", info, st.Blocks*uint64(st.Frsize))
	}
	x := must[string](t)(e.c.StoragePoolGetXMLDesc(ctx, ref, 0))
	if !strings.Contains(x, "<path>"+dir+"</path>") || !strings.Contains(x, "<mode>0750</mode>") {
		t.Fatalf("pool XML:\n%s", x)
	}
	ok(t, e.c.StoragePoolSetAutostart(ctx, ref, 1))
	if target, err := os.Readlink(e.cfg.Defaults().autostartPath("p1")); err != nil || target != e.cfg.configPath("p1") {
		t.Fatalf("autostart link: %q %v", target, err)
	}
	// A hand-made file appears at refresh.
	ok(t, os.WriteFile(filepath.Join(dir, "byhand.img"), make([]byte, 4096), 0o644))
	ok(t, e.c.StoragePoolRefresh(ctx, ref, 0))
	e.want("p1", "refresh")
	vol := must[protocol.StorageVol](t)(e.c.StorageVolLookupByName(ctx, ref, "byhand.img"))
	if vol.Key != filepath.Join(dir, "byhand.img") {
		t.Fatalf("key %q, want the path", vol.Key)
	}
	if v := must[protocol.StorageVol](t)(e.c.StorageVolLookupByPath(ctx, vol.Key)); v != vol {
		t.Fatalf("by path: %+v", v)
	}
	if v := must[protocol.StorageVol](t)(e.c.StorageVolLookupByKey(ctx, vol.Key)); v != vol {
		t.Fatalf("by key: %+v", v)
	}
	if p := must[protocol.StoragePool](t)(e.c.StoragePoolLookupByVolume(ctx, vol)); p != ref {
		t.Fatalf("by volume: %+v", p)
	}
	// A transient pool goes away when stopped, and fails as NO_SUPPORT
	// for another type.
	tref := must[protocol.StoragePool](t)(e.c.StoragePoolCreateXML(ctx, poolDoc("t1", filepath.Join(e.root, "t1")), uint32(vir.StoragePoolCreateWithBuild)))
	e.want("t1", "STARTED")
	_, err = e.c.StoragePoolDefineXML(ctx, `<pool type='logical'><name>lv</name><target><path>/dev/vg</path></target></pool>`, 0)
	wantCode(t, err, vir.ErrNoSupport, "logical pool")
	if !strings.Contains(err.Error(), "logical") {
		t.Fatalf("error does not name the type: %v", err)
	}
	all := must[*protocol.ConnectListAllStoragePoolsRet](t)(e.c.ConnectListAllStoragePools(ctx, 1, uint32(vir.ConnectListStoragePoolsTransient)))
	if all.Ret != 1 || all.Pools[0] != tref {
		t.Fatalf("transient list %+v", all)
	}
	if n := must[int32](t)(e.c.ConnectNumOfStoragePools(ctx)); n != 2 {
		t.Fatalf("%d active pools", n)
	}

	// Restart: the persistent pool and the transient one that was
	// running come back active; the autostart flag stays.
	e.stop()
	e.start()
	for _, name := range []string{"p1", "t1"} {
		r := must[protocol.StoragePool](t)(e.c.StoragePoolLookupByName(ctx, name))
		if a := must[int32](t)(e.c.StoragePoolIsActive(ctx, r)); a != 1 {
			t.Fatalf("pool %s not active after restart", name)
		}
	}
	if a := must[int32](t)(e.c.StoragePoolGetAutostart(ctx, ref)); a != 1 {
		t.Fatal("autostart lost at restart")
	}
	if _, err := e.c.StorageVolLookupByName(ctx, ref, "byhand.img"); err != nil {
		t.Fatal(err)
	}
	// Stopped and restarted: only autostart brings it back.
	tref = must[protocol.StoragePool](t)(e.c.StoragePoolLookupByName(ctx, "t1"))
	ok(t, e.c.StoragePoolDestroy(ctx, tref))
	e.want("t1", "STOPPED")
	if _, err := e.c.StoragePoolLookupByName(ctx, "t1"); err == nil {
		t.Fatal("transient pool kept after destroy")
	}
	ok(t, e.c.StoragePoolDestroy(ctx, ref))
	e.want("p1", "STOPPED")
	e.stop()
	e.start()
	if a := must[int32](t)(e.c.StoragePoolIsActive(ctx, ref)); a != 1 {
		t.Fatal("autostart pool not started")
	}
	ok(t, e.c.StoragePoolSetAutostart(ctx, ref, 0))
	ok(t, e.c.StoragePoolDestroy(ctx, ref))
	e.want("p1", "STOPPED")
	e.stop()
	e.start()
	if a := must[int32](t)(e.c.StoragePoolIsActive(ctx, ref)); a != 0 {
		t.Fatal("pool without autostart was started")
	}
	wantCode(t, e.c.StoragePoolDelete(ctx, ref, 0), vir.ErrSystemError, "delete of a non-empty directory")
	ok(t, os.Remove(filepath.Join(dir, "byhand.img")))
	ok(t, e.c.StoragePoolDelete(ctx, ref, 0))
	e.want("p1", "DELETED")
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("directory kept: %v", err)
	}
	ok(t, e.c.StoragePoolUndefine(ctx, ref))
	e.want("p1", "UNDEFINED")
	if _, err := os.Stat(e.cfg.configPath("p1")); !os.IsNotExist(err) {
		t.Fatalf("definition kept: %v", err)
	}
	e.noEvent()
}

func activePool(t *testing.T, e *env, name string) protocol.StoragePool {
	t.Helper()
	ref := must[protocol.StoragePool](t)(e.c.StoragePoolCreateXML(context.Background(), poolDoc(name, filepath.Join(e.root, name)), uint32(vir.StoragePoolCreateWithBuild)))
	e.want(name, "STARTED")
	return ref
}

func TestVolumes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ref := activePool(t, e, "v")
	raw := must[protocol.StorageVol](t)(e.c.StorageVolCreateXML(ctx, ref, volDoc("base.raw", "raw", 8<<20, ""), 0))
	if in := qemuImgInfo(t, raw.Key); in.Format != "raw" || in.VirtualSize != 8<<20 {
		t.Fatalf("raw: %+v", in)
	}
	_, err := e.c.StorageVolCreateXML(ctx, ref, volDoc("base.raw", "raw", 1<<20, ""), 0)
	wantCode(t, err, vir.ErrStorageVolExist, "duplicate volume")
	q := must[protocol.StorageVol](t)(e.c.StorageVolCreateXML(ctx, ref, volDoc("top.qcow2", "qcow2", 0, "<backingStore><path>"+raw.Key+"</path><format type='raw'/></backingStore>"), 0))
	in := qemuImgInfo(t, q.Key)
	if in.Format != "qcow2" || in.VirtualSize != 8<<20 || in.BackingFilename != raw.Key {
		t.Fatalf("qcow2 with backing: %+v", in)
	}
	x := must[string](t)(e.c.StorageVolGetXMLDesc(ctx, q, 0))
	for _, s := range []string{"<format type=\"qcow2\"></format>", "<backingStore>", "<path>" + raw.Key + "</path>", "<capacity unit=\"bytes\">8388608</capacity>", "<key>" + q.Key + "</key>"} {
		if !strings.Contains(x, s) {
			t.Errorf("volume XML lacks %s:\n%s", s, x)
		}
	}
	vi := must[*protocol.StorageVolGetInfoRet](t)(e.c.StorageVolGetInfo(ctx, q))
	var st syscall.Stat_t
	ok(t, syscall.Stat(q.Key, &st))
	if vi.Capacity != 8<<20 || vi.Allocation != uint64(st.Blocks)*512 {
		t.Fatalf("info %+v, file blocks %d", vi, st.Blocks)
	}
	// Clone raw → qcow2, larger.
	clone := must[protocol.StorageVol](t)(e.c.StorageVolCreateXMLFrom(ctx, ref, volDoc("clone.qcow2", "qcow2", 16<<20, ""), raw, 0))
	if in := qemuImgInfo(t, clone.Key); in.Format != "qcow2" || in.VirtualSize != 16<<20 {
		t.Fatalf("clone: %+v", in)
	}
	// Resize: grow, refuse to shrink without the flag, shrink with it.
	ok(t, e.c.StorageVolResize(ctx, raw, 4<<20, uint32(vir.StorageVolResizeDelta)))
	if in := qemuImgInfo(t, raw.Key); in.VirtualSize != 12<<20 {
		t.Fatalf("after delta resize: %d", in.VirtualSize)
	}
	wantCode(t, e.c.StorageVolResize(ctx, raw, 1<<20, 0), vir.ErrInvalidArg, "shrink without flag")
	ok(t, e.c.StorageVolResize(ctx, raw, 2<<20, uint32(vir.StorageVolResizeShrink)))
	if in := qemuImgInfo(t, raw.Key); in.VirtualSize != 2<<20 {
		t.Fatalf("after shrink: %d", in.VirtualSize)
	}
	wantCode(t, e.c.StorageVolResize(ctx, q, 32<<20, uint32(vir.StorageVolResizeAllocate)), vir.ErrOperationUnsupported, "allocate on qcow2")
	// Wipe: the raw file is zeros.
	ok(t, os.WriteFile(raw.Key, bytes.Repeat([]byte{0xab}, 2<<20), 0o600))
	ok(t, e.c.StorageVolWipe(ctx, raw, 0))
	data, _ := os.ReadFile(raw.Key)
	if len(data) != 2<<20 || !bytes.Equal(data, make([]byte, 2<<20)) {
		t.Fatal("wipe left non-zero bytes")
	}
	wantCode(t, e.c.StorageVolWipePattern(ctx, raw, uint32(vir.StorageVolWipeAlgGutmann), 0), vir.ErrNoSupport, "gutmann")
	// qemu-img's own words reach the error.
	_, err = e.c.StorageVolCreateXML(ctx, ref, volDoc("bad.qcow2", "qcow2", 0, "<backingStore><path>/nonexistent/b.img</path><format type='raw'/></backingStore>"), 0)
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/b.img") {
		t.Fatalf("bad backing store: %v", err)
	}
	list := must[*protocol.StoragePoolListAllVolumesRet](t)(e.c.StoragePoolListAllVolumes(ctx, ref, 1, 0))
	if list.Ret != 3 {
		t.Fatalf("%d volumes: %+v", list.Ret, list.Vols)
	}
	ok(t, e.c.StorageVolDelete(ctx, clone, 0))
	if _, err := os.Stat(clone.Key); !os.IsNotExist(err) {
		t.Fatalf("clone file kept: %v", err)
	}
	if n := must[int32](t)(e.c.StoragePoolNumOfVolumes(ctx, ref)); n != 2 {
		t.Fatalf("%d volumes after delete", n)
	}
}

func TestTransfer(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ref := activePool(t, e, "x")
	const size = 4 << 20
	vol := must[protocol.StorageVol](t)(e.c.StorageVolCreateXML(ctx, ref, volDoc("disk.raw", "raw", size, ""), 0))
	// Plain upload then download round-trips.
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	w := must[io.WriteCloser](t)(e.c.StorageVolUpload(ctx, vol, 0, 0, 0))
	must[int](t)(w.Write(payload))
	ok(t, w.Close())
	r := must[io.ReadCloser](t)(e.c.StorageVolDownload(ctx, vol, 0, 0, 0))
	got := must[[]byte](t)(io.ReadAll(r))
	ok(t, r.Close())
	if !bytes.Equal(got, payload) {
		t.Fatal("download differs from upload")
	}
	// Bounded: offset and length.
	r = must[io.ReadCloser](t)(e.c.StorageVolDownload(ctx, vol, 100, 50, 0))
	got = must[[]byte](t)(io.ReadAll(r))
	r.Close()
	if !bytes.Equal(got, payload[100:150]) {
		t.Fatal("bounded download wrong")
	}
	w = must[io.WriteCloser](t)(e.c.StorageVolUpload(ctx, vol, 0, 10, 0))
	if _, err := w.Write(make([]byte, 11)); err == nil {
		t.Fatal("upload past its length accepted")
	}
	w.Close()
	// Sparse upload: 1 MiB data, 2 MiB hole, 1 MiB data over the full
	// file keeps the hole.
	w = must[io.WriteCloser](t)(e.c.StorageVolUpload(ctx, vol, 0, 0, uint32(vir.StorageVolUploadSparseStream)))
	hw := w.(drivers.HoleWriter)
	must[int](t)(hw.Write(payload[:1<<20]))
	ok(t, hw.WriteHole(2<<20))
	must[int](t)(hw.Write(payload[3<<20:]))
	ok(t, hw.Close())
	var st syscall.Stat_t
	ok(t, syscall.Stat(vol.Key, &st))
	if alloc := st.Blocks * 512; alloc > 2<<20+64<<10 {
		t.Fatalf("sparse upload allocated %d bytes, want about 2 MiB", alloc)
	}
	// Sparse download reports the hole and gives the data.
	r = must[io.ReadCloser](t)(e.c.StorageVolDownload(ctx, vol, 0, 0, uint32(vir.StorageVolDownloadSparseStream)))
	hr := r.(drivers.HoleReader)
	var out bytes.Buffer
	var holes int64
	for {
		data, n, err := hr.InData()
		ok(t, err)
		if n == 0 {
			break
		}
		if !data {
			holes += n
			ok(t, hr.SkipHole(n))
			out.Write(make([]byte, n))
			continue
		}
		must[int64](t)(io.CopyN(&out, hr, n))
	}
	hr.Close()
	if holes < 2<<20 {
		t.Fatalf("sparse download saw %d bytes of holes, want 2 MiB", holes)
	}
	want := append(append(append([]byte{}, payload[:1<<20]...), make([]byte, 2<<20)...), payload[3<<20:]...)
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatal("sparse download differs")
	}
	// A volume being read cannot be deleted.
	r = must[io.ReadCloser](t)(e.c.StorageVolDownload(ctx, vol, 0, 0, 0))
	wantCode(t, e.c.StorageVolDelete(ctx, vol, 0), vir.ErrOperationInvalid, "delete during download")
	r.Close()
	ok(t, e.c.StorageVolDelete(ctx, vol, 0))
}

func errorsAs(err error, target **drivers.Error) bool { return errors.As(err, target) }
