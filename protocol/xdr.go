package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/davecgh/go-xdr/xdr2"
)

// Encoding rules, by Go type of a field (libvirt's rpcgen types in brackets):
//
//	int8, int16, int32, uint8, uint16, uint32  4 bytes [char, short, int, enum]
//	int64, uint64                              8 bytes [hyper]
//	bool                                       4 bytes
//	string                                     length + bytes + pad; max from the tag, else StringMax
//	[]byte                                     variable opaque; max from the tag
//	[N]byte                                    fixed opaque [remote_uuid]
//	[N]T, T not byte                           N elements [char model[32] is [32]int8]
//	[]T                                        count + elements; the tag must give max
//	*T                                         optional: a 4-byte discriminant, then T when non-zero
//	struct                                     its exported fields in order
//
// A field's maximum is given as `xdr:"max=N"`.
//
// Decoding follows rpcgen's decoders where they are lenient: a char or
// short keeps the low bits of its 4-byte word (xdr_char, xdr_u_short),
// and a bool is true for any non-zero word (xdr_bool), so bodies made by
// libvirt on any architecture decode as libvirt would decode them.

// ErrTruncated is wrapped by a DecodeError when the body ends early.
var ErrTruncated = errors.New("body ends early")

// ErrLimit is wrapped by a DecodeError or EncodeError when a length or
// count exceeds its field's maximum.
var ErrLimit = errors.New("over the protocol limit")

// DecodeError reports a body that does not decode: which field and why.
type DecodeError struct {
	// Field is the path of the field being decoded, from the type down:
	// "ConnectListAllDomainsRet.Domains[3].Name".
	Field string
	Msg   string
	Err   error // ErrTruncated, ErrLimit, or nil
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("cannot decode %s: %s", e.Field, e.Msg)
}

// Unwrap returns ErrTruncated or ErrLimit when one is the cause.
func (e *DecodeError) Unwrap() error { return e.Err }

// EncodeError reports a value that cannot be encoded: which field and why.
type EncodeError struct {
	Field string // as in DecodeError
	Msg   string
	Err   error // ErrLimit, or nil
}

func (e *EncodeError) Error() string {
	return fmt.Sprintf("cannot encode %s: %s", e.Field, e.Msg)
}

// Unwrap returns ErrLimit when it is the cause.
func (e *EncodeError) Unwrap() error { return e.Err }

// joinPath puts the name of an enclosing field or element in front of a
// field path built from the inside out. Paths are only built on error,
// so decoding a large list costs no string work.
func joinPath(outer, inner string) string {
	switch {
	case inner == "":
		return outer
	case inner[0] == '[':
		return outer + inner
	}
	return outer + "." + inner
}

func index(i int) string { return "[" + strconv.Itoa(i) + "]" }

type kind uint8

const (
	kInt kind = iota
	kUint
	kHyper
	kUhyper
	kBool
	kString
	kOpaque
	kFixedOpaque
	kFixedArray
	kSlice
	kOptional
	kStruct
)

type field struct {
	index int
	name  string
	c     *codec
}

type codec struct {
	kind   kind
	max    uint32  // kString, kOpaque, kSlice: largest length accepted
	n      int     // kFixedOpaque, kFixedArray: element count
	elem   *codec  // kFixedArray, kSlice, kOptional
	fields []field // kStruct
	min    int     // fewest bytes any value of this type encodes to
}

type codecResult struct {
	c   *codec
	err error
}

var codecs sync.Map // reflect.Type -> codecResult

// maxDepth bounds how deeply wire types nest; a type that refers to
// itself would otherwise recurse forever. libvirt's deepest is far less.
const maxDepth = 32

