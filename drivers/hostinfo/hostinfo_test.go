package hostinfo

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"
)

func fakeRoot(t *testing.T, files map[string]string) Root {
	t.Helper()
	dir := t.TempDir()
	for p, data := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Root(dir)
}

// TestCPUMap: present CPUs 0-5 with 2 and 4-5 offline give 6 CPUs, 3
// online, bits 0, 1 and 3.
func TestCPUMap(t *testing.T) {
	r := fakeRoot(t, map[string]string{
		"sys/devices/system/cpu/present": "0-5\n",
		"sys/devices/system/cpu/online":  "0-1,3\n",
	})
	n, bitmap, online, err := r.CPUMap()
	if err != nil || n != 6 || online != 3 || !reflect.DeepEqual(bitmap, []byte{0b1011}) {
		t.Fatalf("CPUMap = %d, %08b, %d, %v; want 6, 00001011, 3", n, bitmap, online, err)
	}
	if _, err := CPUList("3-1"); err == nil {
		t.Error("CPUList accepted a backwards range")
	}
}

// TestCPUStats: /proc/stat's jiffies become libvirt's four values in
// nanoseconds (USER_HZ 100), for all CPUs or one; a CPU the host lacks
// is an error.
func TestCPUStats(t *testing.T) {
	r := fakeRoot(t, map[string]string{"proc/stat": "cpu  10 2 30 400 5 6 7 0 0 0\ncpu0 1 0 3 40 0 0 0 0 0 0\nintr 1\n"})
	got, err := r.CPUStats(-1)
	want := []Stat{{"kernel", 430_000_000}, {"user", 120_000_000}, {"idle", 4_000_000_000}, {"iowait", 50_000_000}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("all CPUs: %v, %v; want %v", got, err, want)
	}
	if got, err := r.CPUStats(0); err != nil || got[2] != (Stat{"idle", 400_000_000}) {
		t.Fatalf("cpu0: %v, %v", got, err)
	}
	if _, err := r.CPUStats(7); err == nil {
		t.Fatal("cpu7 of a 1-CPU host answered")
	}
}

// TestMemoryStats: the host's four values in /proc/meminfo's order, a
// NUMA cell's two, and a cell the host lacks is an error.
func TestMemoryStats(t *testing.T) {
	r := fakeRoot(t, map[string]string{
		"proc/meminfo":                          "MemTotal:  1000 kB\nMemFree:  200 kB\nMemAvailable: 500 kB\nBuffers:  30 kB\nCached:  400 kB\nSwapCached: 0 kB\n",
		"sys/devices/system/node/node0/meminfo": "Node 0 MemTotal:  1000 kB\nNode 0 MemFree:  200 kB\nNode 0 MemUsed: 800 kB\n",
	})
	got, err := r.MemoryStats(-1)
	if want := []Stat{{"total", 1000}, {"free", 200}, {"buffers", 30}, {"cached", 400}}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("host: %v, %v; want %v", got, err, want)
	}
	if got, err := r.MemoryStats(0); err != nil || !reflect.DeepEqual(got, []Stat{{"total", 1000}, {"free", 200}}) {
		t.Fatalf("cell 0: %v, %v", got, err)
	}
	if _, err := r.MemoryStats(3); err == nil {
		t.Fatal("cell 3 answered")
	}
}

// TestThisHost: the real host's /proc and /sys read, with as many CPUs
// as Go sees.
func TestThisHost(t *testing.T) {
	var r Root
	n, _, online, err := r.CPUMap()
	if err != nil || online != runtime.NumCPU() || n < online {
		t.Fatalf("this host: %d CPUs, %d online, %v; Go sees %d", n, online, err, runtime.NumCPU())
	}
	if _, err := r.CPUStats(-1); err != nil {
		t.Fatal(err)
	}
	if s, err := r.MemoryStats(-1); err != nil || len(s) != 4 {
		t.Fatalf("memory: %v, %v", s, err)
	}
	if free, err := FreeMemory(); err != nil || free == 0 {
		t.Fatalf("free memory %d, %v", free, err)
	}
}
