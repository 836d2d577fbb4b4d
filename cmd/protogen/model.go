package main

import (
	"fmt"
)

// xkind is what a resolved XDR type is on the wire.
type xkind int

const (
	xPrim        xkind = iota // a fixed-size number or bool
	xString                   // string<max>
	xOpaque                   // opaque<max>
	xFixedOpaque              // opaque[n]
	xNamed                    // a struct, union, enum or named opaque of ours
	xArray                    // T[n]
	xSlice                    // T<max>
	xOptional                 // T *
)

// xtype is a resolved type: every typedef of a basic type is inlined,
// so a field knows its own limit.
type xtype struct {
	kind xkind
	// xPrim: the Go type ("int32", "uint64", "bool", "float64", …)
	// xNamed: the Go type name
	goName string
	named  *namedType // xNamed
	max    int64      // xString, xOpaque, xSlice: the limit; -1 for none
	maxC   string     // the limit's Go constant name, when it has one
	n      int64      // xFixedOpaque, xArray
	elem   *xtype     // xArray, xSlice, xOptional
}

// namedType is a Go type we emit.
type namedType struct {
	cName, goName string
	def           *typeDef // struct or union; nil for enums and named opaques
	enum          *enumDef
	opaqueN       int64 // a named fixed opaque (remote_uuid)
	fields        []*field
	disc          *field // union discriminant
	arms          []*arm
	min           int // fewest bytes a value encodes to
}

type field struct {
	cName, goName string
	t             *xtype
}

type arm struct {
	values []int64 // case values; nil for default
	f      *field  // nil for void
}

// model is every definition of the programs, resolved.
type model struct {
	consts   map[string]int64  // C name → value, .x constants and header symbols
	constGo  map[string]string // C name → Go name, .x constants only
	typedefs map[string]*typeDef
	named    map[string]*namedType // by C name
	order    []*namedType          // emission order
	goNames  map[string]string     // Go name → C name, to catch collisions
}

func newModel(headerSyms map[string]int64) *model {
	m := &model{
		consts:   map[string]int64{},
		constGo:  map[string]string{},
		typedefs: map[string]*typeDef{},
		named:    map[string]*namedType{},
		goNames:  map[string]string{},
	}
	for k, v := range headerSyms {
		m.consts[k] = v
	}
	return m
}

func (m *model) claim(goName, cName string) error {
	if other, ok := m.goNames[goName]; ok && other != cName {
		return fmt.Errorf("both %s and %s would be Go's %s: extend the naming rule in names.go", other, cName, goName)
	}
	m.goNames[goName] = cName
	return nil
}

func (m *model) value(s string) (int64, error) {
	if v, ok := parseNumber(s); ok {
		return v, nil
	}
	if v, ok := m.consts[s]; ok {
		return v, nil
	}
	return 0, fmt.Errorf("unknown constant %s", s)
}

// add takes one file's definitions into the model, in order.
func (m *model) add(s *spec) error {
	for _, c := range s.consts {
		v, err := m.value(c.value)
		if err != nil {
			return fmt.Errorf("%s: const %s: %w", s.file, c.name, err)
		}
		m.consts[c.name] = v
		m.constGo[c.name] = goConstName(c.name)
		if err := m.claim(m.constGo[c.name], c.name); err != nil {
			return err
		}
	}
	for _, e := range s.enums {
		next := int64(0)
		for _, it := range e.items {
			if it.value != "" {
				v, err := m.value(it.value)
				if err != nil {
					return fmt.Errorf("%s: enum %s: %w", s.file, e.name, err)
				}
				next = v
			}
			m.consts[it.name] = next
			if err := m.claim(goEnumItemName(e.name, it.name), it.name); err != nil {
				return err
			}
			next++
		}
		nt := &namedType{cName: e.name, goName: goTypeName(e.name), enum: e, min: 4}
		if e.name == "remote_procedure" {
			nt.goName = "Procedure"
		}
		if err := m.emit(nt); err != nil {
			return err
		}
	}
	for _, t := range s.types {
		if err := m.addType(s.file, t); err != nil {
			return err
		}
	}
	return nil
}

func (m *model) emit(nt *namedType) error {
	if err := m.claim(nt.goName, nt.cName); err != nil {
		return err
	}
	m.named[nt.cName] = nt
	m.order = append(m.order, nt)
	return nil
}

