package xenstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

// DefaultSocket is where xenstored listens on a Xen host.
const DefaultSocket = "/var/run/xenstored/socket"

// SocketPath is the socket Xen's own tools use: $XENSTORED_PATH when
// set, else DefaultSocket.
func SocketPath() string {
	if p := os.Getenv("XENSTORED_PATH"); p != "" {
		return p
	}
	return DefaultSocket
}

// Options tune a Client. The zero value connects once and never
// reconnects.
type Options struct {
	// Reconnect makes the client redial a lost connection in the
	// background (every RetryInterval) until Close. Meanwhile calls
	// fail with ErrDisconnected. Once back, the client registers its
	// watches again (xenstored fires each once on registration) and
	// then calls OnReconnect.
	Reconnect     bool
	RetryInterval time.Duration // 200ms when zero
	OnDisconnect  func(err error)
	OnReconnect   func()
}

// Client is a connection to xenstored. Its methods may be called from
// any goroutine; requests are multiplexed by req_id.
type Client struct {
	path string
	opts Options

	wmu sync.Mutex // serialises writes of whole frames to conn

	mu      sync.Mutex            // guards the fields below
	conn    net.Conn              // nil while disconnected
	lastErr error                 // why conn is nil
	pending map[uint32]chan reply // requests awaiting their reply, by req_id
	nextID  uint32
	watches map[string]*Watch // by token
	closed  bool

	stop chan struct{}  // closed by Close: ends the reconnect loop
	wg   sync.WaitGroup // the reader and reconnect goroutines
}

type reply struct {
	m   Msg
	err error
}

// Dial connects to xenstored's socket at path.
func Dial(path string, opts Options) (*Client, error) {
	if opts.RetryInterval <= 0 {
		opts.RetryInterval = 200 * time.Millisecond
	}
	c := &Client{path: path, opts: opts, pending: map[uint32]chan reply{},
		watches: map[string]*Watch{}, stop: make(chan struct{})}
	conn, err := c.dial()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.attach(conn)
	c.mu.Unlock()
	return c, nil
}

func (c *Client) dial() (net.Conn, error) {
	conn, err := net.Dial("unix", c.path)
	if err != nil {
		return nil, fmt.Errorf("connect to xenstored at %s: %w (is xenstored running? the socket is $XENSTORED_PATH or %s)", c.path, err, DefaultSocket)
	}
	return conn, nil
}

// attach makes conn the live connection and starts its reader. c.mu held.
func (c *Client) attach(conn net.Conn) {
	c.conn, c.lastErr = conn, nil
	c.wg.Add(1)
	go c.readLoop(conn)
}

// Path is the socket the client connects to.
func (c *Client) Path() string { return c.path }

// Connected says whether the connection is up.
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn != nil
}

// Close ends the connection and the reconnect loop; pending calls fail.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.stop)
	conn := c.conn
	c.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
	c.wg.Wait()
	return nil
}

func (c *Client) readLoop(conn net.Conn) {
	defer c.wg.Done()
	for {
		m, err := ReadMsg(conn)
		if err != nil {
			c.lost(conn, err)
			return
		}
		if m.Op == OpWatchEvent {
			c.deliver(m)
			continue
		}
		c.mu.Lock()
		ch := c.pending[m.ReqID]
		delete(c.pending, m.ReqID)
		c.mu.Unlock()
		if ch != nil {
			ch <- reply{m: m}
		}
	}
}

// lost handles the end of conn: pending calls fail, and with Reconnect
// the client starts redialling.
func (c *Client) lost(conn net.Conn, err error) {
	conn.Close()
	c.mu.Lock()
	if c.conn != conn {
		c.mu.Unlock()
		return
	}
	c.conn = nil
	closed := c.closed
	if closed {
		err = errors.New("client closed")
	}
	c.lastErr = err
	for id, ch := range c.pending {
		ch <- reply{err: c.disconnectedErr()}
		delete(c.pending, id)
	}
	reconnect := c.opts.Reconnect && !closed
	if reconnect {
		c.wg.Add(1)
		go c.reconnectLoop()
	}
	c.mu.Unlock()
	if !closed && c.opts.OnDisconnect != nil {
		c.opts.OnDisconnect(err)
	}
}

// disconnectedErr says why calls fail now. c.mu held.
func (c *Client) disconnectedErr() error {
	if c.closed {
		return fmt.Errorf("%w: the client is closed", ErrDisconnected)
	}
	return fmt.Errorf("%w at %s: %v (is xenstored running?)", ErrDisconnected, c.path, c.lastErr)
}

func (c *Client) reconnectLoop() {
	defer c.wg.Done()
	t := time.NewTicker(c.opts.RetryInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		conn, err := c.dial()
		if err != nil {
			continue
		}
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			conn.Close()
			return
		}
		c.attach(conn)
		ws := make([]*Watch, 0, len(c.watches))
		for _, w := range c.watches {
			ws = append(ws, w)
		}
		c.mu.Unlock()
		ok := true
		for _, w := range ws {
			if _, err := c.call(context.Background(), OpWatch, 0, strings0(w.path, w.token)); err != nil && !errors.Is(err, ErrExist) {
				ok = false // the connection went again: its own loop retries
				break
			}
		}
		if ok && c.opts.OnReconnect != nil {
			c.opts.OnReconnect()
		}
		return
	}
}

