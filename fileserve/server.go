// Package fileserve serves one file namespace to phones over HTTPS, HTTP and
// TFTP: the operator's tree first, then the appliance's built-in files, then
// generated content, each name resolved the same way on every protocol.
// Every finished request becomes an AccessEvent.
package fileserve

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoneprov/phoneprov/fileserve/tftpd"
	"github.com/phoneprov/phoneprov/fileserve/tlsca"
	"github.com/phoneprov/phoneprov/internal/obs"
)

// CAFileName is the name under which the appliance serves its CA certificate,
// for the phones' TRUSTCERTS setting.
const CAFileName = "phoneprov-ca.pem"

// Options are the parts a Server is wired to; only FilesDir and TLSDir are required.
type Options struct {
	FilesDir  string // the operator's tree (Config.Root wins when set)
	TLSDir    string // where the appliance keeps its CA and certificate
	Generator Generator
	Observer  AccessObserver
	Mounts    []Mount
	// Admitter, when set, may turn downloads away for now (a cap on
	// concurrent firmware downloads); nil admits every download.
	Admitter Admitter
	Logger   *slog.Logger
	Registry prometheus.Registerer
}

// Server is the file server. Create it with New, then Bind, then Serve.
type Server struct {
	cfg     Config // listener settings as bound; Reload never changes them
	opts    Options
	log     *slog.Logger
	metrics *metrics
	state   atomic.Pointer[state]

	activeHTTP, activeHTTPS atomic.Int64

	httpLns, httpsLns []net.Listener
	tftpConns         []*net.UDPConn
	httpSrv           *http.Server
	httpsSrv          *http.Server
	fastMu            sync.Mutex
	fast              []*fastServer // one per protocol; guarded by fastMu
	slots             *connSlots    // shared by the fast paths
	tftp              *tftpService
}

// tftpService is the TFTP engine with the handler that feeds it.
type tftpService struct {
	server  *tftpd.Server
	handler *tftpHandler
}

// state is what a reload swaps as one piece.
type state struct {
	cfg    Config
	ns     *Namespace
	tls    *tlsca.Bundle
	tlsCfg *tls.Config
	mounts []Mount
}

// New checks the file root, prepares TLS material and registers metrics. It
// binds nothing yet.
func New(ctx context.Context, cfg Config, opts Options) (*Server, error) {
	opts.Logger = obs.Logger(opts.Logger)
	opts.Registry = obs.Registry(opts.Registry)
	s := &Server{cfg: cfg, opts: opts, log: opts.Logger}
	st, err := s.buildState(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s.state.Store(st)
	if cfg.TFTP.Enabled {
		h := &tftpHandler{srv: s}
		engine, err := tftpd.New(tftpConfig(cfg.TFTP), h, s.tftpFinished)
		if err != nil {
			return nil, fmt.Errorf("tftp: %w", err)
		}
		s.tftp = &tftpService{server: engine, handler: h}
	}
	s.metrics, err = newMetrics(opts.Registry, s.activeTransfers, s.tftpCounter((*tftpd.Server).Malformed), s.tftpCounter((*tftpd.Server).RepeatedRequests))
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) buildState(ctx context.Context, cfg Config) (*state, error) {
	root := cfg.Root
	if root == "" {
		root = s.opts.FilesDir
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("file root %s is not a readable directory (create it, or set fileserve.root)", root)
	}
	st := &state{cfg: cfg, mounts: s.opts.Mounts}
	var builtin []*Generated
	if cfg.HTTPS.Enabled {
		bundle, err := s.loadTLS(ctx, cfg)
		if err != nil {
			return nil, err
		}
		st.tls = bundle
		st.tlsCfg, err = serverTLSConfig(cfg.HTTPS, bundle)
		if err != nil {
			return nil, err
		}
		if cfg.HTTPS.MinVersion == "1.0" || cfg.HTTPS.MinVersion == "1.1" {
			s.log.Warn("TLS versions below 1.2 are enabled; only do this for phones that need them", "min_version", cfg.HTTPS.MinVersion)
		}
		if len(bundle.CACertPEM) > 0 {
			builtin = append(builtin, NewGenerated(CAFileName, bundle.CACertPEM, certNotBefore(bundle.CACertPEM)))
		}
	}
	ns, err := NewNamespace(root, builtin, s.opts.Generator)
	if err != nil {
		return nil, err
	}
	st.ns = ns
	return st, nil
}

func (s *Server) loadTLS(ctx context.Context, cfg Config) (*tlsca.Bundle, error) {
	if cfg.HTTPS.CertFile != "" {
		b, err := tlsca.LoadOperator(cfg.HTTPS.CertFile, cfg.HTTPS.KeyFile, "")
		if err != nil {
			return nil, fmt.Errorf("https certificate: %w", err)
		}
		return b, nil
	}
	hosts := append(localHosts(), cfg.ServerNames...)
	b, err := tlsca.Ensure(ctx, tlsca.Options{Dir: s.opts.TLSDir, Hosts: hosts})
	if err != nil {
		return nil, fmt.Errorf("https certificate: %w", err)
	}
	if b.Generated {
		s.log.Info("issued HTTPS certificate", "dir", s.opts.TLSDir, "hosts", strings.Join(b.Leaf.DNSNames, ","), "ips", len(b.Leaf.IPAddresses))
	}
	return b, nil
}

// localHosts lists the box's addresses and host name for the certificate.
func localHosts() []string {
	hosts := []string{"localhost"}
	if h, err := os.Hostname(); err == nil && h != "" {
		hosts = append(hosts, h)
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLinkLocalUnicast() {
				hosts = append(hosts, ipn.IP.String())
			}
		}
	}
	slices.Sort(hosts)
	return slices.Compact(hosts)
}

