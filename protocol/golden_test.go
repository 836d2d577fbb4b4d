package protocol

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/govirt/govirtd/vir"
)

// Golden encodings, every byte explained, in the spirit of libvirt's
// tests/virnetmessagetest.c. They pin the wire format: a change to the
// codec that moves one byte fails here with the offending offset.

// testUUID is the test driver's default domain,
// 6695eb01-f6a4-8304-79aa-97f2502e193f.
var testUUID = UUID{
	0x66, 0x95, 0xeb, 0x01, 0xf6, 0xa4, 0x83, 0x04,
	0x79, 0xaa, 0x97, 0xf2, 0x50, 0x2e, 0x19, 0x3f,
}

func strp(s string) *string { return &s }

// checkBytes fails with the first differing offset, so a reader can find
// the byte's comment in the golden slice.
func checkBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	n := min(len(got), len(want))
	at := n
	for i := 0; i < n; i++ {
		if got[i] != want[i] {
			at = i
			break
		}
	}
	t.Errorf("%s: first difference at byte %d (got %d bytes, want %d)\n got: % x\nwant: % x", what, at, len(got), len(want), got, want)
}

// wire is a pointer to a generated type: it encodes and decodes itself.
type wire interface {
	Encodable
	Decodable
}

// golden checks that v encodes to want and that want decodes to v.
func golden(t *testing.T, v wire, want []byte) {
	t.Helper()
	got, err := Marshal(v)
	if err != nil {
		t.Fatalf("Marshal(%T): %v", v, err)
	}
	checkBytes(t, "encoding", got, want)
	back := reflect.New(reflect.TypeOf(v).Elem()).Interface().(Decodable)
	if err := Unmarshal(want, back); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if !reflect.DeepEqual(back, v) {
		t.Errorf("decoding:\n got %+v\nwant %+v", back, v)
	}
}

func TestGoldenHeader(t *testing.T) {
	// The header of virnetmessagetest.c's testMessageHeaderEncode.
	want := []byte{
		0x11, 0x22, 0x33, 0x44, // program 0x11223344
		0x00, 0x00, 0x00, 0x01, // version 1
		0x00, 0x00, 0x06, 0x66, // procedure 0x666
		0x00, 0x00, 0x00, 0x00, // type CALL
		0x00, 0x00, 0x00, 0x99, // serial 0x99
		0x00, 0x00, 0x00, 0x00, // status OK
	}
	h := Header{Program: 0x11223344, Version: 1, Procedure: 0x666, Type: Call, Serial: 0x99, Status: StatusOK}
	var got [HeaderSize]byte
	h.Put(got[:])
	checkBytes(t, "Put", got[:], want)

	// testMessageHeaderDecode's input: a REPLY with status ERROR.
	in := []byte{
		0x11, 0x22, 0x33, 0x44, // program
		0x00, 0x00, 0x00, 0x01, // version
		0x00, 0x00, 0x06, 0x66, // procedure
		0x00, 0x00, 0x00, 0x01, // type REPLY
		0x00, 0x00, 0x00, 0x99, // serial
		0x00, 0x00, 0x00, 0x01, // status ERROR
	}
	back, err := ParseHeader(in)
	if err != nil {
		t.Fatal(err)
	}
	wantH := Header{Program: 0x11223344, Version: 1, Procedure: 0x666, Type: Reply, Serial: 0x99, Status: StatusError}
	if back != wantH {
		t.Errorf("ParseHeader = %v, want %v", back, wantH)
	}

	// A procedure number is a signed int on the wire.
	in = []byte{
		0x20, 0x00, 0x80, 0x86, // program REMOTE
		0x00, 0x00, 0x00, 0x01, // version 1
		0xff, 0xff, 0xff, 0xfe, // procedure -2
		0x00, 0x00, 0x00, 0x02, // type MESSAGE
		0xff, 0xff, 0xff, 0xff, // serial 4294967295
		0x00, 0x00, 0x00, 0x07, // status 7, unknown: kept for the receiver to judge
	}
	back, err = ParseHeader(in)
	if err != nil {
		t.Fatal(err)
	}
	wantH = Header{Program: RemoteProgram, Version: 1, Procedure: -2, Type: Message, Serial: 0xffffffff, Status: 7}
	if back != wantH {
		t.Errorf("ParseHeader = %v, want %v", back, wantH)
	}

	if _, err := ParseHeader(in[:HeaderSize-1]); err == nil {
		t.Error("ParseHeader accepted 23 bytes")
	}
}

