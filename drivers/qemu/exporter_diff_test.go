package qemu_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/govirt/govirtd/internal/testutil"
)

// exporterGuestXML is the demo guest with a raw disk in dir and an
// interface on the host bridge gvbr0: what the exporter reports block
// and interface counters of.
func exporterGuestXML(t *testing.T, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	disk := dir + "/disk.img"
	if err := os.WriteFile(disk, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	xml := strings.Replace(readFile(t, demoXMLPath), "<on_poweroff>", `<devices>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='`+disk+`'/><target dev='vda' bus='virtio'/></disk>
    <interface type='bridge'><mac address='52:54:00:6e:78:01'/><source bridge='gvbr0'/><model type='virtio'/></interface>
    <memballoon model='virtio'/>
  </devices><on_poweroff>`, 1)
	p := dir + "/demo-exporter.xml"
	writeFile(t, p, xml)
	return p
}

// TestExporterDifferential: Debian's prometheus-libvirt-exporter (the
// real binary, through libvirt's own client library) scrapes govirtd and
// a private libvirtd 9.0, each running the same guest (a disk, an
// interface on a bridge, each daemon in a network namespace of its own);
// both /metrics answers have the same metric families with the same
// label sets (the disk's directory masked), and the values that do not
// depend on timing (state, vCPUs, memory) are the definition's on both.
func TestExporterDifferential(t *testing.T) {
	exporter := testutil.RequireBinary(t, "prometheus-libvirt-exporter", "prometheus-libvirt-exporter")
	d := newNetDaemon(t)
	d.configure("network_define_default = 0") // libvirtd's private /etc/libvirt has no network either
	d.start()
	lvNS := fmt.Sprintf("govirtd-lv-%d-%d", os.Getpid(), netnsSeq.Add(1))
	if out, err := runCmd("ip", "netns", "add", lvNS); err != nil {
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	t.Cleanup(func() { runCmd("ip", "netns", "del", lvNS) })
	for _, ns := range []string{d.netns, lvNS} {
		for _, args := range [][]string{{"link", "set", "lo", "up"}, {"link", "add", "gvbr0", "type", "bridge"}, {"link", "set", "gvbr0", "up"}} {
			if out, err := runCmd("ip", append([]string{"-n", ns}, args...)...); err != nil {
				t.Fatalf("ip -n %s %v: %v\n%s", ns, args, err, out)
			}
		}
	}
	lv := startPrivLibvirtd(t, d.path("libvirtd"), lvNS)

	gvDir, lvDir := d.path("gv"), d.path("lv")
	d.mustVirsh("define", exporterGuestXML(t, gvDir))
	d.mustVirsh("start", "demo")
	lv.mustVirsh("define", exporterGuestXML(t, lvDir))
	lv.mustVirsh("start", "demo")
	// Each daemon's cleanup kills the qemu it left, should the test stop
	// before it destroys them.

	gv := scrapeExporter(t, exporter, d.uri())
	lvm := scrapeExporter(t, exporter, lv.uri())
	for name, m := range map[string]metrics{"govirtd": gv, "libvirtd": lvm} {
		checkExporterValues(t, name, m)
	}
	mask := func(m metrics, dir string) map[string][]string {
		out := map[string][]string{}
		for fam, samples := range m {
			for _, s := range samples {
				out[fam] = append(out[fam], strings.ReplaceAll(s.labels, dir+"/", "DIR/"))
			}
			sort.Strings(out[fam])
		}
		return out
	}
	g, l := mask(gv, gvDir), mask(lvm, lvDir)
	var fams []string
	for f := range g {
		fams = append(fams, f)
	}
	for f := range l {
		if _, ok := g[f]; !ok {
			fams = append(fams, f)
		}
	}
	sort.Strings(fams)
	var diffs []string
	for _, f := range fams {
		if strings.Join(g[f], "\n") != strings.Join(l[f], "\n") {
			diffs = append(diffs, fmt.Sprintf("%s:\n  govirtd  %v\n  libvirtd %v", f, g[f], l[f]))
		}
	}
	if len(diffs) > 0 {
		t.Errorf("%d of %d metric families differ:\n%s", len(diffs), len(fams), strings.Join(diffs, "\n"))
	}
	for _, f := range []string{"libvirt_domain_block_stats_read_bytes_total", "libvirt_domain_interface_stats_receive_bytes_total"} {
		if len(g[f]) == 0 {
			t.Errorf("govirtd's scrape has no %s", f)
		}
	}
	compareMonitoringKeys(t, d, lv)
	compareVcpuOutputs(t, d, lv, "running") // its domstats: compareMonitoringKeys
	d.mustVirsh("destroy", "demo")
	lv.mustVirsh("destroy", "demo")
	compareVcpuOutputs(t, d, lv, "stopped", []string{"domstats", "demo", "--block"})
}

// vcpuTimesRE masks what vcpuinfo says of a running vCPU that differs
// from guest to guest: the host CPU it last ran on and its time.
var vcpuTimesRE = regexp.MustCompile(`(?m)^(CPU|CPU time):.*$`)

// compareVcpuOutputs runs the vCPU and pinning commands of virsh, and
// the more commands given, on both daemons' demo guest (in state,
// running or stopped); their outputs must be the same, the disk's
// directory and vcpuinfo's times masked.
func compareVcpuOutputs(t *testing.T, d *testDaemon, lv *privLibvirtd, state string, more ...[]string) {
	t.Helper()
	for _, args := range append(more, [][]string{
		{"vcpucount", "demo"},
		{"vcpuinfo", "demo"},
		{"vcpupin", "demo"},
		{"vcpupin", "demo", "--live"},
		{"vcpupin", "demo", "--config"},
		{"emulatorpin", "demo"},
		{"emulatorpin", "demo", "--config"},
	}...) {
		run := func(virsh func(...string) (string, error), dir string) string {
			out, err := virsh(args...)
			status := "ok"
			if err != nil {
				status = "failed"
			}
			out = strings.ReplaceAll(out, dir+"/", "DIR/")
			if args[0] == "vcpuinfo" {
				out = vcpuTimesRE.ReplaceAllString(out, "$1: MASKED")
			}
			return status + "\n" + out
		}
		g, l := run(d.virsh, d.path("gv")), run(lv.virsh, d.path("lv"))
		if g != l {
			t.Errorf("%s guest: virsh %s:\n--- govirtd\n%s\n--- libvirtd 9.0\n%s", state, strings.Join(args, " "), g, l)
		}
	}
}

// monitoringKnownDiffs are the statistics libvirtd 9.0 writes and
// govirtd does not, and why.
var monitoringKnownDiffs = map[string]string{
	"cpu.haltpoll.success.time": "KVM's halt-polling counters; the guests here are TCG",
	"cpu.haltpoll.fail.time":    "KVM's halt-polling counters; the guests here are TCG",
	"block.0.backingIndex":      "govirtd numbers no storage sources (<source index=…>) in the live XML",
	"dirtyrate.calc_status":     "the dirtyrate group (calc-dirty-rate) is not served",
	"dirtyrate.calc_start_time": "the dirtyrate group (calc-dirty-rate) is not served",
	"dirtyrate.calc_period":     "the dirtyrate group (calc-dirty-rate) is not served",
	"dirtyrate.calc_mode":       "the dirtyrate group (calc-dirty-rate) is not served",
}

// compareMonitoringKeys runs virsh's monitoring commands on the demo
// guest of both daemons and compares what they name (the keys of
// domstats, dommemstat, domblkstat, domifstat, vcpuinfo, nodecpustats;
// the values differ from guest to guest), but the known differences,
// each of which must still differ.
func compareMonitoringKeys(t *testing.T, d *testDaemon, lv *privLibvirtd) {
	t.Helper()
	tap := tapOf(t, d.mustVirsh("dumpxml", "demo"))
	if lvTap := tapOf(t, lv.mustVirsh("dumpxml", "demo")); lvTap != tap {
		t.Errorf("the guest's tap is %s on govirtd, %s on libvirtd", tap, lvTap)
	}
	seen := map[string]bool{}
	for _, step := range []struct {
		sep  string
		args []string
	}{
		{"=", []string{"domstats", "demo"}},
		{" ", []string{"dommemstat", "demo"}},
		{" ", []string{"domblkstat", "demo", "vda"}},
		{" ", []string{"domblkstat", "demo"}},
		{" ", []string{"domifstat", "demo", tap}},
		{":", []string{"vcpuinfo", "demo"}},
		{":", []string{"nodecpustats"}},
	} {
		gk := keyValues(d.mustVirsh(step.args...), step.sep)
		lk := keyValues(lv.mustVirsh(step.args...), step.sep)
		for k := range lk {
			if _, ok := gk[k]; ok {
				continue
			}
			if _, known := monitoringKnownDiffs[k]; known {
				seen[k] = true
				continue
			}
			t.Errorf("virsh %s: libvirtd writes %s, govirtd does not", strings.Join(step.args, " "), k)
		}
		for k := range gk {
			if _, ok := lk[k]; !ok {
				t.Errorf("virsh %s: govirtd writes %s, libvirtd does not", strings.Join(step.args, " "), k)
			}
		}
	}
	for k, why := range monitoringKnownDiffs {
		if !seen[k] {
			t.Errorf("the known difference %s (%s) is gone: drop it from monitoringKnownDiffs", k, why)
		}
	}
	// The monitor command: the same reply but for libvirt's "id".
	g := strings.TrimSpace(d.mustVirsh("qemu-monitor-command", "demo", `{"execute":"query-status"}`))
	l := strings.TrimSpace(lv.mustVirsh("qemu-monitor-command", "demo", `{"execute":"query-status"}`))
	if l = regexp.MustCompile(`,"id":"libvirt-[0-9]+"`).ReplaceAllString(l, ""); g != l {
		t.Errorf("qemu-monitor-command query-status: govirtd %s, libvirtd %s", g, l)
	}
}

// sample is one line of a Prometheus text exposition: its labels as
// written, and its value.
type sample struct {
	labels string
	value  float64
}

// metrics are a scrape's samples by metric name.
type metrics map[string][]sample

// scrapeExporter runs the exporter on uri, listening on a free loopback
// port, and returns its first complete /metrics answer; the exporter is
// stopped, by pid, before it returns.
func scrapeExporter(t *testing.T, bin, uri string) metrics {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "--web.listen-address="+addr, "--libvirt.uri="+uri)
	var log testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	var body string
	deadline := time.Now().Add(hang)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), hang)
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/metrics", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(data)
		}
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the exporter on %s does not answer on %s: %v\n%s", uri, addr, err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	m := metrics{}
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, "libvirt_") {
			continue // comments, and the exporter's own Go and process metrics
		}
		sp := strings.LastIndexByte(line, ' ')
		name, labels := line[:sp], ""
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name, labels = line[:i], line[i:sp]
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			t.Fatalf("the exporter's line %q: %v", line, err)
		}
		m[name] = append(m[name], sample{labels, v})
	}
	if len(m["libvirt_up"]) != 1 || m["libvirt_up"][0].value != 1 {
		t.Fatalf("the exporter on %s is not up:\n%s\n%s", uri, body, log.String())
	}
	return m
}

// checkExporterValues checks the values of a scrape of the running demo
// guest that are the same on every daemon.
func checkExporterValues(t *testing.T, daemon string, m metrics) {
	t.Helper()
	one := func(name string) float64 {
		if len(m[name]) != 1 {
			t.Errorf("%s: %s has %d samples, want 1", daemon, name, len(m[name]))
			return -1
		}
		return m[name][0].value
	}
	for name, want := range map[string]float64{
		"libvirt_domains_number":                   1,
		"libvirt_domain_state_code":                1, // running
		"libvirt_domain_info_virtual_cpus":         1,
		"libvirt_domain_info_maximum_memory_bytes": 64 << 20,
		"libvirt_domain_info_memory_usage_bytes":   64 << 20,
	} {
		if v := one(name); v != want {
			t.Errorf("%s: %s = %v, want %v", daemon, name, v, want)
		}
	}
	if v := one("libvirt_domain_info_cpu_time_seconds_total"); v <= 0 {
		t.Errorf("%s: cpu time %v of a running guest", daemon, v)
	}
	for name, samples := range m {
		for _, s := range samples {
			if s.value < 0 {
				t.Errorf("%s: %s%s = %v: a counter below zero", daemon, name, s.labels, s.value)
			}
		}
	}
}
