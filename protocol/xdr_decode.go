package protocol

import (
	"bytes"
	"fmt"
	"reflect"

	"github.com/davecgh/go-xdr/xdr2"
)

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
