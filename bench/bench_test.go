package main

import (
	"bytes"
	"encoding/json"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/govirt/govirtd/internal/testdaemon"

	"github.com/govirt/govirtd/daemon"
	"github.com/govirt/govirtd/drivers/network"
	"github.com/govirt/govirtd/drivers/qemu"
	"github.com/govirt/govirtd/drivers/storage"
)

func TestPercentile(t *testing.T) {
	for _, c := range []struct {
		xs   []float64
		p    float64
		want float64
	}{
		{[]float64{3, 1, 2}, 50, 2},
		{[]float64{4, 1, 3, 2}, 50, 2.5},
		{[]float64{5}, 99, 5},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 0, 1},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 100, 11},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 90, 10},
	} {
		if got := percentile(c.xs, c.p); got != c.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", c.xs, c.p, got, c.want)
		}
	}
	if !math.IsNaN(median(nil)) {
		t.Error("median of nothing is not NaN")
	}
	xs := []float64{3, 1, 2}
	median(xs)
	if xs[0] != 3 {
		t.Error("median sorted its argument in place")
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		v    float64
		unit string
		want string
	}{
		{12345.4, "calls/s", "12,345"},
		{999.6, "calls/s", "1,000"},
		{1234567, "µs", "1,234,567"},
		{312.4, "µs", "312"},
		{52.94, "µs", "52.9"},
		{7.264, "MiB", "7.26"},
		{math.NaN(), "ms", "–"},
	} {
		if got := format(c.v, c.unit); got != c.want {
			t.Errorf("format(%v, %q) = %q, want %q", c.v, c.unit, got, c.want)
		}
	}
}

// TestResults checks medians, ratios, targets, the table and the JSON.
func TestResults(t *testing.T) {
	m1 := newMeasure("1", "sequential", "calls/s", true)
	for _, v := range []float64{20000, 22000, 21000} {
		m1.add(keyGovirtd, v)
		m1.add(keyNull, v+2000)
		m1.add(keyLibvirtd, v/4)
		m1.add(keyRemote, v)
	}
	m6 := newMeasure("6-p99", "event p99", "µs", false)
	m6.add(keyGovirtd, 100)
	m6.add(keyLibvirtd, 300)
	m8 := newMeasure("8-idle", "idle RSS", "MiB", false)
	m8.add(keyGovirtd, 30)
	m8.add(keyLibvirtd, 20)
	r := &Results{Measures: []*Measure{m1, m6, m8}, Mode: "quick", Rounds: 3}
	for _, m := range r.Measures {
		m.finish()
	}
	r.checkTargets()

	if m1.Medians[keyGovirtd] != 21000 || *m1.Ratio != 4 || math.Abs(*m1.CeilingRatio-21000.0/23000) > 1e-9 {
		t.Errorf("measure 1: medians %v, ratio %v, ceiling ratio %v", m1.Medians, *m1.Ratio, *m1.CeilingRatio)
	}
	met := map[string]bool{}
	for _, tg := range r.Targets {
		met[tg.Goal] = tg.Met
	}
	want := map[string]bool{
		"measure 1 within 15 % of the client ceiling":          true,
		"event p99 at most half of libvirtd's":                 true,
		"idle RSS below libvirtd's":                            false,
		"own client against govirtd ≥ 20 k sequential calls/s": true,
	}
	if len(met) != len(want) {
		t.Errorf("targets %v, want %v", met, want)
	}
	for g, w := range want {
		if m, ok := met[g]; !ok || m != w {
			t.Errorf("target %q: met %v (present %v), want %v", g, m, ok, w)
		}
	}

	var table bytes.Buffer
	r.writeTable(&table)
	for _, s := range []string{"| 1 | sequential | calls/s | 21,000 | 5,250 | 4.00×", "| 6 | event p99 | µs | 100 | 300 | 0.33×", "| idle RSS below libvirtd's | 30.0 vs 20.0 MiB | no |"} {
		if !strings.Contains(table.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, table.String())
		}
	}

	path := filepath.Join(t.TempDir(), "results", "latest.json")
	if err := r.writeJSON(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back Results
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Measures) != 3 || back.Measures[0].Medians[keyNull] != 23000 || *back.Measures[1].Ratio != 1.0/3 {
		t.Errorf("JSON round trip: %s", data)
	}
}

