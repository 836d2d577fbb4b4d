package protocol

import (
	"encoding/binary"
	"errors"
	"runtime"
	"strings"
	"testing"
)

// be returns the XDR words ws, big-endian.
func be(ws ...uint32) []byte {
	b := make([]byte, 4*len(ws))
	for i, w := range ws {
		binary.BigEndian.PutUint32(b[4*i:], w)
	}
	return b
}

// decodeErr decodes body into v and returns the *DecodeError it must fail with.
func decodeErr(t *testing.T, body []byte, v any) *DecodeError {
	t.Helper()
	err := Unmarshal(body, v)
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("Unmarshal(% x) into %T = %v, want a *DecodeError", body, v, err)
	}
	return de
}

// allocated returns the bytes f allocates on average over n runs.
func allocated(n int, f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < n; i++ {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(n)
}

func TestStringLimit(t *testing.T) {
	// Encoding: a string of RemoteStringMax bytes is the largest allowed.
	long := strings.Repeat("x", RemoteStringMax+1)
	if _, err := Marshal(&DomainLookupByNameArgs{Name: long[:RemoteStringMax]}); err != nil {
		t.Errorf("string of RemoteStringMax bytes: %v", err)
	}
	_, err := Marshal(&DomainLookupByNameArgs{Name: long})
	var ee *EncodeError
	if !errors.As(err, &ee) || !errors.Is(err, ErrLimit) || ee.Field != "DomainLookupByNameArgs.Name" {
		t.Errorf("string of RemoteStringMax+1 bytes: got %v, want an ErrLimit EncodeError on DomainLookupByNameArgs.Name", err)
	}

	// Decoding: the length is refused before anything else is read.
	de := decodeErr(t, be(RemoteStringMax+1), &DomainLookupByNameArgs{})
	if !errors.Is(de, ErrLimit) || de.Field != "DomainLookupByNameArgs.Name" {
		t.Errorf("got %v, want ErrLimit on DomainLookupByNameArgs.Name", de)
	}
	want := "cannot decode DomainLookupByNameArgs.Name: length of 4194305 exceeds the limit of 4194304"
	if de.Error() != want {
		t.Errorf("message %q, want %q", de.Error(), want)
	}

	// The limit also applies inside optional strings.
	de = decodeErr(t, be(1, RemoteStringMax+1), &ConnectOpenArgs{})
	if !errors.Is(de, ErrLimit) || de.Field != "ConnectOpenArgs.Name" {
		t.Errorf("optional string: got %v", de)
	}
}

func TestArrayLimits(t *testing.T) {
	cases := []struct {
		name  string
		v     any
		max   uint32
		field string
	}{
		{"auth types", &AuthListRet{}, AuthTypeListMax, "AuthListRet.Types"},
		{"domains", &ConnectListAllDomainsRet{}, DomainListMax, "ConnectListAllDomainsRet.Domains"},
		{"domain ids", &ConnectListDomainsRet{}, DomainListMax, "ConnectListDomainsRet.IDs"},
		{"domain names", &ConnectListDefinedDomainsRet{}, DomainListMax, "ConnectListDefinedDomainsRet.Names"},
		{"networks", &ConnectListAllNetworksRet{}, NetworkListMax, "ConnectListAllNetworksRet.Nets"},
		{"security model", &NodeGetSecurityModelRet{}, SecurityModelMax, "NodeGetSecurityModelRet.Model"},
		{"security label", &DomainGetSecurityLabelRet{}, SecurityLabelMax, "DomainGetSecurityLabelRet.Label"},
		{"messages", &DomainGetMessagesRet{}, DomainMessagesMax, "DomainGetMessagesRet.Msgs"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// One over the limit is refused by the count alone, whatever follows.
			body := append(be(c.max+1), make([]byte, 64)...)
			de := decodeErr(t, body, c.v)
			if !errors.Is(de, ErrLimit) || de.Field != c.field {
				t.Errorf("count %d: got %v, want ErrLimit on %s", c.max+1, de, c.field)
			}
			if !strings.Contains(de.Msg, "exceeds the limit") {
				t.Errorf("message %q does not say what was exceeded", de.Msg)
			}
			// At the limit, the count passes and the missing elements are
			// what fails (two more words so that any field after the list
			// fits).
			de = decodeErr(t, be(c.max, 0, 0), c.v)
			if !errors.Is(de, ErrTruncated) || de.Field != c.field {
				t.Errorf("count %d with no elements: got %v, want ErrTruncated on %s", c.max, de, c.field)
			}
		})
	}

	// Encoding refuses the same counts.
	_, err := Marshal(&AuthListRet{Types: make([]int32, AuthTypeListMax+1)})
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "AuthListRet.Types") {
		t.Errorf("encoding 21 auth types: %v", err)
	}
	if _, err := Marshal(&AuthListRet{Types: make([]int32, AuthTypeListMax)}); err != nil {
		t.Errorf("encoding 20 auth types: %v", err)
	}
}

