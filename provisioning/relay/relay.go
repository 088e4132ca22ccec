package relay

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoneprov/phoneprov/fileserve"
	"github.com/phoneprov/phoneprov/internal/configcheck"
	"github.com/phoneprov/phoneprov/internal/obs"
)

// Options are what a Relay is wired to; CacheDir is required.
type Options struct {
	CacheDir string // <data_dir>/cache; created when missing
	Logger   *slog.Logger
	Registry prometheus.Registerer
	// Now is the clock for freshness and negative caching; time.Now when nil.
	// Network timeouts always use the real clock.
	Now func() time.Time
}

// Relay fetches names no other source has from the upstream servers, once,
// keeps them in the cache folder, and serves them from there: a TFTP-only
// phone can so get a file that lives on a central HTTPS server.
//
// Freshness: a cached file is served without asking the upstream for
// Config.FreshFor; after that the next request revalidates it with a
// conditional request (If-None-Match / If-Modified-Since). A request waits
// for the revalidation at most Config.RevalidateWait, then gets the cached
// copy. When the upstream fails or cannot be reached, the cached copy is
// served for up to Config.ServeStaleFor past its freshness; when it answers
// 404 or 410 the copy is deleted. A name no upstream has, or a fetch that
// failed, is remembered for Config.NegativeFor so a storm of phones does not
// become a storm of upstream requests.
//
// Concurrent requests for one name wait on the same fetch, then each opens
// the cache file for itself. A download is written to a temporary file,
// checked against Content-Length and the size limit, synced and renamed
// into place; nothing partial is ever served, and a file being served stays
// intact when a newer copy replaces it.
type Relay struct {
	cfg       Config
	upstreams []*url.URL
	client    *http.Client
	transport *http.Transport
	cache     *diskCache
	log       *slog.Logger
	metrics   *metrics
	now       func() time.Time

	ctx    context.Context // ends at Close: cancels downloads in progress
	cancel context.CancelFunc
	slots  chan struct{} // one token per download allowed to run

	mu      sync.Mutex
	entries map[string]*entry

	refreshes flightGroup[refreshResult]
}

// entry is what the relay knows of one name.
type entry struct {
	meta        *meta     // nil: nothing cached
	validated   time.Time // when the upstream last confirmed meta
	absentUntil time.Time // no upstream has it; do not ask before
	failedUntil time.Time // the last fetch failed; do not ask before
}

// maxEntries bounds the names remembered without a cached file (negative
// entries); names with a file are bounded by the upstream's content.
const maxEntries = 10000

// New opens the cache folder, removes downloads a crash left behind,
// prepares the HTTP client and registers the metrics. A relay with no
// upstream configured answers not-found to everything.
func New(cfg Config, opts Options) (*Relay, error) {
	if err := configcheck.Check("relay", cfg.Validate); err != nil {
		return nil, err
	}
	if opts.CacheDir == "" {
		return nil, errors.New("relay: no cache folder given")
	}
	opts.Logger = obs.Logger(opts.Logger)
	opts.Registry = obs.Registry(opts.Registry)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Relay{cfg: cfg, log: opts.Logger, now: opts.Now, entries: map[string]*entry{},
		slots: make(chan struct{}, cfg.MaxParallelFetches)}
	for _, raw := range cfg.Upstreams {
		u, err := parseUpstream(raw)
		if err != nil {
			return nil, fmt.Errorf("relay: upstream: %w", err)
		}
		r.upstreams = append(r.upstreams, u)
	}
	var err error
	if r.transport, err = newTransport(cfg); err != nil {
		return nil, err
	}
	r.client = &http.Client{Transport: r.transport, CheckRedirect: checkRedirect}
	if r.cache, err = openDiskCache(opts.CacheDir); err != nil {
		return nil, err
	}
	if n, err := r.cache.removeLeftovers(); err != nil {
		r.cache.close()
		return nil, err
	} else if n > 0 {
		r.log.Info("removed interrupted relay downloads", "files", n, "dir", opts.CacheDir)
	}
	if r.metrics, err = newMetrics(opts.Registry); err != nil {
		r.cache.close()
		return nil, err
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	return r, nil
}

func newTransport(cfg Config) (*http.Transport, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("relay: ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("relay: ca_file %s holds no PEM certificate", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	dialer := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   cfg.ConnectTimeout,
		ResponseHeaderTimeout: cfg.FetchTimeout,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   4,
		ForceAttemptHTTP2:     true,
		DisableCompression:    true, // Content-Length must describe the bytes stored
	}, nil
}

// checkRedirect follows at most five redirects, to http or https only.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("more than 5 redirects")
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return fmt.Errorf("redirect to %s refused", req.URL.Scheme)
	}
	return nil
}

// Close cancels downloads in progress, waits for them and releases the cache.
func (r *Relay) Close() error {
	r.cancel()
	r.refreshes.wait()
	r.transport.CloseIdleConnections()
	return r.cache.close()
}

// Object describes a file the relay serves.
type Object struct {
	Name      string
	Size      int64
	ModTime   time.Time // the upstream's Last-Modified, else when it was fetched
	ETag      string    // the upstream's validator, if it sent one
	Source    string    // the URL it came from, credentials removed
	FetchedAt time.Time
}

func (m *meta) object() Object {
	return Object{Name: m.Name, Size: m.Size, ModTime: m.modTime(), ETag: m.ETag, Source: m.Source, FetchedAt: m.FetchedAt}
}

