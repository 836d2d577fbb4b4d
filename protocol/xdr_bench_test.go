package protocol_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/govirt/govirtd/protocol"
)

// Benchmarks of the hot paths of every call: the header and the XDR
// bodies of the calls the side-by-side benchmark (bench/) makes, with
// the generated codecs.
//
//	go test ./protocol -run '^$' -bench . -benchmem

var benchHeader = protocol.Header{
	Program: protocol.RemoteProgram, Version: protocol.RemoteProtocolVersion,
	Procedure: int32(protocol.ProcConnectGetLibVersion), Type: protocol.Reply, Serial: 42,
}

func BenchmarkHeaderPut(b *testing.B) {
	buf := make([]byte, protocol.HeaderSize)
	for b.Loop() {
		benchHeader.Put(buf)
	}
}

func BenchmarkParseHeader(b *testing.B) {
	buf := make([]byte, protocol.HeaderSize)
	benchHeader.Put(buf)
	for b.Loop() {
		if _, err := protocol.ParseHeader(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func benchDomains(n int) []protocol.Domain {
	doms := make([]protocol.Domain, n)
	for i := range doms {
		doms[i] = protocol.Domain{Name: fmt.Sprintf("bench-%03d", i), ID: int32(i)}
		doms[i].UUID[0] = byte(i)
	}
	return doms
}

func openName() *string { s := "test:///default"; return &s }

type wire interface {
	protocol.Encodable
	protocol.Decodable
}

// bodies are the argument and return values benchmarked, by name.
var bodies = []struct {
	name string
	v    wire
	new  func() protocol.Decodable // a zero value to decode into
}{
	{"Header", &benchHeader, func() protocol.Decodable { return &protocol.Header{} }},
	{"LibVersionRet", &protocol.ConnectGetLibVersionRet{LibVer: 9_000_000}, func() protocol.Decodable { return &protocol.ConnectGetLibVersionRet{} }},
	{"ConnectOpenArgs", &protocol.ConnectOpenArgs{Name: openName()}, func() protocol.Decodable { return &protocol.ConnectOpenArgs{} }},
	{"LookupByNameArgs", &protocol.DomainLookupByNameArgs{Name: "bench-199"}, func() protocol.Decodable { return &protocol.DomainLookupByNameArgs{} }},
	{"LookupByNameRet", &protocol.DomainLookupByNameRet{Dom: benchDomains(1)[0]}, func() protocol.Decodable { return &protocol.DomainLookupByNameRet{} }},
	{"GetXMLDescRet/1KiB", &protocol.DomainGetXMLDescRet{XML: strings.Repeat("<x/>", 256)}, func() protocol.Decodable { return &protocol.DomainGetXMLDescRet{} }},
	{"ListAllDomainsRet/1", &protocol.ConnectListAllDomainsRet{Domains: benchDomains(1), Ret: 1}, func() protocol.Decodable { return &protocol.ConnectListAllDomainsRet{} }},
	{"ListAllDomainsRet/200", &protocol.ConnectListAllDomainsRet{Domains: benchDomains(200), Ret: 200}, func() protocol.Decodable { return &protocol.ConnectListAllDomainsRet{} }},
	{"LifecycleEventMsg", &protocol.DomainEventCallbackLifecycleMsg{CallbackID: 1, Msg: protocol.DomainEventLifecycleMsg{Dom: benchDomains(1)[0], Event: 3}}, func() protocol.Decodable { return &protocol.DomainEventCallbackLifecycleMsg{} }},
}

func BenchmarkMarshal(b *testing.B) {
	for _, c := range bodies {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := protocol.Marshal(c.v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAppendMarshal encodes into a reused buffer, as a connection's
// writer does: what is left is the one allocation of the Encoder, which
// escapes through the EncodeXDR interface call.
func BenchmarkAppendMarshal(b *testing.B) {
	for _, c := range bodies {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				var err error
				if buf, err = protocol.AppendMarshal(buf[:0], c.v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	for _, c := range bodies {
		body, err := protocol.Marshal(c.v)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if err := protocol.Unmarshal(body, c.new()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
