package protocol

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
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