// TestGoldenErrorReply is a whole frame as libvirtd sends it for a
// lookup of a domain that does not exist.
func TestGoldenErrorReply(t *testing.T) {
	want := []byte{
		0x00, 0x00, 0x00, 0x70, // length 112: itself, the header and the body
		0x20, 0x00, 0x80, 0x86, // program REMOTE
		0x00, 0x00, 0x00, 0x01, // version 1
		0x00, 0x00, 0x00, 0x17, // procedure 23 DOMAIN_LOOKUP_BY_NAME
		0x00, 0x00, 0x00, 0x01, // type REPLY
		0x00, 0x00, 0x00, 0x05, // serial 5, the call's
		0x00, 0x00, 0x00, 0x01, // status ERROR

		0x00, 0x00, 0x00, 0x2a, // 1 code 42 VIR_ERR_NO_DOMAIN
		0x00, 0x00, 0x00, 0x0c, // 2 domain 12 VIR_FROM_TEST
		0x00, 0x00, 0x00, 0x01, // 3 message: present
		0x00, 0x00, 0x00, 0x10, //   length 16
		'D', 'o', 'm', 'a', //       "Domain not found", no NUL,
		'i', 'n', ' ', 'n', //       no padding at a length of 16
		'o', 't', ' ', 'f',
		'o', 'u', 'n', 'd',
		0x00, 0x00, 0x00, 0x02, // 4 level 2 VIR_ERR_ERROR
		0x00, 0x00, 0x00, 0x00, // 5 dom: NULL
		0x00, 0x00, 0x00, 0x01, // 6 str1: present
		0x00, 0x00, 0x00, 0x10, //   length 16
		'D', 'o', 'm', 'a', //       "Domain not found"
		'i', 'n', ' ', 'n',
		'o', 't', ' ', 'f',
		'o', 'u', 'n', 'd',
		0x00, 0x00, 0x00, 0x00, // 7 str2: NULL
		0x00, 0x00, 0x00, 0x00, // 8 str3: NULL
		0xff, 0xff, 0xff, 0xff, // 9 int1 -1
		0xff, 0xff, 0xff, 0xff, // 10 int2 -1
		0x00, 0x00, 0x00, 0x00, // 11 net: NULL
	}
	e := NewError(42, 12, "Domain not found")
	h := Header{Program: RemoteProgram, Version: RemoteProtocolVersion, Procedure: int32(ProcDomainLookupByName),
		Type: Reply, Serial: 5, Status: StatusError}

	body, err := Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, LengthSize+HeaderSize, LengthSize+HeaderSize+len(body))
	binary.BigEndian.PutUint32(frame, uint32(LengthSize+HeaderSize+len(body)))
	h.Put(frame[LengthSize:])
	frame = append(frame, body...)
	checkBytes(t, "frame", frame, want)

	// And back.
	if n := binary.BigEndian.Uint32(want); int(n) != len(want) {
		t.Fatalf("length word %d, frame %d bytes", n, len(want))
	}
	gotH, err := ParseHeader(want[LengthSize:])
	if err != nil || gotH != h {
		t.Fatalf("header %v, %v; want %v", gotH, err, h)
	}
	var back Error
	if err := Unmarshal(want[LengthSize+HeaderSize:], &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, e) {
		t.Errorf("decoded %+v, want %+v", back, *e)
	}
	if back.Error() != "Domain not found" {
		t.Errorf("Error() = %q", back.Error())
	}
}

