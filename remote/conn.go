// Package remote is govirtd's Go client library: it dials a daemon by
// libvirt-style URI and offers the public API as methods of Conn, with
// the same names and types as the daemon's driver API, typed errors
// (*drivers.Error, matched with errors.Is against codes such as
// ErrNoDomain), and domain events either pushed to callbacks or pulled
// with EventCheck and EventWait.
//
// The goroutine that reads the socket never runs user code: events are
// handed to a dispatcher goroutine, so a callback may call back into the
// library.
//
// What a connection holds for its subscribers is bounded
// (Options.EventQueueLen events and EventQueueBytes bytes, 4096 and
// 4 MiB by default) in each of its two queues: the push queue of events
// waiting for their callbacks, and the pull buffer of events kept for
// EventCheck and EventWait. A subscriber that falls behind loses events
// rather than growing the process: while the push queue is full the
// newest events are dropped (what is queued is delivered in order, the
// gap after it); when the pull buffer is full its oldest events are
// dropped (a reader that pulls by mask may never take some). Either way
// the events keep their Seq numbers, so the gap shows, and
// Options.OnEventsLost is given an EventsLost saying how many, which and
// why, in order with the events: after those received before the loss,
// before those received after it. Calls on the connection are not held
// up by a subscriber that does not drain: their replies never queue
// behind events.
package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/rpc"
	"github.com/govirt/govirtd/vir"
)

// Types shared with the driver API.
type (
	Domain      = drivers.Domain
	DomainInfo  = drivers.DomainInfo
	DomainState = vir.DomainState
	NodeInfo    = drivers.NodeInfo
	UUID        = drivers.UUID
	Error       = drivers.Error
)

// Options tune Dial.
type Options struct {
	// ReadOnly opens the connection read-only (VIR_CONNECT_RO).
	ReadOnly bool
	// KeepaliveInterval, when positive, pings a silent daemon and closes
	// the connection after KeepaliveCount unanswered pings.
	KeepaliveInterval time.Duration
	KeepaliveCount    int
	// Dialer connects to the daemon's socket; nil uses a net.Dialer.
	Dialer func(ctx context.Context, network, address string) (net.Conn, error)

	// EventQueueLen and EventQueueBytes bound each of the connection's
	// event queues (see the package doc); zero or less is
	// DefaultEventQueueLen, DefaultEventQueueBytes.
	EventQueueLen   int
	EventQueueBytes int
	// OnEventsLost, when not nil, is told of every loss, on the
	// dispatcher goroutine in order with the events pushed to callbacks
	// (it may call back into the library; while it runs, later events
	// wait). Consecutive losses for one reason come as one report.
	// Being in order, the report waits behind a callback that has not
	// returned; EventQueueStats shows the loss meanwhile.
	OnEventsLost func(EventsLost)

	// Clock times keepalive; nil is the wall clock. Tests pass an
	// *rpc.ManualClock.
	Clock rpc.Clock
}

// Conn is an open connection to a daemon's driver.
type Conn struct {
	uri    string
	target Target
	rpc    *rpc.Client
	events *dispatcher

	closeOnce sync.Once
	closing   atomic.Bool // Close was called
}

// Dial connects to the daemon named by uri (test+unix:///default?socket=PATH,
// qemu:///system, ...) and opens the driver connection.
func Dial(ctx context.Context, uri string) (*Conn, error) {
	return DialOptions(ctx, uri, Options{})
}

// DialOptions is Dial with options.
func DialOptions(ctx context.Context, uri string, opts Options) (*Conn, error) {
	t, err := ParseURI(uri)
	if err != nil {
		return nil, err
	}
	dial := opts.Dialer
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	var nc net.Conn
	if t.TLS != nil {
		nc, err = t.TLS.dialTLS(ctx, dial)
	} else if nc, err = dial(ctx, t.Network, t.Address); err != nil {
		err = fmt.Errorf("cannot connect to govirtd at %s: %w (is the daemon running? the socket is set by ?socket= in the URI)", t.Address, err)
	}
	if err != nil {
		return nil, err
	}
	c := &Conn{uri: uri, target: t}
	c.events = newDispatcher(c, opts)
	c.rpc = rpc.NewClient(nc, rpc.ClientOptions{OnMessage: c.events.receive, Clock: opts.Clock})
	go c.events.run()
	if err := c.open(ctx, opts); err != nil {
		c.rpc.Close()
		c.events.stop()
		return nil, err
	}
	return c, nil
}

