package qemu

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/vir"
)

// statusFile is what the state directory keeps about a running domain,
// NAME.status: enough for a new daemon to re-attach to its qemu.
type statusFile struct {
	Name    string `json:"name"`
	UUID    string `json:"uuid"`
	ID      int32  `json:"id"`
	PID     int    `json:"pid"`
	Monitor string `json:"monitor"`
	Log     string `json:"log"`
	Accel   string `json:"accel"`
	State   int32  `json:"state"`
	Reason  int32  `json:"reason"`
	// Live is the running definition.
	Live string `json:"live"`
}

// Status files are written and removed off the domain's mu: a status
// change found under mu (a QMP event, a reconnection) queues the new
// content in the domain's statusQueue, and one goroutine of the driver
// writes it, so that a disk that stalls an fsync never stalls the reads
// that take mu. The queue keeps the order of the changes; of several
// writes nobody waits for, only the newest is written.

// statusQueue is one domain's pending status file operations.
type statusQueue struct {
	mu      sync.Mutex
	ops     []*statusOp
	running bool // a goroutine works through ops
}

// statusOp writes data (or, when nil, removes the file); inst is the
// instance it describes, marked degraded if the write fails; done, when
// not nil, receives the result.
type statusOp struct {
	barrier bool // does nothing: its done says the ops before it are done
	data    []byte
	inst    *instance
	done    chan error
}

// queueStatus queues op for dom and makes sure a goroutine writes it.
// Once the driver is shutting down, no goroutine starts and the op runs
// at once (muHeld says whether the caller holds dom.mu): Shutdown waits
// for the goroutines already running, so nothing queued is lost.
func (d *Driver) queueStatus(dom *domain, op *statusOp, muHeld bool) {
	q := &dom.status
	q.mu.Lock()
	if n := len(q.ops); n > 0 && op.done == nil && q.ops[n-1].done == nil && q.ops[n-1].data != nil && op.data != nil {
		q.ops[n-1] = op // a newer status replaces one not yet written
	} else {
		q.ops = append(q.ops, op)
	}
	start := !q.running
	q.running = true
	q.mu.Unlock()
	if start && !d.background(func() { d.runStatusQueue(dom, false) }) {
		d.runStatusQueue(dom, muHeld)
	}
}

// runStatusQueue does dom's queued status operations, oldest first,
// until none is left.
func (d *Driver) runStatusQueue(dom *domain, muHeld bool) {
	q := &dom.status
	for {
		q.mu.Lock()
		if len(q.ops) == 0 {
			q.running = false
			q.mu.Unlock()
			return
		}
		op := q.ops[0]
		q.ops[0] = nil
		q.ops = q.ops[1:]
		q.mu.Unlock()
		var err error
		path := d.cfg.statusPath(dom.name)
		if op.barrier {
			// nothing to do
		} else if op.data == nil {
			// Files, not directories: syscall.Unlink, as os.Remove
			// tries rmdir too when the file is gone already.
			syscall.Unlink(path)
			if op.inst != nil && strings.HasPrefix(op.inst.monitorPath, d.cfg.StateDir) {
				syscall.Unlink(op.inst.monitorPath)
			}
		} else if err = d.writeStatusData(path, op.data, 0o600); err != nil && op.done == nil {
			if !muHeld {
				dom.mu.Lock()
			}
			if dom.proc == op.inst {
				op.inst.degraded = "status file not written: " + err.Error()
			}
			if !muHeld {
				dom.mu.Unlock()
			}
			d.log.Error("cannot record the state of a running guest; it keeps running, but a daemon restart may not see its latest state",
				"domain", dom.name, "file", path, "err", err)
		}
		if op.done != nil {
			op.done <- err
		}
	}
}

// flushStatus waits until dom's queued status operations are done. mu
// is not held.
func (d *Driver) flushStatus(dom *domain) {
	q := &dom.status
	q.mu.Lock()
	idle := !q.running && len(q.ops) == 0
	q.mu.Unlock()
	if idle {
		return // nothing queued: no goroutine to wait for
	}
	op := &statusOp{barrier: true, done: make(chan error, 1)}
	d.queueStatus(dom, op, false)
	<-op.done
}

