package main

import (
	"fmt"
	"sort"
	"strings"
)

// writeTypes emits the constants, enums and types of one .x file, and
// their codecs.
func writeTypes(w *codeWriter, m *model, s *spec, types []*namedType) {
	if len(s.consts) > 0 {
		w.line("// Constants of %s.", baseName(s.file))
		w.line("const (")
		w.indent++
		for _, c := range s.consts {
			w.line("%s = %s // %s", m.constGo[c.name], constLiteral(m.consts[c.name]), c.name)
		}
		w.indent--
		w.line(")")
		w.line("")
	}
	for _, nt := range types {
		switch {
		case nt.enum != nil:
			writeEnum(w, m, nt)
		case nt.opaqueN > 0:
			w.line("// %s is %s: %d raw bytes.", nt.goName, nt.cName, nt.opaqueN)
			w.line("type %s [%d]byte", nt.goName, nt.opaqueN)
			w.line("")
		default:
			writeStruct(w, nt)
			writeCodec(w, nt)
		}
	}
}

func constLiteral(v int64) string {
	if v > 0xffff {
		return fmt.Sprintf("%#x", v)
	}
	return fmt.Sprint(v)
}

func baseName(path string) string {
	if i := strings.LastIndex(path, "/"); i >= 0 {
		return path[i+1:]
	}
	return path
}

func writeEnum(w *codeWriter, m *model, nt *namedType) {
	w.line("// %s is enum %s.", nt.goName, nt.cName)
	w.line("type %s int32", nt.goName)
	w.line("")
	w.line("const (")
	w.indent++
	for _, it := range nt.enum.items {
		w.line("%s %s = %d // %s", goEnumItemName(nt.enum.name, it.name), nt.goName, m.consts[it.name], it.name)
	}
	w.indent--
	w.line(")")
	w.line("")
	// String names a value as the protocol does, without the program
	// prefix: "CALL", "DOMAIN_GET_INFO".
	type entry struct {
		v    int64
		name string
	}
	var es []entry
	seen := map[int64]bool{}
	for _, it := range nt.enum.items {
		v := m.consts[it.name]
		if seen[v] {
			continue
		}
		seen[v] = true
		es = append(es, entry{v, enumWireName(it.name)})
	}
	sort.Slice(es, func(i, j int) bool { return es[i].v < es[j].v })
	dense := len(es) > 0 && es[0].v >= 0 && es[len(es)-1].v < int64(2*len(es)+8)
	w.line("// String is the value's name in the protocol definition.")
	w.line("func (v %s) String() string {", nt.goName)
	w.indent++
	if dense {
		w.line("if v >= 0 && int(v) < len(%sNames) && %sNames[v] != \"\" {", lowerFirst(nt.goName), lowerFirst(nt.goName))
		w.line("\treturn %sNames[v]", lowerFirst(nt.goName))
		w.line("}")
	} else {
		w.line("switch v {")
		for _, e := range es {
			w.line("case %d:", e.v)
			w.line("\treturn %q", e.name)
		}
		w.line("}")
	}
	w.line("return fmt.Sprintf(\"%s(%%d)\", int32(v))", nt.goName)
	w.indent--
	w.line("}")
	w.line("")
	if dense {
		w.line("var %sNames = [...]string{", lowerFirst(nt.goName))
		w.indent++
		for _, e := range es {
			w.line("%d: %q,", e.v, e.name)
		}
		w.indent--
		w.line("}")
		w.line("")
	}
}

// enumWireName drops the program prefix of an enumerator:
// REMOTE_PROC_DOMAIN_GET_INFO is DOMAIN_GET_INFO, VIR_NET_CALL is CALL.
func enumWireName(c string) string {
	for _, p := range []string{"REMOTE_PROC_", "QEMU_PROC_", "LXC_PROC_", "ADMIN_PROC_", "KEEPALIVE_PROC_", "REMOTE_", "VIR_NET_", "QEMU_", "LXC_", "ADMIN_"} {
		if rest, ok := strings.CutPrefix(c, p); ok {
			return rest
		}
	}
	return c
}

func writeStruct(w *codeWriter, nt *namedType) {
	kind := "struct"
	if nt.disc != nil {
		kind = "union"
	}
	w.line("// %s is %s %s.", nt.goName, kind, nt.cName)
	if nt.disc != nil {
		w.line("// %s selects which of the other fields is on the wire.", nt.disc.goName)
	}
	w.line("type %s struct {", nt.goName)
	w.indent++
	fields := nt.fields
	if nt.disc != nil {
		fields = []*field{nt.disc}
		for _, a := range nt.arms {
			if a.f != nil {
				fields = append(fields, a.f)
			}
		}
	}
	for _, f := range fields {
		comment := ""
		switch f.t.kind {
		case xString, xOpaque, xSlice:
			if f.t.max >= 0 {
				comment = " // at most " + f.t.limitExpr()
			}
		}
		w.line("%s %s%s", f.goName, f.t.goType(""), comment)
	}
	w.indent--
	w.line("}")
	w.line("")
}
