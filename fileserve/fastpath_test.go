package fileserve

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// pairServer is one of two servers on the same tree and TLS material:
// the real one, and a reference that answers every request with net/http
// alone (fileHandler, so http.ServeContent, for everything).
type pairServer struct {
	*Server
	events   *eventLog
	registry *prometheus.Registry

	// handshakeErrors counts the reference's TLS handshake failures, which
	// net/http only writes to its error log.
	handshakeErrors atomic.Int64
}

// countingLog counts the error log lines that report a failed handshake.
type countingLog struct{ n *atomic.Int64 }

func (l countingLog) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("TLS handshake error")) {
		l.n.Add(1)
	}
	return len(p), nil
}

// serveNetHTTPOnly serves srv's bound listeners with net/http alone, the
// reference the fast path is held to, until ctx ends.
func serveNetHTTPOnly(ctx context.Context, srv *Server, handshakeErrors *atomic.Int64) error {
	errorLog := log.New(countingLog{handshakeErrors}, "", 0)
	var servers []*http.Server
	errs := make(chan error, len(srv.httpLns)+len(srv.httpsLns))
	serve := func(protocol string, active *atomic.Int64, lns []net.Listener) {
		hs := srv.newHTTPServer(protocol, active, errorLog)
		servers = append(servers, hs)
		for _, ln := range lns {
			if protocol == "https" {
				ln = tls.NewListener(ln, srv.perHandshakeTLS())
			}
			go func() { errs <- serveHTTP(hs, ln) }()
		}
	}
	serve("http", &srv.activeHTTP, srv.httpLns)
	serve("https", &srv.activeHTTPS, srv.httpsLns)
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var err error
	for _, hs := range servers {
		if e := hs.Shutdown(stopCtx); e != nil {
			err = e
		}
	}
	for range len(srv.httpLns) + len(srv.httpsLns) {
		if e := <-errs; e != nil {
			err = e
		}
	}
	return err
}

// echoMount stands in for the backup folder: it says what it saw.
type echoMount struct{}

func (echoMount) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("X-Echo", "yes")
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, "%s %s tls=%v body=%q\n", r.Method, r.URL.Path, r.TLS != nil, body)
}

func startPair(t *testing.T, mutate func(*Config)) (fast, plain *pairServer, files string) {
	t.Helper()
	data := t.TempDir()
	files = filepath.Join(data, "files")
	if err := os.MkdirAll(files, 0o755); err != nil {
		t.Fatal(err)
	}
	start := func(netHTTPOnly bool) *pairServer {
		cfg := DefaultConfig()
		cfg.HTTP.Listen = []string{"127.0.0.1:0"}
		cfg.HTTPS.Listen = []string{"127.0.0.1:0"}
		cfg.TFTP.Enabled = false
		cfg.DrainTimeout = 5 * time.Second
		if mutate != nil {
			mutate(&cfg)
		}
		ps := &pairServer{events: &eventLog{}, registry: prometheus.NewRegistry()}
		srv, err := New(context.Background(), cfg, Options{
			FilesDir: files, TLSDir: filepath.Join(data, "tls"),
			Generator: fakeGenerator{"J100Supgrade.txt": "GET 46xxsettings.txt\n"},
			Observer:  ps.events, Registry: ps.registry,
			Mounts: []Mount{{Prefix: "/backup/", Handler: echoMount{}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Bind(); err != nil {
			t.Fatal(err)
		}
		ps.Server = srv
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		if netHTTPOnly {
			go func() { done <- serveNetHTTPOnly(ctx, srv, &ps.handshakeErrors) }()
		} else {
			go func() { done <- srv.Serve(ctx) }()
		}
		t.Cleanup(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Serve: %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Error("server did not stop")
			}
		})
		return ps
	}
	return start(false), start(true), files
}

func (ps *pairServer) addr(protocol string) string { return ps.Addrs()[protocol][0].String() }

func (ps *pairServer) caPool(t *testing.T) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ps.state.Load().tls.CACertPEM)
	return pool
}

