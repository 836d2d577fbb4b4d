package daemon_test

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"

	"github.com/govirt/govirtd/internal/testdaemon"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/rpc"
	"github.com/govirt/govirtd/vir"
)

// TestMalformedInput sends the real daemon, over one raw connection
// (reconnecting after each drop), every kind of bad input a client can
// send, and checks for each the exact reply, or that only that client
// was dropped; meanwhile go-libvirt, an independent client, keeps
// working on a connection of its own.
func TestMalformedInput(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{Log: io.Discard, ShutdownTimeout: malformedTimeout})
	sock := d.RW()

	// The well-behaved client.
	lv := libvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(sock), dialers.WithLocalTimeout(malformedTimeout)))
	if err := lv.ConnectToURI(libvirt.TestDefault); err != nil {
		t.Fatalf("go-libvirt ConnectToURI: %v", err)
	}
	defer lv.Disconnect()
	stillWorks := func(after string) {
		t.Helper()
		doms, _, err := lv.ConnectListAllDomains(1, libvirt.ConnectListDomainsActive|libvirt.ConnectListDomainsInactive)
		if err != nil || len(doms) == 0 {
			t.Fatalf("after %s: go-libvirt ConnectListAllDomains: %v, %d domains", after, err, len(doms))
		}
		if dom, err := lv.DomainLookupByName("test"); err != nil || dom.Name != "test" {
			t.Fatalf("after %s: go-libvirt DomainLookupByName: %+v, %v", after, dom, err)
		}
	}
	stillWorks("connecting")

	// clients is how many clients the daemon must end up with: go-libvirt
	// and, when it is connected, the raw one.
	clients := func(after string, want int) {
		t.Helper()
		deadline := time.Now().Add(malformedTimeout)
		for d.Server().Stats().Clients != want {
			if time.Now().After(deadline) {
				t.Fatalf("after %s: %d clients, want %d", after, d.Server().Stats().Clients, want)
			}
			time.Sleep(time.Millisecond)
		}
	}

	raw := dialMalformed(t, sock)
	defer func() { raw.Close() }()
	serial := uint32(0)
	call := func(prog, vers uint32, proc int32, status protocol.Status) protocol.Header {
		serial++
		return protocol.Header{Program: prog, Version: vers, Procedure: proc, Type: protocol.Call, Serial: serial, Status: status}
	}
	// alive checks that the raw connection is still served.
	alive := func(after string) {
		t.Helper()
		h := call(protocol.RemoteProgram, protocol.RemoteProtocolVersion, int32(protocol.ProcAuthList), protocol.StatusOK)
		raw.sendFrame(h, nil)
		gotH, body := raw.recv()
		var ret protocol.AuthListRet
		if gotH != malformedReply(h, protocol.StatusOK) || protocol.Unmarshal(body, &ret) != nil || len(ret.Types) != 1 {
			t.Fatalf("after %s: AUTH_LIST on the same connection: %v % x", after, gotH, body)
		}
	}
	// dropped checks that the daemon closed the raw connection without a
	// word, and that go-libvirt's connection is unaffected; then it
	// reconnects for the next case.
	dropped := func(what string) {
		t.Helper()
		if got := raw.expectClosed(); len(got) != 0 {
			t.Errorf("%s: got %v before the connection closed, want nothing", what, got)
		}
		clients(what, 1)
		stillWorks(what)
		raw.Close()
		raw = dialMalformed(t, sock)
		clients("reconnecting", 2)
	}
	// answered checks the error reply to h and that both clients go on.
	answered := func(what string, h protocol.Header, code vir.ErrorNumber, domain vir.ErrorDomain, msg string) {
		t.Helper()
		e := raw.recvError(h)
		if e.Code != int32(code) || e.Domain != int32(domain) || e.Level != int32(vir.ErrError) || e.Message == nil || *e.Message != msg {
			t.Errorf("%s: error %d/%d level %d %q, want %d/%d level 2 %q", what, e.Code, e.Domain, e.Level, malformedStr(e.Message), code, domain, msg)
		}
		alive(what)
		stillWorks(what)
	}
	alive("connecting")
	clients("connecting", 2)

	// Length words below 28: no header can follow.
	for _, n := range []uint32{0, 4, 27} {
		raw.sendRaw(append(malformedWord(n), make([]byte, 24)...))
		dropped(fmt.Sprintf("a length word of %d", n))
	}

	// Length words above the maximum.
	for _, n := range []uint32{protocol.LengthSize + protocol.NetMessageMax + 1, 0xffffffff} {
		raw.sendRaw(malformedWord(n))
		dropped(fmt.Sprintf("a length word of %d", n))
	}

	// A body cut short, then the client goes.
	h := call(protocol.RemoteProgram, protocol.RemoteProtocolVersion, int32(protocol.ProcConnectOpen), protocol.StatusOK)
	uri := "test:///default"
	frame, err := rpc.EncodeFrame(h, &protocol.ConnectOpenArgs{Name: &uri})
	if err != nil {
		t.Fatal(err)
	}
	raw.sendRaw(frame[:len(frame)-6])
	raw.CloseWrite()
	dropped("a truncated body")

	// An unknown program, and a known one at a wrong version.
	h = call(0x11223344, 1, 66, protocol.StatusOK)
	raw.sendFrame(h, nil)
	answered("an unknown program", h, vir.ErrRPC, vir.FromRPC, "Cannot find program 287454020 version 1")
	h = call(protocol.RemoteProgram, 2, 66, protocol.StatusOK)
	raw.sendFrame(h, nil)
	answered("a wrong version", h, vir.ErrRPC, vir.FromRPC, "Cannot find program 536903814 version 2")

	// An unknown procedure: exactly what libvirt's clients turn into
	// VIR_ERR_NO_SUPPORT.
	for _, proc := range []int32{9999, 0, -1, 444} {
		h = call(protocol.RemoteProgram, protocol.RemoteProtocolVersion, proc, protocol.StatusOK)
		raw.sendFrame(h, nil)
		answered(fmt.Sprintf("unknown procedure %d", proc), h, vir.ErrRPC, vir.FromRPC, fmt.Sprintf("unknown procedure: %d", proc))
	}

	// A call whose status is not OK.
	for _, st := range []protocol.Status{protocol.StatusError, protocol.StatusContinue, 42} {
		h = call(protocol.RemoteProgram, protocol.RemoteProtocolVersion, int32(protocol.ProcAuthList), st)
		raw.sendFrame(h, nil)
		answered(fmt.Sprintf("status %d", st), h, vir.ErrRPC, vir.FromRPC, fmt.Sprintf("Unexpected message status %d", st))
	}

	// Arguments that do not decode: a name over the string limit. The
	// error names the field.
	h = call(protocol.RemoteProgram, protocol.RemoteProtocolVersion, int32(protocol.ProcConnectOpen), protocol.StatusOK)
	raw.sendRawFrame(h, append(malformedWord(1), malformedWord(protocol.RemoteStringMax+1)...))
	e := raw.recvError(h)
	if e.Code != int32(vir.ErrRPC) || e.Domain != int32(vir.FromRPC) || !strings.Contains(malformedStr(e.Message), "ConnectOpenArgs.Name") {
		t.Errorf("undecodable arguments: %d/%d %q", e.Code, e.Domain, malformedStr(e.Message))
	}
	alive("undecodable arguments")
	stillWorks("undecodable arguments")

	// A valid length word and a random header that is a CALL: it is read
	// as a call to a random program.
	rng := rand.New(rand.NewPCG(1, 2))
	prog, vers := rng.Uint32(), rng.Uint32()
	h = protocol.Header{Program: prog, Version: vers, Procedure: int32(rng.Uint32()), Type: protocol.Call, Serial: rng.Uint32()}
	raw.sendRawFrame(h, nil)
	answered("a random header", h, vir.ErrRPC, vir.FromRPC, fmt.Sprintf("Cannot find program %d version %d", int32(prog), int32(vers)))

	// Random bytes.
	for seed := uint64(1); seed <= 5; seed++ {
		rng := rand.New(rand.NewPCG(seed, seed))
		junk := make([]byte, 512)
		for i := range junk {
			junk[i] = byte(rng.Uint32())
		}
		n := binary.BigEndian.Uint32(junk)
		if n >= protocol.MinFrame && n <= protocol.LengthSize+protocol.NetMessageMax {
			t.Logf("seed %d makes a valid length word, %d; skipped", seed, n)
			continue
		}
		raw.sendRaw(junk)
		dropped(fmt.Sprintf("random bytes (seed %d)", seed))
	}

	alive("everything")
	stillWorks("everything")
	if st := d.Server().Stats(); st.SlowDropped != 0 || st.KeepaliveDrops != 0 {
		t.Errorf("stats %+v", st)
	}
}