// codecFor returns the codec of t, built once. A type the codec cannot
// handle is a programming error; it is reported, not panicked on, so one
// bad return type fails one call instead of the daemon.
func codecFor(t reflect.Type) (*codec, error) {
	if r, ok := codecs.Load(t); ok {
		r := r.(codecResult)
		return r.c, r.err
	}
	c, err := buildCodec(t, 0, 0)
	if err != nil {
		err = fmt.Errorf("protocol: no XDR encoding for %s: %w", t, err)
	}
	codecs.Store(t, codecResult{c, err})
	return c, err
}

func buildCodec(t reflect.Type, max uint32, depth int) (*codec, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nested more than %d deep (a recursive type?)", maxDepth)
	}
	depth++
	switch t.Kind() {
	case reflect.Int8, reflect.Int16, reflect.Int32:
		return &codec{kind: kInt, min: 4}, nil
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return &codec{kind: kUint, min: 4}, nil
	case reflect.Int64:
		return &codec{kind: kHyper, min: 8}, nil
	case reflect.Uint64:
		return &codec{kind: kUhyper, min: 8}, nil
	case reflect.Bool:
		return &codec{kind: kBool, min: 4}, nil
	case reflect.String:
		if max == 0 {
			max = StringMax
		}
		return &codec{kind: kString, max: max, min: 4}, nil
	case reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return &codec{kind: kFixedOpaque, n: t.Len(), min: pad4(t.Len())}, nil
		}
		elem, err := buildCodec(t.Elem(), 0, depth)
		if err != nil {
			return nil, err
		}
		return &codec{kind: kFixedArray, n: t.Len(), elem: elem, min: t.Len() * elem.min}, nil
	case reflect.Slice:
		if max == 0 {
			return nil, errors.New("variable-length field without an xdr:\"max=N\" tag")
		}
		if t.Elem().Kind() == reflect.Uint8 {
			return &codec{kind: kOpaque, max: max, min: 4}, nil
		}
		elem, err := buildCodec(t.Elem(), 0, depth)
		if err != nil {
			return nil, err
		}
		return &codec{kind: kSlice, max: max, elem: elem, min: 4}, nil
	case reflect.Pointer:
		elem, err := buildCodec(t.Elem(), max, depth)
		if err != nil {
			return nil, err
		}
		return &codec{kind: kOptional, elem: elem, min: 4}, nil
	case reflect.Struct:
		c := &codec{kind: kStruct}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			fmax, err := tagMax(f.Tag.Get("xdr"))
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", f.Name, err)
			}
			fc, err := buildCodec(f.Type, fmax, depth)
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", f.Name, err)
			}
			c.fields = append(c.fields, field{index: i, name: f.Name, c: fc})
			c.min += fc.min
		}
		return c, nil
	}
	return nil, fmt.Errorf("unsupported kind %s", t.Kind())
}

func tagMax(tag string) (uint32, error) {
	if tag == "" {
		return 0, nil
	}
	v, ok := strings.CutPrefix(tag, "max=")
	if !ok {
		return 0, fmt.Errorf("bad xdr tag %q", tag)
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("bad xdr tag %q", tag)
	}
	return uint32(n), nil
}

func pad4(n int) int { return (n + 3) &^ 3 }

func typeName(t reflect.Type) string {
	if t.Name() != "" {
		return t.Name()
	}
	return t.String()
}

// Marshal returns the XDR encoding of v, a struct or a pointer to one.
// A nil v encodes as an empty body (a void argument or return).
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := MarshalTo(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// MarshalTo appends the XDR encoding of v to buf. On error, buf may hold
// part of the encoding.
func MarshalTo(buf *bytes.Buffer, v any) error {
	if v == nil {
		return nil
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil
		}
		rv = rv.Elem()
	}
	c, err := codecFor(rv.Type())
	if err != nil {
		return err
	}
	e := encoder{x: xdr.NewEncoder(buf)}
	if err := e.encode(c, rv); err != nil {
		var ee *EncodeError
		if errors.As(err, &ee) {
			ee.Field = joinPath(typeName(rv.Type()), ee.Field)
		}
		return err
	}
	return nil
}

type encoder struct {
	x *xdr.Encoder
}

