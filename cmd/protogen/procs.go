package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// procInfo is one procedure of a program, with what its annotations say.
type procInfo struct {
	prog      *program
	num       int64
	cName     string // REMOTE_PROC_DOMAIN_GET_INFO
	goConst   string // ProcDomainGetInfo
	wire      string // DOMAIN_GET_INFO
	goName    string // DomainGetInfo: the method name everywhere
	api       string // virDomainGetInfo
	errDomain int64  // the error domain (virErrorDomain) of the API's errors
	concern   string // the protocol.Concern constant of its driver table
	args, ret *namedType
	msg       bool // an event the daemon sends, never called
	high      bool // @priority: high
	acls      []string
	stream    string // "read", "write" or ""
	// What makes a call one read-only clients are refused.
	write      bool     // always
	writeFlags []string // any of these flags in args.Flags
	writeArg   string   // a Go condition on the arguments (the @acl ::param:value form)
}

// readPerms are the permissions a read-only client holds: libvirt's
// read-only connections may look, list and search, nothing more.
func readPerm(perm string) bool {
	return perm == "getattr" || perm == "read" || strings.HasPrefix(perm, "search_")
}

func buildProcs(m *model, hdr *headerSyms, apis map[string]apiFacts, concerns map[string]string, progs []*program) ([]*procInfo, error) {
	var all []*procInfo
	for _, p := range progs {
		if p.enum == "" {
			continue
		}
		var enum *enumDef
		for _, e := range p.spec.enums {
			if e.name == p.enum {
				enum = e
			}
		}
		if enum == nil {
			return nil, fmt.Errorf("%s: no enum %s", p.file, p.enum)
		}
		prefix := strings.ToLower(strings.TrimSuffix(p.enum, "procedure")) // "remote_"
		for _, it := range enum.items {
			pi := &procInfo{prog: p, num: m.consts[it.name], cName: it.name, goConst: goConstName(it.name), wire: enumWireName(it.name)}
			stem := prefix + strings.ToLower(pi.wire)
			pi.goName = goTypeName(stem)
			pi.args = m.named[stem+"_args"]
			pi.ret = m.named[stem+"_ret"]
			if msg := m.named[stem+"_msg"]; msg != nil {
				pi.args, pi.msg = msg, true
			}
			if err := pi.annotate(m, it.comment); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", p.file, it.name, err)
			}
			pi.api = apiName(hdr, p.goName, pi.wire)
			if f, ok := apis[pi.api]; ok {
				pi.errDomain = m.consts[f.fromThis]
				// libvirt refuses some calls whose @acl asks only read
				// access (virDomainSetSchedulerParameters says
				// domain:read): what a read-only client meets is the
				// union of the two.
				pi.write = pi.write || f.readOnly
			}
			pi.concern = concernOf(concerns, pi)
			all = append(all, pi)
		}
	}
	return all, nil
}

var reAnnotation = regexp.MustCompile(`@(\w+):\s*(\S+)`)

func (pi *procInfo) annotate(m *model, comment string) error {
	for _, a := range reAnnotation.FindAllStringSubmatch(comment, -1) {
		switch a[1] {
		case "priority":
			pi.high = a[2] == "high"
		case "readstream":
			pi.stream = "read"
		case "writestream":
			pi.stream = "write"
		case "acl":
			pi.acls = append(pi.acls, a[2])
			if err := pi.access(m, a[2]); err != nil {
				return err
			}
		}
	}
	return nil
}

// access folds one @acl rule into the procedure's read-only class. The
// rule is object:perm, object:perm:FLAG (only when FLAG is set; !FLAG
// when it is not) or object:perm::param:VALUE (when the argument param
// has VALUE).
func (pi *procInfo) access(m *model, rule string) error {
	if rule == "none" {
		return nil
	}
	parts := strings.Split(rule, ":")
	if len(parts) < 2 {
		return fmt.Errorf("bad @acl %q", rule)
	}
	if readPerm(parts[1]) {
		return nil
	}
	switch {
	case len(parts) == 2:
		pi.write = true
	case len(parts) == 3 && strings.HasPrefix(parts[2], "!"):
		// Needed when a flag is absent: a call without flags needs it.
		pi.write = true
	case len(parts) == 3:
		for _, f := range strings.Split(parts[2], "|") {
			if _, ok := m.consts[f]; !ok {
				return fmt.Errorf("@acl %q names an unknown flag %s", rule, f)
			}
			pi.writeFlags = append(pi.writeFlags, f)
		}
	case len(parts) == 5 && parts[2] == "":
		v, ok := m.consts[parts[4]]
		if !ok {
			return fmt.Errorf("@acl %q names an unknown value %s", rule, parts[4])
		}
		pi.writeArg = fmt.Sprintf("a.%s == %d", camel(parts[3]), v)
	default:
		return fmt.Errorf("bad @acl %q", rule)
	}
	return nil
}