// TestCountBeyondBody: a count that the bytes left cannot hold fails
// before the list is allocated.
func TestCountBeyondBody(t *testing.T) {
	// 16384 domains would be about 800 KB of Go values; the body has 8 bytes.
	body := be(DomainListMax, 0)
	de := decodeErr(t, body, &ConnectListAllDomainsRet{})
	if !errors.Is(de, ErrTruncated) || de.Field != "ConnectListAllDomainsRet.Domains" {
		t.Fatalf("got %v", de)
	}
	// Each domain takes at least 24 bytes (empty name, uuid, id).
	if want := "body ends early: 393216 bytes needed, 4 left"; de.Msg != want {
		t.Errorf("message %q, want %q", de.Msg, want)
	}
	if n := allocated(50, func() { Unmarshal(body, &ConnectListAllDomainsRet{}) }); n > 16<<10 {
		t.Errorf("a refused count of 16384 domains allocated %d bytes per decode", n)
	}

	// A 4 MiB string with 8 bytes behind it.
	body = append(be(RemoteStringMax), 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h')
	de = decodeErr(t, body, &DomainDefineXMLArgs{})
	if !errors.Is(de, ErrTruncated) || de.Field != "DomainDefineXMLArgs.XML" {
		t.Fatalf("got %v", de)
	}
	if n := allocated(50, func() { Unmarshal(body, &DomainDefineXMLArgs{}) }); n > 16<<10 {
		t.Errorf("a refused string of 4 MiB allocated %d bytes per decode", n)
	}

	// A string that fits but whose padding is missing.
	de = decodeErr(t, append(be(5), 'a', 'b', 'c', 'd', 'e'), &DomainDefineXMLArgs{})
	if !errors.Is(de, ErrTruncated) {
		t.Errorf("missing padding: got %v", de)
	}
}

// TestDecodeErrorNamesField: the path goes down through structs, list
// elements and optional data to the field that failed.
func TestDecodeErrorNamesField(t *testing.T) {
	// Two domains; the second's uuid is cut short.
	body := be(2)
	body = append(body, be(1, 'a'<<24)...)   // [0] name "a"
	body = append(body, make([]byte, 16)...) //     uuid
	body = append(body, be(1)...)            //     id
	body = append(body, be(8)...)            // [1] name of 8 bytes
	body = append(body, "abcdefgh"...)
	body = append(body, make([]byte, 12)...) //     12 of the uuid's 16 bytes
	de := decodeErr(t, body, &ConnectListAllDomainsRet{})
	if want := "ConnectListAllDomainsRet.Domains[1].UUID"; de.Field != want {
		t.Errorf("field %q, want %q (%v)", de.Field, want, de)
	}
	if !strings.HasPrefix(de.Error(), "cannot decode ConnectListAllDomainsRet.Domains[1].UUID: body ends early") {
		t.Errorf("message %q", de.Error())
	}
	// Cut before the second domain's minimum size, the element is named.
	de = decodeErr(t, body[:len(body)-16], &ConnectListAllDomainsRet{})
	if want := "ConnectListAllDomainsRet.Domains"; de.Field != want {
		// 2 domains need 48 bytes: the count is refused.
		t.Errorf("field %q, want %q (%v)", de.Field, want, de)
	}

	// Inside optional data: remote_error's dom.
	body = append(be(42, 12, 0, 2, 1, 100), make([]byte, 40)...) // dom's name: 100 bytes, 40 left
	de = decodeErr(t, body, &Error{})
	if want := "Error.Dom.Name"; de.Field != want {
		t.Errorf("field %q, want %q", de.Field, want)
	}

	// A fixed array of chars.
	de = decodeErr(t, make([]byte, 130), &NodeGetInfoRet{})
	if de.Field != "NodeGetInfoRet" {
		// 130 bytes cannot hold the struct's 160: refused at the top.
		t.Errorf("field %q", de.Field)
	}

	// Nested structs: callback id, a name of 20 bytes, 8 of the uuid's 16.
	body = append(be(7, 20), make([]byte, 28)...)
	de = decodeErr(t, body, &DomainEventCallbackLifecycleMsg{})
	if want := "DomainEventCallbackLifecycleMsg.Msg.Dom.UUID"; de.Field != want {
		t.Errorf("field %q, want %q", de.Field, want)
	}
}

func TestEncodeErrorNamesField(t *testing.T) {
	_, err := Marshal(&ConnectListAllDomainsRet{Domains: []Domain{{Name: "ok"}, {Name: strings.Repeat("x", RemoteStringMax+1)}}})
	var ee *EncodeError
	if !errors.As(err, &ee) || ee.Field != "ConnectListAllDomainsRet.Domains[1].Name" {
		t.Errorf("got %v", err)
	}
	_, err = Marshal(&Error{Dom: &Domain{Name: strings.Repeat("x", RemoteStringMax+1)}})
	if !errors.As(err, &ee) || ee.Field != "Error.Dom.Name" {
		t.Errorf("got %v", err)
	}
}

func TestTrailingBytesIgnored(t *testing.T) {
	var a ConnectSupportsFeatureArgs
	if err := Unmarshal(be(10, 0xdeadbeef), &a); err != nil || a.Feature != 10 {
		t.Errorf("got %+v, %v", a, err)
	}
}

// TestLenientLikeRpcgen: narrow ints keep their low bits, bools any non-zero.
func TestLenientLikeRpcgen(t *testing.T) {
	var info DomainGetInfoRet
	body := be(0x101, 0, 1, 0, 2, 0x10002, 0, 3)
	if err := Unmarshal(body, &info); err != nil {
		t.Fatal(err)
	}
	if info.State != 1 || info.NrVirtCPU != 2 {
		t.Errorf("u_char 0x101 → %d, u_short 0x10002 → %d; want 1 and 2", info.State, info.NrVirtCPU)
	}

	type withBool struct{ B bool }
	var wb withBool
	if err := Unmarshal(be(7), &wb); err != nil || !wb.B {
		t.Errorf("bool 7: %v, %v", wb.B, err)
	}
	if b, _ := Marshal(&withBool{true}); string(b) != string(be(1)) {
		t.Errorf("true encodes as % x", b)
	}
}

func TestUnsupportedTypesAreErrorsNotPanics(t *testing.T) {
	type untagged struct{ L []int32 }
	type goInt struct{ N int }
	type badTag struct {
		S string `xdr:"maximum=3"`
	}
	type recursive struct {
		Next *recursive
	}
	for _, v := range []any{&untagged{}, &goInt{}, &badTag{}, &recursive{}, &[]int32{}, new(map[string]int)} {
		if _, err := Marshal(v); err == nil {
			t.Errorf("Marshal(%T) succeeded", v)
		}
		if err := Unmarshal(be(0, 0, 0), v); err == nil {
			t.Errorf("Unmarshal into %T succeeded", v)
		}
	}
	if err := Unmarshal(nil, ConnectOpenArgs{}); err == nil {
		t.Error("Unmarshal into a non-pointer succeeded")
	}
	if err := Unmarshal(nil, (*ConnectOpenArgs)(nil)); err == nil {
		t.Error("Unmarshal into a nil pointer succeeded")
	}
}

func TestVoid(t *testing.T) {
	for _, v := range []any{nil, (*ConnectOpenArgs)(nil), &struct{}{}} {
		b, err := Marshal(v)
		if err != nil || len(b) != 0 {
			t.Errorf("Marshal(%#v) = % x, %v; want an empty body", v, b, err)
		}
	}
	if err := Unmarshal(nil, &struct{}{}); err != nil {
		t.Errorf("void: %v", err)
	}
}

func TestErrorHelpers(t *testing.T) {
	e := RPCError("Cannot find program %d version %d", int32(-1), 2)
	if e.Code != CodeRPC || e.Domain != DomainRPC || e.Level != LevelError ||
		*e.Message != "Cannot find program -1 version 2" || *e.Str1 != *e.Message || e.Int1 != -1 || e.Int2 != -1 {
		t.Errorf("RPCError = %+v", e)
	}
	if (&Error{Code: 3, Domain: 4}).Error() == "" {
		t.Error("an error without a message has no text")
	}
	if s := Call.String() + MessageType(9).String() + StatusContinue.String() + Status(9).String(); s != "CALLtype(9)CONTINUEstatus(9)" {
		t.Errorf("names: %s", s)
	}
	if s := ProcConnectOpen.String() + Procedure(9999).String(); s != "CONNECT_OPENproc(9999)" {
		t.Errorf("procedure names: %s", s)
	}
}
