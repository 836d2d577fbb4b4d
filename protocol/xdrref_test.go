package protocol

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
)

// A reference XDR encoder, independent of the generated EncodeXDR
// methods and of codec.go: it walks a Go value by reflection and writes
// RFC 4506 from the value's shape alone. The cross-check (crosscheck_test.go)
// compares it, and go-xdr through go-libvirt's types, with Marshal.
//
// What it assumes of the generated Go types, each pinned by a golden test
// in golden_test.go:
//   - every integer narrower than a hyper (char, short, int, enum, bool)
//     is one 4-byte word, sign-extended when the Go type is signed;
//   - a []byte is opaque<> and a [N]byte is opaque[N]; a slice or array of
//     anything else (char<> is []int8) is an array of separate elements;
//   - a pointer is optional data: a 0 or 1 word, then the value;
//   - a union is a struct whose first field is the discriminant; which
//     field is the arm is looked up in unionArms, taken from the .x files.
//
// It does not check limits: encoding within limits is the fillers' job.

// unionArms gives, for each union of the protocol, its arms by
// discriminant: the name of the Go field that holds each case. They are
// copied from remote_protocol.x and admin_protocol.x (libvirt 9.0), where
// both typed-parameter unions switch on VIR_TYPED_PARAM_* of
// libvirt-common.h: INT 1, UINT 2, LLONG 3, ULLONG 4, DOUBLE 5, BOOLEAN 6,
// STRING 7. TestUnionArmsKnown fails when a generated union is missing.
var unionArms = map[reflect.Type]map[int64]string{
	reflect.TypeFor[TypedParamValue]():      typedParamArms,
	reflect.TypeFor[AdminTypedParamValue](): typedParamArms,
}

var typedParamArms = map[int64]string{1: "I", 2: "Ui", 3: "L", 4: "Ul", 5: "D", 6: "B", 7: "S"}

// refMarshal is the reference encoding of *p.
func refMarshal(p any) ([]byte, error) {
	return refEncode(nil, reflect.ValueOf(p).Elem())
}

func refEncode(b []byte, v reflect.Value) ([]byte, error) {
	word := func(w uint32) { b = binary.BigEndian.AppendUint32(b, w) }
	pad := func(n int) { b = append(b, make([]byte, (4-n%4)%4)...) }
	var err error
	switch v.Kind() {
	case reflect.Int8, reflect.Int16, reflect.Int32:
		word(uint32(int32(v.Int())))
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		word(uint32(v.Uint()))
	case reflect.Bool:
		if v.Bool() {
			word(1)
		} else {
			word(0)
		}
	case reflect.Int64:
		b = binary.BigEndian.AppendUint64(b, uint64(v.Int()))
	case reflect.Uint64:
		b = binary.BigEndian.AppendUint64(b, v.Uint())
	case reflect.Float32:
		word(math.Float32bits(float32(v.Float())))
	case reflect.Float64:
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(v.Float()))
	case reflect.String:
		word(uint32(v.Len()))
		b = append(b, v.String()...)
		pad(v.Len())
	case reflect.Slice:
		word(uint32(v.Len()))
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b = append(b, v.Bytes()...)
			pad(v.Len())
			break
		}
		for i := range v.Len() {
			if b, err = refEncode(b, v.Index(i)); err != nil {
				return b, err
			}
		}
	case reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			for i := range v.Len() {
				b = append(b, byte(v.Index(i).Uint()))
			}
			pad(v.Len())
			break
		}
		for i := range v.Len() {
			if b, err = refEncode(b, v.Index(i)); err != nil {
				return b, err
			}
		}
	case reflect.Pointer:
		if v.IsNil() {
			word(0)
			break
		}
		word(1)
		return refEncode(b, v.Elem())
	case reflect.Struct:
		if arms, ok := unionArms[v.Type()]; ok {
			disc := v.Field(0)
			b, _ = refEncode(b, disc)
			arm, ok := arms[disc.Int()]
			if !ok {
				return b, fmt.Errorf("%s: no arm for discriminant %d", v.Type().Name(), disc.Int())
			}
			return refEncode(b, v.FieldByName(arm))
		}
		for i := range v.NumField() {
			if b, err = refEncode(b, v.Field(i)); err != nil {
				return b, err
			}
		}
	default:
		return b, fmt.Errorf("reference encoder: no XDR for Go kind %s (%s)", v.Kind(), v.Type())
	}
	return b, nil
}