// aclWrite is the access class of the @acl rules alone.
func (pi *procInfo) aclWrite() bool {
	for _, rule := range pi.acls {
		parts := strings.Split(rule, ":")
		if len(parts) >= 2 && !readPerm(parts[1]) && (len(parts) == 2 || strings.HasPrefix(parts[2], "!")) {
			return true
		}
	}
	return false
}

// flagMask is the Go expression of the procedure's write flags.
func (pi *procInfo) flagMask(m *model) (uint32, string) {
	var v uint32
	for _, f := range pi.writeFlags {
		v |= uint32(m.consts[f])
	}
	return v, strings.Join(pi.writeFlags, "|")
}

// apiName finds the public function a procedure implements by matching
// its words against the headers' function names: DOMAIN_GET_XML_DESC is
// virDomainGetXMLDesc. Procedures that implement no public function
// (authentication, migration steps, events) get "vir" and their words.
func apiName(hdr *headerSyms, prog, wire string) string {
	words := strings.Split(strings.ToLower(wire), "_")
	try := func(ws []string) (string, bool) {
		f, ok := hdr.funcs[strings.Join(ws, "")]
		return f, ok
	}
	var cands [][]string
	switch prog {
	case "Qemu":
		for i := 1; i <= len(words); i++ {
			cands = append(cands, append(append(append([]string{}, words[:i]...), "qemu"), words[i:]...))
		}
	case "Admin":
		cands = append(cands, append([]string{"adm"}, words...))
	default:
		cands = append(cands, words)
		var noCB []string
		for _, w := range words {
			if w != "callback" {
				noCB = append(noCB, w)
			}
		}
		cands = append(cands, noCB)
	}
	for _, c := range cands {
		if f, ok := try(c); ok {
			return f
		}
	}
	return "vir" + camel(wire)
}

// apiFacts is what the public API's implementation (src/libvirt*.c)
// tells of one function: the error domain its errors carry
// (VIR_FROM_THIS of its file) and whether it refuses read-only
// connections outright (virCheckReadOnlyGoto at the top of its body).
type apiFacts struct {
	fromThis string
	readOnly bool
}

var (
	reFuncDef  = regexp.MustCompile(`(?m)^(vir\w+)\(`)
	reFromThis = regexp.MustCompile(`(?m)^#define VIR_FROM_THIS (VIR_FROM_\w+)`)
)

func readAPIFacts(src string) (map[string]apiFacts, error) {
	files, err := filepath.Glob(filepath.Join(src, "src", "libvirt*.c"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no src/libvirt*.c in %s", src)
	}
	sort.Strings(files)
	out := map[string]apiFacts{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		text := string(b)
		from := "VIR_FROM_NONE"
		if m := reFromThis.FindStringSubmatch(text); m != nil {
			from = m[1]
		}
		locs := reFuncDef.FindAllStringSubmatchIndex(text, -1)
		for i, l := range locs {
			end := len(text)
			if i+1 < len(locs) {
				end = locs[i+1][0]
			}
			out[text[l[2]:l[3]]] = apiFacts{
				fromThis: from,
				readOnly: strings.Contains(text[l[0]:end], "\n    virCheckReadOnlyGoto("),
			}
		}
	}
	return out, nil
}

// compareReadOnly reports, on standard error, where the @acl access class
// and the public API's own read-only check disagree, for whoever changes
// the access rule.
func compareReadOnly(procs []*procInfo, apis map[string]apiFacts) {
	for _, pi := range procs {
		f, ok := apis[pi.api]
		if !ok || pi.prog.goName != "Remote" || pi.msg {
			continue
		}
		if aclWrite := pi.aclWrite(); f.readOnly != aclWrite {
			fmt.Fprintf(os.Stderr, "protogen: %s (%s): @acl says write=%v, virCheckReadOnlyGoto says %v\n", pi.cName, pi.api, aclWrite, f.readOnly)
		}
	}
}
