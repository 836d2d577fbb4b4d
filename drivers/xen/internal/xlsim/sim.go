package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/govirt/govirtd/drivers/xen/internal/xstest"
	"github.com/govirt/govirtd/drivers/xen/xenstore"
)

// cfg is the part of an xl.cfg file the simulator uses.
type cfg struct {
	Name   string `json:"name"`
	UUID   string `json:"uuid"`
	Memory int    `json:"memory"` // MiB
	VCPUs  int    `json:"vcpus"`
	Type   string `json:"type"`
}

// parseCfg reads `key = value` lines; strings are quoted, # starts a comment.
func parseCfg(s string) (cfg, error) {
	c := cfg{Memory: 128, VCPUs: 1, Type: "pv"}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return c, fmt.Errorf("line %q is not key = value", line)
		}
		k, v = strings.TrimSpace(k), strings.Trim(strings.TrimSpace(v), `"'`)
		var err error
		switch k {
		case "name":
			c.Name = v
		case "uuid":
			c.UUID = v
		case "memory":
			c.Memory, err = strconv.Atoi(v)
		case "vcpus":
			c.VCPUs, err = strconv.Atoi(v)
		case "type":
			c.Type = v
		}
		if err != nil {
			return c, fmt.Errorf("%s: %w", k, err)
		}
	}
	if c.Name == "" {
		return c, fmt.Errorf("no name")
	}
	if c.UUID == "" {
		var b [16]byte
		rand.Read(b[:])
		c.UUID = fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
	}
	return c, nil
}

func (c cfg) format() string {
	return fmt.Sprintf("name = %q\nuuid = %q\nmemory = %d\nvcpus = %d\ntype = %q\n", c.Name, c.UUID, c.Memory, c.VCPUs, c.Type)
}

// domain is the hypervisor's record of a domain (what Xen would keep).
type domain struct {
	ID     uint32 `json:"id"`
	Cfg    cfg    `json:"cfg"`
	Paused bool   `json:"paused"`
}

// state is the fake hypervisor's: its domains and the next domid.
type state struct {
	NextID  uint32             `json:"next_id"`
	Domains map[string]*domain `json:"domains"` // by domid
	// Stopped records why each released domain stopped
	// (destroyed, poweroff, reboot, suspended), as Xen's shutdown code.
	Stopped map[string]string `json:"stopped"`
}

type sim struct {
	ctx context.Context
	xs  *xenstore.Client
	dir string
	st  state
}

func (s *sim) statePath() string { return filepath.Join(s.dir, "xlsim-state.json") }

// lock serialises xlsim processes on the state file.
func (s *sim) lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.dir, "xlsim.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

func (s *sim) load() error {
	s.st = state{NextID: 1, Domains: map[string]*domain{}, Stopped: map[string]string{}}
	b, err := os.ReadFile(s.statePath())
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return json.Unmarshal(b, &s.st)
}

func (s *sim) save() error {
	b, err := json.MarshalIndent(s.st, "", " ")
	if err != nil {
		return err
	}
	tmp := s.statePath() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.statePath())
}

func (s *sim) find(nameOrID string) (*domain, error) {
	if d := s.st.Domains[nameOrID]; d != nil {
		return d, nil
	}
	for _, d := range s.st.Domains {
		if d.Cfg.Name == nameOrID {
			return d, nil
		}
	}
	return nil, fmt.Errorf("domain %s does not exist", nameOrID)
}

