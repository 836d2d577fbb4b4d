package daemon

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/rpc"
	"github.com/govirt/govirtd/vir"
)

// SockAdmin is the admin socket's name in unix_sock_dir.
const SockAdmin = "govirtd-admin-sock"

// The servers the admin program names, as libvirtd's "libvirtd" and
// "admin": the remote program's and the admin program's own.
const (
	ServerMain  = "govirtd"
	ServerAdmin = "admin"
)

// The admin server's limits: libvirtd's defaults for admin_max_clients
// and admin_max_client_requests.
const (
	adminMaxClients  = 5
	adminMaxRequests = 5
)

func init() {
	setters["admin_max_clients"] = intKey(func(c *Config) *int { return &c.AdminMaxClients }, 1, 1<<16)
	setters["admin_max_client_requests"] = intKey(func(c *Config) *int { return &c.AdminMaxClientRequests }, 1, 1<<16)
}

// adminLimits are the admin server's client limits in effect.
func (c *Config) adminLimits() (clients, requests int) {
	clients, requests = c.AdminMaxClients, c.AdminMaxClientRequests
	if clients == 0 {
		clients = adminMaxClients
	}
	if requests == 0 {
		requests = adminMaxRequests
	}
	return clients, requests
}

// newAdminServer makes the transport of the admin program, a server of
// its own as in libvirtd, with its own small client limits.
func (d *Daemon) newAdminServer() *rpc.Server {
	clients, requests := d.cfg.adminLimits()
	return rpc.NewServer(rpc.ServerConfig{
		MaxClients:        clients,
		MaxClientRequests: requests,
		MaxQueue:          d.cfg.MaxClientQueue,
		MaxQueueBytes:     int64(d.cfg.MaxClientQueueBytes),
		MaxInflightBytes:  int64(d.cfg.MaxInflightBytes),
		StuckTimeout:      d.srv.Limits().StuckTimeout,
		KeepaliveInterval: d.cfg.KeepaliveDuration(),
		KeepaliveCount:    d.cfg.KeepaliveCount,
		Programs:          []rpc.Program{{Number: protocol.AdminProgram, Version: protocol.AdminProtocolVersion}},
		NewSession: func(p *rpc.Peer) rpc.Session {
			return &adminSession{d: d, peer: p}
		},
		Logger: d.log,
	})
}

// listenAdmin serves the admin program on the socket systemd passed as
// govirtd-admin.socket, or on unix_sock_dir/govirtd-admin-sock, mode
// 0700; only root (or the daemon's own user) may open a connection.
func (d *Daemon) listenAdmin(l net.Listener) error {
	if l == nil {
		dir := d.cfg.SockDir()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("cannot create unix_sock_dir %s: %w", dir, err)
		}
		var err error
		if l, err = d.listenUnix(dir+"/"+SockAdmin, 0o700); err != nil {
			return err
		}
	} else {
		d.log.Info("listening", "socket", l.Addr().String(), "from", "systemd govirtd-admin.socket")
	}
	d.listenMu.Lock()
	d.adminPath = l.Addr().String()
	d.listenMu.Unlock()
	go func() {
		if err := d.adminSrv.Serve(l, rpc.ListenerOptions{Name: l.Addr().String()}); err != nil && !errors.Is(err, rpc.ErrServerClosed) {
			d.log.Error("listener failed", "socket", l.Addr().String(), "err", err)
		}
	}()
	return nil
}

// AdminSocket is the admin socket's path, once it listens.
func (d *Daemon) AdminSocket() string {
	d.listenMu.Lock()
	defer d.listenMu.Unlock()
	return d.adminPath
}

// adminSession is one admin client.
type adminSession struct {
	d    *Daemon
	peer *rpc.Peer
	open atomic.Bool // CONNECT_OPEN succeeded
}

// adminRequest is one admin call.
type adminRequest struct {
	s    *adminSession
	call *rpc.Call
	num  int32
	name string
}

func (r *adminRequest) decode(body []byte, a protocol.Decodable) error {
	if err := protocol.Unmarshal(body, a); err != nil {
		return errDecode(r.name, err)
	}
	return nil
}

func (r *adminRequest) errNoSupport() error {
	return drivers.Errorf(vir.ErrNoSupport, vir.FromAdmin, "govirtd does not implement the admin procedure %s", r.name)
}

