package rpc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/govirt/govirtd/protocol"
)

// Program identifies a program and version the server dispatches.
type Program struct {
	Number  uint32
	Version uint32
}

// Session is the per-client state of the layer above the transport. The
// server creates one per accepted client and calls it from the client's
// goroutines.
type Session interface {
	// Dispatch handles one CALL and returns the reply body (encoded with
	// protocol.Marshal; nil for void) or an error, sent as an ERROR reply:
	// a *protocol.Error as it is, anything else as an internal error.
	// Calls of one client may run concurrently, up to MaxClientRequests.
	// ctx is cancelled when the client goes away.
	Dispatch(ctx context.Context, call *Call) (protocol.Encodable, error)
	// Close is called once, after the client's connection is closed and
	// its last call has returned.
	Close()
}

// Fareweller is implemented by a Session that has something to tell a
// client the server drops for not reading (its outbound queue is full).
// Farewell returns a whole frame (EncodeFrame) or nil. It is called once,
// on the client's writer goroutine, which holds no lock of the server's;
// the frame is written after the frames already queued, unless the
// client still does not read within FlushTimeout.
type Fareweller interface {
	Farewell(reason error) []byte
}

// QuickSession is a Session that knows calls it answers at once, from
// memory, without waiting for anything. The client's reader goroutine
// runs such a call itself rather than starting a goroutine for it: for a
// call of a microsecond, waking another goroutine (and another thread)
// costs more than the call. Quick calls do not count against
// MaxClientRequests; a call that may wait must never be quick, or the
// client's other calls and keepalive wait behind it.
type QuickSession interface {
	Session
	Quick(h protocol.Header) bool
}

// Call is one CALL as the server received it.
type Call struct {
	Header protocol.Header
	Body   []byte

	closeAfterReply bool
	reserved        int64 // its share of the server's frame budget, given back when it is done
	peer            *Peer
	streams         []*Stream  // opened by the call; they begin once it is answered
	files           []*os.File // to go with a successful reply (ReplyWithFiles)
}

// CloseAfterReply asks the server to close the connection once the reply
// to this call has been written (CONNECT_CLOSE).
func (c *Call) CloseAfterReply() { c.closeAfterReply = true }

// ServerConfig holds the server's limits, named after libvirtd.conf's keys.
type ServerConfig struct {
	// MaxClients bounds the clients connected at once (max_clients).
	MaxClients int
	// MaxClientRequests bounds the calls of one client that run at once
	// (max_client_requests). As many again may wait, read but not yet
	// started; past that the client's socket is not read until a call
	// finishes. Keepalive frames never count.
	MaxClientRequests int
	// MaxQueue bounds the frames waiting to be written to one client
	// (max_client_queue). A client whose queue is full is disconnected,
	// after the frames already queued and a farewell (see Fareweller),
	// written within FlushTimeout.
	MaxQueue int
	// MaxQueueBytes bounds the bytes of replies and events waiting to be
	// written to one client. Past it the client's socket is not read, so
	// its calls wait (as libvirtd stops reading a client with
	// max_client_requests calls in flight), until the queue drains to
	// half; a client that stays over it for StuckTimeout is disconnected.
	// It bounds the memory one client holds to about this plus one reply.
	MaxQueueBytes int64
	// StuckTimeout is how long a client may stay over MaxQueueBytes.
	StuckTimeout time.Duration
	// FrameTimeout bounds how long a frame may take to arrive once its
	// first byte has: a client that sends part of a frame and stalls
	// (slow-loris) is disconnected, logged, instead of holding its
	// connection forever. An idle client between frames is not affected.
	FrameTimeout time.Duration
	// MaxInflightBytes bounds, for the whole server, the bytes of large
	// frames (over 64 KiB) being read or waiting to run. A large frame
	// takes its announced length before any of it is read; while the
	// budget is spent, new large frames wait (their FrameTimeout does not
	// run meanwhile) and every smaller frame goes on. It bounds what
	// clients announcing 32 MiB frames can make the daemon hold.
	MaxInflightBytes int64
	// KeepaliveInterval is how long a client that negotiated keepalive may
	// be silent before it is pinged (keepalive_interval); ≤ 0 never pings.
	KeepaliveInterval time.Duration
	// KeepaliveCount is how many unanswered pings end the connection
	// (keepalive_count).
	KeepaliveCount int
	// Clock is keepalive's time source; nil is the wall clock. Tests
	// give a ManualClock.
	Clock Clock
	// FlushTimeout bounds how long a closing client's queued frames may
	// take to be written.
	FlushTimeout time.Duration
	Programs     []Program
	// NewSession makes the per-client state for a new client.
	NewSession func(*Peer) Session
	Logger     *slog.Logger
}

