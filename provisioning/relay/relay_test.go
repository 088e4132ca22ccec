package relay

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pin/tftp/v3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoneprov/phoneprov/fileserve"

	"github.com/phoneprov/phoneprov/internal/durable"

	"github.com/phoneprov/phoneprov/internal/syncbuf"
)

// fakeClock drives freshness and negative caching in tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// upstream is a loopback HTTP server whose answers a test changes as it goes.
type upstream struct {
	*httptest.Server
	mu       sync.Mutex
	files    map[string]string // path below /fw/ → body
	etags    map[string]string
	handler  http.HandlerFunc // when set, answers instead of files
	requests []*http.Request
	gets     atomic.Int64
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{files: map[string]string{}, etags: map[string]string{}}
	u.Server = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) serve(w http.ResponseWriter, r *http.Request) {
	u.gets.Add(1)
	u.mu.Lock()
	u.requests = append(u.requests, r.Clone(context.Background()))
	h := u.handler
	name := strings.TrimPrefix(r.URL.Path, "/fw/")
	body, ok := u.files[name]
	etag := u.etags[name]
	u.mu.Unlock()
	if h != nil {
		h(w, r)
		return
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	if etag == "" {
		sum := sha256.Sum256([]byte(body))
		etag = `"` + hex.EncodeToString(sum[:6]) + `"`
	}
	w.Header().Set("ETag", etag)
	w.Header().Set("Last-Modified", "Sun, 01 Mar 2026 07:00:00 GMT")
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	io.WriteString(w, body)
}

func (u *upstream) set(name, body string) {
	u.mu.Lock()
	u.files[name] = body
	u.mu.Unlock()
}

func (u *upstream) setHandler(h http.HandlerFunc) {
	u.mu.Lock()
	u.handler = h
	u.mu.Unlock()
}

func (u *upstream) seen() []*http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]*http.Request(nil), u.requests...)
}

type testRelay struct {
	*Relay
	dir   string
	clock *fakeClock
	reg   *prometheus.Registry
	logs  *syncbuf.Buffer
}

func newTestRelay(t *testing.T, up *upstream, mutate func(*Config)) *testRelay {
	t.Helper()
	return openTestRelay(t, filepath.Join(t.TempDir(), "cache"), newFakeClock(), up, mutate)
}

func openTestRelay(t *testing.T, dir string, clock *fakeClock, up *upstream, mutate func(*Config)) *testRelay {
	t.Helper()
	cfg := DefaultConfig()
	if up != nil {
		cfg.Upstreams = []string{up.URL + "/fw"}
	}
	cfg.RevalidateWait = 5 * time.Second
	cfg.FetchTimeout = 5 * time.Second
	if mutate != nil {
		mutate(&cfg)
	}
	logs := &syncbuf.Buffer{}
	reg := prometheus.NewRegistry()
	r, err := New(cfg, Options{CacheDir: dir, Now: clock.Now, Registry: reg,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return &testRelay{Relay: r, dir: dir, clock: clock, reg: reg, logs: logs}
}

func (tr *testRelay) get(t *testing.T, name string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	g, err := tr.Generate(ctx, name, fileserve.Client{Protocol: "tftp"})
	if err != nil {
		return "", err
	}
	return readGenerated(t, g), nil
}

// readGenerated reads and closes what Generate returned, which must be an
// open file, not contents in memory.
func readGenerated(t *testing.T, g *fileserve.Generated) string {
	t.Helper()
	if g.File == nil || g.Data != nil {
		t.Fatalf("Generate(%s) returned no file (data %d bytes)", g.Name, len(g.Data))
	}
	defer g.File.Close()
	b, err := io.ReadAll(g.File)
	if err != nil {
		t.Fatalf("read %s: %v", g.Name, err)
	}
	return string(b)
}

// openFDs lists this process's open descriptors: all of them, and those
// naming a file under dir.
func openFDs(t *testing.T, dir string) (all int, under []string) {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open files: %v", err)
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil {
			continue // the descriptor ReadDir itself used, closed by now
		}
		all++
		if strings.HasPrefix(target, dir+string(filepath.Separator)) {
			under = append(under, target)
		}
	}
	return all, under
}

// waitNoCacheFDs fails unless every cache file is closed within a few seconds
// (a file server closes its file once the response has gone out).
func waitNoCacheFDs(t *testing.T, dir string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, open := openFDs(t, dir)
		if len(open) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cache files left open: %v", open)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (tr *testRelay) mustGet(t *testing.T, name, want string) {
	t.Helper()
	got, err := tr.get(t, name)
	if err != nil || got != want {
		t.Fatalf("Generate(%s) = %.40q, %v; want %.40q", name, got, err, want)
	}
}

func (tr *testRelay) mustMiss(t *testing.T, name string) {
	t.Helper()
	if got, err := tr.get(t, name); !errors.Is(err, fileserve.ErrNotFound) {
		t.Fatalf("Generate(%s) = %.40q, %v; want not found", name, got, err)
	}
}

func (tr *testRelay) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := tr.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(labels) == 2 {
				match := false
				for _, lp := range m.GetLabel() {
					match = match || lp.GetName() == labels[0] && lp.GetValue() == labels[1]
				}
				if !match {
					continue
				}
			}
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			return m.Gauge.GetValue()
		}
	}
	t.Fatalf("no series %s %v", name, labels)
	return 0
}

