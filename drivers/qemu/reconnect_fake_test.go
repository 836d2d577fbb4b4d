package qemu

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/vir"
)

// fakeGuest stands for a qemu a previous daemon started: a process
// whose command line carries -uuid (a shell blocked reading its stdin)
// and a QMP peer on its monitor socket that plays what the test wants.
type fakeGuest struct {
	uuid string
	mon  string
	proc *exec.Cmd

	mu       sync.Mutex // guards the fields below and writes to conn
	conn     net.Conn
	commands []string // as received
	changed  chan struct{}
}

func newFakeGuest(t *testing.T, stateDir, uuid string) *fakeGuest {
	t.Helper()
	g := &fakeGuest{uuid: uuid, mon: filepath.Join(stateDir, "fake.monitor"), changed: make(chan struct{}, 100)}
	g.proc = exec.Command("sh", "-c", "read x", "fakeqemu", "-uuid", uuid)
	if _, err := g.proc.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := g.proc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.proc.Process.Kill(); g.proc.Wait() })
	os.MkdirAll(stateDir, 0o755)
	l, err := net.Listen("unix", g.mon)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		g.mu.Lock()
		g.conn = c
		g.mu.Unlock()
		g.send(`{"QMP":{"version":{"qemu":{"major":7,"minor":2,"micro":0}},"capabilities":[]}}`)
	}()
	return g
}

// writeStatus writes the status file a previous daemon would have left.
func (g *fakeGuest) writeStatus(t *testing.T, stateDir, xml string) {
	t.Helper()
	st := statusFile{Name: "fake", UUID: g.uuid, ID: 3, PID: g.proc.Process.Pid, Monitor: g.mon,
		Log: filepath.Join(stateDir, "fake.log"), Accel: "tcg", State: int32(vir.DomainRunning),
		Reason: int32(vir.DomainRunningBooted), Live: xml}
	data, _ := json.Marshal(st)
	if err := os.WriteFile(filepath.Join(stateDir, "fake.status"), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func (g *fakeGuest) send(line string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	fmt.Fprintf(g.conn, "%s\n", line)
}

// serve reads the driver's commands and answers each with answer's
// reply, in its own goroutine so that a reply may wait.
func (g *fakeGuest) serve(answer func(cmd string) string) {
	go func() {
		for {
			g.mu.Lock()
			c := g.conn
			g.mu.Unlock()
			if c != nil {
				break
			}
			time.Sleep(time.Millisecond)
		}
		r := bufio.NewReader(g.conn)
		for {
			line, err := r.ReadBytes('\n')
			if err != nil {
				return
			}
			var cmd struct {
				Execute string          `json:"execute"`
				ID      json.RawMessage `json:"id"`
			}
			json.Unmarshal(line, &cmd)
			g.mu.Lock()
			g.commands = append(g.commands, cmd.Execute)
			g.mu.Unlock()
			g.changed <- struct{}{}
			go func() {
				for _, l := range strings.Split(answer(cmd.Execute), "\n") {
					g.send(strings.ReplaceAll(l, "ID", string(cmd.ID)))
				}
			}()
		}
	}()
}

func (g *fakeGuest) saw(cmd string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, c := range g.commands {
		if c == cmd {
			n++
		}
	}
	return n
}

// TestPowerOffDuringReconnect: a guest with on_poweroff restart powers
// off just as a new daemon connects to its monitor, before the driver
// has recorded that monitor. The guest is reset and continued, once;
// the driver does not crash on the monitor it has not recorded yet.
func TestPowerOffDuringReconnect(t *testing.T) {
	needQEMU(t)
	dir := t.TempDir()
	cfg := Config{ConfigDir: filepath.Join(dir, "etc"), StateDir: filepath.Join(dir, "run"), LogDir: filepath.Join(dir, "log")}
	uuid := "3f0e5a2c-9b1d-4c6e-8a7f-000000000042"
	g := newFakeGuest(t, cfg.StateDir, uuid)
	xml := strings.Replace(demoXML(t, "fake", 42), "<on_poweroff>destroy</on_poweroff>", "<on_poweroff>restart</on_poweroff>", 1)
	g.writeStatus(t, cfg.StateDir, xml)
	reset := make(chan struct{})
	var once sync.Once
	g.serve(func(cmd string) string {
		switch cmd {
		case "qmp_capabilities":
			// The guest powers off right then.
			return `{"return":{},"id":ID}` + "\n" +
				`{"event":"SHUTDOWN","data":{"guest":true,"reason":"guest-shutdown"},"timestamp":{"seconds":1,"microseconds":0}}`
		case "query-status":
			select { // answered after the reset, if one comes
			case <-reset:
				return `{"return":{"status":"running","running":true},"id":ID}`
			case <-time.After(2 * time.Second):
				return `{"return":{"status":"shutdown","running":false},"id":ID}`
			}
		case "system_reset":
			once.Do(func() { close(reset) })
		}
		return `{"return":{},"id":ID}`
	})

	d := New(cfg, slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	u, _ := url.Parse("")
	c, _ := d.Open(context.Background(), u, 0)
	ev := recordEvents(t, c.(*conn))
	if err := d.Startup(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Shutdown(context.Background()) })
	deadline := time.After(60 * time.Second)
	for g.saw("cont") == 0 {
		select {
		case <-g.changed:
		case <-deadline:
			t.Fatal("the guest was not continued after its power-off")
		}
	}
	u42, _ := drivers.ParseUUID(uuid)
	ref := drivers.Domain{Name: "fake", UUID: u42}
	checkState(t, c.(*conn), ref, vir.DomainRunning, vir.DomainRunningBooted)
	if n := g.saw("system_reset"); n != 1 {
		t.Errorf("%d resets, want 1", n)
	}
	ev.waitFor(t) // a reboot raises no lifecycle event
}
