package qemu_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestStatsCrossChecked: for a running guest with a disk, a balloon and
// an interface on a bridge, what virsh domstats (all groups),
// dommemstat, domblkstat, domifstat, vcpuinfo, nodecpumap and
// nodecpustats print is what qemu itself answers (virsh
// qemu-monitor-command: query-blockstats, query-block, query-balloon,
// the balloon's guest-stats, query-cpus-fast) and what /proc and /sys
// say of qemu's process, its vCPU threads, the tap and the host. A
// counter that may grow meanwhile is read before and after virsh's
// answer, which must lie between the two.
func TestStatsCrossChecked(t *testing.T) {
	d := newNetDaemon(t)
	d.configure("network_define_default = 0")
	d.start()
	for _, args := range [][]string{{"link", "add", "gvbr0", "type", "bridge"}, {"link", "set", "gvbr0", "up"}} {
		if out, err := runCmd("ip", append([]string{"-n", d.netns}, args...)...); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	xml := readFile(t, exporterGuestXML(t, d.path("guest")))
	writeFile(t, d.path("demo-stats.xml"), xml)
	disk := d.path("guest", "disk.img")
	d.mustVirsh("define", d.path("demo-stats.xml"))

	// The monitor command on a guest that does not run.
	if out, err := d.virsh("qemu-monitor-command", "demo", `{"execute":"query-status"}`); err == nil || !strings.Contains(out, "not running") {
		t.Errorf("qemu-monitor-command on a stopped guest: %v\n%s", err, out)
	}
	d.mustVirsh("start", "demo")
	defer d.mustVirsh("destroy", "demo")
	pid := d.qemuPIDs()["demo"]
	if pid == 0 {
		t.Fatal("no pid of demo's qemu in the status files")
	}

	// qemu-monitor-command itself: qemu's reply, its errors as answers.
	var status struct {
		Status  string `json:"status"`
		Running bool   `json:"running"`
	}
	qmpReturn(t, d, `{"execute":"query-status"}`, &status)
	if status.Status != "running" || !status.Running {
		t.Errorf("query-status: %+v", status)
	}
	if out := strings.TrimSpace(d.mustVirsh("qemu-monitor-command", "demo", `{"execute":"no-such-command"}`)); !strings.Contains(out, `"class":"CommandNotFound"`) {
		t.Errorf("an unknown QMP command answered %s, want qemu's CommandNotFound error", out)
	}
	if out := d.mustVirsh("qemu-monitor-command", "demo", "--hmp", "info status"); !strings.Contains(out, "VM status: running") {
		t.Errorf("--hmp info status: %q", out)
	}

	// The balloon, from qemu and from the guest's balloon driver.
	var balloon struct {
		Actual uint64 `json:"actual"`
	}
	qmpReturn(t, d, `{"execute":"query-balloon"}`, &balloon)
	var guestStats struct {
		LastUpdate uint64 `json:"last-update"`
	}
	qmpReturn(t, d, `{"execute":"qom-get","arguments":{"path":"/machine/peripheral/balloon0","property":"guest-stats"}}`, &guestStats)
	rss0 := procRSSKiB(t, pid)
	mem := keyValues(d.mustVirsh("dommemstat", "demo"), " ")
	rss1 := procRSSKiB(t, pid)
	if mem["actual"] != strconv.FormatUint(balloon.Actual/1024, 10) || mem["last_update"] != strconv.FormatUint(guestStats.LastUpdate, 10) {
		t.Errorf("dommemstat %v; qemu: balloon %d bytes, last update %d", mem, balloon.Actual, guestStats.LastUpdate)
	}
	checkNear(t, "dommemstat rss", mem["rss"], rss0, rss1)

	// The disk, from query-block and query-blockstats.
	drive := driveOf(t, d, disk)
	before := blockStatsOf(t, d, drive)
	blk := keyValues(d.mustVirsh("domblkstat", "demo", "vda"), " ")
	after := blockStatsOf(t, d, drive)
	for virshKey, qmpKey := range map[string]string{"vda rd_req": "rd_operations", "vda rd_bytes": "rd_bytes", "vda wr_req": "wr_operations",
		"vda wr_bytes": "wr_bytes", "vda flush_operations": "flush_operations", "vda rd_total_times": "rd_total_time_ns",
		"vda wr_total_times": "wr_total_time_ns", "vda flush_total_times": "flush_total_time_ns"} {
		checkBetween(t, "domblkstat "+virshKey, blk[virshKey], before[qmpKey], after[qmpKey])
	}

	// The tap, from the host's side: what it sends the guest receives.
	tap := tapOf(t, d.mustVirsh("dumpxml", "demo"))
	tapBefore := tapCounters(t, d, tap)
	ifs := keyValues(d.mustVirsh("domifstat", "demo", tap), " ")
	tapAfter := tapCounters(t, d, tap)
	for virshKey, sysKey := range map[string]string{"rx_bytes": "tx_bytes", "rx_packets": "tx_packets", "rx_errs": "tx_errors", "rx_drop": "tx_dropped",
		"tx_bytes": "rx_bytes", "tx_packets": "rx_packets", "tx_errs": "rx_errors", "tx_drop": "rx_dropped"} {
		checkBetween(t, "domifstat "+virshKey, ifs[tap+" "+virshKey], tapBefore[sysKey], tapAfter[sysKey])
	}

	// vCPU threads, from query-cpus-fast, and their times in /proc.
	var cpus []struct {
		Index  int `json:"cpu-index"`
		Thread int `json:"thread-id"`
	}
	qmpReturn(t, d, `{"execute":"query-cpus-fast"}`, &cpus)
	if len(cpus) != 1 {
		t.Fatalf("query-cpus-fast: %+v, want the guest's one vCPU", cpus)
	}
	vcpuStat := fmt.Sprintf("/proc/%d/task/%d/stat", pid, cpus[0].Thread)
	vt0, _ := procCPU(t, vcpuStat)
	info := keyValues(d.mustVirsh("vcpuinfo", "demo"), ":")
	vt1, _ := procCPU(t, vcpuStat)
	secs, err := strconv.ParseFloat(strings.TrimSuffix(info["CPU time"], "s"), 64)
	// virsh prints the time to a tenth of a second.
	if err != nil || secs < float64(vt0)/1e9-0.05 || secs > float64(vt1)/1e9+0.05 {
		t.Errorf("vcpuinfo CPU time %q, the vCPU thread's /proc time %d..%d ns", info["CPU time"], vt0, vt1)
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(cpus[0].Thread, &set); err != nil {
		t.Fatal(err)
	}
	online := onlineCPUs(t)
	affinity := ""
	for _, cpu := range online {
		if set.IsSet(cpu) {
			affinity += "y"
		} else {
			affinity += "-"
		}
	}
	if info["VCPU"] != "0" || info["State"] != "running" || info["CPU Affinity"] != affinity {
		t.Errorf("vcpuinfo %v; the thread's affinity is %s", info, affinity)
	}
	if n, err := strconv.Atoi(info["CPU"]); err != nil || n < 0 || n >= len(online) {
		t.Errorf("vcpuinfo CPU %q: not one of the host's %d CPUs", info["CPU"], len(online))
	}

	// Every group of domstats at once.
	cpu0, _ := procCPU(t, fmt.Sprintf("/proc/%d/stat", pid))
	vt0, _ = procCPU(t, vcpuStat)
	before, tapBefore, rss0 = blockStatsOf(t, d, drive), tapCounters(t, d, tap), procRSSKiB(t, pid)
	st := keyValues(d.mustVirsh("domstats", "demo"), "=")
	after, tapAfter, rss1 = blockStatsOf(t, d, drive), tapCounters(t, d, tap), procRSSKiB(t, pid)
	cpu1, _ := procCPU(t, fmt.Sprintf("/proc/%d/stat", pid))
	vt1, _ = procCPU(t, vcpuStat)
	fi, err := os.Stat(disk)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"state.state": "1", "state.reason": "1", // running, booted
		"balloon.current": strconv.FormatUint(balloon.Actual/1024, 10), "balloon.maximum": "65536",
		"balloon.last-update": strconv.FormatUint(guestStats.LastUpdate, 10),
		"vcpu.current":        "1", "vcpu.maximum": "1", "vcpu.0.state": "1",
		"net.count": "1", "net.0.name": tap,
		"block.count": "1", "block.0.name": "vda", "block.0.path": disk,
		"block.0.capacity": strconv.FormatInt(blockCapacity(t, d, drive), 10), "block.0.physical": strconv.FormatInt(fi.Size(), 10),
	}
	for k, v := range want {
		if st[k] != v {
			t.Errorf("domstats %s = %q, want %q", k, st[k], v)
		}
	}
	checkBetween(t, "domstats cpu.time", st["cpu.time"], cpu0, cpu1)
	checkBetween(t, "domstats vcpu.0.time", st["vcpu.0.time"], vt0, vt1)
	checkNear(t, "domstats balloon.rss", st["balloon.rss"], rss0, rss1)
	for k, q := range map[string]string{"rd.reqs": "rd_operations", "rd.bytes": "rd_bytes", "rd.times": "rd_total_time_ns",
		"wr.reqs": "wr_operations", "wr.bytes": "wr_bytes", "wr.times": "wr_total_time_ns", "fl.reqs": "flush_operations",
		"fl.times": "flush_total_time_ns", "allocation": "wr_highest_offset"} {
		checkBetween(t, "domstats block.0."+k, st["block.0."+k], before[q], after[q])
	}
	for k, s := range map[string]string{"rx.bytes": "tx_bytes", "rx.pkts": "tx_packets", "rx.errs": "tx_errors", "rx.drop": "tx_dropped",
		"tx.bytes": "rx_bytes", "tx.pkts": "rx_packets", "tx.errs": "rx_errors", "tx.drop": "rx_dropped"} {
		checkBetween(t, "domstats net.0."+k, st["net.0."+k], tapBefore[s], tapAfter[s])
	}
	if user, sys, total := atoi(st["cpu.user"]), atoi(st["cpu.system"]), atoi(st["cpu.time"]); user+sys != total {
		t.Errorf("domstats cpu.user %d + cpu.system %d != cpu.time %d", user, sys, total)
	}

	// The host: its CPUs from /sys, their times from /proc/stat.
	cm := keyValues(d.mustVirsh("nodecpumap"), ":")
	present := cpuList(t, "/sys/devices/system/cpu/present")
	cpuMap := ""
	for i := 0; i < len(present); i++ {
		if slices.Contains(online, i) {
			cpuMap += "y"
		} else {
			cpuMap += "-"
		}
	}
	if cm["CPUs present"] != strconv.Itoa(len(present)) || cm["CPUs online"] != strconv.Itoa(len(online)) || cm["CPU map"] != cpuMap {
		t.Errorf("nodecpumap %v; /sys: present %v, online %v", cm, present, online)
	}
	for _, which := range []string{"", "0"} {
		line := "cpu" + which + " "
		h0 := hostCPUTimes(t, line)
		args := []string{"nodecpustats"}
		if which != "" {
			args = append(args, which)
		}
		ns := keyValues(d.mustVirsh(args...), ":")
		h1 := hostCPUTimes(t, line)
		for _, k := range []string{"user", "system", "idle", "iowait"} {
			checkBetween(t, "nodecpustats "+which+" "+k, ns[k], h0[k], h1[k])
		}
	}
}

// qmpReturn runs a QMP command on demo's qemu with virsh
// qemu-monitor-command and decodes the reply's "return" into v.
func qmpReturn(t *testing.T, d *testDaemon, cmd string, v any) {
	t.Helper()
	out := d.mustVirsh("qemu-monitor-command", "demo", cmd)
	var reply struct {
		Return json.RawMessage `json:"return"`
		Error  json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &reply); err != nil || reply.Return == nil {
		t.Fatalf("qemu-monitor-command %s answered %q (%v)", cmd, out, err)
	}
	if err := json.Unmarshal(reply.Return, v); err != nil {
		t.Fatalf("qemu-monitor-command %s: %v\n%s", cmd, err, out)
	}
}

// driveOf is the qemu drive holding file (query-block).
func driveOf(t *testing.T, d *testDaemon, file string) string {
	t.Helper()
	var blocks []struct {
		Device   string `json:"device"`
		QDev     string `json:"qdev"`
		Inserted *struct {
			File string `json:"file"`
		} `json:"inserted"`
	}
	qmpReturn(t, d, `{"execute":"query-block"}`, &blocks)
	for _, b := range blocks {
		if b.Inserted != nil && b.Inserted.File == file {
			return b.Device
		}
	}
	t.Fatalf("query-block has no drive for %s: %+v", file, blocks)
	return ""
}

func blockCapacity(t *testing.T, d *testDaemon, drive string) int64 {
	t.Helper()
	var blocks []struct {
		Device   string `json:"device"`
		Inserted *struct {
			Image struct {
				VirtualSize int64 `json:"virtual-size"`
			} `json:"image"`
		} `json:"inserted"`
	}
	qmpReturn(t, d, `{"execute":"query-block"}`, &blocks)
	for _, b := range blocks {
		if b.Device == drive && b.Inserted != nil {
			return b.Inserted.Image.VirtualSize
		}
	}
	t.Fatalf("query-block has no drive %s", drive)
	return 0
}

// blockStatsOf is the drive's counters in query-blockstats.
func blockStatsOf(t *testing.T, d *testDaemon, drive string) map[string]uint64 {
	t.Helper()
	var stats []struct {
		Device string         `json:"device"`
		Stats  map[string]any `json:"stats"`
	}
	qmpReturn(t, d, `{"execute":"query-blockstats"}`, &stats)
	for _, s := range stats {
		if s.Device != drive {
			continue
		}
		m := map[string]uint64{}
		for k, v := range s.Stats {
			if f, ok := v.(float64); ok {
				m[k] = uint64(f)
			}
		}
		return m
	}
	t.Fatalf("query-blockstats has no drive %s", drive)
	return nil
}

// tapOf is the live XML's interface device (vnetN).
func tapOf(t *testing.T, xml string) string {
	t.Helper()
	m := regexp.MustCompile(`<target dev=["'](vnet[0-9]+)["']`).FindStringSubmatch(xml)
	if m == nil {
		t.Fatalf("no tap in the live XML:\n%s", xml)
	}
	return m[1]
}

// tapCounters are the tap's counters in /sys, in the daemon's network
// namespace.
func tapCounters(t *testing.T, d *testDaemon, tap string) map[string]uint64 {
	t.Helper()
	m := map[string]uint64{}
	for _, k := range []string{"rx_bytes", "rx_packets", "rx_errors", "rx_dropped", "tx_bytes", "tx_packets", "tx_errors", "tx_dropped"} {
		out, err := d.inNetns("cat", "/sys/class/net/"+tap+"/statistics/"+k)
		if err != nil {
			t.Fatalf("the counter %s of %s: %v\n%s", k, tap, err, out)
		}
		m[k] = atoi(strings.TrimSpace(out))
	}
	return m
}

// procCPU is a process's or thread's user+system time (ns) and the CPU
// it last ran on, from its /proc stat file (fields 14, 15 and 39).
func procCPU(t *testing.T, path string) (uint64, int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	cpu, _ := strconv.Atoi(f[36])
	return (atoi(f[11]) + atoi(f[12])) * 1e7, cpu // USER_HZ is 100
}

// procRSSKiB is a process's VmRSS.
func procRSSKiB(t *testing.T, pid int) uint64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	t.Fatalf("no VmRSS for pid %d", pid)
	return 0
}