// Generate implements fileserve.Generator: it returns the upstream's file,
// fetched or revalidated as needed, as the open cache file
// (fileserve.Generated.File), which the file server serves with sendfile
// and closes; or fileserve.ErrNotFound. Nothing is read into memory.
func (r *Relay) Generate(ctx context.Context, name string, _ fileserve.Client) (*fileserve.Generated, error) {
	f, obj, err := r.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return &fileserve.Generated{Name: obj.Name, File: f, ModTime: obj.ModTime}, nil
}

// Open returns name's cached file, fetched or revalidated as needed, open
// for reading, and what the relay knows of it; or fileserve.ErrNotFound.
// The caller closes the file. The file stays readable as it was even if a
// newer copy is installed meanwhile (installs rename a new file into place).
func (r *Relay) Open(ctx context.Context, name string) (*os.File, Object, error) {
	m, err := r.resolve(ctx, name)
	if err != nil {
		return nil, Object{}, err
	}
	f, cur, err := r.openCurrent(m.Name)
	if err != nil {
		return nil, Object{}, err
	}
	return f, cur.object(), nil
}

// openCurrent opens the file the relay currently holds for name; the
// lock keeps an install from slipping between the lookup and the open.
func (r *Relay) openCurrent(name string) (*os.File, *meta, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[name]
	if e == nil || e.meta == nil {
		return nil, nil, fileserve.ErrNotFound
	}
	f, err := r.cache.open(name, e.meta)
	if err != nil {
		r.log.Warn("relay cache file changed behind our back; it will be fetched again", "name", name, "err", err)
		e.meta = nil
		return nil, nil, fileserve.ErrNotFound
	}
	return f, e.meta, nil
}

// resolve returns the meta of a cached, current enough copy of name,
// fetching or revalidating it first when needed, or fileserve.ErrNotFound.
func (r *Relay) resolve(ctx context.Context, raw string) (*meta, error) {
	if len(r.upstreams) == 0 {
		return nil, fileserve.ErrNotFound
	}
	// Never build a URL from an unclean name: no "..", no hidden or empty
	// segments, no drive letters, no NUL.
	name, err := fileserve.CleanName(raw)
	if err != nil {
		r.log.Debug("relay refused a name", "name", raw, "err", err)
		return nil, fileserve.ErrNotFound
	}
	if err := r.loadEntry(name); err != nil {
		r.log.Warn("relay cache unreadable; asking the upstream", "name", name, "err", err)
	}
	now := r.now()
	r.mu.Lock()
	e := r.entries[name]
	var held *meta
	var validated, absentUntil, failedUntil time.Time
	if e != nil {
		held, validated, absentUntil, failedUntil = e.meta, e.validated, e.absentUntil, e.failedUntil
	}
	r.mu.Unlock()

	switch {
	case held != nil && now.Sub(validated) < r.cfg.FreshFor:
		r.metrics.hits.Inc()
		return held, nil
	case held == nil && now.Before(absentUntil):
		r.metrics.negativeHits.Inc()
		return nil, fileserve.ErrNotFound
	case now.Before(failedUntil):
		if r.staleAllowed(held, validated, now) {
			r.metrics.staleHits.Inc()
			return held, nil
		}
		r.metrics.negativeHits.Inc()
		return nil, fileserve.ErrNotFound
	}

	fl := r.refreshes.do(name, func() refreshResult { return r.refresh(name) })
	if held != nil && r.staleAllowed(held, validated, now) {
		timer := time.NewTimer(r.cfg.RevalidateWait)
		defer timer.Stop()
		select {
		case <-fl.done:
		case <-timer.C:
			r.metrics.staleHits.Inc()
			r.log.Info("relay revalidation slow; serving the cached copy meanwhile", "name", name)
			return held, nil
		case <-ctx.Done():
			return nil, fileserve.ErrNotFound
		}
	} else {
		select {
		case <-fl.done:
		case <-ctx.Done():
			return nil, fileserve.ErrNotFound
		}
	}
	res := fl.result
	switch res.outcome {
	case fetchNotModified:
		r.metrics.hits.Inc()
		return res.meta, nil
	case fetchFetched:
		r.metrics.misses.Inc()
		return res.meta, nil
	case fetchAbsent:
		r.metrics.misses.Inc()
		return nil, fileserve.ErrNotFound
	}
	if r.staleAllowed(held, validated, now) {
		r.metrics.staleHits.Inc()
		return held, nil
	}
	r.metrics.misses.Inc()
	return nil, fileserve.ErrNotFound
}

// staleAllowed reports whether held, last confirmed at validated, may be
// served without confirmation at now.
func (r *Relay) staleAllowed(held *meta, validated, now time.Time) bool {
	return held != nil && r.cfg.ServeStaleFor > 0 && now.Sub(validated) < r.cfg.FreshFor+r.cfg.ServeStaleFor
}

// loadEntry reads name's meta from disk the first time the name is asked
// for, so the cache survives a restart.
func (r *Relay) loadEntry(name string) error {
	r.mu.Lock()
	_, known := r.entries[name]
	r.mu.Unlock()
	if known {
		return nil
	}
	m, err := r.cache.load(name)
	e := &entry{meta: m}
	if m != nil {
		e.validated = m.FetchedAt
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, known := r.entries[name]; !known {
		r.trimLocked()
		r.entries[name] = e
	}
	return err
}

// trimLocked keeps the entries without a cached file under maxEntries:
// expired ones go first, then all of them.
func (r *Relay) trimLocked() {
	if len(r.entries) < maxEntries {
		return
	}
	now := r.now()
	for name, e := range r.entries {
		if e.meta == nil && !now.Before(e.absentUntil) && !now.Before(e.failedUntil) {
			delete(r.entries, name)
		}
	}
	if len(r.entries) < maxEntries {
		return
	}
	for name, e := range r.entries {
		if e.meta == nil {
			delete(r.entries, name)
		}
	}
}
