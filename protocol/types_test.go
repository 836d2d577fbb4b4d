package protocol

import (
	"bytes"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// allTypes lists every struct type of the package, one value each. The
// wire format of a type is only as good as its codec, so
// TestAllTypesListed fails when a struct type is added to the package
// without being added here.
var allTypes = []any{
	Header{},
	Error{},
	Domain{},
	Network{},

	ConnectOpenArgs{},
	AuthListRet{},
	ConnectSupportsFeatureArgs{},
	ConnectSupportsFeatureRet{},
	ConnectGetTypeRet{},
	ConnectGetVersionRet{},
	ConnectGetLibVersionRet{},
	ConnectGetHostnameRet{},
	ConnectGetURIRet{},
	ConnectGetCapabilitiesRet{},
	NodeGetInfoRet{},
	NodeGetSecurityModelRet{},

	ConnectListAllDomainsArgs{},
	ConnectListAllDomainsRet{},
	ConnectNumOfDomainsRet{},
	ConnectListDomainsArgs{},
	ConnectListDomainsRet{},
	ConnectNumOfDefinedDomainsRet{},
	ConnectListDefinedDomainsArgs{},
	ConnectListDefinedDomainsRet{},
	DomainLookupByIDArgs{},
	DomainLookupByNameArgs{},
	DomainLookupByUUIDArgs{},
	DomainRet{},
	DomainArgs{},
	DomainFlagsArgs{},
	IntRet{},

	DomainGetInfoRet{},
	DomainGetStateRet{},
	DomainGetOSTypeRet{},
	DomainGetXMLDescRet{},
	DomainGetSecurityLabelRet{},
	DomainGetMessagesRet{},
	DomainSetAutostartArgs{},

	DomainCreateXMLArgs{},
	DomainDefineXMLArgs{},
	DomainDefineXMLFlagsArgs{},
	DomainSaveArgs{},
	DomainSaveFlagsArgs{},
	DomainRestoreArgs{},
	DomainRestoreFlagsArgs{},

	ConnectListAllNetworksArgs{},
	ConnectListAllNetworksRet{},
	NetworkArgs{},
	ConnectListNetworksArgs{},
	ConnectListNetworksRet{},

	ConnectDomainEventCallbackRegisterAnyArgs{},
	ConnectDomainEventCallbackRegisterAnyRet{},
	ConnectDomainEventCallbackDeregisterAnyArgs{},
	ConnectDomainEventRegisterAnyArgs{},
	ConnectDomainEventRegisterRet{},
	DomainEventLifecycleMsg{},
	DomainEventCallbackLifecycleMsg{},
	DomainEventRebootMsg{},
	DomainEventCallbackRebootMsg{},
	ConnectEventConnectionClosedMsg{},
}

// notWire are struct types of the package that are not XDR bodies.
var notWire = map[string]bool{
	"DecodeError": true,
	"EncodeError": true,
	"field":       true,
	"codec":       true,
	"codecResult": true,
	"decoder":     true,
	"encoder":     true,
}

func TestAllTypesListed(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, v := range allTypes {
		listed[reflect.TypeOf(v).Name()] = true
	}
	var missing []string
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			if _, isStruct := ts.Type.(*ast.StructType); isStruct && !listed[ts.Name.Name] && !notWire[ts.Name.Name] {
				missing = append(missing, ts.Name.Name+" ("+name+")")
			}
			return false
		})
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("struct types missing from allTypes in types_test.go, so their codec is untested: %s",
			strings.Join(missing, ", "))
	}
}

// filler makes values with every field set to something distinct, so a
// field written or read in the wrong order shows.
type filler struct{ n int }

func (f *filler) fill(v reflect.Value) {
	f.n++
	switch v.Kind() {
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(-f.n)) // negative: sign extension must survive
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(f.n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.String:
		// Lengths 1, 2, 3, 4... so every padding length occurs.
		v.SetString(strings.Repeat(string(rune('a'+f.n%26)), f.n%7+1))
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			f.fill(v.Index(i))
		}
	case reflect.Slice:
		n := 2
		if v.Type().Elem().Kind() == reflect.Uint8 {
			n = f.n%5 + 1
		}
		v.Set(reflect.MakeSlice(v.Type(), n, n))
		for i := 0; i < n; i++ {
			f.fill(v.Index(i))
		}
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		f.fill(p.Elem())
		v.Set(p)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				f.fill(v.Field(i))
			}
		}
	}
}

// filled returns a pointer to a value of t with every field set.
func filled(t reflect.Type) any {
	p := reflect.New(t)
	(&filler{}).fill(p.Elem())
	return p.Interface()
}

func TestAllTypesRoundTrip(t *testing.T) {
	for _, v := range allTypes {
		typ := reflect.TypeOf(v)
		t.Run(typ.Name(), func(t *testing.T) {
			if _, err := codecFor(typ); err != nil {
				t.Fatalf("no codec: %v", err)
			}

			// Every field set.
			in := filled(typ)
			b, err := Marshal(in)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if len(b)%4 != 0 {
				t.Errorf("encoding of %d bytes is not a multiple of 4", len(b))
			}
			out := reflect.New(typ).Interface()
			if err := Unmarshal(b, out); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if !reflect.DeepEqual(in, out) {
				t.Errorf("round trip changed the value:\n in: %+v\nout: %+v", in, out)
			}

			// Every proper prefix is truncated, and says so.
			for n := 0; n < len(b); n++ {
				err := Unmarshal(b[:n], reflect.New(typ).Interface())
				var de *DecodeError
				if !errors.As(err, &de) || !errors.Is(err, ErrTruncated) {
					t.Fatalf("prefix of %d/%d bytes: got %v, want a truncation DecodeError", n, len(b), err)
				}
				if !strings.HasPrefix(de.Field, typ.Name()) {
					t.Fatalf("prefix of %d bytes: field %q does not start with the type", n, de.Field)
				}
			}

			// The zero value: nil pointers and empty lists.
			zero := reflect.New(typ).Interface()
			zb, err := Marshal(zero)
			if err != nil {
				t.Fatalf("Marshal(zero): %v", err)
			}
			back := reflect.New(typ).Interface()
			if err := Unmarshal(zb, back); err != nil {
				t.Fatalf("Unmarshal(zero): %v", err)
			}
			if zb2, _ := Marshal(back); !bytes.Equal(zb, zb2) {
				t.Errorf("zero value: re-encoding differs: % x vs % x", zb, zb2)
			}
		})
	}
}

// The header is encoded by hand with Put, for speed; the generic codec
// must agree with it, since it is the same XDR.
func TestHeaderPutMatchesCodec(t *testing.T) {
	h := filled(reflect.TypeOf(Header{})).(*Header)
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
