package main

import (
	"strings"
	"unicode"
)

// Naming. A C name is split into words at underscores; each word is
// capitalised, or replaced by its initialism. Words already in mixed case
// (callbackID) keep their inner capitals. The initialisms are few on
// purpose: a Go name a libvirt user can still map back to the C name by eye.
var initialisms = map[string]string{
	"id": "ID", "ids": "IDs", "uuid": "UUID", "xml": "XML", "uri": "URI",
	"cpu": "CPU", "cpus": "CPUs", "os": "OS", "ip": "IP", "mac": "MAC", "fds": "FDs",
	"ok": "OK", "mhz": "MHz", "doi": "DOI", "io": "IO",
}

// camel joins words of a C identifier into an exported Go name.
func camel(c string) string {
	var b strings.Builder
	for _, w := range words(c) {
		if w == "" {
			continue
		}
		if r, ok := initialisms[strings.ToLower(w)]; ok {
			b.WriteString(r)
			continue
		}
		if w == strings.ToUpper(w) {
			w = strings.ToLower(w)
		}
		rs := []rune(w)
		rs[0] = unicode.ToUpper(rs[0])
		b.WriteString(string(rs))
	}
	return b.String()
}

// words splits a C identifier at underscores and, inside mixed-case
// names (nrVirtCpu), where a lower-case letter meets an upper-case one.
func words(c string) []string {
	var out []string
	for _, part := range strings.Split(c, "_") {
		start := 0
		for i := 1; i < len(part); i++ {
			if unicode.IsLower(rune(part[i-1])) && unicode.IsUpper(rune(part[i])) {
				out = append(out, part[start:i])
				start = i
			}
		}
		out = append(out, part[start:])
	}
	return out
}

// lowerFirst makes a Go parameter name from an exported one, avoiding
// Go's keywords and the names generated code uses itself.
func lowerFirst(s string) string {
	i := 0
	for i < len(s) && unicode.IsUpper(rune(s[i])) {
		i++
	}
	switch {
	case i == 0:
	case i == len(s):
		s = strings.ToLower(s)
	case i == 1:
		s = strings.ToLower(s[:1]) + s[1:]
	default: // "UUIDs" → "uuids", "XMLDesc" → "xmlDesc"
		s = strings.ToLower(s[:i-1]) + s[i-1:]
	}
	switch s {
	case "type", "func", "var", "map", "range", "select", "go", "chan", "default",
		"interface", "package", "import", "return", "switch", "case", "const",
		"ctx", "err", "args", "ret", "c", "e", "d", "v", "len", "cap", "new",
		"string", "error", "nil", "true", "false", "iota", "append", "copy", "delete", "make", "panic", "print":
		return s + "_"
	}
	return s
}

// typePrefixes maps the C prefix of a program's type names to the Go
// prefix its types get in package protocol: the remote program's types
// are unprefixed, as they are most of what a reader sees.
var typePrefixes = []struct{ c, goName string }{
	{"remote_nonnull_", ""},
	{"remote_", ""},
	{"qemu_", "Qemu"},
	{"lxc_", "Lxc"},
	{"admin_nonnull_", "Admin"},
	{"admin_", "Admin"},
	{"virNetMessage", "NetMessage"},
	{"virNet", "Net"},
}

// goTypeName is the Go name of a .x struct, union, enum or typedef.
func goTypeName(c string) string {
	for _, p := range typePrefixes {
		if rest, ok := strings.CutPrefix(c, p.c); ok {
			return p.goName + camel(rest)
		}
	}
	return camel(c)
}

// constPrefixes maps the C prefix of a constant or enumerator to its Go
// prefix. Procedure numbers: REMOTE_PROC_X is ProcX, QEMU_PROC_X is
// QemuProcX.
var constPrefixes = []struct{ c, goName string }{
	{"REMOTE_PROC_", "Proc"},
	{"REMOTE_", "Remote"},
	{"QEMU_PROC_", "QemuProc"},
	{"QEMU_", "Qemu"},
	{"LXC_PROC_", "LxcProc"},
	{"LXC_", "Lxc"},
	{"ADMIN_PROC_", "AdminProc"},
	{"ADMIN_", "Admin"},
	{"KEEPALIVE_", "Keepalive"},
	{"VIR_NET_", "Net"},
}

// enumPrefixes gives the enumerators of the transport's two enums the
// names the transport has always used: protocol.Call, protocol.StatusOK.
var enumPrefixes = map[string]string{
	"virNetMessageType":   "",
	"virNetMessageStatus": "Status",
}

// goEnumItemName is the Go name of an enumerator of enum.
func goEnumItemName(enum, c string) string {
	if p, ok := enumPrefixes[enum]; ok {
		return p + camel(strings.TrimPrefix(c, "VIR_NET_"))
	}
	return goConstName(c)
}

func goConstName(c string) string {
	for _, p := range constPrefixes {
		if rest, ok := strings.CutPrefix(c, p.c); ok {
			return p.goName + camel(rest)
		}
	}
	return camel(strings.TrimPrefix(c, "VIR_"))
}

// fieldOverrides renames fields whose Go names the transport already
// uses everywhere (the message header's).
var fieldOverrides = map[string]string{
	"virNetMessageHeader.prog": "Program",
	"virNetMessageHeader.vers": "Version",
	"virNetMessageHeader.proc": "Procedure",
}

func goFieldName(typ, field string) string {
	if o, ok := fieldOverrides[typ+"."+field]; ok {
		return o
	}
	return camel(field)
}