// legacyCipherSuites are the RSA key-exchange suites that older phone
// firmware offers; Go has left them out of its defaults since 1.22.
var legacyCipherSuites = []uint16{
	tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_RSA_WITH_AES_128_CBC_SHA,
	tls.TLS_RSA_WITH_AES_256_CBC_SHA,
}

func serverTLSConfig(c HTTPSConfig, b *tlsca.Bundle) (*tls.Config, error) {
	minVersion, err := ParseTLSVersion(c.MinVersion)
	if err != nil {
		return nil, err
	}
	cert := b.Certificate
	tc := &tls.Config{
		MinVersion:   minVersion,
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"http/1.1"},
		// Full 16 KiB records from a connection's first byte, as nginx
		// sends them: crypto/tls would otherwise start each connection
		// with records of one TCP segment growing to 16 KiB over the
		// first 128 KiB, one write each, so a settings file on a fresh
		// connection took two records and two writes instead of one.
		DynamicRecordSizingDisabled: true,
	}
	if c.LegacyCiphers {
		for _, cs := range tls.CipherSuites() {
			tc.CipherSuites = append(tc.CipherSuites, cs.ID)
		}
		tc.CipherSuites = append(tc.CipherSuites, legacyCipherSuites...)
	}
	return tc, nil
}

// Bind opens every listening socket, or none: on failure the ones already
// opened are closed and the error says what to do.
func (s *Server) Bind() error {
	var err error
	if s.cfg.HTTP.Enabled {
		if s.httpLns, err = listenTCP("http", s.cfg.HTTP.Listen); err != nil {
			s.closeListeners()
			return err
		}
	}
	if s.cfg.HTTPS.Enabled {
		if s.httpsLns, err = listenTCP("https", s.cfg.HTTPS.Listen); err != nil {
			s.closeListeners()
			return err
		}
	}
	if s.cfg.TFTP.Enabled {
		var lc net.ListenConfig
		for _, a := range s.cfg.TFTP.Listen {
			pc, err := lc.ListenPacket(context.Background(), "udp", a)
			if err != nil {
				s.closeListeners()
				return bindError("tftp", a, err)
			}
			s.tftpConns = append(s.tftpConns, pc.(*net.UDPConn))
		}
	}
	return nil
}