// create does what xl create and Xen do: a domid, the domain's nodes in
// one transaction, then INTRODUCE (which fires @introduceDomain).
func (s *sim) create(c cfg, paused bool) (*domain, error) {
	for _, d := range s.st.Domains {
		if d.Cfg.Name == c.Name {
			return nil, fmt.Errorf("domain %s already exists with id %d", c.Name, d.ID)
		}
	}
	id := s.st.NextID
	s.st.NextID++
	d := &domain{ID: id, Cfg: c, Paused: paused}
	home := fmt.Sprintf("/local/domain/%d", id)
	vm := "/vm/" + c.UUID
	guest := []xenstore.Perm{{Domain: id, Access: xenstore.AccessNone}}
	guestRO := []xenstore.Perm{{Domain: 0, Access: xenstore.AccessNone}, {Domain: id, Access: xenstore.AccessRead}}
	err := s.xs.Transaction(s.ctx, func(tx *xenstore.Tx) error {
		w := func(p, v string) error { return tx.Write(s.ctx, p, []byte(v)) }
		for _, kv := range [][2]string{
			{vm + "/name", c.Name}, {vm + "/uuid", c.UUID},
			{home + "/vm", vm}, {home + "/name", c.Name}, {home + "/domid", strconv.Itoa(int(id))},
			{home + "/memory/target", strconv.Itoa(c.Memory * 1024)},
			{home + "/memory/static-max", strconv.Itoa(c.Memory * 1024)},
			{home + "/control/shutdown", ""},
			{home + "/control/platform-feature-multiprocessor-suspend", "1"},
			{fmt.Sprintf("/libxl/%d/type", id), c.Type},
		} {
			if err := w(kv[0], kv[1]); err != nil {
				return err
			}
		}
		for i := 0; i < c.VCPUs; i++ {
			if err := w(fmt.Sprintf("%s/cpu/%d/availability", home, i), "online"); err != nil {
				return err
			}
		}
		if err := tx.SetPerms(s.ctx, home, guestRO...); err != nil {
			return err
		}
		return tx.SetPerms(s.ctx, home+"/control/shutdown", guest...)
	})
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", c.Name, err)
	}
	if err := s.xs.Introduce(s.ctx, id, uint64(0x100000+id), 10+id); err != nil {
		return nil, fmt.Errorf("create %s: %w", c.Name, err)
	}
	s.st.Domains[strconv.Itoa(int(id))] = d
	delete(s.st.Stopped, strconv.Itoa(int(id)))
	return d, s.save()
}

// shutdown writes control/shutdown as xl does, then plays the PV guest
// that reads it and shuts down (or reboots: a new domid, as on Xen).
func (s *sim) shutdown(nameOrID, how string) error {
	d, err := s.find(nameOrID)
	if err != nil {
		return err
	}
	if err := s.xs.Write(s.ctx, fmt.Sprintf("/local/domain/%d/control/shutdown", d.ID), []byte(how)); err != nil {
		return fmt.Errorf("%s %s: %w", how, d.Cfg.Name, err)
	}
	if d.Paused {
		return nil // a paused guest does not see the request until unpaused
	}
	c := d.Cfg
	if err := s.destroy(d, how); err != nil {
		return err
	}
	if how == "reboot" {
		_, err = s.create(c, false)
	}
	return err
}

// destroy marks the domain dying in the fake hypervisor (xenstored
// notices on VIRQ_DOM_EXC and fires @releaseDomain), then removes its
// nodes and releases it, as libxl does.
func (s *sim) destroy(d *domain, reason string) error {
	key := strconv.Itoa(int(d.ID))
	if err := xstest.MarkDying(s.dir, d.ID); err != nil {
		return fmt.Errorf("destroy %s: %w", d.Cfg.Name, err)
	}
	for _, p := range []string{fmt.Sprintf("/local/domain/%d", d.ID), "/vm/" + d.Cfg.UUID, fmt.Sprintf("/libxl/%d", d.ID)} {
		if err := s.xs.Rm(s.ctx, p); err != nil && !isNotExist(err) {
			return fmt.Errorf("destroy %s: %w", d.Cfg.Name, err)
		}
	}
	if err := s.xs.Release(s.ctx, d.ID); err != nil && !isNotExist(err) {
		return fmt.Errorf("destroy %s: %w", d.Cfg.Name, err)
	}
	delete(s.st.Domains, key)
	s.st.Stopped[key] = reason
	return s.save()
}

func isNotExist(err error) bool {
	var xe *xenstore.Error
	return errorsAs(err, &xe) && (xe.Errno == "ENOENT" || xe.Errno == "EINVAL")
}

// list prints xl list's table: Name ID Mem VCPUs State Time(s), dom0 first.
func (s *sim) list(w io.Writer, names []string) error {
	ds := make([]*domain, 0, len(s.st.Domains))
	for _, d := range s.st.Domains {
		ds = append(ds, d)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].ID < ds[j].ID })
	if len(names) == 1 {
		d, err := s.find(names[0])
		if err != nil {
			return err
		}
		ds = []*domain{d}
	}
	fmt.Fprintf(w, "%-40s %5s %5s %5s     %s %8s\n", "Name", "ID", "Mem", "VCPUs", "State", "Time(s)")
	if len(names) == 0 {
		fmt.Fprintf(w, "%-40s %5d %5d %5d     %s %8.1f\n", "Domain-0", 0, 1024, 1, "r-----", 1.0)
	}
	for _, d := range ds {
		st := "-b----"
		if d.Paused {
			st = "--p---"
		}
		fmt.Fprintf(w, "%-40s %5d %5d %5d     %s %8.1f\n", d.Cfg.Name, d.ID, d.Cfg.Memory, d.Cfg.VCPUs, st, 0.1)
	}
	return nil
}
