package main

import (
	"context"
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/remote"
	"github.com/govirt/govirtd/vir"
)

// listFilters are list's filter options and the ConnectListAllDomains
// flag each adds.
var listFilters = []struct {
	name, help string
	flag       vir.ConnectListAllDomainsFlags
}{
	{"persistent", "list persistent domains", vir.ConnectListDomainsPersistent},
	{"transient", "list transient domains", vir.ConnectListDomainsTransient},
	{"with-managed-save", "list domains with managed save state", vir.ConnectListDomainsManagedsave},
	{"without-managed-save", "list domains without managed save", vir.ConnectListDomainsNoManagedsave},
	{"autostart", "list domains with autostart enabled", vir.ConnectListDomainsAutostart},
	{"no-autostart", "list domains with autostart disabled", vir.ConnectListDomainsNoAutostart},
	{"with-snapshot", "list domains with existing snapshot", vir.ConnectListDomainsHasSnapshot},
	{"without-snapshot", "list domains without a snapshot", vir.ConnectListDomainsNoSnapshot},
	{"with-checkpoint", "list domains with existing checkpoint", vir.ConnectListDomainsHasCheckpoint},
	{"without-checkpoint", "list domains without a checkpoint", vir.ConnectListDomainsNoCheckpoint},
	{"state-running", "list domains in running state", vir.ConnectListDomainsRunning},
	{"state-paused", "list domains in paused state", vir.ConnectListDomainsPaused},
	{"state-shutoff", "list domains in shutoff state", vir.ConnectListDomainsShutoff},
	{"state-other", "list domains in other states", vir.ConnectListDomainsOther},
}

func listCommand(sh *shell) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list [--all] [--inactive] [filters] [--name|--uuid|--id|--table]",
		Short: "list domains",
		Long:  "Returns list of domains: by default the active ones, sorted by id, then the inactive ones by name.",
		Args:  noArgs,
	}
	f := cmd.Flags()
	f.Bool("inactive", false, "list inactive domains")
	f.Bool("all", false, "list inactive & active domains")
	for _, flt := range listFilters {
		f.Bool(flt.name, false, flt.help)
	}
	f.Bool("uuid", false, "list uuid's only")
	f.Bool("name", false, "list domain names only")
	f.Bool("id", false, "list domain IDs only")
	f.Bool("table", false, "list table (default)")
	f.Bool("managed-save", false, "mark inactive domains with managed save state")
	cmd.RunE = sh.action(func(ctx context.Context, cmd *cobra.Command, args []string) error {
		on := func(name string) bool { v, _ := cmd.Flags().GetBool(name); return v }
		flags := vir.ConnectListDomainsActive
		if on("inactive") || on("state-shutoff") {
			flags = vir.ConnectListDomainsInactive
		}
		if on("all") {
			flags = vir.ConnectListDomainsActive | vir.ConnectListDomainsInactive
		}
		for _, flt := range listFilters {
			if on(flt.name) {
				flags |= flt.flag
			}
		}
		for _, other := range []string{"name", "uuid", "id"} {
			if err := exclusive(cmd, "table", other); err != nil {
				return err
			}
		}
		doms, err := sh.conn.ConnectListAllDomains(ctx, flags)
		if err != nil {
			return failed(err, "Failed to list domains")
		}
		sortDomains(doms)
		if !on("uuid") && !on("name") && !on("id") {
			return sh.listTable(ctx, doms, on("managed-save"))
		}
		sh.listColumns(doms, on("uuid"), on("id"), on("name"))
		return nil
	})
	return cmd
}

// sortDomains sorts as virsh does: running domains by id, then inactive
// ones by name, ignoring ASCII case.
func sortDomains(doms []remote.Domain) {
	sort.SliceStable(doms, func(i, j int) bool {
		a, b := doms[i], doms[j]
		switch {
		case a.ID == -1 && b.ID == -1:
			return strcasecmp(a.Name, b.Name) < 0
		case a.ID != -1 && b.ID != -1:
			return uint32(a.ID) < uint32(b.ID)
		}
		return a.ID != -1
	})
}

// strcasecmp compares as C's strcasecmp in the C locale.
func strcasecmp(a, b string) int {
	lower := func(c byte) byte {
		if c >= 'A' && c <= 'Z' {
			return c + 'a' - 'A'
		}
		return c
	}
	for i := 0; i < len(a) && i < len(b); i++ {
		if ca, cb := lower(a[i]), lower(b[i]); ca != cb {
			return int(ca) - int(cb)
		}
	}
	return len(a) - len(b)
}

func idString(d remote.Domain) string {
	if d.ID == -1 {
		return "-"
	}
	return fmt.Sprint(d.ID)
}

// listTable prints the Id, Name, State table. A domain whose state cannot
// be read has gone meanwhile and is left out.
func (sh *shell) listTable(ctx context.Context, doms []remote.Domain, markSaved bool) error {
	t := newTable("Id", "Name", "State")
	for _, d := range doms {
		state, _, err := sh.domainState(ctx, d)
		if err != nil {
			continue
		}
		word := drivers.StateString(state)
		if markSaved && state == vir.DomainShutoff {
			if saved, err := sh.conn.DomainHasManagedSaveImage(ctx, d, 0); err == nil && saved {
				word = "saved"
			}
		}
		t.add(idString(d), d.Name, word)
	}
	t.write(sh.out, !sh.quiet)
	return nil
}

// listColumns prints, per domain, the columns asked for: uuid, id, name.
// With --id alone inactive domains, which have no id, are left out.
func (sh *shell) listColumns(doms []remote.Domain, uuid, id, name bool) {
	for _, d := range doms {
		if id && !uuid && !name && d.ID == -1 {
			continue
		}
		sep := ""
		if uuid {
			sh.printf("%s", d.UUID)
			sep = " "
		}
		if id {
			sh.printf("%s%s", sep, idString(d))
			sep = " "
		}
		if name {
			sh.printf("%s%s", sep, d.Name)
		}
		sh.printf("\n")
	}
}