// TestGoldenErrorAllFields sets every optional field of remote_error, so
// each of the eleven is seen in its place.
func TestGoldenErrorAllFields(t *testing.T) {
	e := &Error{
		Code:    1,
		Domain:  7,
		Message: strp("internal error: X"),
		Level:   int32(vir.ErrError),
		Dom:     &Domain{Name: "test", UUID: testUUID, ID: 1},
		Str1:    strp("internal error: %s"),
		Str2:    strp("X"),
		Str3:    strp("abcd"),
		Int1:    -1,
		Int2:    3,
		Net:     &Network{Name: "default", UUID: testUUID},
	}
	golden(t, e, []byte{
		0x00, 0x00, 0x00, 0x01, // 1 code 1 VIR_ERR_INTERNAL_ERROR
		0x00, 0x00, 0x00, 0x07, // 2 domain 7 VIR_FROM_RPC
		0x00, 0x00, 0x00, 0x01, // 3 message: present
		0x00, 0x00, 0x00, 0x11, //   length 17
		'i', 'n', 't', 'e', //       "internal error: X"
		'r', 'n', 'a', 'l',
		' ', 'e', 'r', 'r',
		'o', 'r', ':', ' ',
		'X', 0x00, 0x00, 0x00, //    and 3 bytes of padding
		0x00, 0x00, 0x00, 0x02, // 4 level ERROR
		0x00, 0x00, 0x00, 0x01, // 5 dom: present
		0x00, 0x00, 0x00, 0x04, //   name length 4
		't', 'e', 's', 't', //       "test"
		0x66, 0x95, 0xeb, 0x01, //   uuid, 16 raw bytes
		0xf6, 0xa4, 0x83, 0x04,
		0x79, 0xaa, 0x97, 0xf2,
		0x50, 0x2e, 0x19, 0x3f,
		0x00, 0x00, 0x00, 0x01, //   id 1
		0x00, 0x00, 0x00, 0x01, // 6 str1: present
		0x00, 0x00, 0x00, 0x12, //   length 18
		'i', 'n', 't', 'e', //       "internal error: %s"
		'r', 'n', 'a', 'l',
		' ', 'e', 'r', 'r',
		'o', 'r', ':', ' ',
		'%', 's', 0x00, 0x00, //     and 2 bytes of padding
		0x00, 0x00, 0x00, 0x01, // 7 str2: present
		0x00, 0x00, 0x00, 0x01, //   length 1
		'X', 0x00, 0x00, 0x00, //    "X" and 3 bytes of padding
		0x00, 0x00, 0x00, 0x01, // 8 str3: present
		0x00, 0x00, 0x00, 0x04, //   length 4
		'a', 'b', 'c', 'd', //       "abcd", no padding
		0xff, 0xff, 0xff, 0xff, // 9 int1 -1
		0x00, 0x00, 0x00, 0x03, // 10 int2 3
		0x00, 0x00, 0x00, 0x01, // 11 net: present
		0x00, 0x00, 0x00, 0x07, //   name length 7
		'd', 'e', 'f', 'a', //       "default"
		'u', 'l', 't', 0x00, //      and 1 byte of padding
		0x66, 0x95, 0xeb, 0x01, //   uuid
		0xf6, 0xa4, 0x83, 0x04,
		0x79, 0xaa, 0x97, 0xf2,
		0x50, 0x2e, 0x19, 0x3f,
	})
}