// Dispatch runs one admin call.
func (s *adminSession) Dispatch(ctx context.Context, call *rpc.Call) (protocol.Encodable, error) {
	r := &adminRequest{s: s, call: call, num: call.Header.Procedure, name: protocol.AdminProcedure(call.Header.Procedure).String()}
	if r.num != int32(protocol.AdminProcConnectOpen) && !s.open.Load() {
		return nil, wireError(drivers.Errorf(vir.ErrInternalError, vir.FromAdmin, "admin connection not open"))
	}
	ret, err := s.d.admin().dispatch(ctx, r, call.Body)
	if err != nil {
		return nil, wireError(err)
	}
	return ret, nil
}

// Close has nothing to release.
func (s *adminSession) Close() {}

// admin is the admin program's handler table, made once.
func (d *Daemon) admin() *adminHandlers {
	d.adminOnce.Do(func() { d.adminH = d.newAdminHandlers() })
	return d.adminH
}

// serverOf is the transport an admin_nonnull_server names.
func (d *Daemon) serverOf(srv protocol.AdminServer) (*rpc.Server, error) {
	switch srv.Name {
	case ServerMain:
		return d.srv, nil
	case ServerAdmin:
		return d.adminSrv, nil
	}
	return nil, drivers.Errorf(vir.ErrNoServer, vir.FromAdmin, "no server named '%s' (govirtd has %s and %s)", srv.Name, ServerMain, ServerAdmin)
}

// clientOf finds the client an admin_nonnull_client names.
func (d *Daemon) clientOf(srv protocol.AdminServer, id uint64) (*rpc.Peer, error) {
	s, err := d.serverOf(srv)
	if err != nil {
		return nil, err
	}
	for _, p := range s.Peers() {
		if p.ID() == id {
			return p, nil
		}
	}
	return nil, drivers.Errorf(vir.ErrNoClient, vir.FromAdmin, "no client with matching id '%d' on server %s (virt-admin srv-clients-list %s lists them)", id, srv.Name, srv.Name)
}

func transportOf(p *rpc.Peer) vir.ClientTransport {
	switch p.Conn().(type) {
	case *net.UnixConn:
		return vir.ClientTransUnix
	case *tls.Conn:
		return vir.ClientTransTLS
	}
	return vir.ClientTransTcp
}

func adminClient(srv string, p *rpc.Peer) protocol.AdminClient {
	return protocol.AdminClient{Srv: protocol.AdminServer{Name: srv}, ID: p.ID(),
		Timestamp: p.Connected().Unix(), Transport: uint32(transportOf(p))}
}

func uintParam(field string, v uint32) protocol.AdminTypedParam {
	return protocol.AdminTypedParam{Field: field, Value: protocol.AdminTypedParamValue{Type: int32(vir.TypedParamUint), Ui: v}}
}

func intParam(field string, v int) protocol.AdminTypedParam {
	return protocol.AdminTypedParam{Field: field, Value: protocol.AdminTypedParamValue{Type: int32(vir.TypedParamInt), I: int32(v)}}
}

func strParam(field, v string) protocol.AdminTypedParam {
	return protocol.AdminTypedParam{Field: field, Value: protocol.AdminTypedParamValue{Type: int32(vir.TypedParamString), S: v}}
}

func boolParam(field string, v bool) protocol.AdminTypedParam {
	b := int32(0)
	if v {
		b = 1
	}
	return protocol.AdminTypedParam{Field: field, Value: protocol.AdminTypedParamValue{Type: int32(vir.TypedParamBoolean), B: b}}
}

func noFlags(flags uint32) error {
	if flags != 0 {
		return drivers.Errorf(vir.ErrInvalidArg, vir.FromAdmin, "unsupported flags (%#x)", flags)
	}
	return nil
}

// adminLogs is what the admin program's logging calls set and read.
type adminLogs struct {
	mu      sync.Mutex // guards filters, outputs and filter
	filters string
	outputs string
	filter  *LogFilter // the log's filter (SetLogFilter); nil: filters are only kept
}

// SetLogFilter gives the daemon its log's filter, set now to
// log_filters, then by SIGHUP and virt-admin daemon-log-filters.
func (d *Daemon) SetLogFilter(f *LogFilter) {
	d.reloadMu.Lock()
	filters := d.cfg.LogFilters
	d.reloadMu.Unlock()
	d.setLogFilters(f, filters)
}