// hostCPUTimes are /proc/stat's times of line ("cpu " or "cpuN ") in
// ns, summed as nodecpustats names them.
func hostCPUTimes(t *testing.T, line string) map[string]uint64 {
	t.Helper()
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(l, line) {
			continue
		}
		f := strings.Fields(l)[1:] // user nice system idle iowait irq softirq
		v := func(i int) uint64 { return atoi(f[i]) * 1e7 }
		return map[string]uint64{"user": v(0) + v(1), "system": v(2) + v(5) + v(6), "idle": v(3), "iowait": v(4)}
	}
	t.Fatalf("/proc/stat has no %q line", line)
	return nil
}

func onlineCPUs(t *testing.T) []int { return cpuList(t, "/sys/devices/system/cpu/online") }

// cpuList reads a CPU list file of /sys ("0-3,5").
func cpuList(t *testing.T, path string) []int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cpus []int
	for _, r := range strings.Split(strings.TrimSpace(string(data)), ",") {
		lo, hi, found := strings.Cut(r, "-")
		a, _ := strconv.Atoi(lo)
		b := a
		if found {
			b, _ = strconv.Atoi(hi)
		}
		for i := a; i <= b; i++ {
			cpus = append(cpus, i)
		}
	}
	return cpus
}

// keyValues parses virsh's "key<sep>value" lines, keys and values
// trimmed; with sep " " the value is the line's last word and the key
// the words before it.
func keyValues(out, sep string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		i := strings.Index(line, sep)
		if sep == " " {
			i = strings.LastIndex(line, sep)
		}
		if i <= 0 {
			continue
		}
		m[strings.TrimSpace(line[:i])] = strings.TrimSpace(line[i+len(sep):])
	}
	return m
}

func atoi(s string) uint64 {
	v, _ := strconv.ParseUint(s, 10, 64)
	return v
}

// checkBetween checks that the number virsh printed lies between what
// the source said before and after virsh ran.
func checkBetween(t *testing.T, what, got string, lo, hi uint64) {
	t.Helper()
	v, err := strconv.ParseUint(got, 10, 64)
	if err != nil || v < lo || v > hi {
		t.Errorf("%s = %q; the source said %d before and %d after", what, got, lo, hi)
	}
}

// checkNear checks a resident size, which may shrink as well as grow,
// against the sizes read before and after: within 10% of their range.
func checkNear(t *testing.T, what, got string, a, b uint64) {
	t.Helper()
	v, err := strconv.ParseUint(got, 10, 64)
	lo, hi := min(a, b), max(a, b)
	if err != nil || float64(v) < float64(lo)*0.9 || float64(v) > float64(hi)*1.1 {
		t.Errorf("%s = %q KiB; /proc said %d KiB before and %d KiB after", what, got, a, b)
	}
}
