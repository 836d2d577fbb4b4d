package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"

	"github.com/davecgh/go-xdr/xdr2"
)

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
