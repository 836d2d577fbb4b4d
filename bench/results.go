package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// Keys of the things measured, in Measure.Samples and Measure.Medians.
const (
	keyGovirtd  = "govirtd"        // govirtd, go-libvirt client
	keyLibvirtd = "libvirtd"       // libvirtd 9.0, go-libvirt client
	keyNull     = "null"           // the null server, go-libvirt client: the client ceiling
	keyRemote   = "govirtd_remote" // govirtd, govirtd's own remote client
)

// Results is what one run measured; it is written as JSON.
type Results struct {
	Date            string     `json:"date"`
	Mode            string     `json:"mode"` // "full" or "quick"
	Rounds          int        `json:"rounds"`
	SampleSeconds   float64    `json:"sample_seconds"` // length of one throughput sample
	DurationSeconds float64    `json:"duration_seconds"`
	Machine         Machine    `json:"machine"`
	Versions        Versions   `json:"versions"`
	Method          string     `json:"method"`
	Measures        []*Measure `json:"measures"`
	Targets         []Target   `json:"targets"`
}

// Machine describes where the run happened.
type Machine struct {
	Cores       int    `json:"cores"`
	CPU         string `json:"cpu"`
	Kernel      string `json:"kernel"`
	MemTotalMiB int    `json:"mem_total_mib"`
	LoadStart   string `json:"loadavg_start"` // /proc/loadavg before the run
	LoadEnd     string `json:"loadavg_end"`   // and after it
}

// Versions are the versions of what was compared.
type Versions struct {
	Libvirtd  string `json:"libvirtd"`
	Govirtd   string `json:"govirtd"`    // vcs revision of the govirtd binary
	GoLibvirt string `json:"go_libvirt"` // module version of the client
	Go        string `json:"go"`
}

// Measure is one row of the table: samples per key, one per round, and
// their medians.
type Measure struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Unit           string `json:"unit"`
	HigherIsBetter bool   `json:"higher_is_better"`
	// Samples are per key, one per round, in round order: Samples[a][i]
	// and Samples[b][i] were taken back to back.
	Samples map[string][]float64 `json:"samples"`
	Medians map[string]float64   `json:"medians"`
	// Ratio is govirtd / libvirtd: the median over rounds of the ratio of
	// the two samples of each round, which the drift of a shared machine
	// between rounds does not move. RatioOfMedians is the plain
	// median(govirtd) / median(libvirtd), for comparison.
	Ratio          *float64 `json:"ratio_govirtd_libvirtd,omitempty"`
	RatioOfMedians *float64 `json:"ratio_of_medians_govirtd_libvirtd,omitempty"`
	// CeilingRatio is govirtd / null server, both with go-libvirt, paired
	// by round in the same way: how close govirtd comes to the client's
	// own limit.
	CeilingRatio *float64 `json:"ratio_govirtd_ceiling,omitempty"`
}

func newMeasure(id, name, unit string, higher bool) *Measure {
	return &Measure{ID: id, Name: name, Unit: unit, HigherIsBetter: higher,
		Samples: map[string][]float64{}, Medians: map[string]float64{}}
}

func (m *Measure) add(key string, v float64) {
	m.Samples[key] = append(m.Samples[key], v)
}

// finish computes the medians and ratios.
func (m *Measure) finish() {
	for k, s := range m.Samples {
		m.Medians[k] = median(s)
	}
	m.Ratio = pairedRatio(m.Samples[keyGovirtd], m.Samples[keyLibvirtd])
	m.CeilingRatio = pairedRatio(m.Samples[keyGovirtd], m.Samples[m.floorKey()])
	x, okx := m.Medians[keyGovirtd]
	y, oky := m.Medians[keyLibvirtd]
	if okx && oky && y != 0 {
		r := x / y
		m.RatioOfMedians = &r
	}
}

// floorKey is what govirtd is held against besides libvirtd: the null
// server (the client's ceiling) for the protocol measures, bare qemu (the
// floor no daemon beats) for the QEMU ones.
func (m *Measure) floorKey() string {
	if _, ok := m.Samples[keyBare]; ok {
		return keyBare
	}
	return keyNull
}

// pairedRatio is the median of a[i]/b[i]; nil without pairs.
func pairedRatio(a, b []float64) *float64 {
	var rs []float64
	for i := range min(len(a), len(b)) {
		if b[i] != 0 {
			rs = append(rs, a[i]/b[i])
		}
	}
	if len(rs) == 0 {
		return nil
	}
	r := median(rs)
	return &r
}

// Target is one of the goals and whether this run reached it.
type Target struct {
	Goal string `json:"goal"`
	Got  string `json:"got"`
	Met  bool   `json:"met"`
}

func (r *Results) measure(id string) *Measure {
	for _, m := range r.Measures {
		if m.ID == id {
			return m
		}
	}
	return nil
}