// cachedFiles lists every file in the cache folder, hidden ones included.
func cachedFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

func TestValidateReportsEachProblem(t *testing.T) {
	c := DefaultConfig()
	c.Upstreams = []string{"ftp://x/", "https://", "http://198.18.0.1/fw?x=1", "http://198.18.0.1/fw", "http://198.18.0.1/fw/", "::"}
	c.FreshFor = 0
	c.NegativeFor = -time.Second
	c.ServeStaleFor = -1
	c.MaxFileBytes = 0
	got := map[string]bool{}
	c.Validate(func(key string, err error) { got[key] = true })
	for _, k := range []string{"upstreams[0]", "upstreams[1]", "upstreams[2]", "upstreams[4]", "upstreams[5]",
		"fresh_for", "negative_for", "serve_stale_for", "max_file_bytes"} {
		if !got[k] {
			t.Errorf("no problem reported for %s (got %v)", k, got)
		}
	}
	if got["upstreams[3]"] {
		t.Error("a good upstream was reported")
	}
}

func TestDisabledRelayFindsNothing(t *testing.T) {
	tr := newTestRelay(t, nil, nil)
	tr.mustMiss(t, "46xxsettings.txt")
}

func TestFetchOnceThenServeFromCache(t *testing.T) {
	up := newUpstream(t)
	up.set("S96x1_SALBR7_1_15_0_4_r.tar", "firmware image")
	tr := newTestRelay(t, up, nil)
	tr.mustGet(t, "S96x1_SALBR7_1_15_0_4_r.tar", "firmware image")
	tr.mustGet(t, "/S96x1_SALBR7_1_15_0_4_r.tar", "firmware image")
	tr.mustGet(t, "S96x1_SALBR7_1_15_0_4_r.tar", "firmware image")
	if n := up.gets.Load(); n != 1 {
		t.Fatalf("upstream asked %d times, want 1", n)
	}
	if got := tr.metric(t, "phoneprov_relay_misses_total"); got != 1 {
		t.Errorf("misses = %v", got)
	}
	if got := tr.metric(t, "phoneprov_relay_hits_total"); got != 2 {
		t.Errorf("hits = %v", got)
	}
	if got := tr.metric(t, "phoneprov_relay_fetched_bytes_total"); got != float64(len("firmware image")) {
		t.Errorf("bytes = %v", got)
	}
	if got := tr.metric(t, "phoneprov_relay_fetches_total", "result", "fetched"); got != 1 {
		t.Errorf("fetches{fetched} = %v", got)
	}
	f, obj, err := tr.Open(context.Background(), "S96x1_SALBR7_1_15_0_4_r.tar")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if obj.Size != 14 || obj.ETag == "" || !strings.HasPrefix(obj.Source, up.URL) ||
		!obj.ModTime.Equal(time.Date(2026, 3, 1, 7, 0, 0, 0, time.UTC)) {
		t.Errorf("object = %+v", obj)
	}
}

