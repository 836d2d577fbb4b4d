package protocol

import (
	"bytes"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"hash/fnv"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// genTypes parses the generated files and returns, in file order, the
// name of every struct type and whether its doc comment calls it a union.
func genTypes(t *testing.T) (names []string, union map[string]bool) {
	t.Helper()
	files, err := filepath.Glob("*.gen.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no generated files: %v", err)
	}
	union = map[string]bool{}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				ts := spec.(*ast.TypeSpec)
				if _, ok := ts.Type.(*ast.StructType); !ok {
					continue
				}
				names = append(names, ts.Name.Name)
				if doc := gd.Doc.Text(); strings.Contains(doc, " is union ") {
					union[ts.Name.Name] = true
				}
			}
		}
	}
	return names, union
}

func typeNameOf(p any) string { return reflect.TypeOf(p).Elem().Name() }

// TestAllTypesListed: allTypes (alltypes_test.go) holds every generated
// type, once, and nothing else.
func TestAllTypesListed(t *testing.T) {
	names, _ := genTypes(t)
	listed := map[string]int{}
	for _, v := range allTypes {
		listed[typeNameOf(v)]++
	}
	var missing []string
	for _, n := range names {
		switch listed[n] {
		case 0:
			missing = append(missing, "\tnew("+n+"),")
		case 1:
		default:
			t.Errorf("allTypes lists %s %d times", n, listed[n])
		}
		delete(listed, n)
	}
	if len(missing) > 0 {
		t.Errorf("%d generated types are missing from allTypes in alltypes_test.go, so no test sees their codec; add:\n%s",
			len(missing), strings.Join(missing, "\n"))
	}
	for n := range listed {
		t.Errorf("allTypes lists %s, which is not a struct of the generated files", n)
	}
}

// TestUnionArmsKnown: the reference encoder knows every generated union,
// and each of its fields but the discriminant is an arm.
func TestUnionArmsKnown(t *testing.T) {
	_, unions := genTypes(t)
	byName := map[string]reflect.Type{}
	for typ := range unionArms {
		byName[typ.Name()] = typ
	}
	for name := range unions {
		typ, ok := byName[name]
		if !ok {
			t.Errorf("union %s is not in unionArms (xdrref_test.go): add its cases from the .x file", name)
			continue
		}
		arms := map[string]bool{}
		for _, f := range unionArms[typ] {
			if _, ok := typ.FieldByName(f); !ok {
				t.Errorf("union %s has no field %s", name, f)
			}
			arms[f] = true
		}
		for i := 1; i < typ.NumField(); i++ {
			if !arms[typ.Field(i).Name] {
				t.Errorf("field %s.%s is no arm of unionArms", name, typ.Field(i).Name)
			}
		}
	}
	for name := range byName {
		if !unions[name] {
			t.Errorf("unionArms has %s, which the generated files do not call a union", name)
		}
	}
}

// seedFor gives each type its own fixed random sequence, so a failure
// repeats and adding a type does not change the values of the others.
func seedFor(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()
}

// TestAllTypesRoundTrip: for random values of every type, the encoding
// is whole words, decodes to the same value, and re-encodes to the same
// bytes; and every proper prefix of it fails as truncated, naming a
// field of the type.
func TestAllTypesRoundTrip(t *testing.T) {
	for _, proto := range allTypes {
		name := typeNameOf(proto)
		t.Run(name, func(t *testing.T) {
			f := newRandFiller(seedFor(name))
			for range 8 {
				in := f.randomValue(proto)
				b, err := Marshal(in)
				if err != nil {
					t.Fatalf("Marshal(%+v): %v", in, err)
				}
				if len(b)%4 != 0 {
					t.Errorf("encoding of %d bytes is not a multiple of 4", len(b))
				}
				out := newLike(proto)
				if err := Unmarshal(b, out); err != nil {
					t.Fatalf("Unmarshal(% x): %v", b, err)
				}
				if b2, err := Marshal(out); err != nil || !bytes.Equal(b, b2) {
					t.Fatalf("re-encoding differs (%v):\n% x\n% x", err, b, b2)
				}
				if !xdrEqual(in, out) {
					t.Fatalf("round trip changed the value:\n in: %+v\nout: %+v", in, out)
				}
				checkPrefixes(t, name, b, proto)
			}
		})
	}
}