// runStatusNow does op in the calling goroutine when dom's queue is idle
// and reports whether it did: a caller that waits for its op anyway saves
// the handoff to a goroutine of the queue. mu is not held.
func (d *Driver) runStatusNow(dom *domain, op *statusOp) bool {
	q := &dom.status
	q.mu.Lock()
	if q.running || len(q.ops) > 0 {
		q.mu.Unlock()
		return false
	}
	q.running = true // ops queued meanwhile wait their turn
	q.ops = append(q.ops, op)
	q.mu.Unlock()
	d.runStatusQueue(dom, false)
	return true
}

// statusData is the status file of dom's instance inst.
func statusData(dom *domain, inst *instance, live *domxml.Def, id int32, state vir.DomainState, reason int32) ([]byte, error) {
	xml, err := live.Format(id)
	if err != nil {
		return nil, err
	}
	st := statusFile{
		Name: dom.name, UUID: dom.uuid.String(), ID: id, PID: inst.pid,
		Monitor: inst.monitorPath, Log: inst.logPath, Accel: inst.accel,
		State: int32(state), Reason: reason, Live: xml,
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// writeStatusFile writes the status of a starting instance and waits
// for it: the start goes on only once a restarted daemon would find the
// guest. It goes through dom's queue, after any removal still pending
// from the domain's previous run. mu is not held.
func (d *Driver) writeStatusFile(dom *domain, inst *instance, live *domxml.Def, id int32, state vir.DomainState, reason int32) error {
	data, err := statusData(dom, inst, live, id, state, reason)
	if err != nil {
		return err
	}
	op := &statusOp{data: data, inst: inst, done: make(chan error, 1)}
	if !d.runStatusNow(dom, op) {
		d.queueStatus(dom, op, false)
	}
	return <-op.done
}

// writeFileAtomic writes data to path through a temporary file renamed
// over it. It works with plain system calls (five for a write): files
// need no place in the runtime's poller, and path is never a directory,
// which os.Rename would check for first.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := createTemp(path)
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil && perm != 0o600 { // the temporary file's mode
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if rerr := syscall.Rename(tmp, path); rerr != nil {
			err = &os.LinkError{Op: "rename", Old: tmp, New: path, Err: rerr}
		}
	}
	if err != nil {
		syscall.Unlink(tmp)
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	return nil
}

// createTemp creates a new file, mode 0600, beside path: .BASE.RANDOM.
func createTemp(path string) (*os.File, error) {
	dir, base := filepath.Split(path)
	for range 10000 {
		name := dir + "." + base + "." + strconv.FormatUint(uint64(rand.Uint32()), 10)
		f, err := openFile(name, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL, 0o600)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, fmt.Errorf("cannot create a temporary file beside %s: every name tried exists", path)
}

// saveStatus queues dom's status after a change; a failure to write it
// marks the guest degraded and is logged, never more: the guest runs on.
// dom.mu held; the write happens without it.
func (d *Driver) saveStatus(dom *domain) {
	inst := dom.proc
	if inst == nil {
		return
	}
	data, err := statusData(dom, inst, dom.live, dom.id, dom.state, dom.reason)
	if err != nil {
		inst.degraded = "status file not written: " + err.Error()
		d.log.Error("cannot record the state of a running guest", "domain", dom.name, "err", err)
		return
	}
	d.queueStatus(dom, &statusOp{data: data, inst: inst}, true)
}

// readStatusFiles returns the status files of the state directory;
// those it cannot read are logged and left in place for a human.
func (d *Driver) readStatusFiles() []statusFile {
	paths, _ := filepath.Glob(filepath.Join(d.cfg.StateDir, "*.status"))
	var out []statusFile
	for _, p := range paths {
		data, err := os.ReadFile(p)
		var st statusFile
		if err == nil {
			err = json.Unmarshal(data, &st)
		}
		if err == nil && (st.PID <= 0 || st.Live == "" || st.Name+".status" != filepath.Base(p)) {
			err = fmt.Errorf("incomplete status")
		}
		if err != nil {
			d.log.Error("cannot read a status file: the guest it describes, if any, is not managed (check it and remove the file)",
				"file", p, "err", err)
			continue
		}
		out = append(out, st)
	}
	return out
}

// removeStatus queues the removal of what the state directory holds
// for dom's instance inst, which stopped (and of its monitor socket).
// muHeld says whether the caller holds dom.mu.
func (d *Driver) removeStatus(dom *domain, inst *instance, muHeld bool) {
	d.queueStatus(dom, &statusOp{inst: inst}, muHeld)
}