// ServerStats counts what the server did; read with Server.Stats.
type ServerStats struct {
	Accepted       uint64 // clients accepted
	Rejected       uint64 // clients refused at max_clients
	SlowDropped    uint64 // clients dropped because their outbound queue was full
	StuckDropped   uint64 // clients dropped after staying over MaxQueueBytes for StuckTimeout
	PartialDropped uint64 // clients dropped for a frame not completed within FrameTimeout
	KeepaliveDrops uint64 // clients dropped after unanswered pings
	Clients        int    // clients connected now
	// CallsRunning are the calls of every client running now (quick
	// calls aside), CallsWaiting those read but waiting for a place
	// under max_client_requests.
	CallsRunning int
	CallsWaiting int
	// QueuePeak is the most frames any client's outbound queue has held
	// (counting frames being written); never above MaxQueue.
	QueuePeak int
	// QueueBytesPeak is the most bytes any client's outbound queue has
	// held: at most MaxQueueBytes plus the replies of the calls that
	// were running when it was reached.
	QueueBytesPeak int64
	// InflightBytes is what large frames hold of MaxInflightBytes now,
	// InflightPeak the most they held; FramesWaiting large frames wait
	// for it now, FramesWaited had to wait in all.
	InflightBytes int64
	InflightPeak  int64
	FramesWaiting int
	FramesWaited  uint64
	// Reclaims counts the times memory of large frames or of many closed
	// connections was given back to the system.
	Reclaims uint64
	// ReadersMoved counts idle clients whose reader moved to a fresh
	// goroutine to drop the stack a quick call grew.
	ReadersMoved uint64
}

// Server serves the remote protocol on any number of listeners.
type Server struct {
	cfg ServerConfig
	log *slog.Logger
	// epoch is when the server was made (unix seconds): its clients'
	// connection times count from it.
	epoch int64

	// The limits SetLimits changes at run time (cfg keeps the values
	// the server started with).
	maxClients        atomic.Int64
	maxClientRequests atomic.Int64
	maxQueue          atomic.Int64
	maxQueueBytes     atomic.Int64
	stuckTimeout      atomic.Int64 // nanoseconds

	nextID         atomic.Uint64
	accepted       atomic.Uint64
	rejected       atomic.Uint64
	slowDropped    atomic.Uint64
	stuckDropped   atomic.Uint64
	partialDropped atomic.Uint64
	queueBytesPeak atomic.Int64
	keepaliveDrops atomic.Uint64
	queuePeak      atomic.Int64
	frames         frameBudget
	reclaim        reclaimer
	readersMoved   atomic.Uint64

	mu        sync.Mutex // guards the fields below
	listeners map[net.Listener]struct{}
	peers     map[*Peer]struct{}
	byName    map[string]int // clients connected now, by listener name
	// listenerMax overrides ListenerOptions.MaxClients by listener name
	// (SetListenerMaxClients).
	listenerMax map[string]int

	sweeping  bool          // the sweeper runs; guarded by mu
	sweepStop chan struct{} // closed by Shutdown: the sweeper stops
	stopOnce  sync.Once
	refusing  map[net.Conn]struct{} // clients over max_clients being told so
	// handshaking are TLS clients in their handshake (see handshake).
	handshaking map[net.Conn]struct{}
	closing     bool

	wg sync.WaitGroup // accept loops and peers
}