func TestConcurrentRequestsShareOneFetch(t *testing.T) {
	up := newUpstream(t)
	release := make(chan struct{})
	body := strings.Repeat("J179 firmware ", 50000)
	up.setHandler(func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		io.WriteString(w, body)
	})
	tr := newTestRelay(t, up, nil)
	const phones = 40
	var wg sync.WaitGroup
	results := make(chan error, phones)
	for range phones {
		wg.Go(func() {
			got, err := tr.get(t, "FW_S_J179_R4_1_3_0_6.bin")
			if err == nil && got != body {
				err = fmt.Errorf("got %d bytes", len(got))
			}
			results <- err
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for up.gets.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // let every phone join the wait
	close(release)
	wg.Wait()
	close(results)
	for err := range results {
		if err != nil {
			t.Error(err)
		}
	}
	if n := up.gets.Load(); n != 1 {
		t.Fatalf("%d phones caused %d upstream requests, want 1", phones, n)
	}
	waitNoCacheFDs(t, tr.dir)
}

func TestCacheSurvivesRestart(t *testing.T) {
	up := newUpstream(t)
	up.set("46xxsettings.txt", "SET GROUP 1\n")
	dir := filepath.Join(t.TempDir(), "cache")
	clock := newFakeClock()
	first := openTestRelay(t, dir, clock, up, nil)
	first.mustGet(t, "46xxsettings.txt", "SET GROUP 1\n")
	first.Close()
	up.Close() // the upstream is gone from now on

	second := openTestRelay(t, dir, clock, up, nil)
	second.mustGet(t, "46xxsettings.txt", "SET GROUP 1\n")
	if got := second.metric(t, "phoneprov_relay_hits_total"); got != 1 {
		t.Errorf("hits after restart = %v", got)
	}
	// Past its freshness, with the upstream down: the stale copy is served.
	clock.Advance(time.Hour)
	second.mustGet(t, "46xxsettings.txt", "SET GROUP 1\n")
	if got := second.metric(t, "phoneprov_relay_stale_hits_total"); got != 1 {
		t.Errorf("stale hits = %v", got)
	}
	if !strings.Contains(second.logs.String(), "relay upstream failed; serving the cached copy") {
		t.Errorf("no clear log line for the failing upstream:\n%s", second.logs)
	}
	second.Close()

	// A relay that never serves stale copies answers not found instead.
	third := openTestRelay(t, dir, clock, up, func(c *Config) { c.ServeStaleFor = 0 })
	third.mustMiss(t, "46xxsettings.txt")
}

func TestRevalidation(t *testing.T) {
	up := newUpstream(t)
	up.set("96x1Supgrade.txt", "version 1")
	tr := newTestRelay(t, up, nil)
	tr.mustGet(t, "96x1Supgrade.txt", "version 1")

	tr.clock.Advance(4 * time.Minute) // still fresh
	tr.mustGet(t, "96x1Supgrade.txt", "version 1")
	if n := up.gets.Load(); n != 1 {
		t.Fatalf("asked upstream %d times within freshness", n)
	}

	tr.clock.Advance(2 * time.Minute) // stale: revalidate, unchanged
	tr.mustGet(t, "96x1Supgrade.txt", "version 1")
	reqs := up.seen()
	if len(reqs) != 2 || reqs[1].Header.Get("If-None-Match") == "" || reqs[1].Header.Get("If-Modified-Since") == "" {
		t.Fatalf("revalidation was not a conditional request: %d requests, %v", len(reqs), reqs[len(reqs)-1].Header)
	}
	if got := tr.metric(t, "phoneprov_relay_fetches_total", "result", "not_modified"); got != 1 {
		t.Errorf("fetches{not_modified} = %v", got)
	}
	tr.mustGet(t, "96x1Supgrade.txt", "version 1") // fresh again after the 304
	if n := up.gets.Load(); n != 2 {
		t.Fatalf("a 304 did not renew freshness: %d requests", n)
	}

	up.set("96x1Supgrade.txt", "version 2 (new ETag)")
	tr.clock.Advance(6 * time.Minute)
	tr.mustGet(t, "96x1Supgrade.txt", "version 2 (new ETag)")
	tr.mustGet(t, "96x1Supgrade.txt", "version 2 (new ETag)")
	if n := up.gets.Load(); n != 3 {
		t.Fatalf("upstream asked %d times, want 3", n)
	}
}

func TestSlowRevalidationServesCachedCopy(t *testing.T) {
	up := newUpstream(t)
	up.set("a.bin", "cached")
	tr := newTestRelay(t, up, func(c *Config) { c.RevalidateWait = 100 * time.Millisecond })
	tr.mustGet(t, "a.bin", "cached")
	release := make(chan struct{})
	up.setHandler(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusNotModified)
	})
	defer close(release)
	tr.clock.Advance(10 * time.Minute)
	start := time.Now()
	tr.mustGet(t, "a.bin", "cached")
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("waited %s for a slow revalidation", d)
	}
	if got := tr.metric(t, "phoneprov_relay_stale_hits_total"); got != 1 {
		t.Errorf("stale hits = %v", got)
	}
}