// call sends one request and waits for its reply. An ERROR reply
// becomes an *Error naming op and the request's first argument.
func (c *Client) call(ctx context.Context, op Op, tx uint32, payload []byte) ([]byte, error) {
	ch := make(chan reply, 1)
	c.mu.Lock()
	conn := c.conn
	if conn == nil {
		err := c.disconnectedErr()
		c.mu.Unlock()
		return nil, fmt.Errorf("xenstore %s: %w", op, err)
	}
	c.nextID++
	if c.nextID == 0 {
		c.nextID = 1
	}
	id := c.nextID
	c.pending[id] = ch
	c.mu.Unlock()

	frame, err := Msg{Op: op, ReqID: id, TxID: tx, Payload: payload}.Encode()
	if err == nil {
		c.wmu.Lock()
		_, err = conn.Write(frame)
		c.wmu.Unlock()
		if err != nil {
			err = fmt.Errorf("xenstore %s: write to %s: %w", op, c.path, err)
		}
	}
	if err != nil {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return nil, err
	}
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("xenstore %s: %w", op, r.err)
		}
		if r.m.Op == OpError {
			return nil, &Error{Op: op, Path: firstArg(payload), Errno: trimNUL(r.m.Payload)}
		}
		if r.m.Op != op {
			return nil, fmt.Errorf("%w: reply to %s has type %s", ErrFrame, op, r.m.Op)
		}
		return r.m.Payload, nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return nil, fmt.Errorf("xenstore %s: %w", op, ctx.Err())
	}
}

func firstArg(p []byte) string {
	for i, b := range p {
		if b == 0 {
			return string(p[:i])
		}
	}
	return ""
}

// ops is the set of node operations, inside a transaction (tx != 0) or not.
type ops struct {
	c  *Client
	tx uint32
}

func (o ops) read(ctx context.Context, path string) ([]byte, error) {
	return o.c.call(ctx, OpRead, o.tx, strings0(path))
}

func (o ops) write(ctx context.Context, path string, value []byte) error {
	p := append(strings0(path), value...)
	_, err := o.c.call(ctx, OpWrite, o.tx, p)
	return err
}

func (o ops) directory(ctx context.Context, path string) ([]string, error) {
	p, err := o.c.call(ctx, OpDirectory, o.tx, strings0(path))
	if err != nil {
		return nil, err
	}
	return splitStrings(p), nil
}

func (o ops) simple(ctx context.Context, op Op, args ...string) error {
	_, err := o.c.call(ctx, op, o.tx, strings0(args...))
	return err
}

func (o ops) getPerms(ctx context.Context, path string) ([]Perm, error) {
	p, err := o.c.call(ctx, OpGetPerms, o.tx, strings0(path))
	if err != nil {
		return nil, err
	}
	return parsePerms(path, splitStrings(p))
}

func (o ops) setPerms(ctx context.Context, path string, perms []Perm) error {
	if len(perms) == 0 {
		return fmt.Errorf("set-perms %s: give at least the owner's permission", path)
	}
	args := []string{path}
	for _, p := range perms {
		args = append(args, p.String())
	}
	return o.simple(ctx, OpSetPerms, args...)
}

// Read returns the value of the node at path.
func (c *Client) Read(ctx context.Context, path string) ([]byte, error) {
	return ops{c: c}.read(ctx, path)
}

// Write sets the node at path to value, creating it and its parents.
func (c *Client) Write(ctx context.Context, path string, value []byte) error {
	return ops{c: c}.write(ctx, path, value)
}

// Directory lists the names of path's children.
func (c *Client) Directory(ctx context.Context, path string) ([]string, error) {
	return ops{c: c}.directory(ctx, path)
}

// Mkdir creates an empty node at path (no error when it exists).
func (c *Client) Mkdir(ctx context.Context, path string) error {
	return ops{c: c}.simple(ctx, OpMkdir, path)
}

// Rm removes the node at path and everything below it.
func (c *Client) Rm(ctx context.Context, path string) error {
	return ops{c: c}.simple(ctx, OpRm, path)
}

// GetPerms returns path's permissions; the first is the owner's.
func (c *Client) GetPerms(ctx context.Context, path string) ([]Perm, error) {
	return ops{c: c}.getPerms(ctx, path)
}

// SetPerms replaces path's permissions; perms[0] names the owner and
// the access of every domain not listed.
func (c *Client) SetPerms(ctx context.Context, path string, perms ...Perm) error {
	return ops{c: c}.setPerms(ctx, path, perms)
}

// GetDomainPath returns the home path of a domain (/local/domain/ID).
func (c *Client) GetDomainPath(ctx context.Context, domid uint32) (string, error) {
	p, err := c.call(ctx, OpGetDomainPath, 0, strings0(strconv.FormatUint(uint64(domid), 10)))
	return trimNUL(p), err
}

// Introduce tells xenstored a domain exists, with its store ring's
// frame and event channel; xenstored fires @introduceDomain. Only the
// toolstack (dom0) may.
func (c *Client) Introduce(ctx context.Context, domid uint32, mfn uint64, port uint32) error {
	return ops{c: c}.simple(ctx, OpIntroduce, strconv.FormatUint(uint64(domid), 10),
		strconv.FormatUint(mfn, 10), strconv.FormatUint(uint64(port), 10))
}

// Release tells xenstored a domain is gone; it fires @releaseDomain.
func (c *Client) Release(ctx context.Context, domid uint32) error {
	return ops{c: c}.simple(ctx, OpRelease, strconv.FormatUint(uint64(domid), 10))
}

// IsDomainIntroduced says whether xenstored knows the domain.
func (c *Client) IsDomainIntroduced(ctx context.Context, domid uint32) (bool, error) {
	p, err := c.call(ctx, OpIsDomainIntroduced, 0, strings0(strconv.FormatUint(uint64(domid), 10)))
	if err != nil {
		return false, err
	}
	return trimNUL(p) == "T", nil
}
