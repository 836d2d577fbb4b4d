package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// The generated EncodeXDR and DecodeXDR methods (*.gen.go) work over the
// Encoder and Decoder below: XDR's primitives (RFC 4506) on a byte slice.
// They are our own rather than go-xdr's so that the codec does one
// append per value and no per-value allocation, can check every length
// against the bytes left before it allocates, and so that the test that
// cross-checks the generated codecs against go-xdr's reflection encoder
// compares two independent implementations.
//
// Decoding follows rpcgen's decoders where they are lenient: a char or
// short keeps the low bits of its 4-byte word (xdr_char, xdr_u_short), a
// bool or an optional's discriminant is true for any non-zero word, and
// padding bytes are not checked, so bodies made by libvirt on any
// architecture decode as libvirt would decode them.

// Encodable is a generated type that can encode itself.
type Encodable interface {
	EncodeXDR(e *Encoder) error
}

// Decodable is a pointer to a generated type that can decode itself.
type Decodable interface {
	DecodeXDR(d *Decoder) error
}

// NoLimit is the limit of a field the definition leaves unbounded (<>):
// the body's own length bounds it.
const NoLimit = math.MaxUint32

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

// fieldErr prefixes a field's name to the path of err.
func fieldErr(name string, err error) error {
	switch e := err.(type) {
	case *DecodeError:
		e.Field = joinPath(name, e.Field)
	case *EncodeError:
		e.Field = joinPath(name, e.Field)
	}
	return err
}

// indexErr prefixes an element's index to the path of err.
func indexErr(i int, err error) error {
	return fieldErr("["+strconv.Itoa(i)+"]", err)
}

func badDiscriminant(field string, v int64) error {
	return &DecodeError{Field: field, Msg: fmt.Sprintf("no union arm for discriminant %d", v)}
}

func badDiscriminantEncode(field string, v int64) error {
	return &EncodeError{Field: field, Msg: fmt.Sprintf("no union arm for discriminant %d", v)}
}

// Encoder appends XDR to a buffer.
type Encoder struct {
	buf []byte
}

// NewEncoder returns an encoder that appends to buf.
func NewEncoder(buf []byte) *Encoder { return &Encoder{buf: buf} }

// Bytes returns the buffer with everything encoded so far.
func (e *Encoder) Bytes() []byte { return e.buf }

func (e *Encoder) Uint32(v uint32) { e.buf = binary.BigEndian.AppendUint32(e.buf, v) }
func (e *Encoder) Int32(v int32)   { e.Uint32(uint32(v)) }
func (e *Encoder) Uint64(v uint64) { e.buf = binary.BigEndian.AppendUint64(e.buf, v) }
func (e *Encoder) Int64(v int64)   { e.Uint64(uint64(v)) }
func (e *Encoder) Float64(v float64) {
	e.Uint64(math.Float64bits(v))
}
func (e *Encoder) Float32(v float32) { e.Uint32(math.Float32bits(v)) }

func (e *Encoder) Bool(v bool) {
	if v {
		e.Uint32(1)
	} else {
		e.Uint32(0)
	}
}

func overLimit(what string, n int, max uint32) *EncodeError {
	return &EncodeError{Msg: fmt.Sprintf("%s of %d exceeds the limit of %d", what, n, max), Err: ErrLimit}
}

// String writes a length, the bytes and padding; over max it fails.
func (e *Encoder) String(s string, max uint32) error {
	if uint64(len(s)) > uint64(max) {
		return overLimit("string length", len(s), max)
	}
	e.Uint32(uint32(len(s)))
	e.buf = append(e.buf, s...)
	e.pad(len(s))
	return nil
}

// Opaque writes variable-length opaque data.
func (e *Encoder) Opaque(b []byte, max uint32) error {
	if uint64(len(b)) > uint64(max) {
		return overLimit("opaque length", len(b), max)
	}
	e.Uint32(uint32(len(b)))
	e.buf = append(e.buf, b...)
	e.pad(len(b))
	return nil
}

// FixedOpaque writes b and its padding, with no length.
func (e *Encoder) FixedOpaque(b []byte) {
	e.buf = append(e.buf, b...)
	e.pad(len(b))
}

// Count writes an array's element count; over max it fails.
func (e *Encoder) Count(n int, max uint32) error {
	if uint64(n) > uint64(max) {
		return overLimit("array count", n, max)
	}
	e.Uint32(uint32(n))
	return nil
}

var zeros [4]byte

func (e *Encoder) pad(n int) {
	if p := (4 - n%4) % 4; p > 0 {
		e.buf = append(e.buf, zeros[:p]...)
	}
}

// Grow makes room for n more bytes: the generated code asks for an
// array's smallest encoding before it encodes the elements.
func (e *Encoder) Grow(n int) { e.buf = slices.Grow(e.buf, n) }

// Decoder reads XDR from a body.
type Decoder struct {
	b   []byte
	off int
}