func TestNegativeCacheExpires(t *testing.T) {
	up := newUpstream(t)
	tr := newTestRelay(t, up, nil)
	tr.mustMiss(t, "J100Supgrade.txt")
	tr.mustMiss(t, "J100Supgrade.txt")
	if n := up.gets.Load(); n != 1 {
		t.Fatalf("upstream asked %d times within the negative time", n)
	}
	if got := tr.metric(t, "phoneprov_relay_negative_hits_total"); got != 1 {
		t.Errorf("negative hits = %v", got)
	}
	up.set("J100Supgrade.txt", "now here")
	tr.clock.Advance(29 * time.Second)
	tr.mustMiss(t, "J100Supgrade.txt")
	tr.clock.Advance(2 * time.Second)
	tr.mustGet(t, "J100Supgrade.txt", "now here")
	if n := up.gets.Load(); n != 2 {
		t.Fatalf("upstream asked %d times, want 2", n)
	}
}

func TestWithdrawnFileIsRemoved(t *testing.T) {
	up := newUpstream(t)
	up.set("old.bin", "old")
	tr := newTestRelay(t, up, nil)
	tr.mustGet(t, "old.bin", "old")
	up.mu.Lock()
	delete(up.files, "old.bin")
	up.mu.Unlock()
	tr.clock.Advance(time.Hour)
	tr.mustMiss(t, "old.bin")
	if files := cachedFiles(t, tr.dir); len(files) != 0 {
		t.Fatalf("withdrawn file still cached: %v", files)
	}
}

// rawResponse hijacks the connection and writes head and body as given,
// then closes it; reset makes the close a TCP RST.
func rawResponse(head, body string, reset bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		buf.WriteString(head + body)
		buf.Flush()
		if reset {
			conn.(*net.TCPConn).SetLinger(0)
		}
		conn.Close()
	}
}