// NewServer returns a server with cfg; zero limits take libvirtd's defaults.
func NewServer(cfg ServerConfig) *Server {
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = 5000
	}
	if cfg.MaxClientRequests <= 0 {
		cfg.MaxClientRequests = 5
	}
	if cfg.MaxQueue <= 0 {
		cfg.MaxQueue = 1024
	}
	if cfg.MaxQueueBytes <= 0 {
		cfg.MaxQueueBytes = 16 << 20
	}
	if cfg.StuckTimeout <= 0 {
		cfg.StuckTimeout = 30 * time.Second
	}
	if cfg.FrameTimeout <= 0 {
		cfg.FrameTimeout = 60 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.MaxInflightBytes <= 0 {
		cfg.MaxInflightBytes = 128 << 20
	}
	if cfg.FlushTimeout <= 0 {
		cfg.FlushTimeout = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{
		cfg:         cfg,
		log:         cfg.Logger,
		listeners:   map[net.Listener]struct{}{},
		peers:       map[*Peer]struct{}{},
		byName:      map[string]int{},
		sweepStop:   make(chan struct{}),
		refusing:    map[net.Conn]struct{}{},
		handshaking: map[net.Conn]struct{}{},
		frames:      frameBudget{limit: cfg.MaxInflightBytes},
		epoch:       time.Now().Unix(),
	}
	s.SetLimits(Limits{MaxClients: cfg.MaxClients, MaxClientRequests: cfg.MaxClientRequests,
		MaxQueue: cfg.MaxQueue, MaxQueueBytes: cfg.MaxQueueBytes, StuckTimeout: cfg.StuckTimeout})
	s.reclaim.count = func() int {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.peers)
	}
	return s
}

// Limits are the limits of ServerConfig that can change while the
// server runs (SetLimits).
type Limits struct {
	// MaxClients and MaxClientRequests apply at once: to the next client
	// that connects and to each client's next call. Lowering them
	// disconnects no one and interrupts no call: calls already running
	// finish, and new ones wait until fewer than the limit run.
	MaxClients        int
	MaxClientRequests int
	// MaxQueue, MaxQueueBytes and StuckTimeout apply to clients that
	// connect afterwards: a connected client keeps the bounds it came in
	// with, so that a lowered bound never drops a client whose queue
	// held more than the new one when it changed.
	MaxQueue      int
	MaxQueueBytes int64
	StuckTimeout  time.Duration
}

// SetLimits changes the server's limits while it serves; a zero field
// keeps the current value.
func (s *Server) SetLimits(l Limits) {
	set := func(a *atomic.Int64, v int64) {
		if v > 0 {
			a.Store(v)
		}
	}
	set(&s.maxClients, int64(l.MaxClients))
	set(&s.maxClientRequests, int64(l.MaxClientRequests))
	set(&s.maxQueue, int64(l.MaxQueue))
	set(&s.maxQueueBytes, l.MaxQueueBytes)
	set(&s.stuckTimeout, int64(l.StuckTimeout))
}

// Limits returns the limits in force now.
func (s *Server) Limits() Limits {
	return Limits{
		MaxClients:        int(s.maxClients.Load()),
		MaxClientRequests: int(s.maxClientRequests.Load()),
		MaxQueue:          int(s.maxQueue.Load()),
		MaxQueueBytes:     s.maxQueueBytes.Load(),
		StuckTimeout:      time.Duration(s.stuckTimeout.Load()),
	}
}

// SetListenerMaxClients changes the ListenerOptions.MaxClients of the
// listener named name for the clients that connect from now on; the
// clients it has keep their connections even if they are more.
func (s *Server) SetListenerMaxClients(name string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listenerMax == nil {
		s.listenerMax = map[string]int{}
	}
	s.listenerMax[name] = n
}