func TestGoldenConnectOpen(t *testing.T) {
	// As virsh sends it for test+unix:///default.
	golden(t, &ConnectOpenArgs{Name: strp("test:///default"), Flags: 0}, []byte{
		0x00, 0x00, 0x00, 0x01, // name: present
		0x00, 0x00, 0x00, 0x0f, // length 15
		't', 'e', 's', 't', //     "test:///default"
		':', '/', '/', '/',
		'd', 'e', 'f', 'a',
		'u', 'l', 't', 0x00, //    and 1 byte of padding
		0x00, 0x00, 0x00, 0x00, // flags 0
	})

	// go-libvirt writes the discriminant as 0x01000000; libvirtd takes any
	// non-zero discriminant as "present", and so must we.
	goLibvirt := []byte{
		0x01, 0x00, 0x00, 0x00, // name: present, go-libvirt style
		0x00, 0x00, 0x00, 0x0f, // length 15
		't', 'e', 's', 't',
		':', '/', '/', '/',
		'd', 'e', 'f', 'a',
		'u', 'l', 't', 0x00,
		0x00, 0x00, 0x00, 0x01, // flags 1 VIR_CONNECT_RO
	}
	var a ConnectOpenArgs
	if err := Unmarshal(goLibvirt, &a); err != nil {
		t.Fatalf("go-libvirt's CONNECT_OPEN: %v", err)
	}
	if a.Name == nil || *a.Name != "test:///default" || a.Flags != 1 {
		t.Errorf("go-libvirt's CONNECT_OPEN decoded as name %v flags %d", a.Name, a.Flags)
	}

	// A NULL name: the client lets the server probe.
	golden(t, &ConnectOpenArgs{Name: nil, Flags: 1}, []byte{
		0x00, 0x00, 0x00, 0x00, // name: NULL
		0x00, 0x00, 0x00, 0x01, // flags 1 VIR_CONNECT_RO
	})
}

func TestGoldenDomain(t *testing.T) {
	golden(t, &Domain{Name: "test", UUID: testUUID, ID: 1}, []byte{
		0x00, 0x00, 0x00, 0x04, // name length 4
		't', 'e', 's', 't', //     "test", no padding
		0x66, 0x95, 0xeb, 0x01, // uuid: 16 raw bytes, no length
		0xf6, 0xa4, 0x83, 0x04,
		0x79, 0xaa, 0x97, 0xf2,
		0x50, 0x2e, 0x19, 0x3f,
		0x00, 0x00, 0x00, 0x01, // id 1
	})
	// An inactive domain has id -1.
	golden(t, &Domain{Name: "guest", UUID: UUID{15: 0xab}, ID: -1}, []byte{
		0x00, 0x00, 0x00, 0x05, // name length 5
		'g', 'u', 'e', 's', //     "guest"
		't', 0x00, 0x00, 0x00, //  and 3 bytes of padding
		0x00, 0x00, 0x00, 0x00, // uuid 00000000-0000-0000-0000-0000000000ab
		0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0xab,
		0xff, 0xff, 0xff, 0xff, // id -1
	})
}

// TestGoldenLifecycleEvent is the destroy event libvirtd sent to virsh
// (research notes §3, observed live).
func TestGoldenLifecycleEvent(t *testing.T) {
	golden(t, &DomainEventCallbackLifecycleMsg{
		CallbackID: 0,
		Msg:        DomainEventLifecycleMsg{Dom: Domain{Name: "test", UUID: testUUID, ID: -1}, Event: 5, Detail: 1},
	}, []byte{
		0x00, 0x00, 0x00, 0x00, // callbackID 0
		0x00, 0x00, 0x00, 0x04, // dom: name length 4
		't', 'e', 's', 't', //     "test"
		0x66, 0x95, 0xeb, 0x01, // uuid
		0xf6, 0xa4, 0x83, 0x04,
		0x79, 0xaa, 0x97, 0xf2,
		0x50, 0x2e, 0x19, 0x3f,
		0xff, 0xff, 0xff, 0xff, // id -1: the id after the change
		0x00, 0x00, 0x00, 0x05, // event 5 STOPPED
		0x00, 0x00, 0x00, 0x01, // detail 1 DESTROYED
	})
}

