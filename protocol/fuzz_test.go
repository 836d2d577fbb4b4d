package protocol

import (
	"errors"
	"reflect"
	"testing"
)

// FuzzUnmarshal decodes arbitrary bodies into every wire type: the first
// byte picks the type, the rest is the body. Decoding must never panic,
// must fail only with a *DecodeError, and what it accepts must respect
// the limits: it encodes again (Marshal checks every limit), to no more
// bytes than it was read from, and decodes back to the same value.
//
//	go test ./protocol -run '^$' -fuzz '^FuzzUnmarshal$' -fuzztime 30s
func FuzzUnmarshal(f *testing.F) {
	for i, v := range allTypes {
		// Every type, filled and empty, and cut short.
		b, err := Marshal(filled(reflect.TypeOf(v)))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(append([]byte{byte(i)}, b...))
		f.Add(append([]byte{byte(i)}, b[:len(b)/2]...))
		z, _ := Marshal(v)
		f.Add(append([]byte{byte(i)}, z...))
	}
	// The golden bodies, and hostile lengths.
	f.Add(append([]byte{typeIndex(f, ConnectOpenArgs{})},
		0x01, 0x00, 0x00, 0x00, 0, 0, 0, 15, 't', 'e', 's', 't', ':', '/', '/', '/', 'd', 'e', 'f', 'a', 'u', 'l', 't', 0, 0, 0, 0, 0))
	f.Add(append([]byte{typeIndex(f, ConnectListAllDomainsRet{})}, 0x00, 0x00, 0x40, 0x00, 0, 0, 0, 0))
	f.Add(append([]byte{typeIndex(f, ConnectListAllDomainsRet{})}, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0))
	f.Add(append([]byte{typeIndex(f, DomainDefineXMLArgs{})}, 0x00, 0x40, 0x00, 0x00, 'x', 0, 0, 0))
	f.Add(append([]byte{typeIndex(f, Error{})}, be(42, 12, 1, 3, 'a'<<24|'b'<<16|'c'<<8, 2, 1, 0, 16, 0, 0, 0, 0)...))

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		typ := reflect.TypeOf(allTypes[int(data[0])%len(allTypes)])
		body := data[1:]
		v := reflect.New(typ).Interface()
		err := Unmarshal(body, v)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("%s: error %v (%T) is not a *DecodeError", typ.Name(), err, err)
			}
			return
		}
		b, err := Marshal(v)
		if err != nil {
			t.Fatalf("%s: decoded a value that does not encode: %v", typ.Name(), err)
		}
		if len(b) > len(body) {
			t.Fatalf("%s: %d bytes decoded to a value of %d bytes", typ.Name(), len(body), len(b))
		}
		v2 := reflect.New(typ).Interface()
		if err := Unmarshal(b, v2); err != nil {
			t.Fatalf("%s: re-encoding does not decode: %v", typ.Name(), err)
		}
		if !reflect.DeepEqual(v, v2) {
			t.Fatalf("%s: round trip changed the value:\n%+v\n%+v", typ.Name(), v, v2)
		}
	})
}

func typeIndex(f *testing.F, v any) byte {
	for i, w := range allTypes {
		if reflect.TypeOf(w) == reflect.TypeOf(v) {
			return byte(i)
		}
	}
	f.Fatalf("%T is not in allTypes", v)
	return 0
}