func TestUpstreamFailuresLeaveNothingPartial(t *testing.T) {
	for _, c := range []struct {
		name    string
		handler http.HandlerFunc
		reason  string
		mutate  func(*Config)
	}{
		{"500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) }, errStatus, nil},
		{"connection reset before a response", rawResponse("", "", true), errNetwork, nil},
		{"connection reset mid-body",
			rawResponse("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", strings.Repeat("x", 5000), true), errTruncated, nil},
		{"body shorter than Content-Length",
			rawResponse("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", strings.Repeat("x", 500), false), errTruncated, nil},
		{"announced too large", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "2048")
			w.Write(make([]byte, 2048))
		}, errTooLarge, func(c *Config) { c.MaxFileBytes = 1024 }},
		{"chunked too large", func(w http.ResponseWriter, r *http.Request) {
			for range 4 {
				w.Write(make([]byte, 512))
				w.(http.Flusher).Flush()
			}
		}, errTooLarge, func(c *Config) { c.MaxFileBytes = 1024 }},
		{"no response in time", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, errTimeout, func(c *Config) { c.FetchTimeout = 300 * time.Millisecond }},
		{"body stalls", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100000")
			w.Write(make([]byte, 1000))
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, errTimeout, func(c *Config) { c.FetchTimeout = 300 * time.Millisecond }},
	} {
		t.Run(c.name, func(t *testing.T) {
			up := newUpstream(t)
			up.setHandler(c.handler)
			tr := newTestRelay(t, up, c.mutate)
			start := time.Now()
			tr.mustMiss(t, "96x1Hupgrade.txt")
			if d := time.Since(start); d > 4*time.Second {
				t.Errorf("took %s", d)
			}
			if got := tr.metric(t, "phoneprov_relay_errors_total", "reason", c.reason); got != 1 {
				t.Errorf("errors{%s} = %v\n%s", c.reason, got, tr.logs)
			}
			if files := cachedFiles(t, tr.dir); len(files) != 0 {
				t.Errorf("cache holds %v after a failed fetch", files)
			}
			if !strings.Contains(tr.logs.String(), "relay upstream failed; answering not found") {
				t.Errorf("no clear log line:\n%s", tr.logs)
			}
			// The failure is remembered: no second request within NegativeFor.
			tr.mustMiss(t, "96x1Hupgrade.txt")
			if n := up.gets.Load(); n != 1 {
				t.Errorf("upstream asked %d times", n)
			}
		})
	}
}

func TestUncleanNamesAreNeverFetched(t *testing.T) {
	up := newUpstream(t)
	tr := newTestRelay(t, up, nil)
	for _, name := range []string{"../etc/passwd", "a/../../etc/passwd", "..\\..\\boot.ini", ".hidden",
		"a/.git/config", "C:/autoexec.bat", "nul\x00byte", "", "/", strings.Repeat("a", 2000)} {
		tr.mustMiss(t, name)
	}
	if reqs := up.seen(); len(reqs) != 0 {
		t.Fatalf("the upstream was asked for %s", reqs[0].URL.Path)
	}
	// Odd but clean names are escaped, never reinterpreted.
	odd := "lang/Español file #1?.txt"
	up.set(odd, "hola")
	tr.mustGet(t, odd, "hola")
	if reqs := up.seen(); len(reqs) != 1 || reqs[0].URL.Path != "/fw/"+odd || reqs[0].URL.RawQuery != "" {
		t.Fatalf("requests: %v", reqs[0].URL)
	}
	if _, err := os.Stat(filepath.Join(tr.dir, "lang", "Español file #1?.txt")); err != nil {
		t.Fatalf("not cached under its name: %v", err)
	}
}

func TestUpstreamsTriedInOrder(t *testing.T) {
	first, second := newUpstream(t), newUpstream(t)
	second.set("only-second.bin", "from second")
	first.set("both.bin", "from first")
	second.set("both.bin", "from second")
	tr := newTestRelay(t, nil, func(c *Config) { c.Upstreams = []string{first.URL + "/fw/", second.URL + "/fw"} })
	tr.mustGet(t, "both.bin", "from first")
	tr.mustGet(t, "only-second.bin", "from second")
	if n := second.gets.Load(); n != 1 {
		t.Fatalf("second upstream asked %d times", n)
	}
}