// randFiller sets values to random contents of the shapes the protocol
// uses, small enough that no limit of libvirt 9.0 is reached (the
// smallest is 16 elements): strings and opaques of up to 13 bytes, up to
// 3 elements a list, optional data present two times in three, each
// union with one of its arms.
type randFiller struct{ r *rand.Rand }

func newRandFiller(seed uint64) *randFiller {
	return &randFiller{rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))}
}

// integer returns a random 64-bit pattern, often a small or edge value.
func (f *randFiller) integer() uint64 {
	switch f.r.IntN(6) {
	case 0:
		return 0
	case 1:
		return math.MaxUint64 // -1
	case 2:
		return uint64(f.r.IntN(256))
	}
	return f.r.Uint64()
}

func (f *randFiller) fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(f.integer())) // truncated to the width: SetInt wraps
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(f.integer())
	case reflect.Bool:
		v.SetBool(f.r.IntN(2) == 1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(float32(f.r.NormFloat64() * 1e6))) // exact in both widths
	case reflect.String:
		b := make([]byte, f.r.IntN(14))
		for i := range b {
			b[i] = byte(f.r.Uint32()) // any bytes: XDR strings are not UTF-8
		}
		v.SetString(string(b))
	case reflect.Slice:
		n := f.r.IntN(4)
		if v.Type().Elem().Kind() == reflect.Uint8 {
			n = f.r.IntN(14)
		}
		if n == 0 {
			return // nil: decoding gives nil or empty, normalized alike
		}
		v.Set(reflect.MakeSlice(v.Type(), n, n))
		for i := range n {
			f.fill(v.Index(i))
		}
	case reflect.Array:
		for i := range v.Len() {
			f.fill(v.Index(i))
		}
	case reflect.Pointer:
		if f.r.IntN(3) == 0 {
			return
		}
		p := reflect.New(v.Type().Elem())
		f.fill(p.Elem())
		v.Set(p)
	case reflect.Struct:
		if arms, ok := unionArms[v.Type()]; ok {
			ds := slices.Sorted(maps.Keys(arms))
			d := ds[f.r.IntN(len(ds))]
			v.Field(0).SetInt(d)
			f.fill(v.FieldByName(arms[d]))
			return
		}
		for i := range v.NumField() {
			f.fill(v.Field(i))
		}
	default:
		panic(fmt.Sprintf("randFiller: no values for Go kind %s (%s)", v.Kind(), v.Type()))
	}
}

// randomValue returns a new *T, for the type of the pointer p, filled
// by f.
func (f *randFiller) randomValue(p Decodable) wire {
	v := reflect.New(reflect.TypeOf(p).Elem())
	f.fill(v.Elem())
	return v.Interface().(wire)
}

// newLike returns a pointer to a new zero value of p's type.
func newLike(p Decodable) wire {
	return reflect.New(reflect.TypeOf(p).Elem()).Interface().(wire)
}

// normalize sets every empty slice inside *p to nil, so that values
// compare equal whether a decoder made an empty slice or left it nil:
// XDR does not tell them apart.
func normalize(p any) any {
	normalizeValue(reflect.ValueOf(p).Elem())
	return p
}

func normalizeValue(v reflect.Value) {
	switch v.Kind() {
	case reflect.Slice:
		if v.Len() == 0 {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		for i := range v.Len() {
			normalizeValue(v.Index(i))
		}
	case reflect.Array:
		for i := range v.Len() {
			normalizeValue(v.Index(i))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			normalizeValue(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			normalizeValue(v.Field(i))
		}
	}
}

// xdrEqual reports whether two values of one type are equal as XDR sees
// them (nil and empty slices alike).
func xdrEqual(a, b any) bool {
	return reflect.DeepEqual(normalize(a), normalize(b))
}
