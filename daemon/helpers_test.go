package daemon_test

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/govirt/govirtd/daemon"
	"github.com/govirt/govirtd/internal/testdaemon"
)

// testDaemon is a daemon serving the test driver on sockets in a
// temporary directory, stopped when the test ends.
type testDaemon = testdaemon.Daemon

// startDaemon starts a daemon with the embedded default configuration,
// changed by edit when not nil.
func startDaemon(t testing.TB, edit func(*daemon.Config)) *testDaemon {
	t.Helper()
	return testdaemon.Start(t, testdaemon.Options{Edit: edit})
}

// logWriter sends a daemon's log to the test log when -v is given.
func logWriter(t testing.TB) io.Writer {
	if testing.Verbose() {
		return tWriter{t}
	}
	return io.Discard
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// demoXML is testdata/domains/demo.xml.
func demoXML(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "domains", "demo.xml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
