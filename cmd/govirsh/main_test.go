package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/govirt/govirtd/internal/testdaemon"

	testdriver "github.com/govirt/govirtd/drivers/test"
)

// govirshBin is the govirsh binary TestMain builds for the tests.
var govirshBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "govirsh-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	govirshBin = filepath.Join(dir, "govirsh")
	build := exec.Command("go", "build", "-o", govirshBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "cannot build govirsh:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testDaemon is a govirtd serving the test driver in this process.
type testDaemon struct {
	drv *testdriver.Driver
	uri string // test+unix:///default?socket=... of the read-write socket
	dir string // a scratch directory for the test's files
}

// startDaemon starts a daemon with a fresh test driver on sockets in a
// temporary directory; it is shut down when the test ends.
func startDaemon(t *testing.T) *testDaemon {
	t.Helper()
	d := testdaemon.Start(t, testdaemon.Options{Log: io.Discard})
	return &testDaemon{drv: d.Driver, uri: d.URI(), dir: t.TempDir()}
}

// result is what a command printed and its exit status.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// runTool runs a program with args in dir, with a clean environment and
// a timeout against hangs.
func runTool(t *testing.T, dir, bin string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "LIBVIRT_AUTOSTART=0", "LC_ALL=C"}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("%s %q: %v", bin, args, err)
	}
	return r
}

// govirsh runs the govirsh binary against d.
func (d *testDaemon) govirsh(t *testing.T, args ...string) result {
	t.Helper()
	return runTool(t, d.dir, govirshBin, nil, append([]string{"-c", d.uri}, args...)...)
}

// repoFile is the path of a file of the repository, from this package.
func repoFile(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", rel))
	if err != nil {
		t.Fatal(err)
	}
	return p
}