const malformedTimeout = 20 * time.Second

type malformedConn struct {
	t *testing.T
	*net.UnixConn
	r *bufio.Reader
}

func dialMalformed(t *testing.T, sock string) *malformedConn {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	return &malformedConn{t: t, UnixConn: c.(*net.UnixConn), r: bufio.NewReader(c)}
}

func (c *malformedConn) sendRaw(b []byte) {
	c.t.Helper()
	c.SetWriteDeadline(time.Now().Add(malformedTimeout))
	if _, err := c.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *malformedConn) sendFrame(h protocol.Header, body protocol.Encodable) {
	c.t.Helper()
	f, err := rpc.EncodeFrame(h, body)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(f)
}

func (c *malformedConn) sendRawFrame(h protocol.Header, body []byte) {
	c.t.Helper()
	f, err := rpc.EncodeRawFrame(h, body)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(f)
}

func (c *malformedConn) recv() (protocol.Header, []byte) {
	c.t.Helper()
	c.SetReadDeadline(time.Now().Add(malformedTimeout))
	h, body, err := rpc.ReadFrame(c.r)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return h, body
}

func (c *malformedConn) recvError(call protocol.Header) *protocol.Error {
	c.t.Helper()
	h, body := c.recv()
	if want := malformedReply(call, protocol.StatusError); h != want {
		c.t.Fatalf("reply %v, want %v", h, want)
	}
	var e protocol.Error
	if err := protocol.Unmarshal(body, &e); err != nil {
		c.t.Fatal(err)
	}
	return &e
}

// expectClosed reads until the daemon closes the connection and returns
// the headers of any frames that came first.
func (c *malformedConn) expectClosed() []protocol.Header {
	c.t.Helper()
	var got []protocol.Header
	for {
		c.SetReadDeadline(time.Now().Add(malformedTimeout))
		h, _, err := rpc.ReadFrame(c.r)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.t.Fatalf("the daemon did not close the connection")
			}
			return got
		}
		got = append(got, h)
	}
}

func malformedReply(call protocol.Header, status protocol.Status) protocol.Header {
	call.Type = protocol.Reply
	call.Status = status
	return call
}

func malformedWord(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }

func malformedStr(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}
