package protocol

import (
	"encoding/binary"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/govirt/govirtd/vir"
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
func decodeErr(t *testing.T, body []byte, v Decodable) *DecodeError {
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
	want := "cannot decode DomainLookupByNameArgs.Name: string length of 4194305 exceeds the limit of 4194304"
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
		v     Decodable
		max   uint32
		field string
	}{
		{"auth types", &AuthListRet{}, RemoteAuthTypeListMax, "AuthListRet.Types"},
		{"domains", &ConnectListAllDomainsRet{}, RemoteDomainListMax, "ConnectListAllDomainsRet.Domains"},
		{"domain ids", &ConnectListDomainsRet{}, RemoteDomainListMax, "ConnectListDomainsRet.IDs"},
		{"domain names", &ConnectListDefinedDomainsRet{}, RemoteDomainListMax, "ConnectListDefinedDomainsRet.Names"},
		{"networks", &ConnectListAllNetworksRet{}, RemoteNetworkListMax, "ConnectListAllNetworksRet.Nets"},
		{"security model", &NodeGetSecurityModelRet{}, RemoteSecurityModelMax, "NodeGetSecurityModelRet.Model"},
		{"security label", &DomainGetSecurityLabelRet{}, RemoteSecurityLabelMax, "DomainGetSecurityLabelRet.Label"},
		{"messages", &DomainGetMessagesRet{}, RemoteDomainMessagesMax, "DomainGetMessagesRet.Msgs"},
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
	_, err := Marshal(&AuthListRet{Types: make([]AuthType, RemoteAuthTypeListMax+1)})
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "AuthListRet.Types") {
		t.Errorf("encoding 21 auth types: %v", err)
	}
	if _, err := Marshal(&AuthListRet{Types: make([]AuthType, RemoteAuthTypeListMax)}); err != nil {
		t.Errorf("encoding 20 auth types: %v", err)
	}
}

// TestCountBeyondBody: a count that the bytes left cannot hold fails
// before the list is allocated.
func TestCountBeyondBody(t *testing.T) {
	// 16384 domains would be about 800 KB of Go values; the body has 8 bytes.
	body := be(RemoteDomainListMax, 0)
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

	// A string that fits but whose padding is missing: rpcgen's
	// xdr_opaque reads the padding, and fails without it.
	t.Run("missing padding", func(t *testing.T) {
		if !paddingChecked {
			t.Skip("codec.go accepts a last string or opaque without its padding (paddingChecked)")
		}
		de := decodeErr(t, append(be(5), 'a', 'b', 'c', 'd', 'e'), &DomainDefineXMLArgs{})
		if !errors.Is(de, ErrTruncated) || de.Field != "DomainDefineXMLArgs.XML" {
			t.Errorf("missing padding: got %v", de)
		}
	})
}

// paddingChecked says whether the decoder refuses a body that ends
// inside the padding of its last string or opaque, as rpcgen's xdr_opaque
// does (it reads the padding with XDR_GETBYTES). codec.go's Decoder.bytes
// clamps the skip to the body's end instead, so such a body decodes, and
// re-encodes up to 3 bytes longer. The tests that expect libvirt's
// behaviour are skipped, or tolerate exactly this, until codec.go is
// fixed; then set this to true.
const paddingChecked = true

