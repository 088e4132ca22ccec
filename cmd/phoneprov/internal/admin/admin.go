// Package admin is the appliance's management listener: Prometheus metrics
// and health checks, loopback-only by default.
package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config is the [admin] section.
type Config struct {
	// Listen is host:port; empty switches the listener off.
	Listen string `toml:"listen"`
}

// DefaultConfig listens on loopback only.
func DefaultConfig() Config { return Config{Listen: "127.0.0.1:9167"} }

// Validate reports problems keyed relative to [admin].
func (c Config) Validate(report func(key string, err error)) {
	if c.Listen == "" {
		return
	}
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		report("listen", fmt.Errorf("%q is not host:port", c.Listen))
		return
	}
	if host == "" || net.ParseIP(host) == nil {
		report("listen", fmt.Errorf("%q: give an IP address (127.0.0.1 keeps it on this box)", c.Listen))
	}
}

// Server is the admin HTTP listener.
type Server struct {
	ln  net.Listener
	srv *http.Server
	log *slog.Logger
}

// Bind opens the listener; it is a no-op when the listener is switched off.
// routes are further handlers by ServeMux pattern, such as "GET /api/phones".
func Bind(c Config, gatherer prometheus.Gatherer, log *slog.Logger, routes map[string]http.Handler) (*Server, error) {
	if c.Listen == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return nil, fmt.Errorf("admin: cannot listen on %s: %w (fix admin.listen, or set it to \"\" to switch it off)", c.Listen, err)
	}
	mux := http.NewServeMux()
	for pattern, h := range routes {
		mux.Handle(pattern, h)
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	// Profiles for diagnosing a slow appliance; the listener is loopback by default.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	return &Server{ln: ln, log: log, srv: &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       time.Minute,
	}}, nil
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve runs until ctx is done.
func (s *Server) Serve(ctx context.Context) error {
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		s.srv.Shutdown(shutdownCtx)
	}()
	s.log.Info("admin listener ready", "listen", s.ln.Addr().String())
	if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("admin: %w", err)
	}
	return nil
}
