// Command xlsim is a SIMULATOR of Xen's `xl` for tests: no hypervisor
// runs here, so it does to xenstore what xl and Xen together do on a
// real host, and keeps the hypervisor's part (which domains exist,
// paused or running, why one stopped) in a state file. It talks to
// xenstored with the project's own client.
//
// On create it writes the nodes xl/libxl write (/local/domain/ID/name,
// vm, domid, memory/target, cpu/N/availability, control/shutdown owned
// by the guest, /vm/UUID) and sends INTRODUCE, so @introduceDomain
// fires. On shutdown it writes control/shutdown as xl does and then
// plays the PV guest that obeys it; on destroy and after a shutdown it
// marks the domain dying in the fake hypervisor, so xenstored fires
// @releaseDomain by itself, then removes the nodes and RELEASEs the
// domain as libxl's destroy does.
//
// Usage: xlsim create CFG | list [NAME] | domid NAME | pause D | unpause D
// | shutdown D | reboot D | destroy D | save D FILE | restore FILE.
// $XENSTORED_PATH is the socket; the state file and fakexen's files are
// in $XLSIM_DIR (default: the socket's directory).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/govirt/govirtd/drivers/xen/xenstore"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "xlsim:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: xlsim create|list|domid|pause|unpause|shutdown|reboot|destroy|save|restore ARGS")
	}
	sock := xenstore.SocketPath()
	dir := os.Getenv("XLSIM_DIR")
	if dir == "" {
		dir = filepath.Dir(sock)
	}
	c, err := xenstore.Dial(sock, xenstore.Options{})
	if err != nil {
		return err
	}
	defer c.Close()
	s := &sim{ctx: context.Background(), xs: c, dir: dir}
	return s.lockedRun(args)
}

func (s *sim) lockedRun(args []string) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.load(); err != nil {
		return err
	}
	cmd, rest := args[0], args[1:]
	need := func(n int) error {
		if len(rest) != n {
			return fmt.Errorf("%s takes %d argument(s)", cmd, n)
		}
		return nil
	}
	switch cmd {
	case "create":
		if len(rest) < 1 {
			return errors.New("create takes a config file")
		}
		b, err := os.ReadFile(rest[0])
		if err != nil {
			return err
		}
		cfg, err := parseCfg(string(b))
		if err != nil {
			return fmt.Errorf("%s: %w", rest[0], err)
		}
		paused := len(rest) > 1 && rest[1] == "-p"
		_, err = s.create(cfg, paused)
		return err
	case "list":
		return s.list(os.Stdout, rest)
	case "domid":
		if err := need(1); err != nil {
			return err
		}
		d, err := s.find(rest[0])
		if err != nil {
			return err
		}
		fmt.Println(d.ID)
		return nil
	case "pause", "unpause":
		if err := need(1); err != nil {
			return err
		}
		d, err := s.find(rest[0])
		if err != nil {
			return err
		}
		d.Paused = cmd == "pause"
		return s.save()
	case "shutdown", "reboot":
		if err := need(1); err != nil {
			return err
		}
		return s.shutdown(rest[0], map[string]string{"shutdown": "poweroff", "reboot": "reboot"}[cmd])
	case "destroy":
		if err := need(1); err != nil {
			return err
		}
		d, err := s.find(rest[0])
		if err != nil {
			return err
		}
		return s.destroy(d, "destroyed")
	case "save":
		if err := need(2); err != nil {
			return err
		}
		d, err := s.find(rest[0])
		if err != nil {
			return err
		}
		if err := os.WriteFile(rest[1], []byte("XLSIM-SAVE\n"+d.Cfg.format()), 0o600); err != nil {
			return err
		}
		return s.destroy(d, "suspended")
	case "restore":
		if err := need(1); err != nil {
			return err
		}
		b, err := os.ReadFile(rest[0])
		if err != nil {
			return err
		}
		body, ok := strings.CutPrefix(string(b), "XLSIM-SAVE\n")
		if !ok {
			return fmt.Errorf("%s is not a save image of xlsim", rest[0])
		}
		cfg, err := parseCfg(body)
		if err != nil {
			return err
		}
		_, err = s.create(cfg, false)
		return err
	}
	return fmt.Errorf("unknown command %q", cmd)
}
