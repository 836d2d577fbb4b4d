package qemu

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/internal/testutil"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

func paramMap(ps []protocol.TypedParam) map[string]protocol.TypedParamValue {
	m := map[string]protocol.TypedParamValue{}
	for _, p := range ps {
		m[p.Field] = p.Value
	}
	return m
}

// TestDomainStats: a running guest's vCPUs, memory and stats groups come
// from its qemu (QMP and /proc); a stopped one has only what its
// definition says; groups not served are refused with ENFORCE_STATS.
func TestDomainStats(t *testing.T) {
	_, c := testDriver(t)
	ctx := context.Background()
	ev := recordEvents(t, c)
	dom, _ := startDemo(t, c, ev)

	v, err := c.DomainGetVcpus(ctx, dom, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Info) != 1 || v.Info[0].State != int32(vir.VcpuRunning) || v.Info[0].CPU < 0 || len(v.Cpumaps) != 1 || v.Cpumaps[0] == 0 {
		t.Fatalf("vcpus %+v, cpumaps %08b; want one running vCPU with a host CPU and an affinity", v.Info, v.Cpumaps)
	}
	mem, err := c.DomainMemoryStats(ctx, dom, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The definition gets libvirt's implicit virtio balloon: its actual
	// size, and qemu's RSS.
	byTag := map[int32]uint64{}
	for _, st := range mem {
		byTag[st.Tag] = st.Val
	}
	if byTag[int32(vir.DomainMemoryStatActualBalloon)] != 65536 || byTag[int32(vir.DomainMemoryStatRss)] == 0 {
		t.Fatalf("memory stats %+v; want the balloon's actual size (65536 KiB) and qemu's RSS", mem)
	}

	recs, err := c.ConnectGetAllDomainStats(ctx, nil, 0, 0)
	if err != nil || len(recs) != 1 {
		t.Fatalf("all stats: %v, %v", recs, err)
	}
	m := paramMap(recs[0].Params)
	if m["state.state"].I != int32(vir.DomainRunning) || m["cpu.time"].Ul == 0 || m["cpu.time"].Ul != m["cpu.user"].Ul+m["cpu.system"].Ul {
		t.Errorf("state and cpu of a running guest: %+v", m)
	}
	if m["balloon.current"].Ul != 65536 || m["balloon.maximum"].Ul != 65536 || m["balloon.rss"].Ul == 0 {
		t.Errorf("balloon of a 64 MiB guest: current %d, maximum %d, rss %d", m["balloon.current"].Ul, m["balloon.maximum"].Ul, m["balloon.rss"].Ul)
	}
	if m["vcpu.current"].Ui != 1 || m["vcpu.maximum"].Ui != 1 || m["vcpu.0.state"].I != int32(vir.VcpuRunning) {
		t.Errorf("vcpu group: %+v", m)
	}
	if _, ok := m["vcpu.0.time"]; !ok {
		t.Errorf("no vcpu.0.time: %+v", m)
	}
	_, online, _, err := host.CPUMap()
	if err != nil {
		t.Fatal(err)
	}
	checkVcpuCalls := func(running bool) {
		t.Helper()
		if n, err := c.DomainGetVcpusFlags(ctx, dom, uint32(vir.DomainVcpuMaximum)); err != nil || n != 1 {
			t.Errorf("maximum vCPUs: %d, %v", n, err)
		}
		if n, err := c.DomainGetMaxVcpus(ctx, dom); running && (err != nil || n != 1) || !running && drivers.CodeOf(err) != vir.ErrOperationInvalid {
			t.Errorf("virDomainGetMaxVcpus (running %v): %d, %v", running, n, err)
		}
		if _, err := c.DomainGetVcpusFlags(ctx, dom, uint32(vir.DomainVcpuLive|vir.DomainVcpuConfig)); drivers.CodeOf(err) != vir.ErrInvalidArg {
			t.Errorf("vCPUs of the live and the persistent definition at once: %v, want VIR_ERR_INVALID_ARG", err)
		}
		if _, err := c.DomainGetVcpusFlags(ctx, dom, uint32(vir.DomainVcpuGuest)); running && drivers.CodeOf(err) != vir.ErrArgumentUnsupported || !running && drivers.CodeOf(err) != vir.ErrInvalidArg {
			t.Errorf("the guest's vCPU count (running %v): %v", running, err)
		}
		p, err := c.DomainGetVcpuPinInfo(ctx, dom, 4, 1, 0)
		if err != nil || p.Num != 1 || len(p.Cpumaps) != 1 || p.Cpumaps[0] != online[0] {
			t.Errorf("vCPU pinning: %+v, %v; want the online CPUs %08b", p, err, online[0])
		}
		if e, err := c.DomainGetEmulatorPinInfo(ctx, dom, 1, uint32(vir.DomainAffectConfig)); err != nil || e.Ret != 1 || e.Cpumaps[0] != online[0] {
			t.Errorf("emulator pinning: %+v, %v", e, err)
		}
	}
	checkVcpuCalls(true)
	if _, err := c.ConnectGetAllDomainStats(ctx, nil, uint32(vir.DomainStatsPerf), uint32(vir.ConnectGetAllDomainsStatsEnforceStats)); drivers.CodeOf(err) != vir.ErrArgumentUnsupported {
		t.Errorf("perf stats enforced: %v, want VIR_ERR_ARGUMENT_UNSUPPORTED", err)
	}

	if err := c.DomainDestroy(ctx, dom, 0); err != nil {
		t.Fatal(err)
	}
	ev.waitFor(t, "demo Stopped Destroyed")
	recs, err = c.ConnectGetAllDomainStats(ctx, []protocol.Domain{dom}, 0, 0)
	if err != nil || len(recs) != 1 {
		t.Fatalf("stats of the stopped guest: %v, %v", recs, err)
	}
	m = paramMap(recs[0].Params)
	if _, ok := m["cpu.time"]; ok || m["state.state"].I != int32(vir.DomainShutoff) || m["balloon.maximum"].Ul != 65536 || m["vcpu.current"].Ui != 1 {
		t.Errorf("a stopped guest's stats: %+v", m)
	}
	if recs, err := c.ConnectGetAllDomainStats(ctx, nil, 0, uint32(vir.ConnectListDomainsActive)); err != nil || len(recs) != 0 {
		t.Errorf("stats of active domains with none running: %v, %v", recs, err)
	}
	if _, err := c.DomainGetVcpus(ctx, dom, 1, 1); drivers.CodeOf(err) != vir.ErrOperationInvalid {
		t.Errorf("vcpus of a stopped guest: %v, want VIR_ERR_OPERATION_INVALID", err)
	}
	checkVcpuCalls(false)
	if _, err := c.DomainGetVcpuPinInfo(ctx, dom, 1, 1, uint32(vir.DomainAffectLive)); drivers.CodeOf(err) != vir.ErrOperationInvalid {
		t.Errorf("live vCPU pinning of a stopped guest: %v, want VIR_ERR_OPERATION_INVALID", err)
	}
}

// TestNodeStats: the node calls answer this host as its kernel
// describes it.
func TestNodeStats(t *testing.T) {
	_, c := testDriver(t)
	ctx := context.Background()
	cm, err := c.NodeGetCPUMap(ctx, 1, 1, 0)
	if err != nil || int(cm.Online) != runtime.NumCPU() || cm.Ret < int32(cm.Online) || len(cm.Cpumap) == 0 {
		t.Fatalf("cpu map %+v, %v; Go sees %d CPUs", cm, err, runtime.NumCPU())
	}
	n, err := c.NodeGetCPUStats(ctx, -1, 0, 0)
	if err != nil || n.Nparams != 4 {
		t.Fatalf("cpu stats count: %+v, %v", n, err)
	}
	s, err := c.NodeGetCPUStats(ctx, -1, 4, 0)
	if err != nil || len(s.Params) != 4 || s.Params[0].Field != "kernel" || s.Params[2].Field != "idle" || s.Params[2].Value == 0 {
		t.Fatalf("cpu stats: %+v, %v", s, err)
	}
	if _, err := c.NodeGetCPUStats(ctx, -1, 3, 0); drivers.CodeOf(err) != vir.ErrInvalidArg {
		t.Errorf("cpu stats with nparams 3: %v, want VIR_ERR_INVALID_ARG", err)
	}
	ms, err := c.NodeGetMemoryStats(ctx, 4, -1, 0)
	if err != nil || len(ms.Params) != 4 || ms.Params[0].Field != "total" || ms.Params[0].Value == 0 {
		t.Fatalf("memory stats: %+v, %v", ms, err)
	}
	if free, err := c.NodeGetFreeMemory(ctx); err != nil || free == 0 {
		t.Fatalf("free memory %d, %v", free, err)
	}
}

// TestBlockStats: the firmware reads the guest's disk looking for
// something to boot; the reads show in DOMAIN_BLOCK_STATS (by target
// and by path) and in the block group of the stats record.
func TestBlockStats(t *testing.T) {
	_, c := testDriver(t)
	ctx := context.Background()
	ev := recordEvents(t, c)
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	xml := strings.Replace(readTestdata(t, "demo.xml"), "<on_poweroff>",
		"<devices><disk type='file' device='disk'><source file='"+img+"'/><target dev='vda' bus='virtio'/></disk></devices><on_poweroff>", 1)
	dom, err := c.DomainDefineXML(ctx, xml, 0)
	if err != nil {
		t.Fatal(err)
	}
	if dom, err = c.DomainCreate(ctx, dom, 0); err != nil {
		t.Fatal(err)
	}
	ev.waitFor(t, "demo Defined Added", "demo Started Booted")
	testutil.WaitFor(t, "the firmware to read the disk", func() bool {
		s, err := c.DomainBlockStats(ctx, dom, "vda")
		return err == nil && s.RdReq > 0 && s.RdBytes > 0
	})
	if s, err := c.DomainBlockStats(ctx, dom, img); err != nil || s.RdReq == 0 {
		t.Fatalf("block stats by path: %+v, %v", s, err)
	}
	if _, err := c.DomainBlockStats(ctx, dom, "vdz"); drivers.CodeOf(err) != vir.ErrInvalidArg {
		t.Fatalf("block stats of no disk: %v, want VIR_ERR_INVALID_ARG", err)
	}
	if n, err := c.DomainBlockStatsFlags(ctx, dom, "vda", 0, 0); err != nil || n.Nparams != 8 || len(n.Params) != 0 {
		t.Fatalf("block stats flags, how many: %+v, %v; want 8", n, err)
	}
	s, _ := c.DomainBlockStats(ctx, dom, "vda")
	for _, path := range []string{"vda", img, ""} { // "": the sum over the one disk
		f, err := c.DomainBlockStatsFlags(ctx, dom, path, 8, uint32(vir.TypedParamStringOkay))
		if err != nil || len(f.Params) != 8 {
			t.Fatalf("block stats flags of %q: %+v, %v", path, f, err)
		}
		m := paramMap(f.Params)
		if m["rd_operations"].Type != int32(vir.TypedParamLlong) || m["rd_operations"].L < s.RdReq || m["rd_bytes"].L < s.RdBytes ||
			m["wr_operations"].L != s.WrReq || m["rd_total_times"].L == 0 {
			t.Errorf("block stats flags of %q: %+v; DomainBlockStats said %+v", path, m, s)
		}
	}
	if f, err := c.DomainBlockStatsFlags(ctx, dom, "vda", 2, 0); err != nil || len(f.Params) != 2 || f.Params[0].Field != "wr_bytes" || f.Params[1].Field != "wr_operations" {
		t.Errorf("block stats flags, the first two: %+v, %v", f, err)
	}
	if _, err := c.DomainBlockStatsFlags(ctx, dom, "vdz", 8, 0); drivers.CodeOf(err) != vir.ErrInvalidArg {
		t.Errorf("block stats flags of no disk: %v, want VIR_ERR_INVALID_ARG", err)
	}
	recs, err := c.ConnectGetAllDomainStats(ctx, nil, uint32(vir.DomainStatsBlock), 0)
	if err != nil || len(recs) != 1 {
		t.Fatalf("block group: %v, %v", recs, err)
	}
	m := paramMap(recs[0].Params)
	if m["block.count"].Ui != 1 || m["block.0.name"].S != "vda" || m["block.0.path"].S != img || m["block.0.rd.reqs"].Ul == 0 || m["block.0.physical"].Ul != 1<<20 {
		t.Fatalf("block group: %+v", m)
	}
	if _, ok := m["state.state"]; ok {
		t.Errorf("the block group alone brought the state group: %+v", m)
	}
	if err := c.DomainDestroy(ctx, dom, 0); err != nil {
		t.Fatal(err)
	}
	ev.waitFor(t, "demo Stopped Destroyed")
	recs, err = c.ConnectGetAllDomainStats(ctx, nil, uint32(vir.DomainStatsBlock), 0)
	if err != nil || len(recs) != 1 {
		t.Fatalf("block group of the stopped guest: %v, %v", recs, err)
	}
	m = paramMap(recs[0].Params)
	var st syscall.Stat_t
	if err := syscall.Stat(img, &st); err != nil {
		t.Fatal(err)
	}
	if m["block.count"].Ui != 1 || m["block.0.path"].S != img || m["block.0.capacity"].Ul != 1<<20 || m["block.0.allocation"].Ul != uint64(st.Blocks)*512 {
		t.Errorf("block group of the stopped guest: %+v", m)
	}
	if _, ok := m["block.0.rd.reqs"]; ok {
		t.Errorf("a stopped guest's block group has counters: %+v", m)
	}
}