func limitError(what string, n int, max uint32) *EncodeError {
	return &EncodeError{Msg: fmt.Sprintf("%s of %d exceeds the limit of %d", what, n, max), Err: ErrLimit}
}

// encode writes v. Errors are *EncodeError with the path inside v.
func (e *encoder) encode(c *codec, v reflect.Value) error {
	var err error
	switch c.kind {
	case kInt:
		_, err = e.x.EncodeInt(int32(v.Int()))
	case kUint:
		_, err = e.x.EncodeUint(uint32(v.Uint()))
	case kHyper:
		_, err = e.x.EncodeHyper(v.Int())
	case kUhyper:
		_, err = e.x.EncodeUhyper(v.Uint())
	case kBool:
		_, err = e.x.EncodeBool(v.Bool())
	case kString:
		if uint64(v.Len()) > uint64(c.max) {
			return limitError("string length", v.Len(), c.max)
		}
		_, err = e.x.EncodeString(v.String())
	case kOpaque:
		if uint64(v.Len()) > uint64(c.max) {
			return limitError("opaque length", v.Len(), c.max)
		}
		_, err = e.x.EncodeOpaque(v.Bytes())
	case kFixedOpaque:
		b := make([]byte, c.n)
		for i := range b {
			b[i] = byte(v.Index(i).Uint())
		}
		_, err = e.x.EncodeFixedOpaque(b)
	case kFixedArray:
		for i := 0; i < c.n; i++ {
			if err := e.encode(c.elem, v.Index(i)); err != nil {
				return prefixEncode(err, index(i))
			}
		}
	case kSlice:
		if uint64(v.Len()) > uint64(c.max) {
			return limitError("count", v.Len(), c.max)
		}
		if _, err = e.x.EncodeUint(uint32(v.Len())); err != nil {
			break
		}
		for i := 0; i < v.Len(); i++ {
			if err := e.encode(c.elem, v.Index(i)); err != nil {
				return prefixEncode(err, index(i))
			}
		}
	case kOptional:
		if v.IsNil() {
			_, err = e.x.EncodeUint(0)
			break
		}
		if _, err = e.x.EncodeUint(1); err != nil {
			break
		}
		return e.encode(c.elem, v.Elem())
	case kStruct:
		for _, f := range c.fields {
			if err := e.encode(f.c, v.Field(f.index)); err != nil {
				return prefixEncode(err, f.name)
			}
		}
	}
	if err != nil {
		return &EncodeError{Msg: err.Error()}
	}
	return nil
}

func prefixEncode(err error, outer string) error {
	if ee, ok := err.(*EncodeError); ok {
		ee.Field = joinPath(outer, ee.Field)
	}
	return err
}

// Unmarshal decodes body into v, which must be a pointer to a struct.
// Every length is checked against its field's maximum and against the
// bytes left in body before anything is allocated. Bytes after the value
// are ignored, as libvirt ignores them. Errors are *DecodeError, except
// for a v no body can decode into.
func Unmarshal(body []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("protocol.Unmarshal needs a non-nil pointer, not %T", v)
	}
	rv = rv.Elem()
	c, err := codecFor(rv.Type())
	if err != nil {
		return err
	}
	r := bytes.NewReader(body)
	d := decoder{r: r, x: xdr.NewDecoder(r)}
	if err := d.decode(c, rv); err != nil {
		err.Field = joinPath(typeName(rv.Type()), err.Field)
		return err
	}
	return nil
}

type decoder struct {
	r *bytes.Reader // the body, for the bytes-left checks
	x *xdr.Decoder
}

// need fails unless n more bytes are left in the body.
func (d *decoder) need(n uint64) *DecodeError {
	if left := uint64(d.r.Len()); n > left {
		return &DecodeError{Msg: fmt.Sprintf("%v: %d bytes needed, %d left", ErrTruncated, n, left), Err: ErrTruncated}
	}
	return nil
}