func (m *model) addType(file string, t *typeDef) error {
	switch t.kind {
	case kindTypedef:
		d := t.alias
		if d.typ == "opaque" && d.shape == shapeFixed {
			n, err := m.value(d.size)
			if err != nil {
				return fmt.Errorf("%s: typedef %s: %w", file, t.name, err)
			}
			return m.emit(&namedType{cName: t.name, goName: goTypeName(t.name), opaqueN: n, min: pad4(int(n))})
		}
		m.typedefs[t.name] = t
		return nil
	case kindStruct:
		nt := &namedType{cName: t.name, goName: goTypeName(t.name), def: t}
		for _, d := range t.fields {
			f, err := m.field(t.name, d)
			if err != nil {
				return fmt.Errorf("%s: struct %s: %w", file, t.name, err)
			}
			nt.fields = append(nt.fields, f)
			nt.min += f.t.minSize()
		}
		return m.emit(nt)
	case kindUnion:
		nt := &namedType{cName: t.name, goName: goTypeName(t.name), def: t}
		disc, err := m.field(t.name, t.disc)
		if err != nil {
			return fmt.Errorf("%s: union %s: %w", file, t.name, err)
		}
		nt.disc = disc
		minArm := -1
		for _, a := range t.arms {
			ar := &arm{}
			for _, c := range a.cases {
				v, err := m.value(c)
				if err != nil {
					return fmt.Errorf("%s: union %s: %w", file, t.name, err)
				}
				ar.values = append(ar.values, v)
			}
			size := 0
			if a.decl != nil {
				if ar.f, err = m.field(t.name, a.decl); err != nil {
					return fmt.Errorf("%s: union %s: %w", file, t.name, err)
				}
				size = ar.f.t.minSize()
			}
			if minArm < 0 || size < minArm {
				minArm = size
			}
			nt.arms = append(nt.arms, ar)
		}
		nt.min = disc.t.minSize() + max(minArm, 0)
		return m.emit(nt)
	}
	return nil
}

func (m *model) field(owner string, d *decl) (*field, error) {
	t, err := m.resolve(d)
	if err != nil {
		return nil, fmt.Errorf("field %s: %w", d.name, err)
	}
	return &field{cName: d.name, goName: goFieldName(owner, d.name), t: t}, nil
}

var prims = map[string]string{
	"int": "int32", "unsigned int": "uint32", "hyper": "int64", "unsigned hyper": "uint64",
	"short": "int16", "unsigned short": "uint16", "char": "int8", "unsigned char": "uint8",
	"bool": "bool", "double": "float64", "float": "float32",
	"long": "int32", "unsigned long": "uint32",
}

// resolve turns a declaration into its wire type, inlining typedefs.
func (m *model) resolve(d *decl) (*xtype, error) {
	limit := func() (int64, string, error) {
		if d.size == "" {
			return -1, "", nil
		}
		v, err := m.value(d.size)
		return v, m.constGo[d.size], err
	}
	switch {
	case d.typ == "string":
		if d.shape != shapeVariable {
			return nil, fmt.Errorf("string without <>")
		}
		v, c, err := limit()
		return &xtype{kind: xString, max: v, maxC: c}, err
	case d.typ == "opaque":
		v, c, err := limit()
		switch d.shape {
		case shapeFixed:
			return &xtype{kind: xFixedOpaque, n: v}, err
		case shapeVariable:
			return &xtype{kind: xOpaque, max: v, maxC: c}, err
		}
		return nil, fmt.Errorf("opaque without [] or <>")
	}
	base, err := m.base(d.typ)
	if err != nil {
		return nil, err
	}
	switch d.shape {
	case shapeOne:
		return base, nil
	case shapeOptional:
		return &xtype{kind: xOptional, elem: base}, nil
	case shapeFixed:
		v, _, err := limit()
		return &xtype{kind: xArray, n: v, elem: base}, err
	default:
		v, c, err := limit()
		return &xtype{kind: xSlice, max: v, maxC: c, elem: base}, err
	}
}

func (m *model) base(typ string) (*xtype, error) {
	if p, ok := prims[typ]; ok {
		return &xtype{kind: xPrim, goName: p}, nil
	}
	if nt, ok := m.named[typ]; ok {
		return &xtype{kind: xNamed, goName: nt.goName, named: nt}, nil
	}
	if td, ok := m.typedefs[typ]; ok {
		d := *td.alias
		return m.resolve(&d)
	}
	return nil, fmt.Errorf("unknown type %s", typ)
}

func pad4(n int) int { return (n + 3) &^ 3 }

// minSize is the fewest bytes a value of t encodes to; the decoder checks
// a count against the bytes left times this before it allocates.
func (t *xtype) minSize() int {
	switch t.kind {
	case xPrim:
		if t.goName == "int64" || t.goName == "uint64" || t.goName == "float64" {
			return 8
		}
		return 4
	case xFixedOpaque:
		return pad4(int(t.n))
	case xNamed:
		return t.named.min
	case xArray:
		return int(t.n) * t.elem.minSize()
	}
	return 4
}

// goType is the Go spelling of t in package protocol (or with a prefix).
func (t *xtype) goType(pkg string) string {
	switch t.kind {
	case xPrim:
		return t.goName
	case xString:
		return "string"
	case xOpaque:
		return "[]byte"
	case xFixedOpaque:
		return fmt.Sprintf("[%d]byte", t.n)
	case xNamed:
		return pkg + t.goName
	case xArray:
		return fmt.Sprintf("[%d]%s", t.n, t.elem.goType(pkg))
	case xSlice:
		return "[]" + t.elem.goType(pkg)
	case xOptional:
		return "*" + t.elem.goType(pkg)
	}
	panic("unreachable")
}

// limitExpr is the Go expression of t's limit.
func (t *xtype) limitExpr() string {
	if t.max < 0 {
		return "NoLimit"
	}
	if t.maxC != "" {
		return t.maxC
	}
	return fmt.Sprint(t.max)
}