// TestGoldenChars: rpcgen sends each char as a 4-byte int.
func TestGoldenChars(t *testing.T) {
	var r NodeGetInfoRet
	copy(r.Model[:], []int8{'x', 'y', -61}) // -61 is 0xc3, a byte of a UTF-8 sequence
	r.Memory = 0x0102030405060708
	r.CPUs, r.MHz, r.Nodes, r.Sockets, r.Cores, r.Threads = 1, 2, 3, 4, 5, 6
	want := []byte{
		0x00, 0x00, 0x00, 'x', // model[0] 'x', a char in 4 bytes
		0x00, 0x00, 0x00, 'y', // model[1] 'y'
		0xff, 0xff, 0xff, 0xc3, // model[2] -61, sign-extended as a signed char is
	}
	want = append(want, make([]byte, 29*4)...) // model[3..31] NUL, so 128 bytes in all
	want = append(want,
		0x01, 0x02, 0x03, 0x04, // memory: an unsigned hyper, 8 bytes, big-endian
		0x05, 0x06, 0x07, 0x08,
		0x00, 0x00, 0x00, 0x01, // cpus 1
		0x00, 0x00, 0x00, 0x02, // mhz 2
		0x00, 0x00, 0x00, 0x03, // nodes 3
		0x00, 0x00, 0x00, 0x04, // sockets 4
		0x00, 0x00, 0x00, 0x05, // cores 5
		0x00, 0x00, 0x00, 0x06, // threads 6
	)
	golden(t, &r, want)

	// Decoding keeps the low byte of the word, as xdr_char does, so a
	// char sent from a platform where char is unsigned (0x000000c3)
	// decodes the same.
	want[8], want[9], want[10] = 0, 0, 0
	var back NodeGetInfoRet
	if err := Unmarshal(want, &back); err != nil {
		t.Fatal(err)
	}
	if back.Model[2] != -61 {
		t.Errorf("model[2] = %d, want -61", back.Model[2])
	}

	// A variable-length char array: the security model, count then chars.
	golden(t, &NodeGetSecurityModelRet{Model: []int8{'n', 'o', 0}, DOI: []int8{}}, []byte{
		0x00, 0x00, 0x00, 0x03, // model: 3 chars (libvirtd counts the NUL)
		0x00, 0x00, 0x00, 'n',
		0x00, 0x00, 0x00, 'o',
		0x00, 0x00, 0x00, 0x00, // NUL
		0x00, 0x00, 0x00, 0x00, // doi: 0 chars
	})
}

// TestGoldenList: a list is a count, then its elements.
func TestGoldenList(t *testing.T) {
	golden(t, &ConnectListAllDomainsRet{
		Domains: []Domain{{Name: "a", UUID: UUID{0: 1}, ID: 7}},
		Ret:     1,
	}, []byte{
		0x00, 0x00, 0x00, 0x01, // domains: count 1
		0x00, 0x00, 0x00, 0x01, //   name length 1
		'a', 0x00, 0x00, 0x00, //    "a" and 3 bytes of padding
		0x01, 0x00, 0x00, 0x00, //   uuid 01000000-0000-0000-0000-000000000000
		0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x07, //   id 7
		0x00, 0x00, 0x00, 0x01, // ret 1
	})
	golden(t, &AuthListRet{Types: []AuthType{RemoteAuthNone}}, []byte{
		0x00, 0x00, 0x00, 0x01, // types: count 1
		0x00, 0x00, 0x00, 0x00, // REMOTE_AUTH_NONE
	})
}

