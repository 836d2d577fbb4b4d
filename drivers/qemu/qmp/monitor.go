package qmp

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// Options configures a Monitor.
type Options struct {
	// OnEvent receives every event, on the reading goroutine, in order.
	// It must not block for long and must not call Execute.
	OnEvent func(Event)
	// Timeout bounds a command whose context has no deadline, and the
	// greeting and negotiation of Connect. Default 30s.
	Timeout time.Duration
}

// maxLine bounds one message from qemu; a longer one is a protocol
// error (qemu's largest replies, such as query-qmp-schema, stay below).
const maxLine = 16 << 20

// Monitor is one QMP connection.
type Monitor struct {
	conn    net.Conn
	opts    Options
	version Version

	writeMu sync.Mutex // serialises writes of whole commands

	mu      sync.Mutex // guards the fields below
	nextID  uint64
	pending map[uint64]*pendingCmd
	order   []uint64 // ids in the order sent, to route a reply without id
	err     error    // why the monitor ended; nil while it runs

	done chan struct{} // closed when the reader has stopped
}

type pendingCmd struct {
	name string
	ch   chan reply // buffered, receives exactly one reply
}

// Dial connects to the QMP socket at path and negotiates (see Connect).
func Dial(ctx context.Context, path string, opts Options) (*Monitor, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to qemu monitor %s: %w", path, err)
	}
	return Connect(ctx, c, opts)
}

// Connect reads qemu's greeting on conn, starts the reader and leaves
// negotiation mode with qmp_capabilities. On error conn is closed.
func Connect(ctx context.Context, conn net.Conn, opts Options) (*Monitor, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	m := &Monitor{conn: conn, opts: opts, pending: map[uint64]*pendingCmd{}, done: make(chan struct{})}
	ctx, cancel := m.withTimeout(ctx)
	defer cancel()
	// Most messages are a few hundred bytes; readLine joins the pieces
	// of a longer one. (A 64 KiB buffer cost every start its
	// allocation and clearing, and every running guest its memory.)
	r := bufio.NewReaderSize(conn, 4<<10)
	if dl, ok := ctx.Deadline(); ok {
		conn.SetReadDeadline(dl)
	}
	line, err := readLine(r)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("no QMP greeting from qemu: %w", err)
	}
	var msg message
	if err := json.Unmarshal(line, &msg); err != nil || msg.QMP == nil {
		conn.Close()
		return nil, &ProtocolError{What: "expected the QMP greeting", Line: string(line)}
	}
	conn.SetReadDeadline(time.Time{})
	v := msg.QMP.Version
	m.version = Version{Major: v.QEMU.Major, Minor: v.QEMU.Minor, Micro: v.QEMU.Micro, Package: v.Package}
	go m.read(r)
	if err := m.Execute(ctx, "qmp_capabilities", nil, nil); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// Version is qemu's version from its greeting.
func (m *Monitor) Version() Version { return m.version }

func (m *Monitor) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, m.opts.Timeout)
}

func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, isPrefix, err := r.ReadLine()
		if err != nil {
			return nil, err
		}
		line = append(line, chunk...)
		if len(line) > maxLine {
			return nil, &ProtocolError{What: "message too long", Line: string(line[:200])}
		}
		if !isPrefix {
			return line, nil
		}
	}
}

// Execute runs command with args (marshalled as its "arguments"; nil for
// none) and unmarshals its "return" into ret when ret is not nil. It
// returns *Error when qemu refuses the command, *DisconnectedError when
// qemu closes the monitor first, and ctx's error on timeout.
func (m *Monitor) Execute(ctx context.Context, cmd string, args, ret any) error {
	return m.execute(ctx, cmd, args, ret, nil)
}

// ExecuteWithFile is Execute that sends f's descriptor along with the
// command (SCM_RIGHTS), as getfd and add-fd expect.
func (m *Monitor) ExecuteWithFile(ctx context.Context, cmd string, args, ret any, f *os.File) error {
	return m.execute(ctx, cmd, args, ret, f)
}

func (m *Monitor) execute(ctx context.Context, cmd string, args, ret any, f *os.File) error {
	ctx, cancel := m.withTimeout(ctx)
	defer cancel()
	id, p, err := m.register(cmd)
	if err != nil {
		return err
	}
	if err := m.send(command{Execute: cmd, Arguments: args, ID: id}, f); err != nil {
		m.unregister(id)
		return err
	}
	select {
	case r := <-p.ch:
		if r.err != nil {
			return r.err
		}
		if ret != nil && len(r.ret) > 0 {
			if err := json.Unmarshal(r.ret, ret); err != nil {
				return fmt.Errorf("qmp: cannot decode the reply to %s: %w", cmd, err)
			}
		}
		return nil
	case <-ctx.Done():
		m.unregister(id)
		return fmt.Errorf("qemu did not answer %s: %w", cmd, ctx.Err())
	}
}

func (m *Monitor) register(cmd string) (uint64, *pendingCmd, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return 0, nil, m.errFor(cmd)
	}
	m.nextID++
	p := &pendingCmd{name: cmd, ch: make(chan reply, 1)}
	m.pending[m.nextID] = p
	m.order = append(m.order, m.nextID)
	return m.nextID, p, nil
}

// errFor is the error a command gets once the monitor ended; mu held.
func (m *Monitor) errFor(cmd string) error {
	if d, ok := m.err.(*DisconnectedError); ok {
		return &DisconnectedError{Command: cmd, Err: d.Err}
	}
	return m.err
}

func (m *Monitor) unregister(id uint64) *pendingCmd {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.pending[id]
	delete(m.pending, id)
	for i, x := range m.order {
		if x == id {
			m.order = append(m.order[:i], m.order[i+1:]...)
			break
		}
	}
	return p
}

func (m *Monitor) send(c command, f *os.File) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("qmp: cannot encode %s: %w", c.Execute, err)
	}
	b = append(b, '\n')
	m.writeMu.Lock()
	defer m.writeMu.Unlock()
	if f != nil {
		uc, ok := m.conn.(*net.UnixConn)
		if !ok {
			return fmt.Errorf("qmp: %s needs a unix socket to pass a file", c.Execute)
		}
		_, _, err = uc.WriteMsgUnix(b, syscall.UnixRights(int(f.Fd())), nil)
	} else {
		_, err = m.conn.Write(b)
	}
	if err != nil {
		return fmt.Errorf("cannot send %s to qemu: %w", c.Execute, err)
	}
	return nil
}

// Done is closed when the monitor has ended: qemu closed it, or Close.
func (m *Monitor) Done() <-chan struct{} { return m.done }

// Err says why the monitor ended: ErrClosed after Close, a
// *DisconnectedError when qemu closed it, a *ProtocolError when it sent
// garbage. It is nil while the monitor runs.
func (m *Monitor) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

// Close closes the connection; qemu keeps running and accepts a new
// connection on its socket. Commands waiting get ErrClosed.
func (m *Monitor) Close() error {
	m.mu.Lock()
	if m.err == nil {
		m.err = ErrClosed
	}
	m.mu.Unlock()
	err := m.conn.Close()
	<-m.done
	return err
}