// NewDecoder returns a decoder of b.
func NewDecoder(b []byte) *Decoder { return &Decoder{b: b} }

// Left is how many bytes of the body are not yet decoded.
func (d *Decoder) Left() int { return len(d.b) - d.off }

func (d *Decoder) need(n uint64) error {
	if left := uint64(d.Left()); n > left {
		return &DecodeError{Msg: fmt.Sprintf("%v: %d bytes needed, %d left", ErrTruncated, n, left), Err: ErrTruncated}
	}
	return nil
}

func (d *Decoder) Uint32() (uint32, error) {
	if d.Left() < 4 {
		return 0, d.need(4)
	}
	v := binary.BigEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v, nil
}

func (d *Decoder) Int32() (int32, error) {
	v, err := d.Uint32()
	return int32(v), err
}

func (d *Decoder) Uint64() (uint64, error) {
	if d.Left() < 8 {
		return 0, d.need(8)
	}
	v := binary.BigEndian.Uint64(d.b[d.off:])
	d.off += 8
	return v, nil
}

func (d *Decoder) Int64() (int64, error) {
	v, err := d.Uint64()
	return int64(v), err
}

func (d *Decoder) Float64() (float64, error) {
	v, err := d.Uint64()
	return math.Float64frombits(v), err
}

func (d *Decoder) Float32() (float32, error) {
	v, err := d.Uint32()
	return math.Float32frombits(v), err
}

func (d *Decoder) Bool() (bool, error) {
	v, err := d.Uint32()
	return v != 0, err
}

// length reads a length and checks it against max, then against the
// bytes left at elemMin bytes an element, before anything is allocated.
func (d *Decoder) length(max uint32, elemMin int, what string) (int, error) {
	n, err := d.Uint32()
	if err != nil {
		return 0, err
	}
	if n > max {
		return 0, &DecodeError{Msg: fmt.Sprintf("%s of %d exceeds the limit of %d", what, n, max), Err: ErrLimit}
	}
	if err := d.need(uint64(n) * uint64(elemMin)); err != nil {
		return 0, err
	}
	return int(n), nil
}

// padded checks that n bytes and their padding are left, as rpcgen's
// xdr_opaque requires, and returns the n bytes, skipping the padding.
func (d *Decoder) padded(n int) ([]byte, error) {
	if err := d.need(uint64(n+3) &^ 3); err != nil {
		return nil, err
	}
	b := d.b[d.off : d.off+n]
	d.off += (n + 3) &^ 3
	return b, nil
}

// String reads a string of at most max bytes.
func (d *Decoder) String(max uint32) (string, error) {
	n, err := d.length(max, 1, "string length")
	if err != nil {
		return "", err
	}
	b, err := d.padded(n)
	return string(b), err
}

// Opaque reads variable-length opaque data of at most max bytes, copied
// out of the body.
func (d *Decoder) Opaque(max uint32) ([]byte, error) {
	n, err := d.length(max, 1, "opaque length")
	if err != nil {
		return nil, err
	}
	b, err := d.padded(n)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), b...), nil
}

// FixedOpaque fills dst and skips its padding.
func (d *Decoder) FixedOpaque(dst []byte) error {
	b, err := d.padded(len(dst))
	copy(dst, b)
	return err
}

// Count reads an array's element count: at most max, and no more than
// the body can hold at elemMin bytes an element.
func (d *Decoder) Count(max uint32, elemMin int) (int, error) {
	return d.length(max, elemMin, "array count")
}

// Present reads an optional value's discriminant; when the value is
// there, the body must still hold min bytes of it.
func (d *Decoder) Present(min int) (bool, error) {
	v, err := d.Uint32()
	if err != nil || v == 0 {
		return false, err
	}
	return true, d.need(uint64(min))
}

// Marshal returns the XDR encoding of v. A nil interface encodes as an
// empty body (a void argument or return); a nil pointer inside one is a
// programming error.
func Marshal(v Encodable) ([]byte, error) {
	return AppendMarshal(nil, v)
}

// AppendMarshal appends the XDR encoding of v to buf. On error, the
// returned buffer may hold part of the encoding.
func AppendMarshal(buf []byte, v Encodable) ([]byte, error) {
	if v == nil {
		return buf, nil
	}
	e := Encoder{buf: buf}
	if err := v.EncodeXDR(&e); err != nil {
		return e.buf, fieldErr(typeName(v), err)
	}
	return e.buf, nil
}

// Unmarshal decodes body into v. Every length is checked against its
// field's maximum and against the bytes left in body before anything is
// allocated. Bytes after the value are ignored, as libvirt ignores them.
// Errors are *DecodeError.
func Unmarshal(body []byte, v Decodable) error {
	d := Decoder{b: body}
	if err := v.DecodeXDR(&d); err != nil {
		return fieldErr(typeName(v), err)
	}
	return nil
}

func typeName(v any) string {
	return strings.TrimPrefix(fmt.Sprintf("%T", v), "*protocol.")
}
