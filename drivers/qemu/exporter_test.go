package qemu_test

import (
	"os"
	"strings"
	"testing"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"
)

// TestExporterCalls makes, through go-libvirt, the calls inovex's
// prometheus-libvirt-exporter makes for each scrape (read from its
// source: that exporter is not served by the Go module proxy, so it
// cannot be built here; TestExporterDifferential runs Debian's
// exporter, kumina's, for real), against a running guest with a disk,
// and checks each answers what the exporter reads from it.
func TestExporterCalls(t *testing.T) {
	d := newTestDaemon(t)
	d.start()
	disk := d.path("disk.img")
	if err := os.WriteFile(disk, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	xml := strings.Replace(readFile(t, demoXMLPath), "<on_poweroff>",
		"<devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='"+disk+"'/><target dev='vda' bus='virtio'/></disk></devices><on_poweroff>", 1)
	writeFile(t, d.path("demo-disk.xml"), xml)
	d.mustVirsh("define", d.path("demo-disk.xml"))
	d.mustVirsh("start", "demo")
	defer d.mustVirsh("destroy", "demo")
	d.mustVirsh("pool-define-as", "images", "dir", "--target", d.path("images"))
	d.mustVirsh("pool-build", "images")
	d.mustVirsh("pool-start", "images")

	l := libvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(d.path("sock", "govirtd-sock")), dialers.WithLocalTimeout(10*time.Second)))
	if err := l.ConnectToURI(libvirt.QEMUSystem); err != nil {
		t.Fatal(err)
	}
	defer l.Disconnect()
	doms, _, err := l.ConnectListAllDomains(1, libvirt.ConnectListDomainsActive)
	if err != nil || len(doms) != 1 || doms[0].Name != "demo" {
		t.Fatalf("ConnectListAllDomains: %v %v", doms, err)
	}
	dom := doms[0]
	if x, err := l.DomainGetXMLDesc(dom, 0); err != nil || !strings.Contains(x, disk) {
		t.Errorf("DomainGetXMLDesc: %v\n%s", err, x)
	}
	state, maxMem, mem, vcpus, cpuTime, err := l.DomainGetInfo(dom)
	if err != nil || libvirt.DomainState(state) != libvirt.DomainRunning || maxMem != 65536 || mem != 65536 || vcpus != 1 || cpuTime == 0 {
		t.Errorf("DomainGetInfo: state %d max %d mem %d vcpus %d cpu %d, %v", state, maxMem, mem, vcpus, cpuTime, err)
	}
	if active, err := l.DomainIsActive(dom); err != nil || active != 1 {
		t.Errorf("DomainIsActive: %d %v", active, err)
	}
	if typ, _, _, _, _, _, _, _, _, _, _, _, err := l.DomainGetJobInfo(dom); err != nil || typ != int32(libvirt.DomainJobNone) {
		t.Errorf("DomainGetJobInfo: type %d, %v; want no job", typ, err)
	}
	stats := func(kind libvirt.DomainStatsTypes) map[string]libvirt.TypedParamValue {
		t.Helper()
		recs, err := l.ConnectGetAllDomainStats([]libvirt.Domain{dom}, uint32(kind), uint32(libvirt.ConnectGetAllDomainsStatsNowait))
		if err != nil || len(recs) != 1 {
			t.Fatalf("ConnectGetAllDomainStats(%d): %v %v", kind, recs, err)
		}
		m := map[string]libvirt.TypedParamValue{}
		for _, p := range recs[0].Params {
			m[p.Field] = p.Value
		}
		return m
	}
	block := stats(libvirt.DomainStatsBlock)
	for _, f := range []string{"block.count", "block.0.name", "block.0.path", "block.0.rd.reqs", "block.0.rd.bytes", "block.0.wr.reqs", "block.0.wr.bytes", "block.0.capacity", "block.0.allocation"} {
		if _, ok := block[f]; !ok {
			t.Errorf("block stats lack %s: %v", f, block)
		}
	}
	if v := block["block.0.name"].I; v != "vda" {
		t.Errorf("block.0.name %v, want vda", v)
	}
	if v, ok := block["block.0.capacity"].I.(uint64); !ok || v != 1<<20 {
		t.Errorf("block.0.capacity %v, want %d", block["block.0.capacity"].I, 1<<20)
	}
	pools, _, err := l.ConnectListAllStoragePools(1, 0)
	if err != nil || len(pools) != 1 {
		t.Fatalf("ConnectListAllStoragePools: %v %v", pools, err)
	}
	if st, capacity, _, _, err := l.StoragePoolGetInfo(pools[0]); err != nil || st != uint8(libvirt.StoragePoolRunning) || capacity == 0 {
		t.Errorf("StoragePoolGetInfo: state %d capacity %d, %v", st, capacity, err)
	}
}