// length reads a length or count and checks it against max and against
// what is left of the body at elemMin bytes per element, so that nothing
// is allocated for data the body cannot hold.
func (d *decoder) length(max uint32, elemMin int, what string) (int, *DecodeError) {
	if err := d.need(4); err != nil {
		return 0, err
	}
	n, _, err := d.x.DecodeUint()
	if err != nil {
		return 0, &DecodeError{Msg: err.Error()}
	}
	if n > max {
		return 0, &DecodeError{Msg: fmt.Sprintf("%s of %d exceeds the limit of %d", what, n, max), Err: ErrLimit}
	}
	if err := d.need(uint64(n) * uint64(elemMin)); err != nil {
		return 0, err
	}
	return int(n), nil
}

// decode reads a value of codec c into v. Errors carry the path inside v.
func (d *decoder) decode(c *codec, v reflect.Value) *DecodeError {
	if err := d.need(uint64(c.min)); err != nil {
		return err
	}
	var err error
	switch c.kind {
	case kInt:
		var i int32
		if i, _, err = d.x.DecodeInt(); err == nil {
			v.SetInt(int64(i)) // truncates a char or short, as rpcgen does
		}
	case kUint:
		var u uint32
		if u, _, err = d.x.DecodeUint(); err == nil {
			v.SetUint(uint64(u)) // truncates as rpcgen does
		}
	case kHyper:
		var i int64
		if i, _, err = d.x.DecodeHyper(); err == nil {
			v.SetInt(i)
		}
	case kUhyper:
		var u uint64
		if u, _, err = d.x.DecodeUhyper(); err == nil {
			v.SetUint(u)
		}
	case kBool:
		var u uint32
		if u, _, err = d.x.DecodeUint(); err == nil {
			v.SetBool(u != 0)
		}
	case kString, kOpaque:
		n, lerr := d.length(c.max, 1, "length")
		if lerr != nil {
			return lerr
		}
		if lerr := d.need(uint64(pad4(n))); lerr != nil {
			return lerr
		}
		var b []byte
		if b, _, err = d.x.DecodeFixedOpaque(int32(n)); err == nil {
			if c.kind == kString {
				v.SetString(string(b))
			} else {
				v.SetBytes(b)
			}
		}
	case kFixedOpaque:
		var b []byte
		if b, _, err = d.x.DecodeFixedOpaque(int32(c.n)); err == nil {
			for i, x := range b {
				v.Index(i).SetUint(uint64(x))
			}
		}
	case kFixedArray:
		for i := 0; i < c.n; i++ {
			if err := d.decode(c.elem, v.Index(i)); err != nil {
				err.Field = joinPath(index(i), err.Field)
				return err
			}
		}
	case kSlice:
		n, lerr := d.length(c.max, c.elem.min, "count")
		if lerr != nil {
			return lerr
		}
		v.Set(reflect.MakeSlice(v.Type(), n, n))
		for i := 0; i < n; i++ {
			if err := d.decode(c.elem, v.Index(i)); err != nil {
				err.Field = joinPath(index(i), err.Field)
				return err
			}
		}
	case kOptional:
		var present uint32
		if present, _, err = d.x.DecodeUint(); err != nil {
			break
		}
		// libvirtd takes any non-zero discriminant as "present", and
		// go-libvirt sends 0x01000000 for CONNECT_OPEN's name.
		if present == 0 {
			v.Set(reflect.Zero(v.Type()))
			return nil
		}
		p := reflect.New(v.Type().Elem())
		if err := d.decode(c.elem, p.Elem()); err != nil {
			return err
		}
		v.Set(p)
	case kStruct:
		for _, f := range c.fields {
			if err := d.decode(f.c, v.Field(f.index)); err != nil {
				err.Field = joinPath(f.name, err.Field)
				return err
			}
		}
	}
	if err != nil {
		return &DecodeError{Msg: err.Error()}
	}
	return nil
}