// setLogFilters makes filters (checked) the log's, on f when not nil
// or else on the daemon's filter.
func (d *Daemon) setLogFilters(f *LogFilter, filters string) {
	rules, _ := ParseLogFilters(filters)
	d.logs.mu.Lock()
	defer d.logs.mu.Unlock()
	if f != nil {
		d.logs.filter = f
	}
	d.logs.filters = strings.Join(rules, " ")
	if d.logs.filter != nil {
		d.logs.filter.SetFilters(rules)
	}
}

func (d *Daemon) newAdminHandlers() *adminHandlers {
	return &adminHandlers{
		AdminConnectOpen: func(ctx context.Context, r *adminRequest, a *protocol.AdminConnectOpenArgs) error {
			if err := noFlags(a.Flags); err != nil {
				return err
			}
			id := r.s.peer.Identity()
			if !id.Unix || (id.UID != 0 && id.UID != os.Geteuid()) {
				return drivers.Errorf(vir.ErrAuthFailed, vir.FromAdmin,
					"the admin program is for root only; client identity %s (run virt-admin as root)", id)
			}
			r.s.open.Store(true)
			return nil
		},
		AdminConnectClose: func(ctx context.Context, r *adminRequest) error {
			r.call.CloseAfterReply()
			return nil
		},
		AdminConnectGetLibVersion: func(ctx context.Context, r *adminRequest) (*protocol.AdminConnectGetLibVersionRet, error) {
			return &protocol.AdminConnectGetLibVersionRet{LibVer: LibVersion}, nil
		},
		AdminConnectListServers: func(ctx context.Context, r *adminRequest, a *protocol.AdminConnectListServersArgs) (*protocol.AdminConnectListServersRet, error) {
			if err := noFlags(a.Flags); err != nil {
				return nil, err
			}
			ret := &protocol.AdminConnectListServersRet{Ret: 2}
			if a.NeedResults != 0 {
				ret.Servers = []protocol.AdminServer{{Name: ServerMain}, {Name: ServerAdmin}}
			}
			return ret, nil
		},
		AdminConnectLookupServer: func(ctx context.Context, r *adminRequest, a *protocol.AdminConnectLookupServerArgs) (*protocol.AdminConnectLookupServerRet, error) {
			srv := protocol.AdminServer{Name: a.Name}
			if _, err := d.serverOf(srv); err != nil {
				return nil, err
			}
			return &protocol.AdminConnectLookupServerRet{Srv: srv}, nil
		},
		AdminServerGetThreadpoolParameters: d.adminThreadpool,
		AdminServerSetThreadpoolParameters: func(ctx context.Context, r *adminRequest, a *protocol.AdminServerSetThreadpoolParametersArgs) error {
			if _, err := d.serverOf(a.Srv); err != nil {
				return err
			}
			return drivers.Errorf(vir.ErrOperationUnsupported, vir.FromAdmin,
				"govirtd runs each call on a goroutine of its own, bounded by max_client_requests per client: there is no worker pool to size (set max_client_requests in the configuration and send SIGHUP)")
		},
		AdminServerListClients: func(ctx context.Context, r *adminRequest, a *protocol.AdminServerListClientsArgs) (*protocol.AdminServerListClientsRet, error) {
			if err := noFlags(a.Flags); err != nil {
				return nil, err
			}
			s, err := d.serverOf(a.Srv)
			if err != nil {
				return nil, err
			}
			peers := s.Peers()
			ret := &protocol.AdminServerListClientsRet{Ret: uint32(len(peers))}
			if a.NeedResults != 0 {
				for _, p := range peers {
					ret.Clients = append(ret.Clients, adminClient(a.Srv.Name, p))
				}
				// Oldest first, as libvirt lists them.
				sortClients(ret.Clients)
			}
			return ret, nil
		},
		AdminServerLookupClient: func(ctx context.Context, r *adminRequest, a *protocol.AdminServerLookupClientArgs) (*protocol.AdminServerLookupClientRet, error) {
			p, err := d.clientOf(a.Srv, a.ID)
			if err != nil {
				return nil, err
			}
			return &protocol.AdminServerLookupClientRet{Clnt: adminClient(a.Srv.Name, p)}, nil
		},
		AdminClientGetInfo: func(ctx context.Context, r *adminRequest, a *protocol.AdminClientGetInfoArgs) (*protocol.AdminClientGetInfoRet, error) {
			p, err := d.clientOf(a.Clnt.Srv, a.Clnt.ID)
			if err != nil {
				return nil, err
			}
			return &protocol.AdminClientGetInfoRet{Params: clientInfo(p)}, nil
		},
		AdminClientClose: func(ctx context.Context, r *adminRequest, a *protocol.AdminClientCloseArgs) error {
			if err := noFlags(a.Flags); err != nil {
				return err
			}
			p, err := d.clientOf(a.Clnt.Srv, a.Clnt.ID)
			if err != nil {
				return err
			}
			if p == r.s.peer {
				return drivers.Errorf(vir.ErrOperationDenied, vir.FromAdmin, "an admin client cannot close its own connection (use virAdmConnectClose)")
			}
			d.log.Info("client disconnected by the admin program", "client", p.ID(), "server", a.Clnt.Srv.Name, "identity", p.Identity().String())
			p.Close(errors.New("closed by the admin program (virt-admin client-disconnect)"))
			return nil
		},
		AdminServerGetClientLimits: func(ctx context.Context, r *adminRequest, a *protocol.AdminServerGetClientLimitsArgs) (*protocol.AdminServerGetClientLimitsRet, error) {
			s, err := d.serverOf(a.Srv)
			if err != nil {
				return nil, err
			}
			return &protocol.AdminServerGetClientLimitsRet{Params: []protocol.AdminTypedParam{
				uintParam(vir.ServerClientsMax, uint32(s.Limits().MaxClients)),
				uintParam(vir.ServerClientsCurrent, uint32(len(s.Peers()))),
				// No client of govirtd waits for authentication.
				uintParam(vir.ServerClientsUnauthMax, 0),
				uintParam(vir.ServerClientsUnauthCurrent, 0),
			}}, nil
		},
		AdminConnectSetDaemonTimeout: func(ctx context.Context, r *adminRequest, a *protocol.AdminConnectSetDaemonTimeoutArgs) error {
			if err := noFlags(a.Flags); err != nil {
				return err
			}
			// The newest value wins: a pending one is replaced.
			t := time.Duration(a.Timeout) * time.Second
			for {
				select {
				case d.idleSet <- t:
					return nil
				default:
				}
				select {
				case <-d.idleSet:
				default:
				}
			}
		},
		AdminServerUpdateTlsFiles:     d.adminUpdateTLS,
		AdminServerSetClientLimits:    d.adminSetClientLimits,
		AdminConnectGetLoggingOutputs: d.adminGetOutputs,
		AdminConnectGetLoggingFilters: d.adminGetFilters,
		AdminConnectSetLoggingOutputs: d.adminSetOutputs,
		AdminConnectSetLoggingFilters: d.adminSetFilters,
	}
}