// exchange sends raw on a new connection and returns every byte the
// server sent back for the requests in it (as many as methods lists),
// stopping early when the server closes the connection.
func (ps *pairServer) exchange(t *testing.T, protocol, raw string, methods []string) []byte {
	t.Helper()
	var conn net.Conn
	var err error
	if protocol == "https" {
		conn, err = tls.Dial("tcp", ps.addr("https"), &tls.Config{RootCAs: ps.caPool(t), ServerName: "localhost"})
	} else {
		conn, err = net.Dial("tcp", ps.addr(protocol))
	}
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	br := bufio.NewReader(io.TeeReader(conn, &got))
	for _, m := range methods {
		resp, err := http.ReadResponse(br, &http.Request{Method: m})
		if err != nil {
			break // closed
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.Close {
			io.Copy(io.Discard, br) // read to the end: what else came
			break
		}
	}
	return got.Bytes()
}

var dateLine = regexp.MustCompile(`\r\nDate: [A-Za-z0-9 ,:]{25,29} GMT\r\n`)

func normalizeDate(b []byte) string {
	return dateLine.ReplaceAllString(string(b), "\r\nDate: (date)\r\n")
}

// newEvents waits until the log has want events past from and returns them.
//
// An event is recorded after its response is written, so it may trail the
// answer, and a request may log none: it also returns once no event has
// come for 250 ms, and at the latest after 3 s.
func (l *eventLog) newEvents(from, want int) []AccessEvent {
	deadline := time.Now().Add(3 * time.Second)
	last, lastChange := -1, time.Now()
	for {
		l.mu.Lock()
		n := len(l.events)
		if n != last {
			last, lastChange = n, time.Now()
		}
		if n-from >= want || time.Since(lastChange) >= 250*time.Millisecond || time.Now().After(deadline) {
			evs := append([]AccessEvent(nil), l.events[from:]...)
			l.mu.Unlock()
			return evs
		}
		l.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
}

func (l *eventLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.events)
}

// comparable keeps what must not differ between two servers answering
// the same request: everything but the time, duration and client port.
func comparable(ev AccessEvent) string {
	return fmt.Sprintf("%s %s name=%q resolved=%q source=%s status=%d bytes=%d size=%d ua=%q detail=%q",
		ev.Protocol, ev.Client.Addr(), ev.Name, ev.Resolved, ev.Source, ev.Status, ev.Bytes, ev.Size, ev.UserAgent, ev.Detail)
}

// TestFastPathAnswersLikeNetHTTP is the conformance test of the one
// GET/HEAD responder: it sends the same requests to the server and to a
// reference that answers everything with net/http's ServeContent, over
// HTTP and HTTPS, and wants the same bytes back (but for the Date), the
// same access events and the same metrics. Operator files (cached and
// not), built-in and generated content all take part.
func TestFastPathAnswersLikeNetHTTP(t *testing.T) {
	fast, plain, files := startPair(t, nil)
	put := func(name string, data []byte) {
		p := filepath.Join(files, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	put("46xxsettings.txt", []byte("SET SIG 2\n"))
	put("J100/FW_S_J179_R4_1_3.bin", randomBytes(t, 200_000))
	put("empty.txt", nil)
	put("page.HTML", []byte("<p>hi</p>"))
	put(".hidden", []byte("no"))
	if err := os.Symlink("46xxsettings.txt", filepath.Join(files, "link.txt")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(files, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(files, "page.HTML"), old, old); err != nil {
		t.Fatal(err)
	}

	// Validators, as both servers give them.
	validators := map[string][2]string{} // name → ETag, Last-Modified
	for _, name := range []string{"46xxsettings.txt", "J100/FW_S_J179_R4_1_3.bin", "J100Supgrade.txt", "phoneprov-ca.pem", "empty.txt"} {
		for _, ps := range []*pairServer{plain, fast} {
			resp := ps.exchange(t, "http", "HEAD /"+name+" HTTP/1.1\r\nHost: a\r\n\r\n", []string{"HEAD"})
			r, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(resp)), &http.Request{Method: "HEAD"})
			if err != nil {
				t.Fatal(err)
			}
			v := [2]string{r.Header.Get("Etag"), r.Header.Get("Last-Modified")}
			if old, ok := validators[name]; ok && old != v {
				t.Fatalf("%s: validators %v, net/http %v", name, v, old)
			}
			validators[name] = v
		}
	}
	// Their access events trail the answers: let them land before the
	// cases count events.
	for _, ps := range []*pairServer{plain, fast} {
		ps.events.newEvents(0, len(validators))
	}
	etag := func(n string) string { return validators[n][0] }
	lastMod := func(n string) string { return validators[n][1] }

	const host = "Host: phone.test\r\n"
	get := func(method, path string, headers ...string) string {
		return method + " " + path + " HTTP/1.1\r\n" + host + strings.Join(headers, "") + "\r\n"
	}
	type exchangeCase struct {
		name    string
		raw     string
		methods []string
	}
	var cases []exchangeCase
	one := func(name, raw string) {
		m := strings.Fields(raw)[0]
		cases = append(cases, exchangeCase{name, raw, []string{m}})
	}
	for _, n := range []string{"/46xxsettings.txt", "/J100/FW_S_J179_R4_1_3.bin", "/J100Supgrade.txt", "/phoneprov-ca.pem",
		"/empty.txt", "/page.HTML", "/link.txt", "/46XXSETTINGS.TXT", "/j100/fw_s_j179_r4_1_3.bin", "//46xxsettings.txt",
		"/nothing.txt", "/J100", "/J100/", "/.hidden", "/fifo", "/", "/" + strings.Repeat("a", 1100),
		"/" + strings.Repeat("a", 300), "/J100/" + strings.Repeat("a", 300)} {
		one("GET "+n, get("GET", n, "User-Agent: AVAYA/J179-4.1.3.0.6 (MAC:c81fea83e85a)\r\n"))
		one("HEAD "+n, get("HEAD", n))
	}
	for _, n := range []string{"46xxsettings.txt", "J100/FW_S_J179_R4_1_3.bin", "J100Supgrade.txt", "phoneprov-ca.pem", "empty.txt"} {
		p := "/" + n
		for _, m := range []string{"GET", "HEAD"} {
			for _, h := range []string{
				"If-None-Match: " + etag(n) + "\r\n",
				"If-None-Match: W/" + etag(n) + "\r\n",
				"If-None-Match: \"other\", " + etag(n) + "\r\n",
				"If-None-Match: \"other\"\r\n",
				"If-None-Match: *\r\n",
				"If-None-Match: garbage\r\n",
				"If-Modified-Since: " + lastMod(n) + "\r\n",
				"If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\n",
				"If-Modified-Since: not a date\r\n",
				"If-None-Match: \"other\"\r\nIf-Modified-Since: " + lastMod(n) + "\r\n",
				"If-Match: " + etag(n) + "\r\n",
				"If-Match: W/" + etag(n) + "\r\n",
				"If-Match: \"other\"\r\n",
				"If-Match: *\r\n",
				"If-Unmodified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\n",
				"If-Unmodified-Since: " + lastMod(n) + "\r\n",
				"If-Match: \"other\"\r\nIf-None-Match: " + etag(n) + "\r\n",
				"Connection: close\r\n",
				"Connection: keep-alive, Close\r\n",
			} {
				one(m+" "+p+" "+strings.TrimSpace(h), get(m, p, h))
			}
		}
	}
	// Handed to net/http.
	for _, r := range []string{
		get("GET", "/46xxsettings.txt", "Range: bytes=0-3\r\n"),
		get("GET", "/J100/FW_S_J179_R4_1_3.bin", "Range: bytes=100-199\r\n"),
		get("GET", "/J100/FW_S_J179_R4_1_3.bin", "Range: bytes=999999-\r\n"),
		get("GET", "/46xxsettings.txt", "If-Range: \"x\"\r\n", "Range: bytes=0-3\r\n"),
		get("GET", "/46xxsettings.txt?mac=c81fea83e85a"),
		get("GET", "/%34%36xxsettings.txt"),
		get("GET", "/%2e%2e/%2e%2e/etc/passwd"),
		get("POST", "/46xxsettings.txt", "Content-Length: 1\r\n") + "x",
		get("PUT", "/46xxsettings.txt", "Content-Length: 1\r\n") + "x",
		get("DELETE", "/46xxsettings.txt"),
		get("PUT", "/backup/c81fea83e85a.txt", "Content-Length: 5\r\n") + "hello",
		get("GET", "/backup/c81fea83e85a.txt"),
		"GET /46xxsettings.txt HTTP/1.0\r\n\r\n",
		"GET /46xxsettings.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		"GET /46xxsettings.txt HTTP/1.1\r\n\r\n",
		"GET /46xxsettings.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET /46xxsettings.txt HTTP/1.1\r\nHost: a\nX: y\r\n\r\n",
		"GET /46xxsettings.txt HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("a", 24<<10) + "\r\n\r\n",
		"NONSENSE\r\n\r\n",
		get("GET", "/46xxsettings.txt", "Expect: 100-continue\r\n"),
		get("GET", "/46xxsettings.txt", "Transfer-Encoding: chunked\r\n") + "0\r\n\r\n",
	} {
		one("net/http: "+strings.SplitN(r, "\r\n", 2)[0], r)
	}
	// Pipelined, with and without a hand-over in the middle.
	cases = append(cases,
		exchangeCase{"pipelined", get("GET", "/46xxsettings.txt") + get("HEAD", "/J100Supgrade.txt") +
			get("GET", "/nothing") + get("GET", "/J100/FW_S_J179_R4_1_3.bin") + get("GET", "/46xxsettings.txt"),
			[]string{"GET", "HEAD", "GET", "GET", "GET"}},
		exchangeCase{"pipelined, handed over", get("GET", "/46xxsettings.txt") + get("GET", "/46xxsettings.txt", "Range: bytes=1-2\r\n") +
			get("GET", "/46xxsettings.txt") + get("PUT", "/backup/x", "Content-Length: 2\r\n") + "hi" + get("GET", "/empty.txt"),
			[]string{"GET", "GET", "GET", "PUT", "GET"}},
		exchangeCase{"pipelined, closed", get("GET", "/46xxsettings.txt", "Connection: close\r\n") + get("GET", "/46xxsettings.txt"),
			[]string{"GET", "GET"}},
	)

	for i, protocol := range []string{"http", "https"} {
		fs := fast.fastServers()[i]
		if fs.protocol != protocol {
			t.Fatalf("fast path %d serves %s", i, fs.protocol)
		}
		for _, c := range cases {
			fromF, fromP := fast.events.count(), plain.events.count()
			want := normalizeDate(plain.exchange(t, protocol, c.raw, c.methods))
			handed := fs.handedOff.Load()
			got := normalizeDate(fast.exchange(t, protocol, c.raw, c.methods))
			handed = fs.handedOff.Load() - handed
			if wantHanded := strings.HasPrefix(c.name, "net/http") || strings.Contains(c.name, "handed"); (handed > 0) != wantHanded {
				t.Errorf("%s %s: %d connections handed to net/http", protocol, c.name, handed)
			}
			if got != want {
				t.Errorf("%s %s:\nfast path:\n%.600q\nnet/http:\n%.600q", protocol, c.name, got, want)
				continue
			}
			if want == "" {
				t.Errorf("%s %s: no answer from either", protocol, c.name)
			}
			if strings.Contains(c.raw, "/backup/") && !strings.Contains(got, fmt.Sprintf("tls=%v", protocol == "https")) {
				t.Errorf("%s %s: the mount saw the wrong scheme: %q", protocol, c.name, got)
			}
			wantEv := plain.events.newEvents(fromP, len(c.methods))
			gotEv := fast.events.newEvents(fromF, len(wantEv))
			if len(gotEv) != len(wantEv) {
				t.Errorf("%s %s: %d access events, net/http %d", protocol, c.name, len(gotEv), len(wantEv))
				continue
			}
			for i := range wantEv {
				if g, w := comparable(gotEv[i]), comparable(wantEv[i]); g != w {
					t.Errorf("%s %s: access event\n%s\nnet/http:\n%s", protocol, c.name, g, w)
				}
			}
		}
	}
	if got, want := metricSummary(t, fast.registry), metricSummary(t, plain.registry); got != want {
		t.Errorf("metrics:\n%s\nnet/http:\n%s", got, want)
	}
}

// metricSummary prints the request and byte counters.
func metricSummary(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, mf := range mfs {
		switch mf.GetName() {
		case "phoneprov_fileserve_requests_total", "phoneprov_fileserve_sent_bytes_total", "phoneprov_fileserve_refused_paths_total":
			for _, m := range mf.GetMetric() {
				lines = append(lines, fmt.Sprintf("%s%s %v", mf.GetName(), labels(m), m.GetCounter().GetValue()))
			}
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func labels(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// The fast path keeps net/http's timeouts: a connection must send its
// first request within the read-header timeout, finish each head within
// it, and may wait the idle timeout between requests.
func TestFastPathTimeouts(t *testing.T) {
	fast, _, files := startPair(t, func(c *Config) {
		c.HTTP.ReadHeaderTimeout = 300 * time.Millisecond
		c.HTTP.IdleTimeout = 600 * time.Millisecond
	})
	if err := os.WriteFile(filepath.Join(files, "a.txt"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	closedAfter := func(conn net.Conn) time.Duration {
		t.Helper()
		start := time.Now()
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 4096)
		for {
			if _, err := conn.Read(buf); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatal("the server did not close the connection")
				}
				return time.Since(start)
			}
		}
	}
	dial := func() net.Conn {
		c, err := net.Dial("tcp", fast.addr("http"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// Silent from the start.
	if d := closedAfter(dial()); d < 200*time.Millisecond || d > 2*time.Second {
		t.Errorf("silent connection closed after %s, want about 300ms", d)
	}
	// A head that never ends (slowloris), a byte at a time.
	slow := dial()
	stop := make(chan struct{})
	go func() {
		for _, b := range []byte("GET /a.txt HTTP/1.1\r\nHost: a\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := slow.Write([]byte{b}); err != nil {
				return
			}
		}
	}()
	if d := closedAfter(slow); d > 2*time.Second {
		t.Errorf("slow head held the connection for %s", d)
	}
	close(stop)
	// Idle between requests: kept for the idle timeout, not the header timeout.
	c := dial()
	br := bufio.NewReader(c)
	for range 2 {
		fmt.Fprint(c, "GET /a.txt HTTP/1.1\r\nHost: a\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		time.Sleep(400 * time.Millisecond) // past the header timeout, within the idle one
	}
	if d := closedAfter(c); d > 1500*time.Millisecond {
		t.Errorf("idle connection closed after %s more, want about 200ms", d)
	}
}

// Shutting down closes idle keep-alive connections at once and lets a
// download in progress finish.
func TestFastPathDrains(t *testing.T) {
	data := t.TempDir()
	files := filepath.Join(data, "files")
	os.MkdirAll(files, 0o755)
	big := randomBytes(t, 8<<20)
	if err := os.WriteFile(filepath.Join(files, "fw.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(files, "a.txt"), []byte("a"), 0o644)
	cfg := DefaultConfig()
	cfg.HTTP.Listen = []string{"127.0.0.1:0"}
	cfg.HTTPS.Enabled = false
	cfg.TFTP.Enabled = false
	cfg.DrainTimeout = 20 * time.Second
	srv, err := New(context.Background(), cfg, Options{FilesDir: files, TLSDir: filepath.Join(data, "tls")})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Bind(); err != nil {
		t.Fatal(err)
	}
	addr := srv.Addrs()["http"][0].String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()

	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	fmt.Fprint(idle, "GET /a.txt HTTP/1.1\r\nHost: a\r\n\r\n")
	idleBR := bufio.NewReader(idle)
	if resp, err := http.ReadResponse(idleBR, nil); err != nil {
		t.Fatal(err)
	} else {
		io.Copy(io.Discard, resp.Body)
	}

	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	slow.(*net.TCPConn).SetReadBuffer(64 << 10)
	fmt.Fprint(slow, "GET /fw.bin HTTP/1.1\r\nHost: a\r\n\r\n")
	slowBR := bufio.NewReader(slow)
	resp, err := http.ReadResponse(slowBR, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			got.Write(buf[:n])
			if err != nil {
				return
			}
			time.Sleep(5 * time.Millisecond) // about 6 MB/s: over a second for the whole file
		}
	})
	time.Sleep(100 * time.Millisecond)
	cancel()
	idle.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := idleBR.ReadByte(); err == nil || isTimeout(err) {
		t.Errorf("idle connection not closed on shutdown: %v", err)
	}
	wg.Wait()
	if !bytes.Equal(got.Bytes(), big) {
		t.Errorf("download cut by shutdown: %d of %d bytes", got.Len(), len(big))
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// Plain HTTP on the HTTPS port gets net/http's hint, and counts as a
// failed handshake.
func TestFastPathPlainHTTPOnHTTPSPort(t *testing.T) {
	fast, plain, _ := startPair(t, nil)
	for _, ps := range []*pairServer{fast, plain} {
		conn, err := net.Dial("tcp", ps.addr("https"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(conn, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(conn)
		conn.Close()
		if string(b) != "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n" {
			t.Errorf("got %q", b)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if metricSummaryHandshakes(t, fast.registry) == 1 && plain.handshakeErrors.Load() == 1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if g, w := metricSummaryHandshakes(t, fast.registry), plain.handshakeErrors.Load(); g != 1 || w != 1 {
		t.Errorf("handshake failures: %v, net/http %v, want 1", g, w)
	}
}

func metricSummaryHandshakes(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "phoneprov_fileserve_tls_handshake_failures_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return -1
}

// A keep-alive connection waiting for its next request holds no response
// buffer: the buffer goes back to the pool once the answer is written, so
// thousands of idle connections in a boot storm do not each keep one.
func TestFastPathIdleConnectionHoldsNoResponseBuffer(t *testing.T) {
	srv := startServer(t, func(c *Config) { c.HTTPS.Enabled, c.TFTP.Enabled = false, false })
	body := bytes.Repeat([]byte("x"), 8<<10)
	if err := os.WriteFile(filepath.Join(srv.filesDir, "a.txt"), body, 0o644); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", srv.http)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	for range 2 { // the second answer takes its buffer from the pool
		fmt.Fprint(conn, "GET /a.txt HTTP/1.1\r\nHost: a\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		if !bytes.Equal(got, body) {
			t.Fatalf("got %d bytes, want the file's %d", len(got), len(body))
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var fc *fastConn
		if conns := serverConns(srv.Server); len(conns) > 0 {
			fc = conns[0]
		}
		if fc != nil && fc.idle.Load() { // set after the answer: what it held before is visible
			if fc.out != nil {
				t.Fatalf("an idle connection holds a response buffer of %d bytes", cap(fc.out))
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the connection never went idle")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// serverConns is a snapshot of the connections the server's fast paths
// serve now.
func serverConns(s *Server) []*fastConn {
	var out []*fastConn
	for _, f := range s.fastServers() {
		f.mu.Lock()
		for fc := range f.conns {
			out = append(out, fc)
		}
		f.mu.Unlock()
	}
	return out
}

// TestFastPathCorksLargeBodies stalls a client in the middle of a large
// body and reads TCP_CORK on the server's socket: set while the body is
// sent (corkMin), cleared once the response is done, so that its last
// partial segment leaves at once.
func TestFastPathCorksLargeBodies(t *testing.T) {
	srv := startServer(t, func(c *Config) { c.HTTPS.Enabled, c.TFTP.Enabled = false, false })
	const size = 8 << 20 // far more than the small receive buffer below
	body := bytes.Repeat([]byte{0x5a}, size)
	if err := os.WriteFile(filepath.Join(srv.filesDir, "big.bin"), body, 0o644); err != nil {
		t.Fatal(err)
	}
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 64<<10) })
		return errors.Join(err, serr)
	}}
	conn, err := d.Dial("tcp", srv.http)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	corked := func() (int, bool) {
		conns := serverConns(srv.Server)
		if len(conns) != 1 {
			return 0, false
		}
		var v int
		var serr error
		if err := conns[0].direct.raw.Control(func(fd uintptr) { v, serr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CORK) }); err != nil || serr != nil {
			t.Fatal(err, serr)
		}
		return v, conns[0].idle.Load()
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("never %s", what)
			}
		}
	}

	fmt.Fprint(conn, "GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The client reads nothing more: the server stays inside the body.
	waitFor("corked while the body is sent", func() bool { v, _ := corked(); return v == 1 })
	if n, err := io.Copy(io.Discard, resp.Body); err != nil || n != size {
		t.Fatalf("body: %d bytes, %v; want %d", n, err, size)
	}
	waitFor("idle after the response", func() bool { _, idle := corked(); return idle })
	if v, _ := corked(); v != 0 {
		t.Errorf("TCP_CORK = %d after the response, want 0: its last segment waits up to 200 ms", v)
	}

}
