package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/govirt/govirtd/drivers"
	testdriver "github.com/govirt/govirtd/drivers/test"
	"github.com/govirt/govirtd/internal/sockpath"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/rpc"
	"github.com/govirt/govirtd/vir"
)

// Benchmarks of the daemon's side of a call, without libvirtd: dispatch
// of one call through the procedure table, a whole round trip over a unix
// socket, and the fan-out of one event to N subscribed clients. bench/
// compares the daemon with libvirtd; these show a regression on our own.

// benchDaemon makes a daemon with the test driver and ndoms domains (the
// default one plus bench-001…).
func benchDaemon(b *testing.B, ndoms int) *Daemon {
	b.Helper()
	cfg := Defaults()
	dir, err := os.MkdirTemp("", "govirtd-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	cfg.UnixSockDir = dir
	d := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), testdriver.New())
	conns, err := d.registry.Open(context.Background(), "test:///default", 0)
	if err != nil {
		b.Fatal(err)
	}
	defer conns.Close()
	conn := conns.Hypervisor()
	for i := 1; i < ndoms; i++ {
		xml := fmt.Sprintf("<domain type='test'><name>bench-%03d</name><memory unit='MiB'>128</memory><os><type>hvm</type></os></domain>", i)
		if _, err := conn.(drivers.DomainDefiner).DomainDefineXML(context.Background(), xml, 0); err != nil {
			b.Fatal(err)
		}
	}
	return d
}

