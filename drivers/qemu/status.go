package qemu

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

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

// writeStatus records dom's running instance; dom.mu held. The file is
// replaced atomically, so a crash leaves the old or the new one.
func (d *Driver) writeStatus(dom *domain) error {
	inst := dom.proc
	if inst == nil {
		return nil
	}
	return d.writeStatusFile(dom, inst, dom.live, dom.id, dom.state, dom.reason)
}

func (d *Driver) writeStatusFile(dom *domain, inst *instance, live *domxml.Def, id int32, state vir.DomainState, reason int32) error {
	xml, err := live.Format(id)
	if err != nil {
		return err
	}
	st := statusFile{
		Name: dom.name, UUID: dom.uuid.String(), ID: id, PID: inst.pid,
		Monitor: inst.monitorPath, Log: inst.logPath, Accel: inst.accel,
		State: int32(state), Reason: reason, Live: xml,
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(d.cfg.statusPath(dom.name), append(data, '\n'), 0o600)
}

// writeFileAtomic writes data to path through a temporary file renamed
// over it.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	return nil
}

// saveStatus writes dom's status after a change; a failure marks the
// guest degraded and is logged, never more: the guest runs on. dom.mu
// held.
func (d *Driver) saveStatus(dom *domain) {
	if err := d.writeStatus(dom); err != nil {
		dom.proc.degraded = "status file not written: " + err.Error()
		d.log.Error("cannot record the state of a running guest; it keeps running, but a daemon restart may not see its latest state",
			"domain", dom.name, "err", err)
	}
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

// removeStatus deletes what the state directory held for a domain that
// stopped.
func (d *Driver) removeStatus(name string, inst *instance) {
	os.Remove(d.cfg.statusPath(name))
	if inst != nil && strings.HasPrefix(inst.monitorPath, d.cfg.StateDir) {
		os.Remove(inst.monitorPath)
	}
}
