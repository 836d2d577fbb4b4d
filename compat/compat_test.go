// Package compat_test is the differential test of govirtd's test driver
// against libvirt 9.0's: the same virsh command lines and the same
// read-only libvirt-python calls, in the same order, against a private
// real libvirtd 9.0 and an in-process govirtd, with exit status and
// output compared after masking what legitimately varies.
//
// A command libvirtd serves and govirtd does not is a gap: it must be
// listed in testdata/compat/gaps.txt with a reason, the honest measure of
// what remains. A command govirtd answers successfully with anything else
// than libvirtd's answer is a wrong answer and fails the test, unless
// gaps.txt lists it as a deliberate difference that the README explains,
// or as a cascade of a named earlier gap.
// `go test ./compat -update` rewrites gaps.txt's gap lines from the run
// (keeping their reasons); deliberate differences are written by hand.
package compat_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/compat/gaps.txt's gap lines from this run")

const dataDir = "../testdata/compat"

// kind is how govirtd's answer to one command compares with libvirtd's.
type kind int

const (
	same     kind = iota // same status, same masked output
	bothFail             // both fail; their messages may differ
	gap                  // libvirtd serves it, govirtd fails
	wrong                // govirtd succeeds with an answer libvirtd does not give
	extra                // govirtd succeeds where libvirtd fails
)

var kindNames = map[kind]string{same: "identical", bothFail: "both fail", gap: "gap", wrong: "differs", extra: "govirtd-only success"}

// gapsFile is testdata/compat/gaps.txt: one entry a line,
// "KIND | KEY | REASON", KIND gap or differs, KEY a script line or a
// python Class.method.
type gapsFile struct {
	reasons map[string]map[string]string // kind → key → reason
	order   []string                     // "kind|key" in file order
}

func readGaps(t *testing.T) *gapsFile {
	t.Helper()
	g := &gapsFile{reasons: map[string]map[string]string{"gap": {}, "differs": {}, "cascade": {}}}
	data, err := os.ReadFile(filepath.Join(dataDir, "gaps.txt"))
	if os.IsNotExist(err) {
		return g
	}
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.SplitN(line, " | ", 3)
		if len(f) != 3 || g.reasons[f[0]] == nil || strings.TrimSpace(f[2]) == "" {
			t.Fatalf("gaps.txt:%d: want \"gap|differs|cascade | KEY | REASON\", got %q", i+1, line)
		}
		g.reasons[f[0]][f[1]] = f[2]
		g.order = append(g.order, f[0]+"|"+f[1])
	}
	return g
}

// result is one comparison's outcome.
type result struct {
	key    string
	kind   kind
	detail string // what differs, for the failure message
}

// judge checks results against gaps.txt: a gap or a difference not
// listed fails, and so does a listed one that is no longer there (the
// list stays honest). It logs the summary figures and, with -update,
// rewrites the gap lines.
func judge(t *testing.T, what string, results []result, g *gapsFile, prefix string) {
	t.Helper()
	counts := map[kind]int{}
	seen := map[string]bool{}
	gapKeys := map[string]bool{}
	for _, r := range results {
		if r.kind == gap {
			gapKeys[r.key] = true
		}
	}
	for _, r := range results {
		counts[r.kind]++
		switch r.kind {
		case gap:
			seen["gap|"+r.key] = true
			if _, ok := g.reasons["gap"][r.key]; !ok && !*update {
				t.Errorf("%s: libvirtd serves it, govirtd fails, and gaps.txt does not list it (serve it, or add \"gap | %s | REASON\"):\n%s", r.key, r.key, r.detail)
			}
		case wrong, extra:
			if cause, ok := g.reasons["cascade"][r.key]; ok {
				seen["cascade|"+r.key] = true
				if !gapKeys[cause] {
					t.Errorf("%s: gaps.txt says it differs only because %q is a gap, but that is not a gap in this run:\n%s", r.key, cause, r.detail)
				}
				continue
			}
			seen["differs|"+r.key] = true
			if _, ok := g.reasons["differs"][r.key]; !ok {
				t.Errorf("%s: govirtd answers successfully but not as libvirtd does (%s); fix it, or list it as \"differs\" in gaps.txt and explain it in the README:\n%s", r.key, kindNames[r.kind], r.detail)
			}
		}
	}
	for k, byKey := range g.reasons {
		for key := range byKey {
			if !ownKey(key, prefix) {
				continue // the other test's entries
			}
			if !seen[k+"|"+key] && !*update {
				t.Errorf("gaps.txt lists %q as %s, but it is not one any more: remove the line", key, k)
			}
		}
	}
	t.Logf("%s: %d compared: %d identical, %d both fail, %d gaps (libvirtd serves, govirtd fails), %d differ, %d govirtd-only successes",
		what, len(results), counts[same], counts[bothFail], counts[gap], counts[wrong], counts[extra])
	if *update {
		g.setGaps(results, prefix)
	}
}

// ownKey reports whether a gaps.txt key belongs to the test whose keys
// have prefix: "py:" for python, "" for virsh (whose keys have none).
func ownKey(key, prefix string) bool {
	return strings.HasPrefix(key, "py:") == (prefix == "py:")
}

// setGaps replaces the gap entries of one test (python keys have prefix
// "py:", virsh ones none) with this run's, keeping known reasons.
func (g *gapsFile) setGaps(results []result, prefix string) {
	old := g.reasons["gap"]
	g.reasons["gap"] = map[string]string{}
	for key, reason := range old {
		if !ownKey(key, prefix) {
			g.reasons["gap"][key] = reason
		}
	}
	for _, r := range results {
		if r.kind == gap {
			reason := old[r.key]
			if reason == "" {
				reason = "not served by govirtd's test driver yet"
			}
			g.reasons["gap"][r.key] = reason
		}
	}
}

func (g *gapsFile) write(t *testing.T) {
	var b strings.Builder
	b.WriteString(`# What govirtd's test driver does not yet answer as libvirt 9.0's does,
# checked by compat/compat_test.go. "gap": libvirtd serves the command or
# method, govirtd fails it. "differs": govirtd answers differently on
# purpose; the README lists each with its reason. "cascade": govirtd's
# answer differs only because the gap named in the third field left its
# objects in another state (the test checks that line is still a gap). Keys are lines of
# virsh.txt, or py:Class.method. ` + "`go test ./compat -update`" + ` rewrites the gap
# lines from a run, keeping their reasons.
`)
	for _, k := range []string{"differs", "cascade", "gap"} {
		keys := make([]string, 0, len(g.reasons[k]))
		for key := range g.reasons[k] {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		for _, key := range keys {
			fmt.Fprintf(&b, "%s | %s | %s\n", k, key, g.reasons[k][key])
		}
	}
	if err := os.WriteFile(filepath.Join(dataDir, "gaps.txt"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDifferential runs the virsh script and the python methods against
// both daemons.
func TestDifferential(t *testing.T) {
	g := readGaps(t)
	lv := startLibvirtd(t)
	gv := startGovirtd(t)
	t.Run("virsh", func(t *testing.T) { judge(t, "virsh", runVirshScript(t, lv, gv), g, "") })
	t.Run("python", func(t *testing.T) { judge(t, "python", runPython(t, lv, gv), g, "py:") })
	if *update {
		g.write(t)
	}
}
