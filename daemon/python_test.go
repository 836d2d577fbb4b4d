package daemon_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/govirt/govirtd/internal/testutil"
)

// TestLibvirtPython drives the daemon with libvirt-python (Debian's
// python3-libvirt), another client hosts already run: a lifecycle, errors,
// and lifecycle events through libvirt's own event loop, with a callback
// that calls back into the library.
func TestLibvirtPython(t *testing.T) {
	python := testutil.RequirePythonLibvirt(t)
	d := startDaemon(t, nil)
	cmd := exec.Command(python, "testdata/libvirt_python_client.py", d.URI(), testdata("demo.xml"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("libvirt-python client: %v\n%s%s", err, out, stderr.String())
	}
	want := []string{
		"type TEST 9000000",
		"defined demo -1 1",
		"started 2 [1, 1]",
		"suspended [3, 1]",
		"resumed [1, 5]",
		"events [('demo', 0, 0), ('demo', 2, 0), ('demo', 3, 0), ('demo', 4, 0)]",
		"error 42 12 Domain not found: no domain with matching name 'nosuch'",
		"domains ['test']",
	}
	if got := strings.TrimSpace(string(out)); got != strings.Join(want, "\n") {
		t.Fatalf("libvirt-python printed:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}