func TestPrivateCA(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "over TLS")
	}))
	defer srv.Close()
	untrusting := newTestRelay(t, nil, func(c *Config) { c.Upstreams = []string{srv.URL} })
	untrusting.mustMiss(t, "trusted.bin")
	if !strings.Contains(untrusting.logs.String(), "certificate") {
		t.Errorf("log does not say why:\n%s", untrusting.logs)
	}

	caFile := filepath.Join(t.TempDir(), "ca.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	trusting := newTestRelay(t, nil, func(c *Config) { c.Upstreams = []string{srv.URL}; c.CAFile = caFile })
	trusting.mustGet(t, "trusted.bin", "over TLS")

	os.WriteFile(caFile, []byte("not a certificate"), 0o600)
	if _, err := New(func() Config { c := DefaultConfig(); c.CAFile = caFile; return c }(),
		Options{CacheDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "ca_file") {
		t.Fatalf("bad CA file: %v", err)
	}
}

func TestGenerateReturnsTheCacheFile(t *testing.T) {
	up := newUpstream(t)
	image := strings.Repeat("96x1 firmware image block ", 200000) // 5 MB: served from disk, never held in memory
	up.set("S96x1_SALBR7_1_15_0_4_r.tar", image)
	tr := newTestRelay(t, up, nil)
	ctx := context.Background()

	g, err := tr.Generate(ctx, "/S96x1_SALBR7_1_15_0_4_r.tar", fileserve.Client{Protocol: "http"})
	if err != nil {
		t.Fatal(err)
	}
	if g.Name != "S96x1_SALBR7_1_15_0_4_r.tar" || !g.ModTime.Equal(time.Date(2026, 3, 1, 7, 0, 0, 0, time.UTC)) {
		t.Errorf("generated %q, modified %s", g.Name, g.ModTime)
	}
	if g.File == nil {
		t.Fatal("Generate returned no file")
	}
	if fi, err := g.File.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Size() != int64(len(image)) {
		t.Fatalf("generated file: %v, %v", fi, err)
	}
	if _, open := openFDs(t, tr.dir); len(open) != 1 || open[0] != filepath.Join(tr.dir, "S96x1_SALBR7_1_15_0_4_r.tar") {
		t.Errorf("open cache files while one is held: %v", open)
	}
	if got := readGenerated(t, g); got != image {
		t.Fatalf("content: %d bytes, want %d", len(got), len(image))
	}
	if _, open := openFDs(t, tr.dir); len(open) != 0 {
		t.Fatalf("cache files open after closing: %v", open)
	}

	// Cache hits open a descriptor each and leave none behind.
	before, _ := openFDs(t, tr.dir)
	for range 20 {
		tr.mustGet(t, "S96x1_SALBR7_1_15_0_4_r.tar", image)
	}
	if after, open := openFDs(t, tr.dir); after != before || len(open) != 0 {
		t.Errorf("open descriptors %d before, %d after 20 requests; cache files %v", before, after, open)
	}
	if n := up.gets.Load(); n != 1 {
		t.Errorf("upstream asked %d times", n)
	}

	// A file served while a newer copy replaces it stays what it was.
	held, err := tr.Generate(ctx, "S96x1_SALBR7_1_15_0_4_r.tar", fileserve.Client{})
	if err != nil {
		t.Fatal(err)
	}
	up.set("S96x1_SALBR7_1_15_0_4_r.tar", "rebuilt image")
	tr.clock.Advance(time.Hour)
	tr.mustGet(t, "S96x1_SALBR7_1_15_0_4_r.tar", "rebuilt image")
	if got := readGenerated(t, held); got != image {
		t.Errorf("the copy being served changed under it: %.20q…", got)
	}

	// Not found, and a cache file changed behind the relay's back: errors, nothing open.
	tr.mustMiss(t, "absent.bin")
	if err := os.WriteFile(filepath.Join(tr.dir, "S96x1_SALBR7_1_15_0_4_r.tar"), []byte("tampered"), 0o640); err != nil {
		t.Fatal(err)
	}
	tr.mustMiss(t, "S96x1_SALBR7_1_15_0_4_r.tar")
	if _, open := openFDs(t, tr.dir); len(open) != 0 {
		t.Errorf("cache files open after failed requests: %v", open)
	}
	tr.mustGet(t, "S96x1_SALBR7_1_15_0_4_r.tar", "rebuilt image") // fetched again
}

func TestDamagedCacheIsFetchedAgain(t *testing.T) {
	up := newUpstream(t)
	up.set("fw.bin", "good copy")
	dir := filepath.Join(t.TempDir(), "cache")
	clock := newFakeClock()
	first := openTestRelay(t, dir, clock, up, nil)
	first.mustGet(t, "fw.bin", "good copy")
	first.Close()
	// As if the box died between renaming the meta and the data into place:
	// the data file is not the one the meta describes.
	if err := os.WriteFile(filepath.Join(dir, "fw.bin"), []byte("old  copy"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, durable.TempPrefix+"fw.bin-0011"), []byte("partial"), 0o640); err != nil {
		t.Fatal(err)
	}
	second := openTestRelay(t, dir, clock, up, nil)
	if _, err := os.Stat(filepath.Join(dir, durable.TempPrefix+"fw.bin-0011")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("leftover download not removed at start: %v", err)
	}
	second.mustGet(t, "fw.bin", "good copy")
	if n := up.gets.Load(); n != 2 {
		t.Fatalf("upstream asked %d times, want 2 (the damaged copy must be fetched again)", n)
	}
}

func TestServedOverHTTPAndTFTPThroughTheFileServer(t *testing.T) {
	up := newUpstream(t)
	body := strings.Repeat("4600 firmware block ", 3000)
	up.set("a46xxua2_8_3.bin", body)
	tr := newTestRelay(t, up, nil)

	root := t.TempDir()
	files := filepath.Join(root, "files")
	os.Mkdir(files, 0o755)
	os.WriteFile(filepath.Join(files, "46xxsettings.txt"), []byte("operator"), 0o644)
	cfg := fileserve.DefaultConfig()
	cfg.HTTP.Listen = []string{"127.0.0.1:0"}
	cfg.HTTPS.Enabled = false
	cfg.TFTP.Listen = []string{"127.0.0.1:0"}
	srv, err := fileserve.New(context.Background(), cfg, fileserve.Options{
		FilesDir: files, TLSDir: filepath.Join(root, "tls"), Generator: tr.Relay, Registry: prometheus.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Bind(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	defer func() { cancel(); <-done }()

	got, err := tftpGet(srv.Addrs()["tftp"][0].String(), "a46xxua2_8_3.bin")
	if err != nil || got != body {
		t.Fatalf("TFTP get: %d bytes, %v", len(got), err)
	}
	resp, err := http.Get("http://" + srv.Addrs()["http"][0].String() + "/a46xxua2_8_3.bin")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != body {
		t.Fatalf("HTTP get: %d, %d bytes", resp.StatusCode, len(b))
	}
	// The ETag comes from the cache file's stat and validates a repeat request.
	etag := resp.Header.Get("ETag")
	req, _ := http.NewRequest(http.MethodGet, "http://"+srv.Addrs()["http"][0].String()+"/a46xxua2_8_3.bin", nil)
	req.Header.Set("If-None-Match", etag)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if etag == "" || resp.StatusCode != http.StatusNotModified {
		t.Fatalf("conditional get with ETag %s: %d", etag, resp.StatusCode)
	}
	// The operator's file wins; the upstream is not asked for it.
	resp, err = http.Get("http://" + srv.Addrs()["http"][0].String() + "/46xxsettings.txt")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "operator" || up.gets.Load() != 1 {
		t.Fatalf("operator file: %q, upstream asked %d times", b, up.gets.Load())
	}
	// Both transfers closed the cache file they were given.
	waitNoCacheFDs(t, tr.dir)
}

// tftpGet downloads name with the pin/tftp client, as a TFTP-only phone would.
func tftpGet(addr, name string) (string, error) {
	c, err := tftp.NewClient(addr)
	if err != nil {
		return "", err
	}
	c.SetTimeout(2 * time.Second)
	c.SetRetries(3)
	wt, err := c.Receive(name, "octet")
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if _, err := wt.WriteTo(&b); err != nil {
		return "", err
	}
	return b.String(), nil
}

func TestParallelFetchesAreBounded(t *testing.T) {
	up := newUpstream(t)
	var inFlight, peak atomic.Int64
	up.setHandler(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
		inFlight.Add(-1)
		io.WriteString(w, "per-phone "+r.URL.Path)
	})
	tr := newTestRelay(t, up, func(c *Config) { c.MaxParallelFetches = 2 })
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			name := fmt.Sprintf("0004%08x.txt", i)
			if got, err := tr.get(t, name); err != nil || got != "per-phone /fw/"+name {
				t.Errorf("%s: %q, %v", name, got, err)
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p != 2 {
		t.Fatalf("peak parallel upstream requests = %d, want 2", p)
	}
}
