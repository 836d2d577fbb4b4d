package protocol

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// An input of FuzzUnmarshal is a type's name, a NUL, and a body: by name
// rather than by index into allTypes, so that the committed corpus
// (testdata/fuzz/FuzzUnmarshal) keeps meaning the same type when types
// are added.
func fuzzInput(typ string, body []byte) []byte {
	return append([]byte(typ+"\x00"), body...)
}

var typesByName = func() map[string]Decodable {
	m := make(map[string]Decodable, len(allTypes))
	for _, v := range allTypes {
		m[typeNameOf(v)] = v
	}
	return m
}()

// FuzzUnmarshal decodes arbitrary bodies into every generated type.
// Decoding must never panic and must fail only with a *DecodeError that
// names a field of the type. What it accepts must be what an encoder
// could have sent: it encodes again (Marshal checks every limit) to no
// more bytes than it was read from, the reference encoder agrees with
// that encoding byte for byte, and it decodes back to the same value,
// which encodes to the same bytes.
//
//	go test ./protocol -run '^$' -fuzz '^FuzzUnmarshal$' -fuzztime 60s
func FuzzUnmarshal(f *testing.F) {
	for _, proto := range allTypes {
		// Every type: a random value, whole and cut short, and its zero
		// value.
		name := typeNameOf(proto)
		b, err := Marshal(newRandFiller(seedFor(name)).randomValue(proto))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(fuzzInput(name, b))
		f.Add(fuzzInput(name, b[:len(b)/2]))
		if z, err := Marshal(newLike(proto)); err == nil {
			f.Add(fuzzInput(name, z))
		}
	}
	// Hostile lengths; the golden bodies are in testdata/fuzz.
	f.Add(fuzzInput("ConnectListAllDomainsRet", be(RemoteDomainListMax, 0)))
	f.Add(fuzzInput("ConnectListAllDomainsRet", be(0xffffffff, 0)))
	f.Add(fuzzInput("DomainDefineXMLArgs", append(be(RemoteStringMax), 'x', 0, 0, 0)))
	f.Add(fuzzInput("Error", be(42, 12, 1, 3, 'a'<<24|'b'<<16|'c'<<8, 2, 1, 0, 16, 0, 0, 0, 0)))

	f.Fuzz(func(t *testing.T, data []byte) {
		name, body, ok := bytes.Cut(data, []byte{0})
		if !ok {
			return
		}
		proto, ok := typesByName[string(name)]
		if !ok {
			return
		}
		v := newLike(proto)
		if err := Unmarshal(body, v); err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("%s: error %v (%T) is not a *DecodeError", name, err, err)
			}
			if de.Field != string(name) && !strings.HasPrefix(de.Field, string(name)+".") {
				t.Fatalf("%s: error names field %q, not one of the type", name, de.Field)
			}
			return
		}
		b, err := Marshal(v)
		if err != nil {
			t.Fatalf("%s: decoded a value that does not encode: %v\n%+v", name, err, v)
		}
		// Up to 3 bytes more while paddingChecked is false: the padding of
		// the last string or opaque may be missing from body.
		if len(b) > len(body) && (paddingChecked || len(b) > (len(body)+3)&^3) {
			t.Fatalf("%s: %d bytes (% x) decoded to a value of %d bytes (% x)", name, len(body), body, len(b), b)
		}
		ref, err := refMarshal(v)
		if err != nil || !bytes.Equal(ref, b) {
			t.Fatalf("%s: the reference encoder disagrees (%v):\n Marshal % x\nreference % x", name, err, b, ref)
		}
		v2 := newLike(proto)
		if err := Unmarshal(b, v2); err != nil {
			t.Fatalf("%s: re-encoding does not decode: %v", name, err)
		}
		if b2, err := Marshal(v2); err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("%s: second re-encoding differs (%v):\n% x\n% x", name, err, b, b2)
		}
		if !xdrEqual(v, v2) {
			t.Fatalf("%s: round trip changed the value:\n%+v\n%+v", name, v, v2)
		}
	})
}

// TestFuzzCorpusNamesTypes: every input committed under
// testdata/fuzz/FuzzUnmarshal names a generated type, so none is
// silently skipped after a rename.
func TestFuzzCorpusNamesTypes(t *testing.T) {
	files, err := filepath.Glob("testdata/fuzz/FuzzUnmarshal/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no committed corpus: %v", err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		header, value, _ := strings.Cut(string(b), "\n")
		value = strings.TrimSpace(value)
		if header != "go test fuzz v1" || !strings.HasPrefix(value, "[]byte(") || !strings.HasSuffix(value, ")") {
			t.Errorf("%s: not a one-[]byte fuzz input", file)
			continue
		}
		data, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(value, "[]byte("), ")"))
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		name, _, ok := strings.Cut(data, "\x00")
		if _, known := typesByName[name]; !ok || !known {
			t.Errorf("%s: input starts with %q, which is no generated type", file, name)
		}
	}
}