// checkTargets evaluates the goals on the medians measured.
func (r *Results) checkTargets() {
	r.Targets = nil
	med := func(id, key string) (float64, bool) {
		m := r.measure(id)
		if m == nil {
			return 0, false
		}
		v, ok := m.Medians[key]
		return v, ok
	}
	if m := r.measure("1"); m != nil && m.CeilingRatio != nil {
		c := *m.CeilingRatio
		r.Targets = append(r.Targets, Target{"measure 1 within 15 % of the client ceiling",
			fmt.Sprintf("%.0f %% of the ceiling (medians %s vs %s calls/s)", 100*c,
				format(m.Medians[keyGovirtd], "calls/s"), format(m.Medians[keyNull], "calls/s")), c >= 0.85})
	}
	for _, id := range []string{"2", "3"} {
		if m := r.measure(id); m != nil && m.Ratio != nil {
			r.Targets = append(r.Targets, Target{"measure " + id + " at least 4× libvirtd",
				fmt.Sprintf("%.2f×", *m.Ratio), *m.Ratio >= 4})
		}
	}
	if m := r.measure("6-p99"); m != nil && m.Ratio != nil {
		r.Targets = append(r.Targets, Target{"event p99 at most half of libvirtd's",
			fmt.Sprintf("%.2f× (medians %s vs %s µs)", *m.Ratio, format(m.Medians[keyGovirtd], "µs"),
				format(m.Medians[keyLibvirtd], "µs")), *m.Ratio <= 0.5})
	}
	if g, ok := med("8-idle", keyGovirtd); ok {
		if l, ok := med("8-idle", keyLibvirtd); ok {
			r.Targets = append(r.Targets, Target{"idle RSS below libvirtd's",
				fmt.Sprintf("%s vs %s MiB", format(g, "MiB"), format(l, "MiB")), g < l})
		}
	}
	for _, q := range []struct {
		id    string
		slack float64
	}{{"9-start", 20}, {"9-destroy", 20}, {"9-shutdown", 20}, {"9-start10", 100}, {"9-destroy10", 100}} {
		g, ok1 := med(q.id, keyGovirtd)
		f, ok2 := med(q.id, keyBare)
		if ok1 && ok2 {
			r.Targets = append(r.Targets, Target{fmt.Sprintf("%s within %.0f ms of bare qemu", q.id, q.slack),
				fmt.Sprintf("%s vs %s ms (%+.1f ms)", format(g, "ms"), format(f, "ms"), g-f), g-f <= q.slack})
		}
		if m := r.measure(q.id); m != nil && m.Ratio != nil {
			r.Targets = append(r.Targets, Target{q.id + " at least 3× faster than libvirtd",
				fmt.Sprintf("%.3g× libvirtd's time", *m.Ratio), *m.Ratio <= 1.0/3})
		}
	}
	if m := r.measure("9-cpu"); m != nil && m.Ratio != nil {
		r.Targets = append(r.Targets, Target{"daemon CPU per QEMU operation at most a tenth of libvirtd's",
			fmt.Sprintf("%.3f× (medians %s vs %s ms)", *m.Ratio, format(m.Medians[keyGovirtd], "ms"), format(m.Medians[keyLibvirtd], "ms")), *m.Ratio <= 0.1})
	}
	if g, ok := med("1", keyRemote); ok {
		r.Targets = append(r.Targets, Target{"own client against govirtd ≥ 20 k sequential calls/s",
			format(g, "calls/s") + " calls/s", g >= 20000})
	}
}

// format renders a value of unit with as many digits as are meaningful.
func format(v float64, unit string) string {
	if math.IsNaN(v) {
		return "–"
	}
	switch {
	case unit == "calls/s" || v >= 1000:
		return thousands(int64(math.Round(v)))
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// writeTable prints the results as a Markdown table, readable as it is
// and ready for the README.
func (r *Results) writeTable(w io.Writer) {
	fmt.Fprintf(w, "| # | measure | unit | govirtd | libvirtd 9.0 | govirtd / libvirtd, paired by round | client ceiling: go-libvirt vs null server; for QEMU rows bare qemu | govirtd, own client |\n")
	fmt.Fprintf(w, "|---|---|---|--:|--:|--:|--:|--:|\n")
	cell := func(m *Measure, key string) string {
		v, ok := m.Medians[key]
		if !ok {
			return ""
		}
		return format(v, m.Unit)
	}
	for _, m := range r.Measures {
		ratio := ""
		if m.Ratio != nil {
			better := "lower is better"
			if m.HigherIsBetter {
				better = "higher is better"
			}
			ratio = fmt.Sprintf("%s× <sub>%s</sub>", ratioString(*m.Ratio), better)
		}
		ceiling := cell(m, m.floorKey())
		switch {
		case m.CeilingRatio == nil:
		case m.HigherIsBetter:
			ceiling += fmt.Sprintf(" <sub>govirtd at %.0f %%</sub>", 100**m.CeilingRatio)
		default:
			ceiling += fmt.Sprintf(" <sub>govirtd %.2f×</sub>", *m.CeilingRatio)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", strings.SplitN(m.ID, "-", 2)[0], m.Name, m.Unit,
			cell(m, keyGovirtd), cell(m, keyLibvirtd), ratio, ceiling, cell(m, keyRemote))
	}
	if len(r.Targets) > 0 {
		fmt.Fprintf(w, "\n| target | this run | met |\n|---|---|---|\n")
		for _, t := range r.Targets {
			met := "no"
			if t.Met {
				met = "yes"
			}
			fmt.Fprintf(w, "| %s | %s | %s |\n", t.Goal, t.Got, met)
		}
	}
	fmt.Fprintf(w, "\n%s, %d cores (%s), kernel %s, load average %s → %s; libvirtd %s, govirtd %s, go-libvirt %s, %s; %s run, %d rounds, %.0f s.\n",
		r.Date, r.Machine.Cores, r.Machine.CPU, r.Machine.Kernel, r.Machine.LoadStart, r.Machine.LoadEnd,
		r.Versions.Libvirtd, r.Versions.Govirtd, r.Versions.GoLibvirt, r.Versions.Go, r.Mode, r.Rounds, r.DurationSeconds)
}

// ratioString has two decimals, or three significant digits below 0.1
// (a destroy at 0.004× of libvirtd's is not 0.00×).
func ratioString(r float64) string {
	if r < 0.1 {
		return fmt.Sprintf("%.3g", r)
	}
	return fmt.Sprintf("%.2f", r)
}

// writeJSON writes the results to path, through a temporary file.
func (r *Results) writeJSON(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