func (c *Conn) open(ctx context.Context, opts Options) error {
	if opts.KeepaliveInterval > 0 {
		var ret protocol.ConnectSupportsFeatureRet
		err := c.call(ctx, protocol.ProcConnectSupportsFeature,
			&protocol.ConnectSupportsFeatureArgs{Feature: int32(protocol.DrvFeatureProgramKeepalive)}, &ret)
		if err == nil && ret.Supported == 1 {
			c.rpc.StartKeepalive(opts.KeepaliveInterval, opts.KeepaliveCount)
		}
	}
	var flags uint32
	if opts.ReadOnly {
		flags |= uint32(vir.ConnectRo)
	}
	name := c.target.Name
	if err := c.call(ctx, protocol.ProcConnectOpen, &protocol.ConnectOpenArgs{Name: &name, Flags: flags}, nil); err != nil {
		return err
	}
	// With a close callback registered, the daemon says why it closes
	// the connection when it can.
	return c.call(ctx, protocol.ProcConnectRegisterCloseCallback, nil, nil)
}

// URI is the URI the connection was dialed with.
func (c *Conn) URI() string { return c.uri }

// Close ends the driver connection and the socket. Every subscriber
// learns that the client closed it.
func (c *Conn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.closing.Store(true)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		select {
		case <-c.rpc.Done():
		default:
			// A write blocked on a daemon that does not read would hold
			// Close: bound the call, and close the socket either way.
			res := make(chan error, 1)
			go func() { res <- c.call(ctx, protocol.ProcConnectClose, nil, nil) }()
			select {
			case err = <-res:
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		c.rpc.Close()
		c.events.stop()
		var closed *rpc.ClosedError
		if errors.As(err, &closed) {
			err = nil // the daemon closes the socket after its reply
		}
	})
	return err
}

// Done is closed when the connection is closed, for whatever reason.
func (c *Conn) Done() <-chan struct{} { return c.rpc.Done() }

// Err says why the connection closed (ErrClosedByClient, ErrEOF,
// ErrDaemonShutdown, ErrDroppedSlow, a keepalive timeout, or the I/O
// error); nil while it is open.
func (c *Conn) Err() error { return c.events.closeReason() }

// call runs one procedure of the remote program; an error reply becomes
// a *drivers.Error.
func (c *Conn) call(ctx context.Context, proc protocol.Procedure, args protocol.Encodable, ret protocol.Decodable) error {
	err := c.rpc.Call(ctx, protocol.RemoteProgram, protocol.RemoteProtocolVersion, int32(proc), args, ret)
	var we *protocol.Error
	if errors.As(err, &we) {
		return fromWireError(we)
	}
	var closed *rpc.ClosedError
	if errors.As(err, &closed) {
		return &ClosedError{Reason: c.events.closeReason()}
	}
	return err
}

// fromWireError rebuilds the driver API's error from a remote_error. An
// RPC error "unknown procedure: N" becomes ErrNoSupport, as libvirt's
// client makes it: the daemon predates or lacks the call.
func fromWireError(we *protocol.Error) *drivers.Error {
	e := &drivers.Error{
		Code:   vir.ErrorNumber(we.Code),
		Domain: vir.ErrorDomain(we.Domain),
	}
	if we.Message != nil {
		e.Message = *we.Message
	}
	if e.Code == vir.ErrRPC && (e.Domain == vir.FromRPC || e.Domain == vir.FromRemote) &&
		strings.HasPrefix(e.Message, "unknown procedure") {
		e.Code, e.Domain = vir.ErrNoSupport, vir.FromRemote
	}
	if we.Str1 != nil {
		e.Template = *we.Str1
	}
	if we.Str2 != nil {
		e.Detail = *we.Str2
	}
	return e
}
