package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// concernTables are libvirt's driver tables, one header each, and the
// protocol.Concern constant of the procedures whose API is in it.
var concernTables = []struct{ header, concern string }{
	{"src/driver-hypervisor.h", "ConcernHypervisor"},
	{"src/driver-network.h", "ConcernNetwork"},
	{"src/driver-storage.h", "ConcernStorage"},
	{"src/driver-interface.h", "ConcernInterface"},
	{"src/driver-nodedev.h", "ConcernNodeDevice"},
	{"src/driver-secret.h", "ConcernSecret"},
	{"src/driver-nwfilter.h", "ConcernNWFilter"},
}

// reDrvTypedef matches a driver table's function pointer type,
// "(*virDrvConnectListAllNetworks)": the API virConnectListAllNetworks.
var reDrvTypedef = regexp.MustCompile(`\(\*virDrv(\w+)\)`)

// readConcerns maps each public API named in a driver table to the
// Concern constant of that table.
func readConcerns(src string) (map[string]string, error) {
	out := map[string]string{}
	for _, t := range concernTables {
		b, err := os.ReadFile(filepath.Join(src, t.header))
		if err != nil {
			return nil, fmt.Errorf("driver table: %w", err)
		}
		n := 0
		for _, m := range reDrvTypedef.FindAllStringSubmatch(string(b), -1) {
			api := "vir" + m[1]
			if prev, ok := out[api]; ok && prev != t.concern {
				return nil, fmt.Errorf("%s: %s is in the %s table too", t.header, api, prev)
			}
			out[api] = t.concern
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("%s: no virDrv function types found (has the header's shape changed?)", t.header)
		}
	}
	return out, nil
}

// eventConcerns give an event message, which implements no API, the
// concern of the objects it is about.
var eventConcerns = []struct{ prefix, concern string }{
	{"NETWORK_EVENT_", "ConcernNetwork"},
	{"STORAGE_POOL_EVENT_", "ConcernStorage"},
	{"NODE_DEVICE_EVENT_", "ConcernNodeDevice"},
	{"SECRET_EVENT_", "ConcernSecret"},
}

// concernOf is the Concern constant of a procedure: its API's table, or
// for an event message the table of its objects; the hypervisor's when
// no table has it.
func concernOf(concerns map[string]string, pi *procInfo) string {
	if c, ok := concerns[pi.api]; ok {
		return c
	}
	if pi.msg {
		for _, e := range eventConcerns {
			if strings.HasPrefix(pi.wire, e.prefix) {
				return e.concern
			}
		}
	}
	return "ConcernHypervisor"
}
