package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"sort"
	"strings"
)

// writeProcTables emits protocol/procedures.gen.go: per program, a table
// indexed by procedure number of what the definition says of each.
func writeProcTables(out string, m *model, procs []*procInfo) error {
	w := &codeWriter{}
	for _, p := range programs {
		if p.goName == "" {
			continue
		}
		var ps []*procInfo
		maxNum := int64(0)
		for _, pi := range procs {
			if pi.prog == p {
				ps = append(ps, pi)
				maxNum = max(maxNum, pi.num)
			}
		}
		table := strings.ToLower(p.goName[:1]) + p.goName[1:] + "Procs"
		w.line("// %s describes the %d procedures of %s, by number.", table, len(ps), baseName(p.file))
		w.line("var %s = [%d]ProcInfo{", table, maxNum+1)
		w.indent++
		for _, pi := range ps {
			w.line("%d: {", pi.num)
			w.indent++
			w.line("Name: %q, API: %q, ErrorDomain: %d,", pi.wire, pi.api, pi.errDomain)
			if pi.concern != "ConcernHypervisor" {
				w.line("Concern: %s,", pi.concern)
			}
			if pi.args != nil {
				w.line("Args: %q,", pi.args.goName)
			}
			if pi.ret != nil {
				w.line("Ret: %q,", pi.ret.goName)
			}
			if pi.msg {
				w.line("Message: true,")
			}
			if pi.high {
				w.line("HighPriority: true,")
			}
			switch pi.stream {
			case "read":
				w.line("Stream: StreamRead,")
			case "write":
				w.line("Stream: StreamWrite,")
			}
			if len(pi.acls) > 0 {
				w.line("ACL: %#v,", pi.acls)
			}
			if pi.write {
				w.line("Write: true,")
			}
			if v, names := pi.flagMask(m); v != 0 {
				w.line("WriteFlags: %#x, // %s", v, names)
			}
			if pi.writeArg != "" {
				w.line("WriteWhen: %q,", strings.TrimPrefix(pi.writeArg, "a."))
			}
			w.indent--
			w.line("},")
		}
		w.indent--
		w.line("}")
		w.line("")
		for _, kind := range []string{"Args", "Ret"} {
			w.line("// New%s%s returns a new value of the %s type of procedure p of", p.goName, kind, strings.ToLower(kind))
			w.line("// %s, or nil when it is void or p is not defined.", baseName(p.file))
			w.line("func New%s%s(p int32) Body {", p.goName, kind)
			w.line("switch p {")
			for _, pi := range ps {
				t := pi.args
				if kind == "Ret" {
					t = pi.ret
				}
				if t != nil {
					w.line("case %d:", pi.num)
					w.line("\treturn new(%s)", t.goName)
				}
			}
			w.line("}")
			w.line("return nil")
			w.line("}")
			w.line("")
		}
	}
	return writeGo(filepath.Join(out, "protocol", "procedures.gen.go"), "protocol", nil, w.b.String())
}

// zeroable reports whether a zero value of t encodes as its minimum size
// in zero bytes, so a test can build a body up to any later field.
func zeroable(t *xtype) bool {
	switch t.kind {
	case xNamed:
		if t.named.disc != nil {
			return false
		}
		for _, f := range t.named.fields {
			if !zeroable(f.t) {
				return false
			}
		}
		return true
	case xArray:
		return zeroable(t.elem)
	}
	return true
}

// writeLimitTests emits protocol/limits_gen_test.go: for every struct
// field with a limit, where the body is made up to it, the offset of its
// length word. protocol's limit test sends each one past its limit.
func writeLimitTests(out string, m *model) error {
	w := &codeWriter{}
	w.line("var limitCases = []limitCase{")
	w.indent++
	for _, nt := range m.order {
		if nt.def == nil || nt.disc != nil {
			continue
		}
		off := 0
		for _, f := range nt.fields {
			switch f.t.kind {
			case xString, xOpaque, xSlice:
				if f.t.max >= 0 {
					w.line("{%q, func() Decodable { return new(%s) }, %d, %s},", nt.goName+"."+f.goName, nt.goName, off, f.t.limitExpr())
				}
			}
			if !zeroable(f.t) {
				break
			}
			off += f.t.minSize()
		}
	}
	w.indent--
	w.line("}")
	return writeGo(filepath.Join(out, "protocol", "limits_gen_test.go"), "protocol", nil, w.b.String())
}

