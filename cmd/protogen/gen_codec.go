package main

import (
	"fmt"
	"strings"
)

// The codec emitter writes, for each struct and union, an EncodeXDR and a
// DecodeXDR method over protocol's Encoder and Decoder. Fixed-size values
// cannot fail to encode; strings, opaques, arrays and unions check their
// limits. An error names the field path, built only on failure: each
// level wraps what the level below returned.

// failer is the statement run on an error, with %s standing for the
// error expression.
type failer string

func (f failer) with(errExpr string) string { return strings.Replace(string(f), "%s", errExpr, 1) }

// nest is the failer one level down: an element of a slice or array.
func (f failer) nest(index string) failer {
	return failer(f.with("indexErr(" + index + ", %s)"))
}

type codeWriter struct {
	b      strings.Builder
	indent int
	vars   int // to name loop variables uniquely
}

func (w *codeWriter) line(format string, args ...any) {
	w.b.WriteString(strings.Repeat("\t", w.indent))
	fmt.Fprintf(&w.b, format, args...)
	w.b.WriteByte('\n')
}

func (w *codeWriter) newVar(prefix string) string {
	w.vars++
	return fmt.Sprintf("%s%d", prefix, w.vars)
}

// encode writes the statements that encode expression x of type t.
func (w *codeWriter) encode(t *xtype, x string, fail failer) {
	switch t.kind {
	case xPrim:
		switch t.goName {
		case "int32", "uint32", "int64", "uint64", "bool", "float64", "float32":
			w.line("e.%s(%s)", primMethod(t.goName), x)
		case "int8", "int16":
			w.line("e.Int32(int32(%s))", x)
		default:
			w.line("e.Uint32(uint32(%s))", x)
		}
	case xString:
		w.line("if err := e.String(%s, %s); err != nil {", x, t.limitExpr())
		w.indent++
		w.line("%s", fail.with("err"))
		w.indent--
		w.line("}")
	case xOpaque:
		w.line("if err := e.Opaque(%s, %s); err != nil {", x, t.limitExpr())
		w.indent++
		w.line("%s", fail.with("err"))
		w.indent--
		w.line("}")
	case xFixedOpaque:
		w.line("e.FixedOpaque(%s[:])", x)
	case xNamed:
		switch {
		case t.named.enum != nil:
			w.line("e.Int32(int32(%s))", x)
		case t.named.opaqueN > 0:
			w.line("e.FixedOpaque(%s[:])", x)
		default:
			w.line("if err := %s.EncodeXDR(e); err != nil {", x)
			w.indent++
			w.line("%s", fail.with("err"))
			w.indent--
			w.line("}")
		}
	case xArray:
		i := w.newVar("i")
		w.line("for %s := range %s {", i, x)
		w.indent++
		w.encode(t.elem, x+"["+i+"]", fail.nest(i))
		w.indent--
		w.line("}")
	case xSlice:
		w.line("if err := e.Count(len(%s), %s); err != nil {", x, t.limitExpr())
		w.indent++
		w.line("%s", fail.with("err"))
		w.indent--
		w.line("}")
		if t.elem.minSize() > 4 || t.elem.kind != xPrim {
			w.line("e.Grow(len(%s) * %d)", x, t.elem.minSize())
		}
		i := w.newVar("i")
		w.line("for %s := range %s {", i, x)
		w.indent++
		w.encode(t.elem, x+"["+i+"]", fail.nest(i))
		w.indent--
		w.line("}")
	case xOptional:
		w.line("if %s == nil {", x)
		w.indent++
		w.line("e.Uint32(0)")
		w.indent--
		w.line("} else {")
		w.indent++
		w.line("e.Uint32(1)")
		inner := "(*" + x + ")"
		if t.elem.kind == xNamed && t.elem.named.def != nil {
			inner = x
		}
		w.encode(t.elem, inner, fail)
		w.indent--
		w.line("}")
	}
}

func primMethod(goName string) string {
	return map[string]string{
		"int32": "Int32", "uint32": "Uint32", "int64": "Int64", "uint64": "Uint64",
		"bool": "Bool", "float64": "Float64", "float32": "Float32",
	}[goName]
}