// adminThreadpool describes the server's calls in the words of libvirt's
// worker pool: govirtd has no pool, so the workers are the calls running
// now and the queue the calls waiting under max_client_requests.
func (d *Daemon) adminThreadpool(ctx context.Context, r *adminRequest, a *protocol.AdminServerGetThreadpoolParametersArgs) (*protocol.AdminServerGetThreadpoolParametersRet, error) {
	if err := noFlags(a.Flags); err != nil {
		return nil, err
	}
	s, err := d.serverOf(a.Srv)
	if err != nil {
		return nil, err
	}
	st, lim := s.Stats(), s.Limits()
	return &protocol.AdminServerGetThreadpoolParametersRet{Params: []protocol.AdminTypedParam{
		uintParam(vir.ThreadpoolWorkersMin, 0),
		uintParam(vir.ThreadpoolWorkersMax, uint32(lim.MaxClients*lim.MaxClientRequests)),
		uintParam(vir.ThreadpoolWorkersCurrent, uint32(st.CallsRunning)),
		uintParam(vir.ThreadpoolWorkersFree, 0),
		uintParam(vir.ThreadpoolWorkersPriority, 0),
		uintParam(vir.ThreadpoolJobQueueDepth, uint32(st.CallsWaiting)),
	}}, nil
}