// unionEncodeErrorFixed says whether encoding a union with no arm for
// its discriminant fails with an *EncodeError (see TestUnionDiscriminant).
const unionEncodeErrorFixed = true

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

	// A fixed array of chars, whole (32 words, 128 bytes); then 2 of the
	// memory's 8 bytes.
	de = decodeErr(t, make([]byte, 130), &NodeGetInfoRet{})
	if de.Field != "NodeGetInfoRet.Memory" {
		t.Errorf("field %q", de.Field)
	}
	// Cut inside the array, the element is named.
	de = decodeErr(t, make([]byte, 4*5+2), &NodeGetInfoRet{})
	if de.Field != "NodeGetInfoRet.Model[5]" {
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

// TestLenientLikeRpcgen: narrow ints keep their low bits, bools and
// optional discriminants take any non-zero word as true.
func TestLenientLikeRpcgen(t *testing.T) {
	var info DomainGetInfoRet
	body := be(0x101, 0, 1, 0, 2, 0x10002, 0, 3)
	if err := Unmarshal(body, &info); err != nil {
		t.Fatal(err)
	}
	if info.State != 1 || info.NrVirtCPU != 2 {
		t.Errorf("u_char 0x101 → %d, u_short 0x10002 → %d; want 1 and 2", info.State, info.NrVirtCPU)
	}
	if info.MaxMem != 1 || info.Memory != 2 || info.CPUTime != 3 {
		t.Errorf("hypers: %+v", info)
	}

	d := NewDecoder(be(7, 0))
	if b, err := d.Bool(); err != nil || !b {
		t.Errorf("bool 7: %v, %v", b, err)
	}
	if b, err := d.Bool(); err != nil || b {
		t.Errorf("bool 0: %v, %v", b, err)
	}
	e := NewEncoder(nil)
	e.Bool(true)
	e.Bool(false)
	if got := e.Bytes(); string(got) != string(be(1, 0)) {
		t.Errorf("true, false encode as % x", got)
	}

	// An optional's discriminant of 2 is "present", as xdr_pointer has it.
	var a ConnectOpenArgs
	if err := Unmarshal(be(2, 1, 'x'<<24, 0), &a); err != nil || a.Name == nil || *a.Name != "x" {
		t.Errorf("discriminant 2: %+v, %v", a, err)
	}
}

// TestUnionDiscriminant: a union's arm is chosen by its discriminant;
// one with no arm in the definition is refused both ways, naming the
// field.
func TestUnionDiscriminant(t *testing.T) {
	// field "x", type 9: no VIR_TYPED_PARAM_* is 9.
	de := decodeErr(t, be(1, 'x'<<24, 9, 0, 0), &TypedParam{})
	if de.Field != "TypedParam.Value.Type" || !strings.Contains(de.Msg, "discriminant 9") {
		t.Errorf("got %v", de)
	}
	if errors.Is(de, ErrTruncated) || errors.Is(de, ErrLimit) {
		t.Errorf("a bad discriminant is neither truncation nor a limit: %v", de)
	}
	_, err := Marshal(&TypedParam{Field: "x", Value: TypedParamValue{Type: 0}})
	if err == nil || !strings.Contains(err.Error(), "TypedParam.Value.Type") {
		t.Errorf("encoding discriminant 0: %v", err)
	}
	// The generated EncodeXDR returns badDiscriminant's *DecodeError
	// ("cannot decode …") for a value it cannot encode; it should be an
	// *EncodeError. Set unionEncodeErrorFixed when codec.go is fixed.
	var ee *EncodeError
	if unionEncodeErrorFixed && !errors.As(err, &ee) {
		t.Errorf("encoding discriminant 0: %T %v, want an *EncodeError", err, err)
	}

	// The arms not selected are neither written nor read.
	b, err := Marshal(&TypedParamValue{Type: 2, I: 7, Ui: 8, S: "unused"})
	if err != nil || string(b) != string(be(2, 8)) {
		t.Errorf("uint arm: % x, %v", b, err)
	}
	var v TypedParamValue
	if err := Unmarshal(be(7, 2, 'h'<<24|'i'<<16), &v); err != nil || v != (TypedParamValue{Type: 7, S: "hi"}) {
		t.Errorf("string arm: %+v, %v", v, err)
	}
}

// TestVoid: a procedure without arguments or return has an empty body.
func TestVoid(t *testing.T) {
	b, err := Marshal(nil)
	if err != nil || len(b) != 0 {
		t.Errorf("Marshal(nil) = % x, %v; want an empty body", b, err)
	}
	b, err = AppendMarshal([]byte{1, 2}, nil)
	if err != nil || string(b) != "\x01\x02" {
		t.Errorf("AppendMarshal(buf, nil) = % x, %v", b, err)
	}
}

func TestAppendMarshal(t *testing.T) {
	prefix := []byte{0xaa, 0xbb, 0xcc, 0xdd}
	b, err := AppendMarshal(prefix, &DomainIsActiveRet{Active: 1})
	if err != nil || string(b) != string(append(prefix, be(1)...)) {
		t.Errorf("AppendMarshal = % x, %v", b, err)
	}
}

func TestErrorHelpers(t *testing.T) {
	e := RPCError("Cannot find program %d version %d", int32(-1), 2)
	if e.Code != int32(vir.ErrRPC) || e.Domain != int32(vir.FromRPC) || e.Level != int32(vir.ErrError) ||
		*e.Message != "Cannot find program -1 version 2" || *e.Str1 != *e.Message || e.Int1 != -1 || e.Int2 != -1 {
		t.Errorf("RPCError = %+v", e)
	}
	if (&Error{Code: 3, Domain: 4}).Error() == "" {
		t.Error("an error without a message has no text")
	}
	if s := Call.String() + MessageType(9).String() + StatusContinue.String() + Status(9).String(); s != "CALLNetMessageType(9)CONTINUENetMessageStatus(9)" {
		t.Errorf("names: %s", s)
	}
	if s := ProcConnectOpen.String() + Procedure(9999).String(); s != "CONNECT_OPENProcedure(9999)" {
		t.Errorf("procedure names: %s", s)
	}
}