// listenTCP opens every address, or none.
func listenTCP(proto string, addrs []string) ([]net.Listener, error) {
	var lc net.ListenConfig
	var lns []net.Listener
	for _, a := range addrs {
		ln, err := lc.Listen(context.Background(), "tcp", a)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, bindError(proto, a, err)
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

// Addrs returns the bound addresses by protocol, for logs and tests.
func (s *Server) Addrs() map[string][]net.Addr {
	out := map[string][]net.Addr{}
	for _, l := range s.httpLns {
		out["http"] = append(out["http"], l.Addr())
	}
	for _, l := range s.httpsLns {
		out["https"] = append(out["https"], l.Addr())
	}
	for _, c := range s.tftpConns {
		out["tftp"] = append(out["tftp"], c.LocalAddr())
	}
	return out
}

func (s *Server) addrList(protocol string) string {
	var out []string
	for _, a := range s.Addrs()[protocol] {
		out = append(out, a.String())
	}
	if len(out) == 0 {
		return "off"
	}
	return strings.Join(out, ",")
}

func (s *Server) closeListeners() {
	for _, l := range append(s.httpLns, s.httpsLns...) {
		l.Close()
	}
	for _, c := range s.tftpConns {
		c.Close()
	}
	s.httpLns, s.httpsLns, s.tftpConns = nil, nil, nil
}

func bindError(proto, addr string, err error) error {
	key := "fileserve." + proto + ".listen"
	switch {
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("%s: cannot listen on %s: permission denied; run phoneprov as root, grant it CAP_NET_BIND_SERVICE "+
			"(setcap cap_net_bind_service=+ep on the binary, or AmbientCapabilities= in the systemd unit), or choose a port above 1023 in %s", proto, addr, key)
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("%s: cannot listen on %s: address already in use; stop the other server on it (nginx, in.tftpd, another phoneprov) or choose another port in %s", proto, addr, key)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("%s: cannot listen on %s: no interface has that address; fix %s", proto, addr, key)
	}
	return fmt.Errorf("%s: cannot listen on %s: %w (see %s)", proto, addr, err, key)
}

// Serve serves on the bound sockets until ctx is done, then lets transfers in
// flight finish for up to the drain timeout.
func (s *Server) Serve(ctx context.Context) error {
	errs := make(chan error, len(s.httpLns)+len(s.httpsLns)+len(s.tftpConns))
	var wg sync.WaitGroup
	run := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil {
				errs <- err
			}
		}()
	}
	errorLog := log.New(&serverErrorLog{srv: s}, "", 0)
	s.slots = newConnSlots(s.cfg.HTTP.MaxConnections, s.metrics, s.closeIdleForRoom)
	if len(s.httpLns) > 0 {
		s.httpSrv = s.newHTTPServer("http", &s.activeHTTP, errorLog)
		s.serveHTTPListeners(run, s.httpSrv, s.httpLns, nil, &s.activeHTTP, errorLog)
	}
	if len(s.httpsLns) > 0 {
		s.httpsSrv = s.newHTTPServer("https", &s.activeHTTPS, errorLog)
		s.serveHTTPListeners(run, s.httpsSrv, s.httpsLns, s.perHandshakeTLS(), &s.activeHTTPS, errorLog)
	}
	tftpCtx, stopTFTP := context.WithCancel(context.WithoutCancel(ctx))
	defer stopTFTP()
	for _, c := range s.tftpConns {
		run(func() error { return s.tftp.server.Serve(tftpCtx, c) })
	}
	s.log.Info("file server ready", "http", s.addrList("http"), "https", s.addrList("https"), "tftp", s.addrList("tftp"))

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errs:
	}
	drainCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.DrainTimeout)
	defer cancel()
	s.drain(drainCtx)
	stopTFTP()
	wg.Wait()
	s.closeListeners()
	return serveErr
}

// perHandshakeTLS looks the TLS settings up per handshake, so a reload swaps them.
func (s *Server) perHandshakeTLS() *tls.Config {
	return &tls.Config{
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return s.state.Load().tlsCfg, nil },
	}
}

// serveHTTPListeners serves HTTP (tlsConf nil) or HTTPS on lns through
// the fast path, which hands net/http (hs) what it does not serve itself.
func (s *Server) serveHTTPListeners(run func(func() error), hs *http.Server, lns []net.Listener, tlsConf *tls.Config, active *atomic.Int64, errorLog *log.Logger) {
	protocol := "http"
	if tlsConf != nil {
		protocol = "https"
	}
	fast := s.newFastServer(protocol, tlsConf, lns[0].Addr(), active, errorLog)
	s.fastMu.Lock()
	s.fast = append(s.fast, fast)
	s.fastMu.Unlock()
	run(func() error { return serveHTTP(hs, fast.handoff) })
	for _, ln := range lns {
		run(func() error { return fast.serve(ln) })
	}
}

// closeIdleForRoom closes up to n keep-alive connections waiting for
// their next request, those that have waited longest first, for
// connSlots, and returns how many it closed. As nginx's
// ngx_drain_connections takes the least recently used from its queue of
// reusable connections: a phone that has just been answered is the likeliest
// to send its next request at once, and closing its connection would cost
// it, and the server, a new TLS handshake.
func (s *Server) closeIdleForRoom(n int) int {
	var waiting []waitingConn
	for _, f := range s.fastServers() {
		waiting = f.appendWaiting(waiting)
	}
	slices.SortFunc(waiting, func(a, b waitingConn) int { return cmp.Compare(a.since, b.since) })
	closed := 0
	for _, w := range waiting {
		if closed == n {
			break
		}
		if w.closeIfStillWaiting() {
			closed++
		}
	}
	return closed
}

// fastServers returns the fast paths started so far.
func (s *Server) fastServers() []*fastServer {
	s.fastMu.Lock()
	defer s.fastMu.Unlock()
	return slices.Clone(s.fast)
}

func serveHTTP(srv *http.Server, ln net.Listener) error {
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	}
	return nil
}

