package admin

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoneprov/phoneprov/cmd/internal/config"
)

const testToken = "0123456789abcdef-token"

func TestBindRefusesAnInvalidConfig(t *testing.T) {
	_, err := Bind(config.Admin{Listen: "0.0.0.0:0"}, prometheus.NewRegistry(), slog.New(slog.DiscardHandler), nil)
	if err == nil || !strings.Contains(err.Error(), "admin.token") {
		t.Fatalf("Bind on 0.0.0.0 without a token: %v", err)
	}
}

func testHandler(c config.Admin, checks ...Check) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "test_total", Help: "a test counter"}))
	routes := map[string]http.Handler{
		"GET /{$}":      http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "status page") }),
		"GET /api/data": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, `{"data":1}`) }),
	}
	return Handler(c, reg, routes, checks...)
}

type request struct {
	path   string
	host   string
	remote string // the client's address; httptest's default when empty
	header map[string]string
}

func do(h http.Handler, rq request) *http.Response {
	r := httptest.NewRequest(http.MethodGet, rq.path, nil)
	if rq.host != "" {
		r.Host = rq.host
	} else {
		r.Host = "127.0.0.1:9167"
	}
	if rq.remote != "" {
		r.RemoteAddr = rq.remote
	}
	for k, v := range rq.header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func body(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestWithoutATokenOnlyLocalHostNamesAreServed(t *testing.T) {
	h := testHandler(config.DefaultAdmin())
	for _, host := range []string{"127.0.0.1:9167", "localhost:9167", "[::1]:9167", "LOCALHOST"} {
		if resp := do(h, request{path: "/api/data", host: host}); resp.StatusCode != http.StatusOK {
			t.Errorf("Host %s: %d", host, resp.StatusCode)
		}
	}
	// A page that rebinds its own name to 127.0.0.1 sends that name.
	resp := do(h, request{path: "/api/data", host: "attacker.example:9167"})
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("Host attacker.example: %d, want 421", resp.StatusCode)
	}
	if resp := do(h, request{path: "/healthz", host: "attacker.example"}); resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz with any Host: %d", resp.StatusCode)
	}
	resp = do(h, request{path: "/metrics"})
	if b := body(resp); resp.StatusCode != http.StatusOK || !strings.Contains(b, "test_total 0") {
		t.Errorf("/metrics: %d %s", resp.StatusCode, b)
	}
}

func TestTokenGuardsEverythingButTheProbes(t *testing.T) {
	h := testHandler(config.Admin{Listen: "0.0.0.0:9167", Token: testToken})
	for _, path := range []string{"/", "/api/data", "/metrics", "/debug/pprof/"} {
		resp := do(h, request{path: path, host: "phoneprov.example"})
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s without the token: %d %q", path, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		resp = do(h, request{path: path, header: map[string]string{"Authorization": "Bearer wrong-token-wrong-token"}})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s with a wrong token: %d", path, resp.StatusCode)
		}
		resp = do(h, request{path: path, host: "phoneprov.example", header: map[string]string{"Authorization": "Bearer " + testToken}})
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s with the token: %d", path, resp.StatusCode)
		}
	}
	if resp := do(h, request{path: "/api/data", header: map[string]string{"Authorization": "bearer  " + testToken}}); resp.StatusCode != http.StatusOK {
		t.Errorf("lower-case scheme, extra space: %d", resp.StatusCode)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if resp := do(h, request{path: path}); resp.StatusCode != http.StatusOK {
			t.Errorf("%s without the token: %d", path, resp.StatusCode)
		}
	}
}

// The API does not take the token in the address, where it would stay
// in access logs and browser histories, even when it is right: only the
// Authorization header (or the cookie of a browser that logged in).
func TestAPIRefusesTheTokenInTheQuery(t *testing.T) {
	h := testHandler(config.Admin{Listen: "0.0.0.0:9167", Token: testToken})
	for _, path := range []string{"/api/data", "/metrics", "/debug/pprof/"} {
		resp := do(h, request{path: path + "?token=" + url.QueryEscape(testToken), remote: "198.18.0.2:40000"})
		if b := body(resp); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(b, "Authorization: Bearer") {
			t.Errorf("%s?token=: %d %q, want 401", path, resp.StatusCode, b)
		}
		if c := resp.Cookies(); len(c) > 0 {
			t.Errorf("%s?token= set a cookie: %+v", path, c)
		}
		resp = do(h, request{path: path, remote: "198.18.0.2:40000", header: map[string]string{"Authorization": "Bearer " + testToken}})
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s with the header: %d", path, resp.StatusCode)
		}
	}
}