// TestNullServer drives the null server with go-libvirt, as the
// benchmark's client-ceiling row does.
func TestNullServer(t *testing.T) {
	sock := filepath.Join(shortTempDir(t), "null-sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- serveNull(l) }()
	defer func() {
		l.Close()
		if err := <-done; err != nil {
			t.Errorf("serveNull: %v", err)
		}
	}()
	cs, err := dialMany(goLibvirtClient, sock, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll(cs)
	v, _, err := throughput(50*time.Millisecond, cs, 4)
	if err != nil || v <= 0 {
		t.Fatalf("throughput against the null server: %v, %v", v, err)
	}

	// Its domain "test" raises lifecycle events for two subscribers.
	rig, err := newEventRig(sock, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer rig.close()
	lat, err := rig.sample(3)
	if err != nil || len(lat) != 6 {
		t.Fatalf("events from the null server: %v, %v", lat, err)
	}
}

// TestGovirtdThroughput runs the throughput loop of measures 1–3 with
// both clients against an in-process govirtd.
func TestGovirtdThroughput(t *testing.T) {
	sock := testdaemon.Start(t, testdaemon.Options{}).RW()
	for _, k := range []clientKind{goLibvirtClient, remoteClient} {
		cs, err := dialMany(k, sock, 2)
		if err != nil {
			t.Fatalf("%s: %v", k.name, err)
		}
		v, _, err := throughput(50*time.Millisecond, cs, 2)
		closeAll(cs)
		if err != nil || v <= 0 {
			t.Fatalf("%s: %v calls/s, %v", k.name, v, err)
		}
	}
}

func TestConfigs(t *testing.T) {
	lv := libvirtdConf("/tmp/x")
	for _, s := range []string{`unix_sock_dir = "/tmp/x"`, `auth_unix_rw = "none"`, `log_outputs = "3:file:/tmp/x/libvirtd.log"`} {
		if !strings.Contains(lv, s) {
			t.Errorf("libvirtd.conf lacks %s:\n%s", s, lv)
		}
	}
	drv := qemu.New(qemu.Config{}, nil)
	sd := storage.New(storage.Config{}, nil)
	nd := network.New(network.Config{}, nil)
	cfg, err := daemon.ParseConfig("govirtd.conf", govirtdConf("/tmp/y"), drv, sd, nd)
	if err != nil || cfg.UnixSockDir != "/tmp/y" || len(cfg.Warnings) != 0 {
		t.Errorf("govirtd config: %+v, %v", cfg, err)
	}
	if sc := sd.Config(); !strings.HasPrefix(sc.ConfigDir, "/tmp/y/") || !strings.HasPrefix(sc.StateDir, "/tmp/y/") {
		t.Errorf("govirtd config: storage paths %q, %q outside the daemon's directory", sc.ConfigDir, sc.StateDir)
	}
	if nc := nd.Config(); !strings.HasPrefix(nc.ConfigDir, "/tmp/y/") || !strings.HasPrefix(nc.StateDir, "/tmp/y/") || !nc.NoDefault {
		t.Errorf("govirtd config: network paths %q, %q outside the daemon's directory, or a default network (%v)", nc.ConfigDir, nc.StateDir, !nc.NoDefault)
	}
	q := drv.Config()
	for _, p := range []string{q.Binary, q.ConfigDir, q.AutostartDir, q.StateDir, q.LogDir} {
		if !strings.HasPrefix(p, "/tmp/y/") {
			t.Errorf("govirtd config: QEMU path %q outside the daemon's directory", p)
		}
	}
}

// shortTempDir is a temporary directory with a path short enough for a
// unix socket.
func shortTempDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "bench-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