// ListenerOptions says how clients of one listener are treated.
type ListenerOptions struct {
	// Name appears in logs (the socket path).
	Name string
	// ReadOnly marks every client of this listener read-only.
	ReadOnly bool
	// MaxClients, when set, bounds this listener's clients below the
	// server's MaxClients, so that clients of one listener (the
	// world-writable read-only socket) cannot take every place and lock
	// out the others (root on the read-write socket). The key names it in
	// the refusal.
	MaxClients    int
	MaxClientsKey string
	// TLS, when set, makes this a TLS listener: each client's handshake
	// (at most 10 s, or FrameTimeout if shorter) runs with this configuration, whose
	// verification decides who is let in; then the server sends
	// libvirt's confirmation byte and serves the client as any other.
	TLS *tls.Config
	// TLSVerify, when set, judges a TLS client once its handshake is
	// done; a client it refuses is logged with its error and closed
	// without the confirmation byte (libvirt's clients then report
	// that the server refused their certificate).
	TLSVerify func(tls.ConnectionState) error
	// TLSServerCert describes the listener's own certificate (file,
	// subject, SANs, validity) for the log of a failed handshake: the
	// client may have refused it.
	TLSServerCert string
	// TLSServerCertFunc, when set, describes it instead, for a listener
	// whose certificate can change (GetConfigForClient).
	TLSServerCertFunc func() string
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("rpc: server closed")

// Serve accepts clients on l until Shutdown; it always closes l.
func (s *Server) Serve(l net.Listener, opts ListenerOptions) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	defer l.Close()

	var delay time.Duration
	for {
		conn, err := l.Accept()
		if err != nil {
			if s.isClosing() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				// Out of fds or a passing error: back off, as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; retrying", "listener", opts.Name, "err", err, "delay", delay)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("accept on %s: %w", opts.Name, err)
		}
		delay = 0
		if opts.TLS != nil {
			s.handshake(conn, opts)
			continue
		}
		s.accept(conn, opts)
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func (s *Server) accept(conn net.Conn, opts ListenerOptions) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		conn.Close()
		return
	}
	limit, key := 0, ""
	maxClients, listenerMax := int(s.maxClients.Load()), opts.MaxClients
	if n, ok := s.listenerMax[opts.Name]; ok {
		listenerMax = n
	}
	switch {
	case len(s.peers) >= maxClients:
		limit, key = maxClients, "max_clients"
	case listenerMax > 0 && s.byName[opts.Name] >= listenerMax:
		limit, key = listenerMax, opts.MaxClientsKey
	}
	if key != "" {
		s.rejected.Add(1)
		if len(s.refusing) >= maxRefusing {
			// A flood of clients: no goroutine or buffer for each.
			s.mu.Unlock()
			conn.Close()
			return
		}
		s.refusing[conn] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		s.log.Warn("client refused: too many clients; raise "+key, "listener", opts.Name, key, limit)
		go s.refuse(conn, limit, key)
		return
	}
	p := newPeer(s, conn, opts)
	s.peers[p] = struct{}{}
	s.byName[opts.Name]++
	s.reclaim.clients(len(s.peers))
	if !s.sweeping {
		s.sweeping = true
		go s.sweep()
	}
	s.wg.Add(1)
	s.mu.Unlock()
	s.accepted.Add(1)
	s.log.Info("client connected", "client", p.id, "listener", opts.Name, "readonly", opts.ReadOnly, "identity", p.Identity().String())
	p.start()
}

// Bounds on refusing clients over max_clients, so that a flood of them
// costs little: at most maxRefusing at once, each given refuseTimeout to
// send a first call of at most refuseFrameMax bytes (clients open with a
// small AUTH_LIST or CONNECT_OPEN).
const (
	maxRefusing    = 32
	refuseTimeout  = 2 * time.Second
	refuseFrameMax = 64 << 10
)

// refuse answers the first call of a client over max_clients with an error
// naming the limit, then closes it: a clear error beats a silent hang in
// the listen backlog.
func (s *Server) refuse(conn net.Conn, limit int, key string) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.refusing, conn)
		s.mu.Unlock()
		conn.Close()
	}()
	conn.SetDeadline(time.Now().Add(refuseTimeout))
	for range 4 {
		h, _, err := readFrame(conn, refuseFrameMax)
		if err != nil {
			return
		}
		if h.Type != protocol.Call {
			continue
		}
		e := protocol.RPCError("too many active clients (%d); raise %s in the daemon's config", limit, key)
		if f, err := EncodeFrame(replyHeader(h, protocol.StatusError), e); err == nil {
			conn.Write(f)
		}
		return
	}
}

func (s *Server) remove(p *Peer) {
	s.mu.Lock()
	delete(s.peers, p)
	s.byName[p.listener]--
	n := len(s.peers)
	s.mu.Unlock()
	s.reclaim.clients(n)
	s.wg.Done()
}

