package compat_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/govirt/govirtd/internal/testutil"
)

// pyCall is one line readonly.py prints.
type pyCall struct {
	Key   string          `json:"key"`
	OK    bool            `json:"ok"`
	Value json.RawMessage `json:"value"`
	Error json.RawMessage `json:"error"`
}

// python runs testdata/compat/readonly.py against one daemon.
func python(t *testing.T, tgt target) []pyCall {
	t.Helper()
	bin := testutil.RequirePythonLibvirt(t)
	cmd := exec.Command(bin, filepath.Join(dataDir, "readonly.py"), tgt.uri())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("readonly.py against %s: %v\n%s", tgt.name, err, stderr.String())
	}
	var calls []pyCall
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var c pyCall
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("readonly.py against %s printed %q: %v", tgt.name, line, err)
		}
		calls = append(calls, c)
	}
	return calls
}

// pyValue is a call's value, masked as virsh output is, with strings
// that hold XML compared canonically.
func pyValue(raw json.RawMessage, tgt target, key string) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	// Statistics and times of libvirt's test driver move with the clock.
	num := strings.Contains(key, "Stats") || strings.Contains(key, ".vcpus()") ||
		strings.Contains(key, ".getTime()") || strings.Contains(key, "virDomain.info()") ||
		strings.Contains(key, "getCPUStats") || strings.Contains(key, "getAllDomainStats")
	if s, ok := v.(string); ok {
		return mask(s, tgt, num)
	}
	return mask(string(raw), tgt, num)
}

// runPython calls the read-only methods against libvirtd, then govirtd,
// and classifies each pair.
func runPython(t *testing.T, lv, gv target) []result {
	a, b := python(t, lv), python(t, gv)
	if len(a) != len(b) {
		t.Fatalf("readonly.py printed %d calls against libvirtd, %d against govirtd", len(a), len(b))
	}
	var results []result
	for i := range a {
		r := result{key: "py:" + a[i].Key}
		av, bv := pyValue(a[i].Value, lv, a[i].Key), pyValue(b[i].Value, gv, b[i].Key)
		switch {
		case a[i].OK && b[i].OK && av == bv:
			r.kind = same
		case !a[i].OK && !b[i].OK:
			r.kind = bothFail
		case a[i].OK && !b[i].OK:
			r.kind = gap
		case !a[i].OK:
			r.kind = extra
		default:
			r.kind = wrong
		}
		if r.kind != same {
			r.detail = fmt.Sprintf("--- libvirtd: %s%s\n--- govirtd: %s%s", av, a[i].Error, bv, b[i].Error)
			if testing.Verbose() {
				t.Logf("%s: %s\n%s", kindNames[r.kind], r.key, r.detail)
			}
		}
		results = append(results, r)
	}
	return results
}