// callable reports whether a client may call the procedure: not an
// event, and with no stream, which needs more than an argument and a
// return.
func (pi *procInfo) callable() bool { return !pi.msg && pi.stream == "" }

// params lists the Go parameters a driver method and a client method
// take for the procedure's arguments.
func (pi *procInfo) params() (decls, names []string) {
	if pi.args == nil {
		return nil, nil
	}
	for _, f := range pi.args.fields {
		n := lowerFirst(f.goName)
		decls = append(decls, n+" "+f.t.goType("protocol."))
		names = append(names, n)
	}
	return decls, names
}

// result is what a driver method and a client method return for the
// procedure: nothing, its return's one field, or the whole return.
func (pi *procInfo) result() (goType string, single *field) {
	switch {
	case pi.ret == nil:
		return "", nil
	case len(pi.ret.fields) == 1:
		return pi.ret.fields[0].t.goType("protocol."), pi.ret.fields[0]
	}
	return "*protocol." + pi.ret.goName, nil
}

func (pi *procInfo) signature() string {
	decls, _ := pi.params()
	res, _ := pi.result()
	in := strings.Join(append([]string{"ctx context.Context"}, decls...), ", ")
	if res == "" {
		return fmt.Sprintf("%s(%s) error", pi.goName, in)
	}
	return fmt.Sprintf("%s(%s) (%s, error)", pi.goName, in, res)
}

// writeDriverOps emits drivers/ops.gen.go: one single-method interface
// per callable procedure of the remote and QEMU programs. A connection
// serves a procedure by having the method; the daemon's stub finds it
// with a type assertion.
func writeDriverOps(out string, m *model, procs []*procInfo) error {
	w := &codeWriter{}
	for _, pi := range procs {
		if !pi.served() {
			continue
		}
		w.line("// Op%s is a connection that serves %s (%s).", pi.goName, pi.api, pi.cName)
		w.line("type Op%s interface {", pi.goName)
		w.line("\t%s", pi.signature())
		w.line("}")
		w.line("")
	}
	return writeGo(filepath.Join(out, "drivers", "ops.gen.go"), "drivers",
		[]string{"context", "github.com/govirt/govirtd/protocol"}, w.b.String())
}

// served reports whether the daemon dispatches the procedure (remote and
// QEMU programs through the remote dispatch table; keepalive is the
// transport's, admin has its own table, writeAdminDispatch).
func (pi *procInfo) served() bool {
	return pi.callable() && (pi.prog.goName == "Remote" || pi.prog.goName == "Qemu")
}