// Stats returns the server's counters.
func (s *Server) Stats() ServerStats {
	s.mu.Lock()
	n := len(s.peers)
	var running, waitingCalls int
	for p := range s.peers {
		r, w := p.callCounts()
		running += r
		waitingCalls += w
	}
	s.mu.Unlock()
	used, peak, waiting, waited := s.frames.stats()
	return ServerStats{
		InflightBytes:  used,
		InflightPeak:   peak,
		FramesWaiting:  waiting,
		FramesWaited:   waited,
		Reclaims:       s.reclaim.runs.Load(),
		ReadersMoved:   s.readersMoved.Load(),
		Accepted:       s.accepted.Load(),
		Rejected:       s.rejected.Load(),
		SlowDropped:    s.slowDropped.Load(),
		StuckDropped:   s.stuckDropped.Load(),
		PartialDropped: s.partialDropped.Load(),
		QueueBytesPeak: s.queueBytesPeak.Load(),
		KeepaliveDrops: s.keepaliveDrops.Load(),
		Clients:        n,
		CallsRunning:   running,
		CallsWaiting:   waitingCalls,
		QueuePeak:      int(s.queuePeak.Load()),
	}
}

// notePeak records an outbound queue depth for Stats.
func (s *Server) noteBytesPeak(n int64) {
	for {
		old := s.queueBytesPeak.Load()
		if n <= old || s.queueBytesPeak.CompareAndSwap(old, n) {
			return
		}
	}
}

func (s *Server) notePeak(n int) {
	for {
		old := s.queuePeak.Load()
		if int64(n) <= old || s.queuePeak.CompareAndSwap(old, int64(n)) {
			return
		}
	}
}

// Peers returns the clients connected now.
func (s *Server) Peers() []*Peer {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := make([]*Peer, 0, len(s.peers))
	for p := range s.peers {
		ps = append(ps, p)
	}
	return ps
}

// CloseListeners stops accepting new clients; connected clients stay,
// but those being refused at max_clients are closed.
func (s *Server) CloseListeners() {
	s.mu.Lock()
	s.closing = true
	ls := s.listeners
	s.listeners = map[net.Listener]struct{}{}
	var refusing []net.Conn
	for c := range s.refusing {
		refusing = append(refusing, c)
	}
	for c := range s.handshaking {
		refusing = append(refusing, c)
	}
	s.mu.Unlock()
	for l := range ls {
		l.Close()
	}
	for _, c := range refusing {
		c.Close()
	}
}

// Shutdown stops accepting, closes every client after writing what is
// queued for it (at most FlushTimeout), and waits until every client's
// session is closed or ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.CloseListeners()
	s.stopOnce.Do(func() { close(s.sweepStop) })
	for _, p := range s.Peers() {
		p.closeAfterFlush(ErrServerClosed)
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, p := range s.Peers() {
			p.Close(ErrServerClosed)
		}
		return ctx.Err()
	}
}

// sweep drops, at least once a second, the clients whose frame began
// FrameTimeout ago and is still not complete. It runs while the server
// has clients: the last one's leaving or Shutdown ends it.
func (s *Server) sweep() {
	t := time.NewTicker(min(max(s.cfg.FrameTimeout/4, time.Millisecond), time.Second))
	defer t.Stop()
	for {
		select {
		case <-s.sweepStop:
			s.mu.Lock()
			s.sweeping = false
			s.mu.Unlock()
			return
		case now := <-t.C:
			s.mu.Lock()
			if len(s.peers) == 0 {
				s.sweeping = false
				s.mu.Unlock()
				return
			}
			s.mu.Unlock()
			for _, p := range s.Peers() {
				p.dropIfStalled(now, s.cfg.FrameTimeout)
				p.kickIfIdle(now)
			}
		}
	}
}

func replyHeader(call protocol.Header, status protocol.Status) protocol.Header {
	return protocol.Header{
		Program:   call.Program,
		Version:   call.Version,
		Procedure: call.Procedure,
		Type:      protocol.Reply,
		Serial:    call.Serial,
		Status:    status,
	}
}

func (s *Server) serves(prog, vers uint32) bool {
	for _, p := range s.cfg.Programs {
		if p.Number == prog && p.Version == vers {
			return true
		}
	}
	return false
}
