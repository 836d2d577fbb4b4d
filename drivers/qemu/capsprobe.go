package qemu

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/qemu/qmp"
	"github.com/govirt/govirtd/vir"
)

// What a qemu binary offers, asked of the binary itself over QMP, as
// libvirt's QEMU driver probes it: a qemu with no machine (-machine
// none) started once per binary and accelerator, queried, and told to
// quit. The answers are kept per binary and refreshed when the binary
// changes (its inode, size or modification time), so a qemu upgraded
// under a running daemon is probed anew.

// qemuCaps is one probe's answers.
type qemuCaps struct {
	version  qmp.Version
	machines []capsMachine  // in qemu's order; "none" left out
	cpus     []capsCPUModel // the named CPU models, in qemu's order
	types    map[string]bool
	commands map[string]bool
}

// capsMachine is one of query-machines' machine types.
type capsMachine struct {
	name       string
	alias      string // "pc" for the default i440fx machine
	maxCPUs    int
	isDefault  bool
	deprecated bool
}

// capsCPUModel is one of query-cpu-definitions' models; usable when the
// accelerator runs it with none of its features missing.
type capsCPUModel struct {
	name       string
	usable     bool
	deprecated bool
}

// machine finds a machine type by its name or alias.
func (q *qemuCaps) machine(name string) (capsMachine, bool) {
	for _, m := range q.machines {
		if m.name == name || m.alias == name {
			return m, true
		}
	}
	return capsMachine{}, false
}

// defaultMachine is the machine qemu runs without -machine.
func (q *qemuCaps) defaultMachine() (capsMachine, bool) {
	for _, m := range q.machines {
		if m.isDefault {
			return m, true
		}
	}
	return capsMachine{}, false
}

// hasType reports whether qemu has the QOM type (a device, a backend).
func (q *qemuCaps) hasType(name string) bool { return q.types[name] }

// binaryID is what identifies one build of a binary at a path.
type binaryID struct {
	ino   uint64
	size  int64
	mtime time.Time
}

func statBinary(path string) (binaryID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return binaryID{}, err
	}
	id := binaryID{size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.ino = st.Ino
	}
	return id, nil
}

// capsCache holds one probe per binary path and accelerator.
type capsCache struct {
	mu      sync.Mutex // guards entries
	entries map[capsKey]*capsEntry
}

type capsKey struct{ path, accel string }

// capsEntry is one binary's probe. mu is held across a probe, so
// callers wanting the same binary wait for one probe rather than each
// starting a qemu; it guards the fields below.
type capsEntry struct {
	mu   sync.Mutex
	id   binaryID
	caps *qemuCaps
}

// capsOf returns the probe of the binary at path for accel (tcg or
// kvm), probing it when it is new or changed since its last probe.
func (d *Driver) capsOf(ctx context.Context, path, accel string) (*qemuCaps, error) {
	id, err := statBinary(path)
	if err != nil {
		return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromQEMU, "cannot use emulator %s: %v", path, err)
	}
	c := &d.caps
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[capsKey]*capsEntry{}
	}
	e := c.entries[capsKey{path, accel}]
	if e == nil {
		e = &capsEntry{}
		c.entries[capsKey{path, accel}] = e
	}
	c.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.caps != nil && e.id == id {
		return e.caps, nil
	}
	timeout := d.cfg.MonitorTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	caps, err := probeQemu(pctx, path, accel)
	if err != nil {
		return nil, drivers.Errorf(vir.ErrInternalError, vir.FromQEMU, "cannot probe the capabilities of %s: %v", path, err)
	}
	e.id, e.caps = id, caps
	return caps, nil
}