// BenchmarkDispatch runs one call through a session's Dispatch, from the
// encoded arguments to the encoded reply frame: what the server does for
// a call between reading and writing it.
func BenchmarkDispatch(b *testing.B) {
	for _, c := range []struct {
		name  string
		ndoms int
		proc  protocol.Procedure
		args  protocol.Encodable
	}{
		{"ConnectGetLibVersion", 1, protocol.ProcConnectGetLibVersion, nil},
		{"DomainLookupByName/1", 1, protocol.ProcDomainLookupByName, &protocol.DomainLookupByNameArgs{Name: "test"}},
		{"DomainLookupByName/200", 200, protocol.ProcDomainLookupByName, &protocol.DomainLookupByNameArgs{Name: "bench-199"}},
		{"ConnectListAllDomains/1", 1, protocol.ProcConnectListAllDomains, &protocol.ConnectListAllDomainsArgs{NeedResults: 1}},
		{"ConnectListAllDomains/200", 200, protocol.ProcConnectListAllDomains, &protocol.ConnectListAllDomainsArgs{NeedResults: 1}},
	} {
		b.Run(c.name, func(b *testing.B) {
			d := benchDaemon(b, c.ndoms)
			ctx := context.Background()
			conns, err := d.registry.Open(ctx, "test:///default", 0)
			if err != nil {
				b.Fatal(err)
			}
			defer conns.Close()
			s := &session{d: d, log: d.log, conns: conns, events: map[int]eventReg{}}
			body, err := protocol.Marshal(c.args)
			if err != nil {
				b.Fatal(err)
			}
			call := &rpc.Call{Header: protocol.Header{
				Program: protocol.RemoteProgram, Version: protocol.RemoteProtocolVersion,
				Procedure: int32(c.proc), Type: protocol.Call, Serial: 1,
			}, Body: body}
			reply := call.Header
			reply.Type = protocol.Reply
			b.ReportAllocs()
			for b.Loop() {
				ret, err := s.Dispatch(ctx, call)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := rpc.EncodeFrame(reply, ret); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchListen starts d on its sockets and returns the read-write one.
func benchListen(b *testing.B, d *Daemon) string {
	b.Helper()
	if err := d.Listen(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Shutdown(context.Background()) })
	return filepath.Join(d.cfg.UnixSockDir, sockpath.RW)
}

// benchClient connects an rpc.Client to sock and opens test:///default.
func benchClient(b *testing.B, sock string, onMessage func(protocol.Header, []byte)) *rpc.Client {
	b.Helper()
	nc, err := net.Dial("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	c := rpc.NewClient(nc, rpc.ClientOptions{OnMessage: onMessage})
	b.Cleanup(func() { c.Close() })
	name := "test:///default"
	if err := c.Call(context.Background(), protocol.RemoteProgram, protocol.RemoteProtocolVersion,
		int32(protocol.ProcConnectOpen), &protocol.ConnectOpenArgs{Name: &name}, nil); err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkRoundTrip makes ConnectGetLibVersion calls over a unix socket
// to an in-process daemon: one connection sequentially, 8 connections
// in parallel, and one connection shared by 8 goroutines. Client and
// daemon share the process, so the time per call is both sides'.
func BenchmarkRoundTrip(b *testing.B) {
	for _, c := range []struct {
		name           string
		conns, perConn int
	}{
		{"sequential", 1, 1},
		{"8conns", 8, 1},
		{"1conn8goroutines", 1, 8},
	} {
		b.Run(c.name, func(b *testing.B) {
			sock := benchListen(b, benchDaemon(b, 1))
			var clients []*rpc.Client
			for range c.conns {
				clients = append(clients, benchClient(b, sock, nil))
			}
			ctx := context.Background()
			call := func(cl *rpc.Client) {
				var ret protocol.ConnectGetLibVersionRet
				if err := cl.Call(ctx, protocol.RemoteProgram, protocol.RemoteProtocolVersion,
					int32(protocol.ProcConnectGetLibVersion), nil, &ret); err != nil {
					b.Error(err)
				}
			}
			b.ReportAllocs()
			if c.conns == 1 && c.perConn == 1 {
				for b.Loop() {
					call(clients[0])
				}
				return
			}
			// Hand out b.N calls to conns×perConn goroutines.
			work := make(chan struct{}, 1024)
			var wg sync.WaitGroup
			for _, cl := range clients {
				for range c.perConn {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for range work {
							call(cl)
						}
					}()
				}
			}
			for b.Loop() {
				work <- struct{}{}
			}
			close(work)
			wg.Wait()
		})
	}
}

// BenchmarkEventFanout raises one lifecycle event (suspend, then resume,
// of the domain "test") with N clients subscribed, each on its own
// connection, and waits until every client has read its message.
func BenchmarkEventFanout(b *testing.B) {
	for _, n := range []int{1, 10, 200} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			d := benchDaemon(b, 1)
			sock := benchListen(b, d)
			got := make(chan struct{}, 2*n)
			onMessage := func(h protocol.Header, body []byte) {
				if h.Procedure == int32(protocol.ProcDomainEventCallbackLifecycle) {
					got <- struct{}{}
				}
			}
			for range n {
				c := benchClient(b, sock, onMessage)
				var ret protocol.ConnectDomainEventCallbackRegisterAnyRet
				if err := c.Call(context.Background(), protocol.RemoteProgram, protocol.RemoteProtocolVersion,
					int32(protocol.ProcConnectDomainEventCallbackRegisterAny),
					&protocol.ConnectDomainEventCallbackRegisterAnyArgs{EventID: int32(vir.DomainEventIDLifecycle)}, &ret); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			conns, err := d.registry.Open(ctx, "test:///default", 0)
			if err != nil {
				b.Fatal(err)
			}
			defer conns.Close()
			conn := conns.Hypervisor()
			lc := conn.(drivers.DomainLifecycle)
			dom, err := conn.(drivers.DomainLookup).DomainLookupByName(ctx, "test")
			if err != nil {
				b.Fatal(err)
			}
			ops := []func(context.Context, drivers.Domain) error{lc.DomainSuspend, lc.DomainResume}
			i := 0
			for b.Loop() {
				if err := ops[i%2](ctx, dom); err != nil {
					b.Fatal(err)
				}
				i++
				for range n {
					<-got
				}
			}
			if i%2 == 1 {
				lc.DomainResume(ctx, dom)
			}
		})
	}
}
