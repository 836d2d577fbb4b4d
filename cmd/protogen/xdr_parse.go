package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"unicode"
)

// The parser reads the subset of the XDR language (RFC 4506) that
// libvirt's rpcgen input uses: const, enum, struct, union, typedef and
// %-passthrough lines, with C comments. A comment is kept with the next
// enumerator, because libvirt writes each procedure's annotations
// (@generate, @acl, @priority, …) in the comment above it.

// spec is one parsed .x file's definitions, in file order.
type spec struct {
	file   string
	consts []*constDef
	enums  []*enumDef
	types  []*typeDef // structs, unions and typedefs in file order
}

type constDef struct {
	name  string
	value string // a number or the name of another constant
}

type enumDef struct {
	name  string
	items []*enumItem
}

type enumItem struct {
	name    string
	value   string // as written: a number or a name
	comment string // the comment just above the item
}

// typeKind says what a typeDef is.
type typeKind int

const (
	kindStruct typeKind = iota
	kindUnion
	kindTypedef
)

type typeDef struct {
	kind   typeKind
	name   string
	fields []*decl // struct members
	// union: the discriminant and its arms
	disc *decl
	arms []*unionArm
	// typedef: the declaration it names
	alias *decl
}

type unionArm struct {
	cases []string // case labels; empty for default
	decl  *decl    // nil for void
}

// declShape says how a declaration repeats its type.
type declShape int

const (
	shapeOne      declShape = iota // T x
	shapeFixed                     // T x[N]
	shapeVariable                  // T x<N> or T x<>
	shapeOptional                  // T *x
)

type decl struct {
	typ   string // "int", "unsigned hyper", "string", "opaque", or a defined name
	name  string
	shape declShape
	size  string // N of [N] or <N>; "" for <>
}

type xtoken struct {
	text    string
	line    int
	comment string // the comment(s) right before this token
}

func lex(file string, src string) ([]xtoken, error) {
	var toks []xtoken
	line := 1
	var comment strings.Builder
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '%' && (i == 0 || src[i-1] == '\n'):
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("%s:%d: unterminated comment", file, line)
			}
			text := src[i+2 : i+2+end]
			line += strings.Count(text, "\n")
			comment.Reset() // only the comment right before a token is its own
			comment.WriteString(text)
			comment.WriteByte('\n')
			i += end + 4
		case strings.HasPrefix(src[i:], "//"):
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case strings.ContainsRune("{}[]<>();,=*:", rune(c)):
			toks = append(toks, xtoken{text: string(c), line: line, comment: comment.String()})
			comment.Reset()
			i++
		case c == '_' || c == '-' || unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c)):
			j := i + 1
			for j < len(src) && (src[j] == '_' || unicode.IsLetter(rune(src[j])) || unicode.IsDigit(rune(src[j]))) {
				j++
			}
			toks = append(toks, xtoken{text: src[i:j], line: line, comment: comment.String()})
			comment.Reset()
			i = j
		default:
			return nil, fmt.Errorf("%s:%d: unexpected character %q", file, line, c)
		}
	}
	return toks, nil
}

type xparser struct {
	file string
	toks []xtoken
	pos  int
}

func (p *xparser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos].text
	}
	return ""
}

func (p *xparser) next() xtoken {
	if p.pos < len(p.toks) {
		t := p.toks[p.pos]
		p.pos++
		return t
	}
	return xtoken{}
}

func (p *xparser) errorf(format string, args ...any) error {
	line := 0
	if p.pos < len(p.toks) {
		line = p.toks[p.pos].line
	} else if len(p.toks) > 0 {
		line = p.toks[len(p.toks)-1].line
	}
	return fmt.Errorf("%s:%d: %s", p.file, line, fmt.Sprintf(format, args...))
}

func (p *xparser) expect(s string) error {
	if t := p.next(); t.text != s {
		p.pos--
		return p.errorf("expected %q, found %q", s, t.text)
	}
	return nil
}

func (p *xparser) ident() (string, error) {
	t := p.next()
	if t.text == "" || strings.ContainsAny(t.text[:1], "{}[]<>();,=*:") {
		p.pos--
		return "", p.errorf("expected a name, found %q", t.text)
	}
	return t.text, nil
}

// parseFile reads and parses one .x file.
func parseFile(path string) (*spec, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseSpec(path, string(src))
}