// probeQemu runs the binary with no machine and its monitor on a socket
// it inherits, and asks it what it has.
func probeQemu(ctx context.Context, bin, accel string) (*qemuCaps, error) {
	dir, err := os.MkdirTemp("", "govirtd-qemu-caps-")
	if err != nil {
		return nil, fmt.Errorf("cannot make a directory for the probe's monitor socket: %w", err)
	}
	defer os.RemoveAll(dir)
	monPath := filepath.Join(dir, "monitor")
	monFile, err := listenMonitor(monPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-S", "-no-user-config", "-nodefaults", "-nographic",
		"-machine", "none", "-accel", accel,
		"-chardev", "socket,id=probe,fd=3,server=on,wait=off",
		"-mon", "chardev=probe,mode=control")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.ExtraFiles = []*os.File{monFile}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	monFile.Close()
	if err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	defer func() {
		// quit normally ends it; a qemu that ignored it is killed.
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}()
	mon, err := dialProbe(ctx, monPath, exited)
	if err != nil {
		cmd.Process.Kill()
		<-exited
		return nil, fmt.Errorf("%v; qemu said: %s", err, strings.TrimSpace(out.String()))
	}
	defer mon.Close()
	caps, err := queryCaps(ctx, mon)
	if err != nil {
		cmd.Process.Kill()
		return nil, err
	}
	mon.Execute(ctx, "quit", nil, nil)
	return caps, nil
}

// dialProbe connects to the probe's monitor, giving up when qemu exits.
func dialProbe(ctx context.Context, path string, exited <-chan struct{}) (*qmp.Monitor, error) {
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-exited:
			cancel()
		case <-mctx.Done():
		}
	}()
	return qmp.Dial(mctx, path, qmp.Options{})
}

// versionedCPU matches qemu's versioned CPU model names.
var versionedCPU = regexp.MustCompile(`-v[0-9]+$`)

// queryCaps asks a probe's qemu for its machines, CPU models, QOM types
// and commands.
func queryCaps(ctx context.Context, mon *qmp.Monitor) (*qemuCaps, error) {
	q := &qemuCaps{version: mon.Version(), types: map[string]bool{}, commands: map[string]bool{}}
	var machines []struct {
		Name       string `json:"name"`
		Alias      string `json:"alias"`
		CPUMax     int    `json:"cpu-max"`
		IsDefault  bool   `json:"is-default"`
		Deprecated bool   `json:"deprecated"`
	}
	if err := mon.Execute(ctx, "query-machines", nil, &machines); err != nil {
		return nil, err
	}
	for _, m := range machines {
		if m.Name == "none" {
			continue
		}
		q.machines = append(q.machines, capsMachine{name: m.Name, alias: m.Alias, maxCPUs: m.CPUMax, isDefault: m.IsDefault, deprecated: m.Deprecated})
	}
	var cpus []struct {
		Name        string   `json:"name"`
		Unavailable []string `json:"unavailable-features"`
		Deprecated  bool     `json:"deprecated"`
	}
	if err := mon.Execute(ctx, "query-cpu-definitions", nil, &cpus); err != nil {
		return nil, err
	}
	// Versioned models (Skylake-Client-v2) are what the named ones
	// (Skylake-Client-IBRS) stand for; libvirt offers the names, and
	// neither the accelerator's own (host, max) nor the empty base.
	for _, c := range cpus {
		if versionedCPU.MatchString(c.Name) || c.Name == "host" || c.Name == "max" || c.Name == "base" {
			continue
		}
		q.cpus = append(q.cpus, capsCPUModel{name: c.Name, usable: len(c.Unavailable) == 0, deprecated: c.Deprecated})
	}
	var types []struct {
		Name     string `json:"name"`
		Abstract bool   `json:"abstract"`
	}
	if err := mon.Execute(ctx, "qom-list-types", nil, &types); err != nil {
		return nil, err
	}
	for _, t := range types {
		if !t.Abstract {
			q.types[t.Name] = true
		}
	}
	var commands []struct {
		Name string `json:"name"`
	}
	if err := mon.Execute(ctx, "query-commands", nil, &commands); err != nil {
		return nil, err
	}
	for _, c := range commands {
		q.commands[c.Name] = true
	}
	return q, nil
}
