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

// DecodeError reports a body that does not decode: where and why.
type DecodeError struct {
	Field string // dotted path of the field being decoded
	Msg   string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("cannot decode %s: %s", e.Field, e.Msg)
}

// ErrTruncated is wrapped by a DecodeError when the body ends early.
var ErrTruncated = errors.New("body ends early")

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

var codecs sync.Map // reflect.Type -> *codec

func codecFor(t reflect.Type) *codec {
	if c, ok := codecs.Load(t); ok {
		return c.(*codec)
	}
	c, err := buildCodec(t, 0)
	if err != nil {
		// A wire struct the codec cannot handle is a programming error,
		// caught by the package's tests for every registered struct.
		panic(fmt.Sprintf("protocol: %s: %v", t, err))
	}
	codecs.Store(t, c)
	return c
}

func buildCodec(t reflect.Type, max uint32) (*codec, error) {
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
		elem, err := buildCodec(t.Elem(), 0)
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
		elem, err := buildCodec(t.Elem(), 0)
		if err != nil {
			return nil, err
		}
		return &codec{kind: kSlice, max: max, elem: elem, min: 4}, nil
	case reflect.Pointer:
		elem, err := buildCodec(t.Elem(), max)
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
			fc, err := buildCodec(f.Type, fmax)
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

// Marshal returns the XDR encoding of v, a struct or a pointer to one.
// A nil v encodes as an empty body (a void argument or return).
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := MarshalTo(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// MarshalTo appends the XDR encoding of v to buf.
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
	e := encoder{x: xdr.NewEncoder(buf)}
	return e.encode(codecFor(rv.Type()), rv, rv.Type().Name())
}

type encoder struct {
	x *xdr.Encoder
}

func (e *encoder) encode(c *codec, v reflect.Value, path string) error {
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
			return fmt.Errorf("cannot encode %s: string of %d bytes exceeds the limit of %d", path, v.Len(), c.max)
		}
		_, err = e.x.EncodeString(v.String())
	case kOpaque:
		if uint64(v.Len()) > uint64(c.max) {
			return fmt.Errorf("cannot encode %s: %d bytes exceed the limit of %d", path, v.Len(), c.max)
		}
		_, err = e.x.EncodeOpaque(v.Bytes())
	case kFixedOpaque:
		b := make([]byte, c.n)
		reflect.Copy(reflect.ValueOf(b), v)
		_, err = e.x.EncodeFixedOpaque(b)
	case kFixedArray:
		for i := 0; i < c.n; i++ {
			if err := e.encode(c.elem, v.Index(i), path); err != nil {
				return err
			}
		}
	case kSlice:
		if uint64(v.Len()) > uint64(c.max) {
			return fmt.Errorf("cannot encode %s: %d elements exceed the limit of %d", path, v.Len(), c.max)
		}
		if _, err = e.x.EncodeUint(uint32(v.Len())); err != nil {
			break
		}
		for i := 0; i < v.Len(); i++ {
			if err := e.encode(c.elem, v.Index(i), path); err != nil {
				return err
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
		return e.encode(c.elem, v.Elem(), path)
	case kStruct:
		for _, f := range c.fields {
			if err := e.encode(f.c, v.Field(f.index), path+"."+f.name); err != nil {
				return err
			}
		}
	}
	if err != nil {
		return fmt.Errorf("cannot encode %s: %w", path, err)
	}
	return nil
}

// Unmarshal decodes body into v, which must be a pointer to a struct.
// Every length is checked against its field's maximum and against the
// bytes left in body before anything is allocated. Bytes after the value
// are ignored, as libvirt ignores them.
func Unmarshal(body []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("protocol.Unmarshal needs a non-nil pointer, not %T", v)
	}
	rv = rv.Elem()
	r := bytes.NewReader(body)
	d := decoder{r: r, x: xdr.NewDecoder(r)}
	return d.decode(codecFor(rv.Type()), rv, rv.Type().Name())
}

type decoder struct {
	r *bytes.Reader // the body, for the bytes-left checks
	x *xdr.Decoder
}

func (d *decoder) fail(path, format string, args ...any) error {
	return &DecodeError{Field: path, Msg: fmt.Sprintf(format, args...)}
}

// need fails unless n more bytes are left in the body.
func (d *decoder) need(n int, path string) error {
	if n > d.r.Len() {
		return &DecodeError{Field: path, Msg: fmt.Sprintf("%v: %d bytes needed, %d left", ErrTruncated, n, d.r.Len())}
	}
	return nil
}

// length reads a length or count and checks it against max and against
// what is left of the body at elemMin bytes per element.
func (d *decoder) length(max uint32, elemMin int, path, what string) (int, error) {
	if err := d.need(4, path); err != nil {
		return 0, err
	}
	n, _, err := d.x.DecodeUint()
	if err != nil {
		return 0, d.fail(path, "%v", err)
	}
	if n > max {
		return 0, d.fail(path, "%s of %d exceeds the limit of %d", what, n, max)
	}
	if err := d.need(int(n)*elemMin, path); err != nil {
		return 0, err
	}
	return int(n), nil
}

func (d *decoder) decode(c *codec, v reflect.Value, path string) error {
	if err := d.need(c.min, path); err != nil {
		return err
	}
	var err error
	switch c.kind {
	case kInt:
		var i int32
		if i, _, err = d.x.DecodeInt(); err == nil {
			if v.OverflowInt(int64(i)) {
				return d.fail(path, "value %d does not fit %s", i, v.Type())
			}
			v.SetInt(int64(i))
		}
	case kUint:
		var u uint32
		if u, _, err = d.x.DecodeUint(); err == nil {
			if v.OverflowUint(uint64(u)) {
				return d.fail(path, "value %d does not fit %s", u, v.Type())
			}
			v.SetUint(uint64(u))
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
		var b bool
		if b, _, err = d.x.DecodeBool(); err == nil {
			v.SetBool(b)
		}
	case kString, kOpaque:
		n, lerr := d.length(c.max, 1, path, "length")
		if lerr != nil {
			return lerr
		}
		if err := d.need(pad4(n), path); err != nil {
			return err
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
			reflect.Copy(v, reflect.ValueOf(b))
		}
	case kFixedArray:
		for i := 0; i < c.n; i++ {
			if err := d.decode(c.elem, v.Index(i), path); err != nil {
				return err
			}
		}
	case kSlice:
		n, lerr := d.length(c.max, c.elem.min, path, "count")
		if lerr != nil {
			return lerr
		}
		v.Set(reflect.MakeSlice(v.Type(), n, n))
		for i := 0; i < n; i++ {
			if err := d.decode(c.elem, v.Index(i), path); err != nil {
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
		if err := d.decode(c.elem, p.Elem(), path); err != nil {
			return err
		}
		v.Set(p)
	case kStruct:
		for _, f := range c.fields {
			if err := d.decode(f.c, v.Field(f.index), path+"."+f.name); err != nil {
				return err
			}
		}
	}
	if err != nil {
		return d.fail(path, "%v", err)
	}
	return nil
}