// decode writes the statements that decode into the addressable
// expression x of type t.
func (w *codeWriter) decode(t *xtype, x string, fail failer) {
	switch t.kind {
	case xPrim:
		m := primMethod(t.goName)
		conv := ""
		switch t.goName {
		case "int8", "int16":
			m, conv = "Int32", t.goName
		case "uint8", "uint16":
			m, conv = "Uint32", t.goName
		}
		if conv == "" {
			w.line("if %s, err = d.%s(); err != nil {", x, m)
			w.indent++
			w.line("%s", fail.with("err"))
			w.indent--
			w.line("}")
			return
		}
		n := w.newVar("n")
		w.line("if %s, err := d.%s(); err != nil {", n, m)
		w.indent++
		w.line("%s", fail.with("err"))
		w.indent--
		w.line("} else {")
		w.indent++
		w.line("%s = %s(%s)", x, conv, n)
		w.indent--
		w.line("}")
	case xString, xOpaque:
		m := "String"
		if t.kind == xOpaque {
			m = "Opaque"
		}
		w.line("if %s, err = d.%s(%s); err != nil {", x, m, t.limitExpr())
		w.indent++
		w.line("%s", fail.with("err"))
		w.indent--
		w.line("}")
	case xFixedOpaque:
		w.line("if err = d.FixedOpaque(%s[:]); err != nil {", x)
		w.indent++
		w.line("%s", fail.with("err"))
		w.indent--
		w.line("}")
	case xNamed:
		switch {
		case t.named.enum != nil:
			n := w.newVar("n")
			w.line("if %s, err := d.Int32(); err != nil {", n)
			w.indent++
			w.line("%s", fail.with("err"))
			w.indent--
			w.line("} else {")
			w.indent++
			w.line("%s = %s(%s)", x, t.goName, n)
			w.indent--
			w.line("}")
		case t.named.opaqueN > 0:
			w.line("if err = d.FixedOpaque(%s[:]); err != nil {", x)
			w.indent++
			w.line("%s", fail.with("err"))
			w.indent--
			w.line("}")
		default:
			w.line("if err = %s.DecodeXDR(d); err != nil {", x)
			w.indent++
			w.line("%s", fail.with("err"))
			w.indent--
			w.line("}")
		}
	case xArray:
		i := w.newVar("i")
		w.line("for %s := range %s {", i, x)
		w.indent++
		w.decode(t.elem, x+"["+i+"]", fail.nest(i))
		w.indent--
		w.line("}")
	case xSlice:
		n := w.newVar("n")
		w.line("if %s, err := d.Count(%s, %d); err != nil {", n, t.limitExpr(), t.elem.minSize())
		w.indent++
		w.line("%s", fail.with("err"))
		w.indent--
		w.line("} else {")
		w.indent++
		w.line("%s = make(%s, %s)", x, t.goType(""), n)
		w.indent--
		w.line("}")
		i := w.newVar("i")
		w.line("for %s := range %s {", i, x)
		w.indent++
		w.decode(t.elem, x+"["+i+"]", fail.nest(i))
		w.indent--
		w.line("}")
	case xOptional:
		p := w.newVar("present")
		w.line("if %s, err := d.Present(%d); err != nil {", p, t.elem.minSize())
		w.indent++
		w.line("%s", fail.with("err"))
		w.indent--
		w.line("} else if %s {", p)
		w.indent++
		w.line("%s = new(%s)", x, t.elem.goType(""))
		inner := "(*" + x + ")"
		if t.elem.kind == xNamed && t.elem.named.def != nil {
			inner = x
		}
		w.decode(t.elem, inner, fail)
		w.indent--
		w.line("}")
	}
}

// writeCodec emits the two methods of a struct or union.
func writeCodec(w *codeWriter, nt *namedType) {
	if nt.def == nil {
		return
	}
	if nt.disc != nil {
		writeUnionCodec(w, nt)
		return
	}
	w.line("// EncodeXDR appends v's XDR encoding (%s) to e.", nt.cName)
	w.line("func (v *%s) EncodeXDR(e *Encoder) error {", nt.goName)
	w.indent++
	for _, f := range nt.fields {
		w.encode(f.t, "v."+f.goName, failer(fmt.Sprintf("return fieldErr(%q, %%s)", f.goName)))
	}
	w.line("return nil")
	w.indent--
	w.line("}")
	w.line("")
	w.line("// DecodeXDR reads v (%s) from d.", nt.cName)
	w.line("func (v *%s) DecodeXDR(d *Decoder) error {", nt.goName)
	w.indent++
	if len(nt.fields) == 0 {
		w.line("return nil")
	} else {
		w.line("var err error")
		for _, f := range nt.fields {
			w.decode(f.t, "v."+f.goName, failer(fmt.Sprintf("return fieldErr(%q, %%s)", f.goName)))
		}
		w.line("return err")
	}
	w.indent--
	w.line("}")
	w.line("")
}

func caseList(a *arm) string {
	var vs []string
	for _, v := range a.values {
		vs = append(vs, fmt.Sprint(v))
	}
	return strings.Join(vs, ", ")
}

func writeUnionCodec(w *codeWriter, nt *namedType) {
	w.line("// EncodeXDR appends v's XDR encoding (union %s) to e: the", nt.cName)
	w.line("// discriminant, then the arm it selects.")
	w.line("func (v *%s) EncodeXDR(e *Encoder) error {", nt.goName)
	writeUnionBody(w, nt, w.encode, "badDiscriminantEncode", "return nil")
	w.line("// DecodeXDR reads v (union %s) from d.", nt.cName)
	w.line("func (v *%s) DecodeXDR(d *Decoder) error {", nt.goName)
	w.indent++
	w.line("var err error")
	w.indent--
	writeUnionBody(w, nt, w.decode, "badDiscriminant", "return err")
}

// writeUnionBody writes a union method's body with code, the encoder or
// the decoder: the discriminant, then a switch over the arms.
func writeUnionBody(w *codeWriter, nt *namedType, code func(*xtype, string, failer), bad, ret string) {
	fail := func(f *field) failer { return failer(fmt.Sprintf("return fieldErr(%q, %%s)", f.goName)) }
	disc := "v." + nt.disc.goName
	hasDefault := false
	w.indent++
	code(nt.disc.t, disc, fail(nt.disc))
	w.line("switch int64(%s) {", disc)
	for _, a := range nt.arms {
		if a.values == nil {
			hasDefault = true
			w.line("default:")
		} else {
			w.line("case %s:", caseList(a))
		}
		if a.f != nil {
			w.indent++
			code(a.f.t, "v."+a.f.goName, fail(a.f))
			w.indent--
		}
	}
	if !hasDefault {
		w.line("default:")
		w.line("\treturn %s(%q, int64(%s))", bad, nt.disc.goName, disc)
	}
	w.line("}")
	w.line("%s", ret)
	w.indent--
	w.line("}")
	w.line("")
}