// TestGoldenPerProcedureReturns: each procedure has its own return
// struct (remote_domain_lookup_by_name_ret, remote_domain_is_active_ret…)
// where the hand-written types shared one; the wire is what it was.
func TestGoldenPerProcedureReturns(t *testing.T) {
	golden(t, &DomainLookupByNameRet{Dom: Domain{Name: "test", UUID: testUUID, ID: 1}}, []byte{
		0x00, 0x00, 0x00, 0x04, // dom: name length 4
		't', 'e', 's', 't', //     "test"
		0x66, 0x95, 0xeb, 0x01, // uuid
		0xf6, 0xa4, 0x83, 0x04,
		0x79, 0xaa, 0x97, 0xf2,
		0x50, 0x2e, 0x19, 0x3f,
		0x00, 0x00, 0x00, 0x01, // id 1
	})
	golden(t, &DomainIsActiveRet{Active: 1}, []byte{
		0x00, 0x00, 0x00, 0x01, // active 1
	})
	golden(t, &DomainGetStateRet{State: 1, Reason: 5}, []byte{
		0x00, 0x00, 0x00, 0x01, // state 1 VIR_DOMAIN_RUNNING
		0x00, 0x00, 0x00, 0x05, // reason 5 VIR_DOMAIN_RUNNING_UNPAUSED
	})
	golden(t, &ConnectGetLibVersionRet{LibVer: 9_000_000}, []byte{
		0x00, 0x00, 0x00, 0x00, // lib_ver 9000000: an unsigned hyper,
		0x00, 0x89, 0x54, 0x40, // 8 bytes, high word first
	})
	golden(t, &DomainGetXMLDescRet{XML: "<domain/>"}, []byte{
		0x00, 0x00, 0x00, 0x09, // xml: length 9
		'<', 'd', 'o', 'm', //     "<domain/>"
		'a', 'i', 'n', '/',
		'>', 0x00, 0x00, 0x00, //  and 3 bytes of padding
	})
	// A program other than remote: the QEMU and LXC programs reuse
	// remote_nonnull_domain.
	golden(t, &QemuDomainMonitorCommandArgs{Dom: Domain{Name: "q", ID: 3}, Cmd: "info", Flags: 1}, []byte{
		0x00, 0x00, 0x00, 0x01, // dom: name length 1
		'q', 0x00, 0x00, 0x00, //  "q" and 3 bytes of padding
		0x00, 0x00, 0x00, 0x00, // uuid: all zero
		0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x03, // id 3
		0x00, 0x00, 0x00, 0x04, // cmd: length 4
		'i', 'n', 'f', 'o', //     "info"
		0x00, 0x00, 0x00, 0x01, // flags 1 VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP
	})
}