// clientInfo is virAdmClientGetInfo's list for p.
func clientInfo(p *rpc.Peer) []protocol.AdminTypedParam {
	params := []protocol.AdminTypedParam{boolParam(vir.ClientInfoReadonly, p.ReadOnly())}
	id := p.Identity()
	if id.TLS {
		params = append(params, strParam(vir.ClientInfoSocketAddr, p.Conn().RemoteAddr().String()))
		if id.SubjectDN != "" {
			params = append(params, strParam(vir.ClientInfoX509DistinguishedName, id.SubjectDN))
		}
	}
	if id.Unix {
		params = append(params, intParam(vir.ClientInfoUnixUserID, id.UID))
		if u, err := user.LookupId(strconv.Itoa(id.UID)); err == nil {
			params = append(params, strParam(vir.ClientInfoUnixUserName, u.Username))
		}
		params = append(params, intParam(vir.ClientInfoUnixGroupID, id.GID))
		if g, err := user.LookupGroupId(strconv.Itoa(id.GID)); err == nil {
			params = append(params, strParam(vir.ClientInfoUnixGroupName, g.Name))
		}
		params = append(params, intParam(vir.ClientInfoUnixProcessID, id.PID))
	}
	return params
}

// adminSetClientLimits sets nclients_max of a server at run time: the
// next client that connects is held to it, and clients over it stay. On
// the main server it is max_clients until the next SIGHUP re-reads the
// file.
func (d *Daemon) adminSetClientLimits(ctx context.Context, r *adminRequest, a *protocol.AdminServerSetClientLimitsArgs) error {
	if err := noFlags(a.Flags); err != nil {
		return err
	}
	s, err := d.serverOf(a.Srv)
	if err != nil {
		return err
	}
	lim := s.Limits()
	for _, p := range a.Params {
		switch p.Field {
		case vir.ServerClientsMax:
			if p.Value.Type != int32(vir.TypedParamUint) || p.Value.Ui == 0 {
				return drivers.Errorf(vir.ErrInvalidArg, vir.FromAdmin, "%s must be an unsigned integer above 0", p.Field)
			}
			lim.MaxClients = int(p.Value.Ui)
		case vir.ServerClientsUnauthMax:
			if p.Value.Type != int32(vir.TypedParamUint) || p.Value.Ui != 0 {
				return drivers.Errorf(vir.ErrInvalidArg, vir.FromAdmin,
					"%s: govirtd has no unauthenticated clients (no SASL or polkit stage); only 0 is accepted", p.Field)
			}
		default:
			return drivers.Errorf(vir.ErrInvalidArg, vir.FromAdmin, "unknown client limit '%s' (%s and %s are)", p.Field, vir.ServerClientsMax, vir.ServerClientsUnauthMax)
		}
	}
	if s == d.srv {
		d.reloadMu.Lock()
		run := *d.cfg
		run.MaxClients = lim.MaxClients
		d.cfg = &run
		s.SetLimits(lim)
		d.reloadMu.Unlock()
	} else {
		s.SetLimits(lim)
	}
	d.log.Info("client limit set by the admin program", "server", a.Srv.Name, "max_clients", lim.MaxClients)
	return nil
}

// Logging filters and outputs, in libvirt's syntax ("1:qemu 3:storage",
// "1:stderr"). govirtd logs to stderr: an output's level becomes the
// log's level; filters set a level per driver (LogFilter).
func (d *Daemon) adminGetOutputs(ctx context.Context, r *adminRequest, a *protocol.AdminConnectGetLoggingOutputsArgs) (*protocol.AdminConnectGetLoggingOutputsRet, error) {
	if err := noFlags(a.Flags); err != nil {
		return nil, err
	}
	d.logs.mu.Lock()
	out := d.logs.outputs
	d.logs.mu.Unlock()
	if out == "" {
		out = fmt.Sprintf("%d:stderr", d.currentLogLevel())
	}
	return &protocol.AdminConnectGetLoggingOutputsRet{Outputs: out, Noutputs: uint32(len(strings.Fields(out)))}, nil
}

func (d *Daemon) adminGetFilters(ctx context.Context, r *adminRequest, a *protocol.AdminConnectGetLoggingFiltersArgs) (*protocol.AdminConnectGetLoggingFiltersRet, error) {
	if err := noFlags(a.Flags); err != nil {
		return nil, err
	}
	d.logs.mu.Lock()
	f := d.logs.filters
	d.logs.mu.Unlock()
	ret := &protocol.AdminConnectGetLoggingFiltersRet{Nfilters: uint32(len(strings.Fields(f)))}
	if f != "" {
		ret.Filters = &f
	}
	return ret, nil
}