// writeDispatch emits daemon/dispatch.gen.go: the handler table and the
// stub of every procedure of the remote and QEMU programs.
func writeDispatch(out string, m *model, procs []*procInfo) error {
	w := &codeWriter{}
	for _, prog := range []string{"Remote", "Qemu"} {
		lp := strings.ToLower(prog)
		w.line("// %sHandlers holds the daemon's own handler of each %s procedure", lp, lp)
		w.line("// that needs more than a driver call. A nil handler sends the call to")
		w.line("// the connection's driver, or answers VIR_ERR_NO_SUPPORT.")
		w.line("type %sHandlers struct {", lp)
		w.indent++
		for _, pi := range procs {
			if pi.prog.goName != prog || pi.msg {
				continue
			}
			w.line("%s func(%s) %s", pi.goName, handlerParams(pi), handlerResult(pi))
		}
		w.indent--
		w.line("}")
		w.line("")
		// One small function per procedure, found through a table: a
		// switch of them all in one function would give every call the
		// stack frame of the largest case, which the reader goroutine of
		// every connection would keep.
		maxNum := int64(0)
		for _, pi := range procs {
			if pi.prog.goName == prog {
				maxNum = max(maxNum, pi.num)
			}
		}
		w.line("// %sStubs holds the stub of each %s procedure, by number.", lp, lp)
		w.line("var %sStubs = [%d]func(h *%sHandlers, ctx context.Context, r *request, body []byte) (protocol.Encodable, error){", lp, maxNum+1, lp)
		for _, pi := range procs {
			if pi.prog.goName == prog {
				w.line("\t%d: %sStub%s,", pi.num, lp, pi.goName)
			}
		}
		w.line("}")
		w.line("")
		w.line("// dispatch decodes the call's arguments, checks the connection is")
		w.line("// open and the client may make the call, and runs the handler or the")
		w.line("// driver's method.")
		w.line("func (h *%sHandlers) dispatch(ctx context.Context, r *request, body []byte) (protocol.Encodable, error) {", lp)
		w.line("\tif r.num < 0 || int(r.num) >= len(%sStubs) || %sStubs[r.num] == nil {", lp, lp)
		w.line("\t\treturn nil, errUnknownProc(r.num)")
		w.line("\t}")
		w.line("\treturn %sStubs[r.num](h, ctx, r, body)", lp)
		w.line("}")
		w.line("")
		for _, pi := range procs {
			if pi.prog.goName != prog {
				continue
			}
			w.line("func %sStub%s(h *%sHandlers, ctx context.Context, r *request, body []byte) (protocol.Encodable, error) {", lp, pi.goName, lp)
			writeStub(w, m, pi)
			w.line("}")
			w.line("")
		}
	}
	return writeGo(filepath.Join(out, "daemon", "dispatch.gen.go"), "daemon",
		[]string{"context", "github.com/govirt/govirtd/drivers", "github.com/govirt/govirtd/protocol"}, w.b.String())
}

// writeAdminDispatch emits daemon/admin_dispatch.gen.go: the admin
// program's handler table (one field per procedure, all the daemon's own:
// the admin program has no drivers behind it) and a stub per procedure
// that decodes its arguments and calls the handler, or answers
// VIR_ERR_NO_SUPPORT when the handler is nil.
func writeAdminDispatch(out string, procs []*procInfo) error {
	w := &codeWriter{}
	w.line("// adminHandlers holds the daemon's handler of each admin procedure;")
	w.line("// a nil handler answers VIR_ERR_NO_SUPPORT.")
	w.line("type adminHandlers struct {")
	w.indent++
	maxNum := int64(0)
	for _, pi := range procs {
		if pi.prog.goName != "Admin" || pi.msg {
			continue
		}
		maxNum = max(maxNum, pi.num)
		params := "ctx context.Context, r *adminRequest"
		if pi.args != nil {
			params += ", a *protocol." + pi.args.goName
		}
		w.line("%s func(%s) %s", pi.goName, params, handlerResult(pi))
	}
	w.indent--
	w.line("}")
	w.line("")
	w.line("// adminStubs holds the stub of each admin procedure, by number.")
	w.line("var adminStubs = [%d]func(h *adminHandlers, ctx context.Context, r *adminRequest, body []byte) (protocol.Encodable, error){", maxNum+1)
	for _, pi := range procs {
		if pi.prog.goName == "Admin" && !pi.msg {
			w.line("\t%d: adminStub%s,", pi.num, pi.goName)
		}
	}
	w.line("}")
	w.line("")
	w.line("// dispatch decodes the call's arguments and runs its handler.")
	w.line("func (h *adminHandlers) dispatch(ctx context.Context, r *adminRequest, body []byte) (protocol.Encodable, error) {")
	w.line("\tif r.num < 0 || int(r.num) >= len(adminStubs) || adminStubs[r.num] == nil {")
	w.line("\t\treturn nil, errUnknownProc(r.num)")
	w.line("\t}")
	w.line("\treturn adminStubs[r.num](h, ctx, r, body)")
	w.line("}")
	w.line("")
	for _, pi := range procs {
		if pi.prog.goName != "Admin" || pi.msg {
			continue
		}
		w.line("func adminStub%s(h *adminHandlers, ctx context.Context, r *adminRequest, body []byte) (protocol.Encodable, error) {", pi.goName)
		w.indent++
		call := "ctx, r"
		if pi.args != nil {
			w.line("var a protocol.%s", pi.args.goName)
			w.line("if err := r.decode(body, &a); err != nil {")
			w.line("\treturn nil, err")
			w.line("}")
			call += ", &a"
		}
		w.line("if h.%s == nil {", pi.goName)
		w.line("\treturn nil, r.errNoSupport()")
		w.line("}")
		if pi.ret == nil {
			w.line("return nil, h.%s(%s)", pi.goName, call)
		} else {
			w.line("ret, err := h.%s(%s)", pi.goName, call)
			w.line("if err != nil {")
			w.line("\treturn nil, err")
			w.line("}")
			w.line("return ret, nil")
		}
		w.indent--
		w.line("}")
		w.line("")
	}
	return writeGo(filepath.Join(out, "daemon", "admin_dispatch.gen.go"), "daemon",
		[]string{"context", "github.com/govirt/govirtd/protocol"}, w.b.String())
}

