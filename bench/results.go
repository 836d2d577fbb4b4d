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
	ID             string               `json:"id"`
	Name           string               `json:"name"`
	Unit           string               `json:"unit"`
	HigherIsBetter bool                 `json:"higher_is_better"`
	Samples        map[string][]float64 `json:"samples"`
	Medians        map[string]float64   `json:"medians"`
	// Ratio is median(govirtd) / median(libvirtd).
	Ratio *float64 `json:"ratio_govirtd_libvirtd,omitempty"`
	// CeilingRatio is median(govirtd) / median(null server), both with
	// go-libvirt: how close govirtd comes to the client's own limit.
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
	ratio := func(a, b string) *float64 {
		x, okx := m.Medians[a]
		y, oky := m.Medians[b]
		if !okx || !oky || y == 0 {
			return nil
		}
		r := x / y
		return &r
	}
	m.Ratio = ratio(keyGovirtd, keyLibvirtd)
	m.CeilingRatio = ratio(keyGovirtd, keyNull)
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
	if g, ok := med("1", keyGovirtd); ok {
		if n, ok := med("1", keyNull); ok {
			r.Targets = append(r.Targets, Target{"measure 1 within 15 % of the client ceiling",
				fmt.Sprintf("%.0f %% of the ceiling (%s vs %s calls/s)", 100*g/n, format(g, "calls/s"), format(n, "calls/s")), g >= 0.85*n})
		}
	}
	for _, id := range []string{"2", "3"} {
		g, ok1 := med(id, keyGovirtd)
		l, ok2 := med(id, keyLibvirtd)
		if ok1 && ok2 {
			r.Targets = append(r.Targets, Target{"measure " + id + " at least 4× libvirtd",
				fmt.Sprintf("%.2f×", g/l), g >= 4*l})
		}
	}
	if g, ok := med("6-p99", keyGovirtd); ok {
		if l, ok := med("6-p99", keyLibvirtd); ok {
			r.Targets = append(r.Targets, Target{"event p99 at most half of libvirtd's",
				fmt.Sprintf("%.2f× (%s vs %s µs)", g/l, format(g, "µs"), format(l, "µs")), g <= 0.5*l})
		}
	}
	if g, ok := med("8-idle", keyGovirtd); ok {
		if l, ok := med("8-idle", keyLibvirtd); ok {
			r.Targets = append(r.Targets, Target{"idle RSS below libvirtd's",
				fmt.Sprintf("%s vs %s MiB", format(g, "MiB"), format(l, "MiB")), g < l})
		}
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
	fmt.Fprintf(w, "| # | measure | unit | govirtd | libvirtd 9.0 | govirtd / libvirtd | client ceiling (null server) | govirtd, own client |\n")
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
			ratio = fmt.Sprintf("%.2f× <sub>%s</sub>", *m.Ratio, better)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", strings.SplitN(m.ID, "-", 2)[0], m.Name, m.Unit,
			cell(m, keyGovirtd), cell(m, keyLibvirtd), ratio, cell(m, keyNull), cell(m, keyRemote))
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