func (d *Daemon) adminSetFilters(ctx context.Context, r *adminRequest, a *protocol.AdminConnectSetLoggingFiltersArgs) error {
	if err := noFlags(a.Flags); err != nil {
		return err
	}
	f := ""
	if a.Filters != nil {
		f = strings.Join(strings.Fields(*a.Filters), " ")
	}
	rules, err := ParseLogFilters(f)
	if err != nil {
		return drivers.Errorf(vir.ErrInvalidArg, vir.FromAdmin, "%v", err)
	}
	d.logs.mu.Lock()
	d.logs.filters = f
	if d.logs.filter != nil {
		d.logs.filter.SetFilters(rules)
	}
	d.logs.mu.Unlock()
	d.log.Info("logging filters set by the admin program", "filters", f)
	return nil
}

func (d *Daemon) adminSetOutputs(ctx context.Context, r *adminRequest, a *protocol.AdminConnectSetLoggingOutputsArgs) error {
	if err := noFlags(a.Flags); err != nil {
		return err
	}
	out := ""
	if a.Outputs != nil {
		out = strings.TrimSpace(*a.Outputs)
	}
	d.reloadMu.Lock()
	level := d.cfg.LogLevel // an empty list: back to log_level
	d.reloadMu.Unlock()
	if out != "" {
		lvl, dest, _ := strings.Cut(out, ":")
		n, err := strconv.Atoi(lvl)
		if err != nil || n < 1 || n > 4 || dest != "stderr" {
			return drivers.Errorf(vir.ErrConfigUnsupported, vir.FromAdmin,
				"logging outputs '%s': govirtd logs to stderr only, so one output LEVEL:stderr with a level of 1 to 4 is accepted (such as 1:stderr)", out)
		}
		level = n
	}
	if d.logLevel == nil || d.logFixed {
		return drivers.Errorf(vir.ErrOperationUnsupported, vir.FromAdmin, "the log level is fixed (--verbose): restart govirtd without it")
	}
	d.logLevel.Set(LogLevel(level))
	d.logs.mu.Lock()
	d.logs.outputs = out
	d.logs.mu.Unlock()
	return nil
}

// adminUpdateTLS re-reads the TLS files the configuration in effect
// names (the renewed certificates, CA and CRL, under the same names) for
// the next TLS handshake, as SIGHUP does without re-reading the file;
// connected clients keep their sessions. Files that do not load leave
// the material in use as it was.
func (d *Daemon) adminUpdateTLS(ctx context.Context, r *adminRequest, a *protocol.AdminServerUpdateTlsFilesArgs) error {
	if err := noFlags(a.Flags); err != nil {
		return err
	}
	if _, err := d.serverOf(a.Srv); err != nil {
		return err
	}
	if a.Srv.Name != ServerMain {
		return drivers.Errorf(vir.ErrOperationUnsupported, vir.FromAdmin, "server %s has no TLS listener (%s has, when TLS is on)", a.Srv.Name, ServerMain)
	}
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	if d.tls.Load() == nil {
		return drivers.Errorf(vir.ErrOperationInvalid, vir.FromAdmin, "the TLS listener is not running (set listen_tls = 1, or enable govirtd-tls.socket)")
	}
	st, err := d.prepareTLS(d.cfg.TLS)
	if err != nil {
		return drivers.Errorf(vir.ErrInternalError, vir.FromAdmin, "TLS files not updated, the previous ones stay in use: %v", err)
	}
	d.tls.Store(st)
	d.log.Info("TLS material re-read by the admin program: new TLS clients are checked against it", "server_cert", st.desc)
	return nil
}

// sortClients orders clients oldest first.
func sortClients(cs []protocol.AdminClient) {
	slices.SortFunc(cs, func(a, b protocol.AdminClient) int {
		if c := cmp.Compare(a.Timestamp, b.Timestamp); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

// currentLogLevel is the log's level as libvirt numbers it.
func (d *Daemon) currentLogLevel() int {
	if d.logLevel == nil {
		return d.cfg.LogLevel
	}
	switch l := d.logLevel.Level(); {
	case l <= -4:
		return 1
	case l <= 0:
		return 2
	case l <= 4:
		return 3
	}
	return 4
}