func handlerParams(pi *procInfo) string {
	p := "ctx context.Context, r *request"
	if pi.args != nil {
		p += ", a *protocol." + pi.args.goName
	}
	return p
}

func handlerResult(pi *procInfo) string {
	if pi.ret == nil {
		return "error"
	}
	return "(*protocol." + pi.ret.goName + ", error)"
}

func writeStub(w *codeWriter, m *model, pi *procInfo) {
	w.indent++
	defer func() { w.indent-- }()
	if pi.msg {
		w.line("return nil, errEventProc(r.num, %q)", pi.wire)
		return
	}
	call := "ctx, r"
	if pi.args != nil {
		w.line("var a protocol.%s", pi.args.goName)
		w.line("if err := r.decode(body, &a); err != nil {")
		w.line("\treturn nil, err")
		w.line("}")
		call += ", &a"
	}
	write := "false"
	switch {
	case pi.write:
		write = "true"
	case len(pi.writeFlags) > 0:
		v, names := pi.flagMask(m)
		write = fmt.Sprintf("a.Flags&%#x != 0 /* %s */", v, names)
	case pi.writeArg != "":
		write = pi.writeArg
	}
	admit := "admit"
	if len(pi.writeFlags) > 0 && secureFlags(pi.writeFlags) {
		admit = "admitSecure" // libvirt's own wording for these
	}
	w.line("if err := r.%s(%s); err != nil {", admit, write)
	w.line("\treturn nil, err")
	w.line("}")
	w.line("if h.%s != nil {", pi.goName)
	if pi.ret == nil {
		w.line("\treturn nil, h.%s(%s)", pi.goName, call)
	} else {
		w.line("\tif ret, err := h.%s(%s); err != nil {", pi.goName, call)
		w.line("\t\treturn nil, err")
		w.line("\t} else {")
		w.line("\t\treturn ret, nil")
		w.line("\t}")
	}
	w.line("}")
	if !pi.served() {
		w.line("return nil, r.errNoSupport()")
		return
	}
	if pi.concern == "ConcernHypervisor" {
		w.line("c, ok := r.conn.(drivers.Op%s)", pi.goName)
	} else {
		// The connection's driver for the procedure's concern.
		w.line("c, ok := r.connFor(protocol.%s).(drivers.Op%s)", pi.concern, pi.goName)
	}
	w.line("if !ok {")
	w.line("\treturn nil, r.errNoSupport()")
	w.line("}")
	var args []string
	if pi.args != nil {
		for _, f := range pi.args.fields {
			args = append(args, "a."+f.goName)
		}
	}
	in := strings.Join(append([]string{"ctx"}, args...), ", ")
	res, single := pi.result()
	switch {
	case res == "":
		w.line("return nil, c.%s(%s)", pi.goName, in)
	case single != nil:
		w.line("v, err := c.%s(%s)", pi.goName, in)
		w.line("if err != nil {")
		w.line("\treturn nil, err")
		w.line("}")
		w.line("return &protocol.%s{%s: v}, nil", pi.ret.goName, single.goName)
	default:
		w.line("ret, err := c.%s(%s)", pi.goName, in)
		w.line("if err != nil || ret == nil {")
		w.line("\treturn nil, errNilReturn(r.api, err)")
		w.line("}")
		w.line("return ret, nil")
	}
}

