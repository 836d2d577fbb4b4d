package storage_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/qemu"
	"github.com/govirt/govirtd/drivers/storage"
	"github.com/govirt/govirtd/internal/testdaemon"
	"github.com/govirt/govirtd/internal/testutil"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/remote"
)

// TestVolumeStreams: go-libvirt's StorageVolUpload and
// StorageVolDownload move a 64 MiB volume byte for byte through the
// daemon's streams; a client that starts a download and stops reading
// does not hold up a second client's calls.
func TestVolumeStreams(t *testing.T) {
	root := t.TempDir()
	qd := qemu.New(qemu.Config{ConfigDir: filepath.Join(root, "qemu"), StateDir: filepath.Join(root, "qrun"), LogDir: filepath.Join(root, "qlog")}, nil)
	sd := storage.New(storage.Config{ConfigDir: filepath.Join(root, "storage"), StateDir: filepath.Join(root, "srun")}, nil)
	d := testdaemon.Start(t, testdaemon.Options{
		Drivers: []drivers.Driver{qd},
		Shared:  map[drivers.Concern]drivers.Driver{drivers.ConcernStorage: sd},
	})
	uri := "qemu:///system"
	if os.Geteuid() != 0 {
		uri = "qemu:///session"
	}
	dial := func() *libvirt.Libvirt {
		l := libvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(d.RW()), dialers.WithLocalTimeout(5*time.Second)))
		if err := l.ConnectToURI(libvirt.ConnectURI(uri)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Disconnect() })
		return l
	}
	l := dial()
	pool, err := l.StoragePoolDefineXML("<pool type='dir'><name>img</name><target><path>"+filepath.Join(root, "images")+"</path></target></pool>", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.StoragePoolBuild(pool, 0); err != nil {
		t.Fatal(err)
	}
	if err := l.StoragePoolCreate(pool, 0); err != nil {
		t.Fatal(err)
	}
	vol, err := l.StorageVolCreateXML(pool, "<volume><name>big.raw</name><capacity unit='MiB'>64</capacity><target><format type='raw'/></target></volume>", 0)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 64<<20)
	rand.Read(data)
	if err := l.StorageVolUpload(vol, bytes.NewReader(data), 0, uint64(len(data)), 0); err != nil {
		t.Fatalf("go-libvirt upload: %v", err)
	}
	var got bytes.Buffer
	if err := l.StorageVolDownload(vol, &got, 0, 0, 0); err != nil {
		t.Fatalf("go-libvirt download: %v", err)
	}
	if !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("64 MiB round trip: %d bytes back, equal %v", got.Len(), bytes.Equal(got.Bytes(), data))
	}

	// A client that opens a download and never reads it.
	ctx := context.Background()
	stalled, err := remote.Dial(ctx, "qemu+unix://"+uri[len("qemu://"):]+"?socket="+d.RW())
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	st, err := stalled.StorageVolDownload(ctx, protocol.StorageVol{Pool: vol.Pool, Name: vol.Name, Key: vol.Key}, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Abort(ctx)
	// The second client's calls are answered meanwhile.
	other := dial()
	done := make(chan error, 1)
	go func() {
		for i := 0; i < 50; i++ {
			if _, _, err := other.ConnectListAllStoragePools(1, 0); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testutil.HangTimeout):
		t.Fatal("a second client's calls hung while another client's download was not read")
	}
}
