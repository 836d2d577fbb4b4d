package daemon

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
)

// chownGroup gives path to group, a name or a number.
func chownGroup(path, group string) error {
	gid, err := strconv.Atoi(group)
	if err != nil {
		g, lerr := user.LookupGroup(group)
		if lerr != nil {
			return fmt.Errorf("no group %q: %w", group, lerr)
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	if err := os.Chown(path, -1, gid); err != nil {
		return fmt.Errorf("cannot give %s to group %s: %w", path, group, err)
	}
	return nil
}
