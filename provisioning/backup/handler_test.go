package backup

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoneprov/phoneprov/fileserve"
)

// serve starts a loopback HTTP server for s at /backup/, like the file
// server mounts it.
func serve(t *testing.T, s *Store) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	m := s.Mount()
	mux.Handle(m.Prefix, m.Handler)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, method, url string, body io.Reader, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHTTPRoundTrip(t *testing.T) {
	reg := prometheus.NewRegistry()
	dir := filepath.Join(t.TempDir(), "backup")
	s, err := New(DefaultConfig(), Options{Dir: dir, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv := serve(t, s)
	url := srv.URL + "/backup/1234_96xxdata.txt"
	ua := map[string]string{"User-Agent": "AVAYA/96x1-IPT-SIP-R7_1_15_0_4"}

	if code, _ := do(t, http.MethodGet, url, nil, ua); code != http.StatusNotFound {
		t.Fatalf("GET before PUT = %d", code)
	}
	if code, _ := do(t, http.MethodPut, url, strings.NewReader("SPEEDDIAL=1\n"), ua); code != http.StatusCreated {
		t.Fatalf("first PUT = %d", code)
	}
	if code, _ := do(t, http.MethodPut, url, strings.NewReader("SPEEDDIAL=2\n"), ua); code != http.StatusNoContent {
		t.Fatalf("second PUT = %d", code)
	}
	if code, body := do(t, http.MethodGet, url, nil, ua); code != http.StatusOK || body != "SPEEDDIAL=2\n" {
		t.Fatalf("GET = %d %q", code, body)
	}
	if code, body := do(t, http.MethodHead, url, nil, ua); code != http.StatusOK || body != "" {
		t.Fatalf("HEAD = %d %q", code, body)
	}
	if code, _ := do(t, http.MethodDelete, url, nil, ua); code != http.StatusNoContent {
		t.Fatalf("DELETE = %d", code)
	}
	if code, _ := do(t, http.MethodGet, url, nil, ua); code != http.StatusNotFound {
		t.Fatalf("GET after DELETE = %d", code)
	}
	if code, _ := do(t, http.MethodDelete, url, nil, ua); code != http.StatusNotFound {
		t.Fatalf("second DELETE = %d", code)
	}
	if code, _ := do(t, http.MethodPost, url, strings.NewReader("x"), ua); code != http.StatusMethodNotAllowed {
		t.Fatalf("POST = %d", code)
	}
	if code, _ := do(t, http.MethodGet, srv.URL+"/backup/", nil, ua); code != http.StatusNotFound {
		t.Fatalf("listing = %d", code)
	}

	for name, want := range map[string]float64{
		"phoneprov_backup_stored_total":         2,
		"phoneprov_backup_restored_total":       1,
		"phoneprov_backup_deleted_total":        1,
		"phoneprov_backup_received_bytes_total": 24,
		"phoneprov_backup_sent_bytes_total":     12,
		"phoneprov_backup_files":                0,
	} {
		if got := gather(t, reg, name, nil); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := gather(t, reg, "phoneprov_backup_refused_total", map[string]string{"reason": "method"}); got != 1 {
		t.Errorf("refused{method} = %v", got)
	}
}

func TestHTTPBadNames(t *testing.T) {
	s, dir := newTestStore(t, nil)
	srv := serve(t, s)
	for _, p := range []string{
		"/backup/..%2Fescape.txt",
		"/backup/..%2F..%2Fescape.txt",
		"/backup/.hidden",
		"/backup/sub/file.txt",
		"/backup/a%5Cb.txt",
		"/backup/a%00b.txt",
		"/backup/" + strings.Repeat("n", 129),
		"/backup/" + strings.Repeat("n", 300),
	} {
		code, _ := do(t, http.MethodPut, srv.URL+p, strings.NewReader("x"), nil)
		if code != http.StatusBadRequest {
			t.Errorf("PUT %s = %d, want 400", p, code)
		}
	}
	// Nothing was written anywhere, in the folder or beside it.
	var found []string
	filepath.WalkDir(filepath.Dir(dir), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			found = append(found, p)
		}
		return nil
	})
	if len(found) != 0 {
		t.Fatalf("files written: %v", found)
	}
}

func TestHTTPTooLarge(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, err := New(func() Config { c := DefaultConfig(); c.MaxBytes = 1000; return c }(),
		Options{Dir: filepath.Join(t.TempDir(), "b"), Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv := serve(t, s)
	url := srv.URL + "/backup/1234_96xxdata.txt"
	do(t, http.MethodPut, url, strings.NewReader("good"), nil)

	// Declared too large: refused before the body is read.
	if code, _ := do(t, http.MethodPut, url, bytes.NewReader(make([]byte, 5000)), nil); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("PUT with Content-Length 5000 = %d", code)
	}
	// Chunked, no length: refused once the limit is passed.
	chunked := io.MultiReader(strings.NewReader(strings.Repeat("z", 600)), strings.NewReader(strings.Repeat("z", 600)))
	if code, _ := do(t, http.MethodPut, url, struct{ io.Reader }{chunked}, nil); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked PUT of 1200 bytes = %d", code)
	}
	if code, body := do(t, http.MethodGet, url, nil, nil); code != http.StatusOK || body != "good" {
		t.Fatalf("GET after refused uploads = %d %q", code, body)
	}
	if got := gather(t, reg, "phoneprov_backup_refused_total", map[string]string{"reason": "too_large"}); got != 2 {
		t.Errorf("refused{too_large} = %v", got)
	}
}

func TestHTTPCredentials(t *testing.T) {
	s, _ := newTestStore(t, func(c *Config) {
		c.Users = []User{{Name: "198.18.0.10", Password: "1234pw"}, {Name: "198.18.0.10", Password: "5678pw"}}
	})
	srv := serve(t, s)
	url := srv.URL + "/backup/1234_96xxdata.txt"
	put := func(user, pass string, withAuth bool) int {
		req, _ := http.NewRequest(http.MethodPut, url, strings.NewReader("x"))
		if withAuth {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("401 without a Basic challenge")
		}
		return resp.StatusCode
	}
	for _, c := range []struct {
		user, pass string
		auth       bool
		want       int
	}{
		{"", "", false, http.StatusUnauthorized},
		{"198.18.0.10", "wrong", true, http.StatusUnauthorized},
		{"198.18.0.11", "1234pw", true, http.StatusUnauthorized},
		{"198.18.0.10", "", true, http.StatusUnauthorized},
		{"198.18.0.10", "1234pw", true, http.StatusCreated},
		{"198.18.0.10", "5678pw", true, http.StatusNoContent},
	} {
		if got := put(c.user, c.pass, c.auth); got != c.want {
			t.Errorf("PUT as %q/%q (auth %v) = %d, want %d", c.user, c.pass, c.auth, got, c.want)
		}
	}
}

func TestHTTPRequireTLSAndUserAgent(t *testing.T) {
	s, _ := newTestStore(t, func(c *Config) { c.RequireTLS = true; c.RequireAvayaUserAgent = true })
	mux := http.NewServeMux()
	mux.Handle("/backup/", s)
	plain := httptest.NewServer(mux)
	defer plain.Close()
	secure := httptest.NewTLSServer(mux)
	defer secure.Close()
	avaya := map[string]string{"User-Agent": "Mozilla/4.0 (compatible; MSIE 6.0) AVAYA/J179-4.1.3.0.6 (MAC:c81fea83e85a)"}

	if code, _ := do(t, http.MethodPut, plain.URL+"/backup/a.txt", strings.NewReader("x"), avaya); code != http.StatusForbidden {
		t.Fatalf("PUT over HTTP = %d, want 403", code)
	}
	client := secure.Client()
	send := func(hdr map[string]string) int {
		req, _ := http.NewRequest(http.MethodPut, secure.URL+"/backup/a.txt", strings.NewReader("x"))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send(map[string]string{"User-Agent": "curl/8"}); code != http.StatusForbidden {
		t.Fatalf("PUT over HTTPS as curl = %d, want 403", code)
	}
	if code := send(avaya); code != http.StatusCreated {
		t.Fatalf("PUT over HTTPS as a J179 = %d, want 201", code)
	}
}

func TestConcurrentPutsLeaveOneWholeBody(t *testing.T) {
	s, dir := newTestStore(t, nil)
	srv := serve(t, s)
	url := srv.URL + "/backup/1234_96xxdata.txt"
	const writers, size = 64, 64 << 10
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			body := bytes.Repeat([]byte{byte('A' + i%50)}, size)
			req, _ := http.NewRequest(http.MethodPut, url, bytes.NewReader(body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				errs <- fmt.Errorf("writer %d: status %d", i, resp.StatusCode)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	check := func(what, body string) {
		if len(body) != size || strings.Count(body, body[:1]) != size {
			t.Errorf("%s is not one whole upload: %d bytes, first %q", what, len(body), body[:min(len(body), 1)])
		}
	}
	check("current", current(t, s, "1234_96xxdata.txt"))
	for n := 1; n <= 3; n++ {
		check(fmt.Sprintf("version %d", n), version(t, s, "1234_96xxdata.txt", n))
	}
	assertNoTemp(t, dir)
}

func TestMountedInFileServer(t *testing.T) {
	s, _ := newTestStore(t, nil)
	root := t.TempDir()
	files := filepath.Join(root, "files")
	os.Mkdir(files, 0o755)
	cfg := fileserve.DefaultConfig()
	cfg.HTTP.Listen = []string{"127.0.0.1:0"}
	cfg.HTTPS.Enabled = false
	cfg.TFTP.Enabled = false
	obs := &recordingObserver{}
	fsrv, err := fileserve.New(context.Background(), cfg, fileserve.Options{
		FilesDir: files, TLSDir: filepath.Join(root, "tls"), Mounts: []fileserve.Mount{s.Mount()},
		Observer: obs, Registry: prometheus.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := fsrv.Bind(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fsrv.Serve(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	base := "http://" + fsrv.Addrs()["http"][0].String()
	if code, _ := do(t, http.MethodPut, base+"/backup/1234_96xxdata.txt", strings.NewReader("A=1"), nil); code != http.StatusCreated {
		t.Fatalf("PUT through the file server = %d", code)
	}
	if code, body := do(t, http.MethodGet, base+"/backup/1234_96xxdata.txt", nil, nil); code != http.StatusOK || body != "A=1" {
		t.Fatalf("GET through the file server = %d %q", code, body)
	}
	if code, _ := do(t, http.MethodPut, base+"/elsewhere.txt", strings.NewReader("A=1"), nil); code != http.StatusMethodNotAllowed {
		t.Fatalf("PUT outside the mount = %d", code)
	}
	deadline := time.Now().Add(5 * time.Second)
	for obs.count() < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if evs := obs.all(); len(evs) != 3 || evs[0].Status != http.StatusCreated || evs[0].Client.Addr() != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("access events = %+v", evs)
	}
}

type recordingObserver struct {
	mu  sync.Mutex
	evs []fileserve.AccessEvent
}

func (o *recordingObserver) ObserveAccess(ev fileserve.AccessEvent) {
	o.mu.Lock()
	o.evs = append(o.evs, ev)
	o.mu.Unlock()
}

func (o *recordingObserver) count() int { o.mu.Lock(); defer o.mu.Unlock(); return len(o.evs) }
func (o *recordingObserver) all() []fileserve.AccessEvent {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]fileserve.AccessEvent(nil), o.evs...)
}

// gather reads one series' value from reg.
func gather(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue metric
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			}
		}
	}
	t.Fatalf("no series %s %v", name, labels)
	return 0
}