// checkPrefixes: every proper prefix of a body fails as truncated.
func checkPrefixes(t *testing.T, name string, b []byte, proto Decodable) {
	t.Helper()
	for n := 0; n < len(b); n++ {
		v := newLike(proto)
		err := Unmarshal(b[:n], v)
		if err == nil && !paddingChecked && n%4 != 0 && n > len(b)-4 {
			// Only the last field's padding is missing (see
			// paddingChecked): the value must be the whole one.
			if whole, _ := Marshal(v); bytes.Equal(whole, b) {
				continue
			}
		}
		var de *DecodeError
		if !errors.As(err, &de) || !errors.Is(err, ErrTruncated) {
			t.Fatalf("prefix of %d/%d bytes (% x): got %v, want a truncation DecodeError", n, len(b), b[:n], err)
		}
		if de.Field != name && !strings.HasPrefix(de.Field, name+".") {
			t.Fatalf("prefix of %d bytes: field %q does not start with the type", n, de.Field)
		}
	}
}

// TestZeroValues: the zero value of a type encodes (empty lists, absent
// optionals, zero words) and round-trips, except where a union is held
// directly: discriminant 0 is no VIR_TYPED_PARAM_* type, and must be
// refused.
func TestZeroValues(t *testing.T) {
	for _, proto := range allTypes {
		zero := newLike(proto)
		b, err := Marshal(zero)
		if holdsUnion(reflect.TypeOf(zero).Elem()) {
			if err == nil {
				t.Errorf("%s: zero value, with a union of discriminant 0, encoded as % x", typeNameOf(proto), b)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: Marshal(zero): %v", typeNameOf(proto), err)
			continue
		}
		back := newLike(proto)
		if err := Unmarshal(b, back); err != nil {
			t.Errorf("%s: Unmarshal(zero): %v", typeNameOf(proto), err)
		} else if !xdrEqual(zero, back) {
			t.Errorf("%s: zero value decoded as %+v", typeNameOf(proto), back)
		}
	}
}

// holdsUnion reports whether typ has a union outside any list or
// optional, so that its zero value holds one.
func holdsUnion(typ reflect.Type) bool {
	if _, ok := unionArms[typ]; ok {
		return true
	}
	if typ.Kind() == reflect.Struct {
		for i := range typ.NumField() {
			if holdsUnion(typ.Field(i).Type) {
				return true
			}
		}
	}
	if typ.Kind() == reflect.Array && typ.Len() > 0 {
		return holdsUnion(typ.Elem())
	}
	return false
}

// The header is encoded by hand with Put, for speed; the generated
// codec of virNetMessageHeader must agree with it.
func TestHeaderPutMatchesCodec(t *testing.T) {
	f := newRandFiller(1)
	for range 20 {
		h := f.randomValue(&Header{}).(*Header)
		var put [HeaderSize]byte
		h.Put(put[:])
		b, err := Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(put[:], b) {
			t.Errorf("Put % x, Marshal % x", put, b)
		}
		back, err := ParseHeader(b)
		if err != nil || back != *h {
			t.Errorf("ParseHeader = %+v, %v; want %+v", back, err, *h)
		}
	}
}

// TestProcTablesNameTypes: the argument and return types the procedure
// tables name are generated types.
func TestProcTablesNameTypes(t *testing.T) {
	known := map[string]bool{}
	for _, v := range allTypes {
		known[typeNameOf(v)] = true
	}
	tables := map[string][]ProcInfo{
		"remote": remoteProcs[:], "qemu": qemuProcs[:], "lxc": lxcProcs[:],
		"admin": adminProcs[:], "keepalive": keepaliveProcs[:],
	}
	for prog, table := range tables {
		n := 0
		for i, p := range table {
			if p.Name == "" {
				continue
			}
			n++
			for _, typ := range []string{p.Args, p.Ret} {
				if typ != "" && !known[typ] {
					t.Errorf("%s procedure %d %s names type %q, which is not generated", prog, i, p.Name, typ)
				}
			}
		}
		if n == 0 {
			t.Errorf("the %s table is empty", prog)
		}
	}
	p, ok := RemoteProc(ProcConnectOpen)
	if !ok || p.Args != "ConnectOpenArgs" || p.Ret != "" || !p.HighPriority {
		t.Errorf("CONNECT_OPEN: %+v, %v", p, ok)
	}
	if p, ok := RemoteProc(ProcDomainLookupByName); !ok || p.Ret != "DomainLookupByNameRet" {
		t.Errorf("DOMAIN_LOOKUP_BY_NAME: %+v, %v", p, ok)
	}
	if _, ok := RemoteProc(0); ok {
		t.Error("procedure 0 is defined")
	}
	if _, ok := RemoteProc(Procedure(len(remoteProcs))); ok {
		t.Error("a procedure past the table is defined")
	}
}