func parseSpec(file, src string) (*spec, error) {
	toks, err := lex(file, src)
	if err != nil {
		return nil, err
	}
	p := &xparser{file: file, toks: toks}
	s := &spec{file: file}
	for p.pos < len(p.toks) {
		switch kw := p.next().text; kw {
		case "const":
			c, err := p.constant()
			if err != nil {
				return nil, err
			}
			s.consts = append(s.consts, c)
		case "enum":
			e, err := p.enum()
			if err != nil {
				return nil, err
			}
			s.enums = append(s.enums, e)
		case "struct":
			t, err := p.structDef()
			if err != nil {
				return nil, err
			}
			s.types = append(s.types, t)
		case "union":
			t, err := p.unionDef()
			if err != nil {
				return nil, err
			}
			s.types = append(s.types, t)
		case "typedef":
			d, err := p.decl()
			if err != nil {
				return nil, err
			}
			if err := p.expect(";"); err != nil {
				return nil, err
			}
			s.types = append(s.types, &typeDef{kind: kindTypedef, name: d.name, alias: d})
		default:
			p.pos--
			return nil, p.errorf("unexpected %q at top level", kw)
		}
	}
	return s, nil
}

func (p *xparser) constant() (*constDef, error) {
	name, err := p.ident()
	if err != nil {
		return nil, err
	}
	if err := p.expect("="); err != nil {
		return nil, err
	}
	v := p.next().text
	if err := p.expect(";"); err != nil {
		return nil, err
	}
	return &constDef{name: name, value: v}, nil
}

func (p *xparser) enum() (*enumDef, error) {
	name, err := p.ident()
	if err != nil {
		return nil, err
	}
	if err := p.expect("{"); err != nil {
		return nil, err
	}
	e := &enumDef{name: name}
	for p.peek() != "}" {
		t := p.next()
		item := &enumItem{name: t.text, comment: t.comment}
		if p.peek() == "=" {
			p.next()
			item.value = p.next().text
		}
		e.items = append(e.items, item)
		if p.peek() == "," {
			p.next()
		}
	}
	p.next()
	return e, p.expect(";")
}

func (p *xparser) structDef() (*typeDef, error) {
	name, err := p.ident()
	if err != nil {
		return nil, err
	}
	if err := p.expect("{"); err != nil {
		return nil, err
	}
	t := &typeDef{kind: kindStruct, name: name}
	for p.peek() != "}" {
		d, err := p.decl()
		if err != nil {
			return nil, err
		}
		if err := p.expect(";"); err != nil {
			return nil, err
		}
		t.fields = append(t.fields, d)
	}
	p.next()
	return t, p.expect(";")
}

func (p *xparser) unionDef() (*typeDef, error) {
	name, err := p.ident()
	if err != nil {
		return nil, err
	}
	if err := p.expect("switch"); err != nil {
		return nil, err
	}
	if err := p.expect("("); err != nil {
		return nil, err
	}
	disc, err := p.decl()
	if err != nil {
		return nil, err
	}
	if err := p.expect(")"); err != nil {
		return nil, err
	}
	if err := p.expect("{"); err != nil {
		return nil, err
	}
	t := &typeDef{kind: kindUnion, name: name, disc: disc}
	for p.peek() != "}" {
		arm := &unionArm{}
		for p.peek() == "case" || p.peek() == "default" {
			if p.next().text == "case" {
				arm.cases = append(arm.cases, p.next().text)
			}
			if err := p.expect(":"); err != nil {
				return nil, err
			}
		}
		if p.peek() == "void" {
			p.next()
		} else {
			d, err := p.decl()
			if err != nil {
				return nil, err
			}
			arm.decl = d
		}
		if err := p.expect(";"); err != nil {
			return nil, err
		}
		t.arms = append(t.arms, arm)
	}
	p.next()
	return t, p.expect(";")
}

// decl parses "type name", "type name[N]", "type name<N>", "type *name".
func (p *xparser) decl() (*decl, error) {
	typ, err := p.ident()
	if err != nil {
		return nil, err
	}
	if typ == "unsigned" {
		switch p.peek() {
		case "int", "hyper", "char", "short", "long":
			typ += " " + p.next().text
		default:
			typ = "unsigned int"
		}
	}
	if typ == "struct" || typ == "enum" {
		if typ, err = p.ident(); err != nil {
			return nil, err
		}
	}
	d := &decl{typ: typ}
	if p.peek() == "*" {
		p.next()
		d.shape = shapeOptional
	}
	if d.name, err = p.ident(); err != nil {
		return nil, err
	}
	switch p.peek() {
	case "[":
		p.next()
		d.shape = shapeFixed
		d.size = p.next().text
		return d, p.expect("]")
	case "<":
		p.next()
		d.shape = shapeVariable
		if p.peek() != ">" {
			d.size = p.next().text
		}
		return d, p.expect(">")
	}
	return d, nil
}

// parseNumber reads a decimal, hex or octal constant as rpcgen would.
func parseNumber(s string) (int64, bool) {
	v, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		u, err := strconv.ParseUint(s, 0, 64)
		if err != nil {
			return 0, false
		}
		return int64(u), true
	}
	return v, true
}