// A browser opens /?token=… once: it gets a cookie and is sent to the
// same page without the token in the address; the cookie then admits it.
func TestBrowserLogsInWithTheTokenInTheQuery(t *testing.T) {
	h := testHandler(config.Admin{Listen: "0.0.0.0:9167", Token: testToken})
	resp := do(h, request{path: "/", header: map[string]string{"Accept": "text/html,application/xhtml+xml"}})
	page := body(resp)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(page, `name="token"`) || !strings.Contains(page, "<form") {
		t.Fatalf("the page without the token: %d\n%s", resp.StatusCode, page)
	}
	resp = do(h, request{path: "/?token=wrong-token-wrong-token&q=x", header: map[string]string{"Accept": "text/html"}})
	if page := body(resp); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(page, "wrong token") {
		t.Fatalf("a wrong token: %d\n%s", resp.StatusCode, page)
	}

	resp = do(h, request{path: "/?q=c8%3A1f&token=" + url.QueryEscape(testToken)})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the right token: %d, want 303", resp.StatusCode)
	}
	if loc := resp.Header.Get("Location"); loc != "/?q=c8%3A1f" {
		t.Errorf("redirect to %q, want the same page without the token", loc)
	}
	cookies := resp.Cookies()
	if len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode || strings.Contains(cookies[0].Value, testToken) {
		t.Fatalf("cookie %+v", cookies)
	}
	resp = do(h, request{path: "/", header: map[string]string{"Cookie": cookies[0].String()}})
	if b := body(resp); resp.StatusCode != http.StatusOK || b != "status page" {
		t.Errorf("with the cookie: %d %q", resp.StatusCode, b)
	}
	resp = do(h, request{path: "/", header: map[string]string{"Cookie": cookieName + "=" + strings.Repeat("0", 64)}})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("with a forged cookie: %d", resp.StatusCode)
	}
}

func TestReadiness(t *testing.T) {
	var leasesErr error
	checks := []Check{
		{Name: "files", Run: func(context.Context) error { return nil }},
		{Name: "leases", Run: func(context.Context) error { return leasesErr }},
	}
	h := testHandler(config.DefaultAdmin(), checks...)
	resp := do(h, request{path: "/readyz"})
	if b := body(resp); resp.StatusCode != http.StatusOK || b != "ok   files\nok   leases\nready\n" {
		t.Errorf("all passing: %d %q", resp.StatusCode, b)
	}
	leasesErr = errors.New("lease database closed")
	resp = do(h, request{path: "/readyz"})
	if b := body(resp); resp.StatusCode != http.StatusServiceUnavailable || b != "ok   files\nFAIL leases: lease database closed\nnot ready\n" {
		t.Errorf("one failing: %d %q", resp.StatusCode, b)
	}
	if resp := do(testHandler(config.DefaultAdmin()), request{path: "/readyz"}); resp.StatusCode != http.StatusOK {
		t.Errorf("no checks: %d", resp.StatusCode)
	}
}

func TestReadinessDoesNotWaitForAHungCheck(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	h := testHandler(config.DefaultAdmin(), Check{Name: "disk", Run: func(context.Context) error { <-release; return nil }})
	start := time.Now()
	resp := do(h, request{path: "/readyz"})
	b := body(resp)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(b, "FAIL disk: no answer within") {
		t.Errorf("hung check: %d %q", resp.StatusCode, b)
	}
	if d := time.Since(start); d > checkTimeout+time.Second {
		t.Errorf("answered after %s", d)
	}
}

func TestBindServeAndStop(t *testing.T) {
	srv, err := Bind(config.Admin{Listen: "127.0.0.1:0"}, prometheus.NewRegistry(), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + srv.ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	if b := body(resp); resp.StatusCode != http.StatusOK || b != "ok\n" {
		t.Errorf("/healthz: %d %q", resp.StatusCode, b)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	if off, err := Bind(config.Admin{}, prometheus.NewRegistry(), slog.New(slog.DiscardHandler), nil); off != nil || err != nil {
		t.Errorf("switched off: %v %v", off, err)
	}
}