func (s *Server) drain(ctx context.Context) {
	var wg sync.WaitGroup
	for _, f := range s.fastServers() {
		wg.Go(func() {
			if err := f.shutdown(ctx); err != nil {
				s.log.Warn("drain timeout: closing HTTP connections still open", "err", err)
			}
		})
	}
	for _, hs := range []*http.Server{s.httpSrv, s.httpsSrv} {
		if hs == nil {
			continue
		}
		wg.Go(func() {
			if err := hs.Shutdown(ctx); err != nil {
				s.log.Warn("drain timeout: closing HTTP connections still open", "err", err)
				hs.Close()
			}
		})
	}
	if s.tftp != nil {
		wg.Go(func() {
			if err := s.tftp.server.Shutdown(ctx); err != nil {
				s.log.Warn("drain timeout: aborting TFTP transfers still running", "err", err)
			}
		})
	}
	wg.Wait()
}

func (s *Server) newHTTPServer(protocol string, active *atomic.Int64, errorLog *log.Logger) *http.Server {
	c := s.cfg.HTTP
	return &http.Server{
		Handler:           &fileHandler{srv: s, protocol: protocol, active: active},
		ReadHeaderTimeout: c.ReadHeaderTimeout,
		ReadTimeout:       c.ReadHeaderTimeout + time.Minute, // bodies only come with backup uploads
		WriteTimeout:      c.WriteTimeout,
		IdleTimeout:       c.IdleTimeout,
		MaxHeaderBytes:    c.MaxHeaderBytes,
		ErrorLog:          errorLog,
		ConnContext:       withConnInfo,
	}
}

// serverErrorLog passes the error log lines of net/http and the fast
// path on at debug level. (net/http never runs a TLS handshake here: the
// fast path hands it connections after theirs.)
type serverErrorLog struct{ srv *Server }

func (w *serverErrorLog) Write(p []byte) (int, error) {
	w.srv.log.Debug("http server", "msg", strings.TrimSpace(string(p)))
	return len(p), nil
}

// Reload applies a new configuration: the file root, the certificate and
// TLS settings change at once for new requests. Listener settings keep
// their bound values; the returned list names the keys that need a restart.
func (s *Server) Reload(ctx context.Context, cfg Config) (needRestart []string, err error) {
	st, err := s.buildState(ctx, cfg)
	if err != nil {
		return nil, err
	}
	old := s.state.Swap(st)
	time.AfterFunc(time.Minute, func() { old.ns.Close() }) // let requests that resolved through it finish
	return restartKeys(s.cfg, cfg), nil
}

func restartKeys(bound, next Config) []string {
	var keys []string
	diff := func(key string, a, b any) {
		if fmt.Sprint(a) != fmt.Sprint(b) {
			keys = append(keys, "fileserve."+key)
		}
	}
	diff("http", bound.HTTP, next.HTTP)
	diff("https.enabled", bound.HTTPS.Enabled, next.HTTPS.Enabled)
	diff("https.listen", bound.HTTPS.Listen, next.HTTPS.Listen)
	diff("tftp", bound.TFTP, next.TFTP)
	diff("drain_timeout", bound.DrainTimeout, next.DrainTimeout)
	return keys
}

// finish records a finished request in the metrics and hands it to the
// observer, which logs it (the appliance's access log) and keeps it.
func (s *Server) finish(ctx context.Context, ev *AccessEvent) {
	s.metrics.observe(ev)
	if s.opts.Observer != nil {
		s.opts.Observer.ObserveAccess(*ev)
	}
}

// openFailed counts refusals and returns the detail for the access event.
func (s *Server) openFailed(err error) string {
	var refused *RefusedError
	if errors.As(err, &refused) {
		s.metrics.refused.WithLabelValues(refused.Reason).Inc()
		return "refused: " + refused.Reason
	}
	if errors.Is(err, ErrNotFound) {
		return ""
	}
	s.log.Error("open failed", "err", err)
	return err.Error()
}

// TFTPTransfers is how many TFTP transfers are running now.
func (s *Server) TFTPTransfers() int { return int(s.activeTransfers("tftp")) }

func (s *Server) activeTransfers(protocol string) float64 {
	switch protocol {
	case "http":
		return float64(s.activeHTTP.Load())
	case "https":
		return float64(s.activeHTTPS.Load())
	case "tftp":
		if s.tftp != nil {
			return float64(s.tftp.server.Active())
		}
	}
	return 0
}

// certNotBefore is the start of the first certificate in pemData, used as
// the served CA file's modification time; zero if it cannot be read.
func certNotBefore(pemData []byte) time.Time {
	block, _ := pem.Decode(pemData)
	if block == nil {
		return time.Time{}
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return time.Time{}
	}
	return cert.NotBefore
}
