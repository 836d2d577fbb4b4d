package qemu

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// gate is a qemu wrapper that holds a start at its first step, so a test
// can act while a start is under way: the script records its pid, waits
// until the test releases it, then execs the real qemu (which keeps the
// pid and the monitor socket the driver passed).
type gate struct {
	dir string
}

func newGate(t *testing.T) *gate {
	t.Helper()
	needQEMU(t)
	qemu, _ := exec.LookPath("qemu-system-x86_64")
	g := &gate{dir: t.TempDir()}
	script := fmt.Sprintf("#!/bin/sh\necho $$ > %[1]s/pid.tmp && mv %[1]s/pid.tmp %[1]s/pid\n"+
		"while [ ! -e %[1]s/go ]; do sleep 0.01; done\nexec %[2]s \"$@\"\n", g.dir, qemu)
	if err := os.WriteFile(g.path("qemu"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.kill() })
	return g
}

func (g *gate) path(name string) string { return filepath.Join(g.dir, name) }

// xml is demoXML run by the gate.
func (g *gate) xml(t *testing.T, name string, n int) string {
	return strings.Replace(demoXML(t, name, n), "<on_poweroff>",
		"<devices><emulator>"+g.path("qemu")+"</emulator></devices><on_poweroff>", 1)
}

// waitHeld waits until a start reached the gate.
func (g *gate) waitHeld(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for g.pid() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no start reached the gate")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// release lets the held start go on to exec qemu.
func (g *gate) release() { os.WriteFile(g.path("go"), nil, 0o644) }

func (g *gate) pid() int {
	data, _ := os.ReadFile(g.path("pid"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}

// kill ends what the gate started (the script, or the qemu it became)
// unless it already ended: whatever happened to the test, nothing is left.
func (g *gate) kill() {
	pid := g.pid()
	if pid == 0 {
		return
	}
	cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if bytes.Contains(cmdline, []byte(g.dir)) || bytes.Contains(cmdline, []byte("3f0e5a2c-9b1d-4c6e-8a7f-")) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}