// handWritten lists the methods the package at dir defines by hand on
// type recv, which the generated client leaves to them.
func handWritten(dir, recv string) (map[string]bool, error) {
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || strings.HasSuffix(f, ".gen.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, d := range af.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv == nil || len(fd.Recv.List) != 1 {
				continue
			}
			if star, ok := fd.Recv.List[0].Type.(*ast.StarExpr); ok {
				if id, ok := star.X.(*ast.Ident); ok && id.Name == recv {
					out[fd.Name.Name] = true
				}
			}
		}
	}
	return out, nil
}

// writeClient emits remote/calls.gen.go: a method on *Conn for every
// callable procedure of the remote program that remote does not define
// by hand (those convert to its own types, or need streams or events).
func writeClient(out string, m *model, procs []*procInfo) error {
	hand, err := handWritten(filepath.Join(out, "remote"), "Conn")
	if err != nil {
		return err
	}
	var names []string
	w := &codeWriter{}
	for _, pi := range procs {
		if pi.prog.goName != "Remote" || !pi.callable() || hand[pi.goName] {
			continue
		}
		names = append(names, pi.goName)
		w.line("// %s calls %s (%s).", pi.goName, pi.api, pi.cName)
		w.line("func (c *Conn) %s {", pi.signature())
		w.indent++
		_, pnames := pi.params()
		argExpr := "nil"
		if pi.args != nil {
			var inits []string
			for i, f := range pi.args.fields {
				inits = append(inits, f.goName+": "+pnames[i])
			}
			w.line("args := &protocol.%s{%s}", pi.args.goName, strings.Join(inits, ", "))
			argExpr = "args"
		}
		res, single := pi.result()
		switch {
		case res == "":
			w.line("return c.call(ctx, protocol.%s, %s, nil)", pi.goConst, argExpr)
		case single != nil:
			w.line("var ret protocol.%s", pi.ret.goName)
			w.line("err := c.call(ctx, protocol.%s, %s, &ret)", pi.goConst, argExpr)
			w.line("return ret.%s, err", single.goName)
		default:
			w.line("var ret protocol.%s", pi.ret.goName)
			w.line("if err := c.call(ctx, protocol.%s, %s, &ret); err != nil {", pi.goConst, argExpr)
			w.line("\treturn nil, err")
			w.line("}")
			w.line("return &ret, nil")
		}
		w.indent--
		w.line("}")
		w.line("")
	}
	sort.Strings(names)
	return writeGo(filepath.Join(out, "remote", "calls.gen.go"), "remote",
		[]string{"context", "github.com/govirt/govirtd/protocol"}, w.b.String())
}

// secureFlags reports flags that ask for secrets (…_XML_SECURE,
// VIR_DOMAIN_XML_MIGRATABLE), which libvirt refuses with a message of its
// own.
func secureFlags(flags []string) bool {
	for _, f := range flags {
		if !strings.HasSuffix(f, "_SECURE") && !strings.HasSuffix(f, "_MIGRATABLE") {
			return false
		}
	}
	return true
}
