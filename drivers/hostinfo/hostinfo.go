// Package hostinfo reads what the host's kernel says about its CPUs and
// memory (/proc and /sys), as libvirt's node calls report it, for the
// drivers that run guests on this host (QEMU, and Xen's dom0).
package hostinfo

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Root is prefixed to every path read: "" on a real host, a directory
// holding a fake /proc and /sys in tests.
type Root string

func (r Root) path(p string) string { return filepath.Join(string(r), p) }

// CPUList parses the kernel's CPU list format ("0-3,5,7-8").
func CPUList(s string) ([]int, error) {
	var out []int
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("bad CPU list %q", s)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("bad CPU list %q", s)
			}
		}
		for i := a; i <= b; i++ {
			out = append(out, i)
		}
	}
	return out, nil
}

// CPUMap is virNodeGetCPUMap's answer: the number of CPUs the host has
// (present ones, as one past the highest id), a bitmap with a bit set
// for each online CPU, and how many are online.
func (r Root) CPUMap() (ncpus int, bitmap []byte, online int, err error) {
	present, err := r.readCPUList("/sys/devices/system/cpu/present")
	if err != nil {
		return 0, nil, 0, err
	}
	on, err := r.readCPUList("/sys/devices/system/cpu/online")
	if err != nil {
		return 0, nil, 0, err
	}
	for _, c := range present {
		ncpus = max(ncpus, c+1)
	}
	bitmap = make([]byte, (ncpus+7)/8)
	for _, c := range on {
		if c < ncpus {
			bitmap[c/8] |= 1 << (c % 8)
			online++
		}
	}
	return ncpus, bitmap, online, nil
}

func (r Root) readCPUList(p string) ([]int, error) {
	data, err := os.ReadFile(r.path(p))
	if err != nil {
		return nil, fmt.Errorf("cannot read the host's CPUs: %w", err)
	}
	return CPUList(string(data))
}

// Stat is one named value of a node statistic.
type Stat struct {
	Field string
	Value uint64
}

// CPUStatsCount is how many values CPUStats gives.
const CPUStatsCount = 4

// CPUStats is virNodeGetCPUStats's answer from /proc/stat for one CPU,
// or all of them when cpu is -1: kernel (system, irq and softirq time),
// user (user and nice), idle and iowait, in nanoseconds.
func (r Root) CPUStats(cpu int) ([]Stat, error) {
	f, err := os.Open(r.path("/proc/stat"))
	if err != nil {
		return nil, fmt.Errorf("cannot read the host's CPU times: %w", err)
	}
	defer f.Close()
	want := "cpu "
	if cpu >= 0 {
		want = fmt.Sprintf("cpu%d ", cpu)
	}
	tick := uint64(1e9 / clockTicks())
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		if !strings.HasPrefix(line, want) {
			continue
		}
		var v [7]uint64 // user nice system idle iowait irq softirq
		fields := strings.Fields(line[len(want):])
		for i := 0; i < len(v) && i < len(fields); i++ {
			v[i], _ = strconv.ParseUint(fields[i], 10, 64)
		}
		if len(fields) < 4 {
			return nil, fmt.Errorf("/proc/stat's line for %q is short: %q", strings.TrimSpace(want), line)
		}
		return []Stat{
			{"kernel", (v[2] + v[5] + v[6]) * tick},
			{"user", (v[0] + v[1]) * tick},
			{"idle", v[3] * tick},
			{"iowait", v[4] * tick},
		}, nil
	}
	return nil, fmt.Errorf("no CPU %d on this host (/proc/stat has no %q line)", cpu, strings.TrimSpace(want))
}

// clockTicks is USER_HZ, the unit of /proc/stat: 100 on Linux for every
// architecture this runs on (sysconf(_SC_CLK_TCK)).
func clockTicks() int64 { return 100 }

// MemoryStats is virNodeGetMemoryStats's answer in KiB: for the whole
// host (cell -1) total, free, buffers and cached from /proc/meminfo;
// for a NUMA cell its total and free.
func (r Root) MemoryStats(cell int) ([]Stat, error) {
	p, prefix := r.path("/proc/meminfo"), ""
	fields := map[string]string{"MemTotal:": "total", "MemFree:": "free", "Buffers:": "buffers", "Cached:": "cached"}
	if cell >= 0 {
		p = r.path(fmt.Sprintf("/sys/devices/system/node/node%d/meminfo", cell))
		prefix = fmt.Sprintf("Node %d ", cell)
		fields = map[string]string{"MemTotal:": "total", "MemFree:": "free"}
	}
	data, err := os.ReadFile(p)
	if err != nil {
		if cell >= 0 && os.IsNotExist(err) {
			return nil, fmt.Errorf("cell %d does not exist on this host", cell)
		}
		return nil, fmt.Errorf("cannot read the host's memory: %w", err)
	}
	var out []Stat
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimPrefix(line, prefix)
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, ok := fields[f[0]]
		if !ok {
			continue
		}
		v, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			continue
		}
		out = append(out, Stat{name, v})
		delete(fields, f[0])
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no available memory line found in %s", p)
	}
	return out, nil
}

// FreeMemory is the host's free memory in bytes (virNodeGetFreeMemory).
func FreeMemory() (uint64, error) {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return 0, err
	}
	return uint64(si.Freeram) * uint64(si.Unit), nil
}

// Alive reports whether pid is a live process. A zombie is dead: the
// process exited and nobody reaped it yet (after a daemon restart qemu is
// no child of ours, nor a daemonised dnsmasq, and PID 1 may not reap it
// either).
func Alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses and may
	// itself contain them.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 || i+2 >= len(data) {
		return false
	}
	state := data[i+2]
	return state != 'Z' && state != 'X'
}
