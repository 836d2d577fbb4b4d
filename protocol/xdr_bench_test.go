package protocol_test

import (
	"fmt"
	"testing"

	"github.com/govirt/govirtd/protocol"
)

// Benchmarks of the hot paths of every call: the header and the XDR
// bodies of the calls the side-by-side benchmark (bench/) makes.

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

// bodies are the argument and return values benchmarked, by name.
var bodies = []struct {
	name string
	v    any
	new  func() any // a zero value to decode into
}{
	{"LibVersionRet", &protocol.ConnectGetLibVersionRet{LibVer: 9_000_000}, func() any { return &protocol.ConnectGetLibVersionRet{} }},
	{"ConnectOpenArgs", &protocol.ConnectOpenArgs{Name: openName()}, func() any { return &protocol.ConnectOpenArgs{} }},
	{"LookupByNameArgs", &protocol.DomainLookupByNameArgs{Name: "bench-199"}, func() any { return &protocol.DomainLookupByNameArgs{} }},
	{"DomainRet", &protocol.DomainRet{Dom: benchDomains(1)[0]}, func() any { return &protocol.DomainRet{} }},
	{"ListAllDomainsRet/1", &protocol.ConnectListAllDomainsRet{Domains: benchDomains(1), Ret: 1}, func() any { return &protocol.ConnectListAllDomainsRet{} }},
	{"ListAllDomainsRet/200", &protocol.ConnectListAllDomainsRet{Domains: benchDomains(200), Ret: 200}, func() any { return &protocol.ConnectListAllDomainsRet{} }},
	{"LifecycleEventMsg", &protocol.DomainEventCallbackLifecycleMsg{CallbackID: 1, Msg: protocol.DomainEventLifecycleMsg{Dom: benchDomains(1)[0], Event: 3}}, func() any { return &protocol.DomainEventCallbackLifecycleMsg{} }},
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