// TestGoldenTypedParams: remote_typed_param_value is a union, its
// discriminant the VIR_TYPED_PARAM_* type; only the selected arm is on
// the wire, and each arm has its own size.
func TestGoldenTypedParams(t *testing.T) {
	golden(t, &DomainGetMemoryParametersRet{
		Params: []TypedParam{
			{Field: "a", Value: TypedParamValue{Type: 1, I: -2}},
			{Field: "b", Value: TypedParamValue{Type: 2, Ui: 3}},
			{Field: "c", Value: TypedParamValue{Type: 3, L: -4}},
			{Field: "d", Value: TypedParamValue{Type: 4, Ul: 0x0102030405060708}},
			{Field: "e", Value: TypedParamValue{Type: 5, D: 1.5}},
			{Field: "f", Value: TypedParamValue{Type: 6, B: 1}},
			{Field: "g", Value: TypedParamValue{Type: 7, S: "hi"}},
		},
		Nparams: 7,
	}, []byte{
		0x00, 0x00, 0x00, 0x07, // params: count 7
		0x00, 0x00, 0x00, 0x01, //   [0] field: length 1
		'a', 0x00, 0x00, 0x00, //        "a" and 3 bytes of padding
		0x00, 0x00, 0x00, 0x01, //       type 1 VIR_TYPED_PARAM_INT
		0xff, 0xff, 0xff, 0xfe, //       i -2
		0x00, 0x00, 0x00, 0x01, //   [1] field "b"
		'b', 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x02, //       type 2 VIR_TYPED_PARAM_UINT
		0x00, 0x00, 0x00, 0x03, //       ui 3
		0x00, 0x00, 0x00, 0x01, //   [2] field "c"
		'c', 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x03, //       type 3 VIR_TYPED_PARAM_LLONG
		0xff, 0xff, 0xff, 0xff, //       l -4: a hyper, 8 bytes
		0xff, 0xff, 0xff, 0xfc,
		0x00, 0x00, 0x00, 0x01, //   [3] field "d"
		'd', 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x04, //       type 4 VIR_TYPED_PARAM_ULLONG
		0x01, 0x02, 0x03, 0x04, //       ul, 8 bytes, high word first
		0x05, 0x06, 0x07, 0x08,
		0x00, 0x00, 0x00, 0x01, //   [4] field "e"
		'e', 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x05, //       type 5 VIR_TYPED_PARAM_DOUBLE
		0x3f, 0xf8, 0x00, 0x00, //       d 1.5: IEEE 754 binary64, big-endian
		0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x01, //   [5] field "f"
		'f', 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x06, //       type 6 VIR_TYPED_PARAM_BOOLEAN
		0x00, 0x00, 0x00, 0x01, //       b 1: an int, not an XDR bool
		0x00, 0x00, 0x00, 0x01, //   [6] field "g"
		'g', 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x07, //       type 7 VIR_TYPED_PARAM_STRING
		0x00, 0x00, 0x00, 0x02, //       s: length 2
		'h', 'i', 0x00, 0x00, //         "hi" and 2 bytes of padding
		0x00, 0x00, 0x00, 0x07, // nparams 7
	})

	// The admin program has its own copy of the union.
	golden(t, &AdminTypedParam{Field: "max_workers", Value: AdminTypedParamValue{Type: 2, Ui: 20}}, []byte{
		0x00, 0x00, 0x00, 0x0b, // field: length 11
		'm', 'a', 'x', '_', //     "max_workers"
		'w', 'o', 'r', 'k',
		'e', 'r', 's', 0x00, //    and 1 byte of padding
		0x00, 0x00, 0x00, 0x02, // type 2 VIR_TYPED_PARAM_UINT
		0x00, 0x00, 0x00, 0x14, // ui 20
	})
}

// TestGoldenOpaque: opaque<> is a length, the raw bytes and padding, not
// one word a byte as char<> is.
func TestGoldenOpaque(t *testing.T) {
	golden(t, &DomainPinVcpuArgs{Dom: Domain{Name: "d", ID: -1}, Vcpu: 2, Cpumap: []byte{0x05, 0x80}}, []byte{
		0x00, 0x00, 0x00, 0x01, // dom: name length 1
		'd', 0x00, 0x00, 0x00, //  "d" and 3 bytes of padding
		0x00, 0x00, 0x00, 0x00, // uuid: all zero
		0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00,
		0xff, 0xff, 0xff, 0xff, // id -1
		0x00, 0x00, 0x00, 0x02, // vcpu 2
		0x00, 0x00, 0x00, 0x02, // cpumap: length 2
		0x05, 0x80, 0x00, 0x00, // CPUs 0, 2 and 15; 2 bytes of padding
	})
	golden(t, &DomainGetSecurityLabelRet{Label: []int8{'u', ':', 0}, Enforcing: 1}, []byte{
		0x00, 0x00, 0x00, 0x03, // label: 3 chars, each a word
		0x00, 0x00, 0x00, 'u',
		0x00, 0x00, 0x00, ':',
		0x00, 0x00, 0x00, 0x00, // NUL, counted as libvirtd counts it
		0x00, 0x00, 0x00, 0x01, // enforcing 1
	})
}

// TestGoldenStreamHole is virNetStreamHole, the body of a STREAM_HOLE
// message.
func TestGoldenStreamHole(t *testing.T) {
	golden(t, &NetStreamHole{Length: 1 << 32, Flags: 0}, []byte{
		0x00, 0x00, 0x00, 0x01, // length 4 GiB: a hyper, high word first
		0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, // flags 0
	})
}
