package daemon_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLibvirtPython drives the daemon with libvirt-python (Debian's
// python3-libvirt), another client hosts already run: a lifecycle, errors,
// and lifecycle events through libvirt's own event loop, with a callback
// that calls back into the library.
func TestLibvirtPython(t *testing.T) {
	// Debian's interpreter, the one python3-libvirt installs for (a
	// python3 earlier in $PATH, such as pyenv's, lacks the binding).
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import libvirt").Run(); err != nil {
		t.Fatalf("python3 cannot import libvirt (%v): `make deps` installs it (Debian package python3-libvirt)", err)
	}
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
