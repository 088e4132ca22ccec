package fileserve

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/phoneprov/phoneprov/fileserve/tlsca"
)

// These tests run the file server in-process on 127.0.0.1 with ephemeral
// ports and talk to it with the real clients a lab would use: curl,
// tftp-hpa and atftp. Without a client they skip, except under CI, where
// .ci/run has installed them and their absence is a failure.

func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (deploy/dev/install-test-packages.sh installs it)", name)
		}
		t.Skipf("%s is not installed; run deploy/dev/install-test-packages.sh", name)
	}
	return p
}

type eventLog struct {
	mu     sync.Mutex
	events []AccessEvent
}

func (l *eventLog) ObserveAccess(ev AccessEvent) {
	l.mu.Lock()
	l.events = append(l.events, ev)
	l.mu.Unlock()
}

// find returns the latest event for name. The server records a TFTP
// transfer when the last ACK arrives, which can be just after the client
// exits, so it waits a little for the event to show up.
func (l *eventLog) find(protocol, name string) (AccessEvent, bool) {
	deadline := time.Now().Add(3 * time.Second)
	for {
		l.mu.Lock()
		for i := len(l.events) - 1; i >= 0; i-- {
			if ev := l.events[i]; ev.Protocol == protocol && ev.Name == name {
				l.mu.Unlock()
				return ev, true
			}
		}
		l.mu.Unlock()
		if time.Now().After(deadline) {
			return AccessEvent{}, false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type testServer struct {
	*Server
	dataDir, filesDir string
	events            *eventLog
	registry          *prometheus.Registry
	http, https, tftp string // host:port
	cancel            context.CancelFunc
	done              chan error
}

func startServer(t *testing.T, mutate func(*Config), options ...func(*Options)) *testServer {
	t.Helper()
	data := t.TempDir()
	files := filepath.Join(data, "files")
	if err := os.MkdirAll(files, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.HTTP.Listen = []string{"127.0.0.1:0"}
	cfg.HTTPS.Listen = []string{"127.0.0.1:0", "127.0.0.1:0"}
	cfg.TFTP.Listen = []string{"127.0.0.1:0"}
	cfg.DrainTimeout = 5 * time.Second
	if mutate != nil {
		mutate(&cfg)
	}
	ts := &testServer{dataDir: data, filesDir: files, events: &eventLog{}, registry: prometheus.NewRegistry(), done: make(chan error, 1)}
	opts := Options{
		FilesDir: files, TLSDir: filepath.Join(data, "tls"),
		Generator: fakeGenerator{"96x1Supgrade.txt": "GET 46xxsettings.txt\n"},
		Observer:  ts.events, Registry: ts.registry,
	}
	for _, o := range options {
		o(&opts)
	}
	srv, err := New(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Bind(); err != nil {
		t.Fatal(err)
	}
	ts.Server = srv
	addrs := srv.Addrs()
	if a := addrs["http"]; len(a) > 0 {
		ts.http = a[0].String()
	}
	if a := addrs["https"]; len(a) > 0 {
		ts.https = a[0].String()
	}
	if a := addrs["tftp"]; len(a) > 0 {
		ts.tftp = a[0].String()
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts.cancel = cancel
	go func() { ts.done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-ts.done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("server did not stop")
		}
	})
	return ts
}

func (ts *testServer) put(t *testing.T, name string, data []byte) {
	t.Helper()
	p := filepath.Join(ts.filesDir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func port(hostport string) string { _, p, _ := net.SplitHostPort(hostport); return p }

// curl runs curl and returns the HTTP status and the body.
func curl(t *testing.T, args ...string) (int, []byte) {
	t.Helper()
	bin := requireTool(t, "curl")
	out := filepath.Join(t.TempDir(), "body")
	cmd := exec.Command(bin, append([]string{"-sS", "--max-time", "30", "-o", out, "-w", "%{http_code}"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	code, err := cmd.Output()
	if err != nil {
		t.Fatalf("curl %v: %v: %s", args, err, stderr.String())
	}
	var status int
	fmt.Sscanf(string(code), "%d", &status)
	body, _ := os.ReadFile(out)
	return status, body
}

func TestHTTPWithCurl(t *testing.T) {
	ts := startServer(t, nil)
	settings := []byte("SET SIG 2\nSET HTTPSRVR 198.18.0.1\n")
	ts.put(t, "46xxsettings.txt", settings)
	fw := randomBytes(t, 200_000)
	ts.put(t, "J100/FW_S_J179_R4_1_3.bin", fw)
	base := "http://" + ts.http

	status, body := curl(t, "-A", "Mozilla/4.0 (compatible; MSIE 6.0) AVAYA/J179-4.1.3.0.6 (MAC:c81fea83e85a)", base+"/46xxsettings.txt")
	if status != 200 || !bytes.Equal(body, settings) {
		t.Fatalf("GET settings: %d %q", status, body)
	}
	ev, ok := ts.events.find("http", "/46xxsettings.txt")
	if !ok || ev.Status != 200 || ev.Bytes != int64(len(settings)) || ev.Source != SourceOperator ||
		!strings.Contains(ev.UserAgent, "AVAYA/J179") || !ev.Client.Addr().IsLoopback() || ev.Resolved != "46xxsettings.txt" {
		t.Fatalf("access event: %+v", ev)
	}

	if status, body = curl(t, base+"/j100/fw_s_j179_r4_1_3.bin"); status != 200 || sha(body) != sha(fw) {
		t.Fatalf("case-folded firmware: %d, %d bytes", status, len(body))
	}
	if status, body = curl(t, "-I", base+"/46xxsettings.txt"); status != 200 || len(body) == 0 {
		t.Fatalf("HEAD: %d", status)
	}
	if status, _ = curl(t, "-X", "POST", "-d", "x", base+"/46xxsettings.txt"); status != 405 {
		t.Fatalf("POST: %d, want 405", status)
	}
	if status, _ = curl(t, "-X", "PUT", "-d", "x", base+"/46xxsettings.txt"); status != 405 {
		t.Fatalf("PUT outside any mount: %d, want 405", status)
	}
	if status, _ = curl(t, base+"/nothing-here.txt"); status != 404 {
		t.Fatalf("missing: %d", status)
	}
	if status, _ = curl(t, base+"/J100/"); status != 404 {
		t.Fatalf("directory: %d, want 404 (no listings)", status)
	}
	if status, _ = curl(t, "--path-as-is", base+"/../../etc/passwd"); status != 403 {
		t.Fatalf("traversal: %d, want 403", status)
	}
	if status, _ = curl(t, base+"/%2e%2e/%2e%2e/etc/passwd"); status != 403 {
		t.Fatalf("encoded traversal: %d, want 403", status)
	}
	if status, body = curl(t, base+"/96x1Supgrade.txt"); status != 200 || string(body) != "GET 46xxsettings.txt\n" {
		t.Fatalf("generated: %d %q", status, body)
	}
	if got := testutil.ToFloat64(ts.metrics.refused.WithLabelValues("dotdot")); got < 2 {
		t.Errorf("refused{dotdot} = %v, want ≥ 2", got)
	}
	if got := testutil.ToFloat64(ts.metrics.requests.WithLabelValues("http", "200")); got < 3 {
		t.Errorf("requests{http,200} = %v", got)
	}
}

func TestRangeAndConditionalWithCurl(t *testing.T) {
	ts := startServer(t, nil)
	fw := randomBytes(t, 100_000)
	ts.put(t, "fw.bin", fw)
	url := "http://" + ts.http + "/fw.bin"

	status, body := curl(t, "-r", "1000-1999", url)
	if status != 206 || !bytes.Equal(body, fw[1000:2000]) {
		t.Fatalf("range: %d, %d bytes", status, len(body))
	}
	if status, body = curl(t, "-r", "-100", url); status != 206 || !bytes.Equal(body, fw[len(fw)-100:]) {
		t.Fatalf("suffix range: %d, %d bytes", status, len(body))
	}
	if status, _ = curl(t, "-r", "200000-300000", url); status != 416 {
		t.Fatalf("unsatisfiable range: %d", status)
	}

	bin := requireTool(t, "curl")
	head, err := exec.Command(bin, "-sSI", url).Output()
	if err != nil {
		t.Fatal(err)
	}
	etag, lastMod := header(string(head), "ETag"), header(string(head), "Last-Modified")
	if etag == "" || lastMod == "" {
		t.Fatalf("no validators in %q", head)
	}
	if status, body = curl(t, "-H", "If-None-Match: "+etag, url); status != 304 || len(body) != 0 {
		t.Fatalf("If-None-Match: %d", status)
	}
	if status, _ = curl(t, "-H", "If-Modified-Since: "+lastMod, url); status != 304 {
		t.Fatalf("If-Modified-Since: %d", status)
	}
	if status, _ = curl(t, "-H", `If-None-Match: "other"`, url); status != 200 {
		t.Fatalf("stale If-None-Match: %d", status)
	}
	if status, body = curl(t, "-H", "If-Range: "+etag, "-r", "0-9", url); status != 206 || !bytes.Equal(body, fw[:10]) {
		t.Fatalf("If-Range: %d", status)
	}
	if status, _ = curl(t, "-H", `If-Range: "other"`, "-r", "0-9", url); status != 200 {
		t.Fatalf("stale If-Range: %d, want the whole file", status)
	}
}

func header(resp, name string) string {
	for _, line := range strings.Split(resp, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func TestHTTPSWithCurl(t *testing.T) {
	ts := startServer(t, nil)
	ts.put(t, "46xxsettings.txt", []byte("SET SIG 2\n"))
	ca := filepath.Join(ts.dataDir, "tls", tlsca.CAFileName)
	for _, addr := range ts.Addrs()["https"] {
		status, body := curl(t, "--cacert", ca, "https://"+addr.String()+"/46xxsettings.txt")
		if status != 200 || string(body) != "SET SIG 2\n" {
			t.Fatalf("https %s: %d %q", addr, status, body)
		}
		status, _ = curl(t, "--cacert", ca, "--resolve", "localhost:"+port(addr.String())+":127.0.0.1", "https://localhost:"+port(addr.String())+"/46xxsettings.txt")
		if status != 200 {
			t.Fatalf("https by name: %d", status)
		}
	}
	// The CA certificate is served over plain HTTP for the phones' TRUSTCERTS.
	status, body := curl(t, "http://"+ts.http+"/phoneprov-ca.pem")
	want, _ := os.ReadFile(ca)
	if status != 200 || !bytes.Equal(body, want) {
		t.Fatalf("CA over HTTP: %d, equal=%v", status, bytes.Equal(body, want))
	}
	// Old phones negotiate TLS 1.2 with RSA key exchange.
	status, _ = curl(t, "--cacert", ca, "--tls-max", "1.2", "--ciphers", "AES128-SHA", "https://"+ts.https+"/46xxsettings.txt")
	if status != 200 {
		t.Fatalf("TLS 1.2 AES128-SHA: %d", status)
	}
	// TLS 1.1 is off by default.
	bin := requireTool(t, "curl")
	if err := exec.Command(bin, "-sS", "--cacert", ca, "--tlsv1.0", "--tls-max", "1.1", "https://"+ts.https+"/46xxsettings.txt").Run(); err == nil {
		t.Fatal("TLS 1.1 handshake succeeded with min_version 1.2")
	}
	// curl gives up as soon as it has the server's alert; the server counts
	// the failure when its side of the handshake returns, a moment later.
	for deadline := time.Now().Add(5 * time.Second); testutil.ToFloat64(ts.metrics.tlsHandshakeFail) < 1; {
		if time.Now().After(deadline) {
			t.Fatalf("TLS handshake failures = %v, want ≥ 1", testutil.ToFloat64(ts.metrics.tlsHandshakeFail))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tftpHPA runs the tftp-hpa client: one command, binary mode.
func tftpHPA(t *testing.T, addr string, command string) (string, error) {
	t.Helper()
	bin := requireTool(t, "tftp")
	host, p, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "-m", "binary", host, p, "-c")
	cmd.Args = append(cmd.Args, strings.Fields(command)...)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func atftp(t *testing.T, addr string, args ...string) (string, error) {
	t.Helper()
	bin := requireTool(t, "atftp")
	host, p, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, append(append([]string{"--tftp-timeout", "1"}, args...), host, p)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestTFTPWithRealClients(t *testing.T) {
	ts := startServer(t, nil)
	fw := randomBytes(t, 1_000_003)
	ts.put(t, "a46xxua2_8_3.bin", fw)

	// tftp-hpa: plain RFC 1350, 512-byte blocks.
	dir := t.TempDir()
	bin := requireTool(t, "tftp")
	host, p, _ := net.SplitHostPort(ts.tftp)
	cmd := exec.Command(bin, "-m", "binary", host, p, "-c", "get", "a46xxua2_8_3.bin", filepath.Join(dir, "hpa.bin"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tftp-hpa get: %v: %s", err, out)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "hpa.bin")); sha(got) != sha(fw) {
		t.Fatalf("tftp-hpa: %d bytes, wrong content", len(got))
	}
	ev, ok := ts.events.find("tftp", "a46xxua2_8_3.bin")
	if !ok || ev.Status != 200 || ev.Bytes != int64(len(fw)) || ev.Source != SourceOperator || !strings.Contains(ev.Detail, "blksize=512") {
		t.Fatalf("tftp access event: %+v", ev)
	}

	// atftp with blksize 1428 and tsize, old-client backslashes.
	out := filepath.Join(dir, "atftp.bin")
	log, err := atftp(t, ts.tftp, "--verbose", "--option", "blksize 1428", "--option", "tsize 0", "-g", "-r", `\A46XXUA2_8_3.BIN`, "-l", out)
	if err != nil {
		t.Fatalf("atftp: %v: %s", err, log)
	}
	if got, _ := os.ReadFile(out); sha(got) != sha(fw) {
		t.Fatalf("atftp: %d bytes, wrong content", len(got))
	}
	if ev, ok := ts.events.find("tftp", `\A46XXUA2_8_3.BIN`); !ok || !strings.Contains(ev.Detail, "blksize=1428") || ev.Resolved != "a46xxua2_8_3.bin" {
		t.Errorf("atftp access event: %+v", ev)
	}

	// A missing file is TFTP error 1, for both clients.
	if log, err := tftpHPA(t, ts.tftp, "get nothing.bin"); err == nil && !strings.Contains(strings.ToLower(log), "not found") {
		t.Errorf("tftp-hpa missing file: %s", log)
	} else if !strings.Contains(strings.ToLower(log), "file not found") {
		t.Errorf("tftp-hpa missing file: %s", log)
	}
	if log, err := atftp(t, ts.tftp, "-g", "-r", "nothing.bin", "-l", filepath.Join(dir, "x")); err == nil || !strings.Contains(log, "<File not found>") && !strings.Contains(strings.ToLower(log), "not found") {
		t.Errorf("atftp missing file: err=%v %s", err, log)
	}
	// A write request is refused with error 2, access violation.
	src := filepath.Join(dir, "upload.txt")
	os.WriteFile(src, []byte("hello"), 0o644)
	cmd = exec.Command(bin, "-m", "binary", host, p, "-c", "put", src, "upload.txt")
	outb, _ := cmd.CombinedOutput()
	if !strings.Contains(strings.ToLower(string(outb)), "access violation") {
		t.Errorf("tftp-hpa put: %s", outb)
	}
	if _, err := os.Stat(filepath.Join(ts.filesDir, "upload.txt")); err == nil {
		t.Fatal("a write request created a file")
	}
	// A traversal attempt is error 2 as well.
	if log, _ := atftp(t, ts.tftp, "-g", "-r", "../../etc/passwd", "-l", filepath.Join(dir, "y")); !strings.Contains(strings.ToLower(log), "access violation") {
		t.Errorf("atftp traversal: %s", log)
	}
}

func TestTFTPHundredConcurrentDownloads(t *testing.T) {
	ts := startServer(t, nil)
	fw := randomBytes(t, 4<<20)
	ts.put(t, "firmware.bin", fw)
	want := sha(fw)
	requireTool(t, "atftp")
	requireTool(t, "tftp")
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Go(func() {
			out := filepath.Join(dir, fmt.Sprintf("fw-%d.bin", i))
			var log string
			var err error
			if i%2 == 0 {
				log, err = atftp(t, ts.tftp, "--option", "blksize 1428", "--option", "tsize 0", "-g", "-r", "firmware.bin", "-l", out)
			} else {
				log, err = tftpHPA(t, ts.tftp, "get firmware.bin "+out)
			}
			if err != nil {
				errs <- fmt.Errorf("client %d: %v: %s", i, err, log)
				return
			}
			got, _ := os.ReadFile(out)
			if sha(got) != want {
				errs <- fmt.Errorf("client %d: %d bytes, wrong sha256", i, len(got))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// The server counts a transfer when its last ACK arrives, just after the client exits.
	deadline := time.Now().Add(3 * time.Second)
	for testutil.ToFloat64(ts.metrics.requests.WithLabelValues("tftp", "200")) < 100 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := testutil.ToFloat64(ts.metrics.requests.WithLabelValues("tftp", "200")); got != 100 {
		t.Errorf("tftp 200s = %v, want 100", got)
	}
}

func TestFileReplacedDuringDownload(t *testing.T) {
	ts := startServer(t, nil)
	old := randomBytes(t, 4<<20)
	ts.put(t, "fw.bin", old)
	bin := requireTool(t, "curl")
	dir := t.TempDir()

	// A slow HTTP download and a TFTP download both start on the old file...
	httpOut := filepath.Join(dir, "http.bin")
	curlCmd := exec.Command(bin, "-sS", "--limit-rate", "2M", "-o", httpOut, "http://"+ts.http+"/fw.bin")
	if err := curlCmd.Start(); err != nil {
		t.Fatal(err)
	}
	tftpOut := filepath.Join(dir, "tftp.bin")
	tftpDone := make(chan error, 1)
	go func() {
		log, err := tftpHPA(t, ts.tftp, "get fw.bin "+tftpOut)
		if err != nil {
			err = fmt.Errorf("%v: %s", err, log)
		}
		tftpDone <- err
	}()
	time.Sleep(500 * time.Millisecond)
	// ...then the operator renames a new version into place, the documented way.
	tmp := filepath.Join(ts.filesDir, ".fw.bin.part")
	if err := os.WriteFile(tmp, randomBytes(t, 3<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(ts.filesDir, "fw.bin")); err != nil {
		t.Fatal(err)
	}
	if err := curlCmd.Wait(); err != nil {
		t.Fatalf("curl: %v", err)
	}
	if err := <-tftpDone; err != nil {
		t.Fatalf("tftp: %v", err)
	}
	for _, out := range []string{httpOut, tftpOut} {
		if got, _ := os.ReadFile(out); sha(got) != sha(old) {
			t.Errorf("%s: %d bytes that are neither whole old nor consistent", filepath.Base(out), len(got))
		}
	}
	// New requests get the new version.
	if status, body := curl(t, "http://"+ts.http+"/fw.bin"); status != 200 || len(body) != 3<<20 {
		t.Fatalf("after replace: %d, %d bytes", status, len(body))
	}
}

func TestSlowAndHostileHTTPClients(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.HTTP.ReadHeaderTimeout = 300 * time.Millisecond
		c.HTTP.IdleTimeout = 500 * time.Millisecond
		c.HTTP.MaxHeaderBytes = 4096
	})
	// A client that never finishes its request head is cut off.
	conn, err := net.Dial("tcp", ts.http)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "GET /x HTTP/1.1\r\nHost: a\r\nX-Slow: ")
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	buf := make([]byte, 512)
	for {
		if _, err := conn.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("slow client was not disconnected")
			}
			break
		}
	}
	if time.Since(start) > 3*time.Second {
		t.Fatalf("slow client held for %s", time.Since(start))
	}
	// An oversized request head is refused.
	status, _ := curl(t, "-H", "X-Big: "+strings.Repeat("a", 64<<10), "http://"+ts.http+"/x")
	if status != 431 {
		t.Fatalf("oversized head: %d, want 431", status)
	}
}

func TestLegacyTLSOnlyWhenAskedFor(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.HTTPS.MinVersion = "1.0" })
	ts.put(t, "x.txt", []byte("x"))
	ca := filepath.Join(ts.dataDir, "tls", tlsca.CAFileName)
	bin := requireTool(t, "curl")
	// Debian's OpenSSL refuses TLS 1.0 at its default security level;
	// @SECLEVEL=0 lets the client offer it, as an old phone would.
	cmd := exec.Command(bin, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", ca, "--tlsv1.0", "--tls-max", "1.0",
		"--ciphers", "DEFAULT:@SECLEVEL=0", "https://"+ts.https+"/x.txt")
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "200" {
		t.Fatalf("TLS 1.0 with min_version 1.0: %v %s", err, out)
	}
}
