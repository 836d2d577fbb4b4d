package xenstore

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// TestEncodeGolden pins the header: every byte explained.
func TestEncodeGolden(t *testing.T) {
	b, err := Msg{Op: OpRead, ReqID: 0x0102, TxID: 9, Payload: strings0("/vm")}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{
		2, 0, 0, 0, // type READ, little-endian
		0x02, 0x01, 0, 0, // req_id 0x0102
		9, 0, 0, 0, // tx_id 9
		4, 0, 0, 0, // len: "/vm" and its NUL
		'/', 'v', 'm', 0,
	}
	if !bytes.Equal(b, want) {
		t.Fatalf("encoded % x\nwant    % x", b, want)
	}
}

func TestReadMsgRefusesBeforeAllocating(t *testing.T) {
	h := []byte{2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x10, 0, 0} // len 4097
	_, err := ReadMsg(bytes.NewReader(h))
	if !errors.Is(err, ErrFrame) {
		t.Fatalf("4097-byte payload: %v", err)
	}
	h = []byte{0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if _, err := ReadMsg(bytes.NewReader(h)); !errors.Is(err, ErrFrame) {
		t.Fatalf("type 255: %v", err)
	}
	h = []byte{2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 'a'}
	if _, err := ReadMsg(bytes.NewReader(h)); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short payload: %v", err)
	}
}

func TestSplitStrings(t *testing.T) {
	for in, want := range map[string][]string{
		"":            nil,
		"a\x00":       {"a"},
		"a\x00b\x00":  {"a", "b"},
		"a\x00\x00b":  {"a", "", "b"},
		"tail-no-nul": {"tail-no-nul"},
	} {
		got := splitStrings([]byte(in))
		if len(got) != len(want) {
			t.Fatalf("split %q = %q", in, got)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("split %q = %q", in, got)
			}
		}
	}
}

// FuzzReadMsg: whatever ReadMsg accepts re-encodes to the bytes it read,
// and it never accepts a payload over PayloadMax.
func FuzzReadMsg(f *testing.F) {
	seed, _ := Msg{Op: OpWatchEvent, Payload: strings0("/vm/a", "tok")}.Encode()
	f.Add(seed)
	f.Add([]byte{16, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 'E', 'N', 'O', 'E', 'N', 'T', 0})
	f.Add([]byte{2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ReadMsg(bytes.NewReader(b))
		if err != nil {
			return
		}
		if len(m.Payload) > PayloadMax {
			t.Fatalf("accepted %d bytes", len(m.Payload))
		}
		out, err := m.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, b[:len(out)]) {
			t.Fatalf("re-encoded % x from % x", out, b)
		}
		if m.Op == OpError || m.Op == OpWatchEvent || m.Op == OpDirectory {
			_ = splitStrings(m.Payload)
		}
	})
}
