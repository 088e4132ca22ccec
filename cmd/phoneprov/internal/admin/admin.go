// Package admin is the appliance's management listener: Prometheus metrics,
// health and readiness checks, profiles, and whatever pages and JSON
// endpoints the appliance hands it. It is loopback-only by default; bound
// anywhere else it demands a token (see Config).
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

	"github.com/phoneprov/phoneprov/cmd/internal/config"
)

// Server is the admin HTTP listener.
type Server struct {
	ln  net.Listener
	srv *http.Server
	log *slog.Logger
}

// Bind opens the listener; it is a no-op when the listener is switched off.
// routes are further handlers by ServeMux pattern, such as "GET /api/phones";
// checks are what /readyz runs (with none, a bound listener is ready).
// With c.Token set, every path but /healthz and /readyz asks for it.
func Bind(c config.Admin, gatherer prometheus.Gatherer, log *slog.Logger, routes map[string]http.Handler, checks ...Check) (*Server, error) {
	if c.Listen == "" {
		return nil, nil
	}
	if err := validate(c); err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return nil, fmt.Errorf("admin: cannot listen on %s: %w (fix admin.listen, or set it to \"\" to switch it off)", c.Listen, err)
	}
	return &Server{ln: ln, log: log, srv: &http.Server{
		Handler:           Handler(c, gatherer, routes, checks...),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    16 << 10,
	}}, nil
}

// Handler is the listener's whole HTTP handler, without a socket: Bind
// serves it, and tests call it directly.
func Handler(c config.Admin, gatherer prometheus.Gatherer, routes map[string]http.Handler, checks ...Check) http.Handler {
	private := http.NewServeMux()
	for pattern, h := range routes {
		private.Handle(pattern, h)
	}
	private.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	// Profiles for diagnosing a slow appliance.
	private.HandleFunc("GET /debug/pprof/", pprof.Index)
	private.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	private.HandleFunc("GET /debug/pprof/trace", pprof.Trace)

	// Probes answer without the token: they tell a supervisor only whether
	// the appliance works.
	public := http.NewServeMux()
	public.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	public.Handle("GET /readyz", readiness(checks))
	public.Handle("/", newGuard(c, private))
	return public
}

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

// validate is c.Validate as one error, for Bind.
func validate(c config.Admin) error {
	var errs []error
	c.Validate(func(key string, err error) { errs = append(errs, fmt.Errorf("admin.%s: %w", key, err)) })
	return errors.Join(errs...)
}
