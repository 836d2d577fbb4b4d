package xen

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/govirt/govirtd/drivers"
)

// cfgDir is the config sub-driver: inactive (persistent) domains as
// xl.cfg files NAME.cfg in the config directory, and autostart as the
// link in its auto/ directory that Xen's xendomains script starts at
// boot.
type cfgDir struct {
	dir string
}

func (c *cfgDir) path(name string) string { return filepath.Join(c.dir, name+".cfg") }
func (c *cfgDir) autoPath(name string) string {
	return filepath.Join(c.dir, "auto", name+".cfg")
}

// load reads every *.cfg; a file that does not parse is named in errs
// and left out, so one bad file hides no other domain.
func (c *cfgDir) load() (map[drivers.UUID]xlCfg, []error) {
	out := map[drivers.UUID]xlCfg{}
	var errs []error
	files, _ := filepath.Glob(filepath.Join(c.dir, "*.cfg"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil {
			var x xlCfg
			if x, err = parseXLCfg(string(b)); err == nil {
				if x.UUID == (drivers.UUID{}) {
					err = fmt.Errorf("no uuid = line (govirtd needs one to name the domain)")
				} else if filepath.Base(f) != x.Name+".cfg" {
					err = fmt.Errorf("name %q does not match the file name", x.Name)
				} else {
					out[x.UUID] = x
					continue
				}
			}
		}
		errs = append(errs, fmt.Errorf("%s: %w", f, err))
	}
	return out, errs
}

// save writes x atomically as NAME.cfg.
func (c *cfgDir) save(x xlCfg) error {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return err
	}
	p := c.path(x.Name)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(x.format()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

func (c *cfgDir) remove(name string) error {
	os.Remove(c.autoPath(name))
	return os.Remove(c.path(name))
}

func (c *cfgDir) autostart(name string) bool {
	t, err := os.Readlink(c.autoPath(name))
	return err == nil && (t == c.path(name) || strings.HasSuffix(t, "/"+name+".cfg"))
}

func (c *cfgDir) setAutostart(name string, on bool) error {
	if !on {
		if err := os.Remove(c.autoPath(name)); err != nil && !os.IsNotExist(err) {
			return err
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Join(c.dir, "auto"), 0o755); err != nil {
		return err
	}
	os.Remove(c.autoPath(name))
	return os.Symlink(c.path(name), c.autoPath(name))
}
