package fileserve

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/phoneprov/phoneprov/internal/syncbuf"
)

// A name with a segment longer than any file name (NAME_MAX) is missing,
// on every protocol and both HTTP paths, over real sockets: not an
// internal error, and no error in the log; it is counted as refused.
func TestOverlongNameIsNotFound(t *testing.T) {
	var logs syncbuf.Buffer
	ts := startServer(t, nil, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	ts.put(t, "J100/FW_S_J179_R4_1_3.bin", []byte("firmware"))
	long := strings.Repeat("a", 300)
	names := []string{"/" + long, "/J100/" + long, "/nodir/" + long + ".bin"}
	requests := 0

	// curl: the fast path answers these.
	for _, n := range names {
		if status, _ := curl(t, "http://"+ts.http+n); status != http.StatusNotFound {
			t.Errorf("curl GET %.20s…: %d, want 404", n, status)
		}
		requests++
	}
	// Go's client, with a Range header that sends the request on to
	// net/http, over HTTP and HTTPS.
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ts.state.Load().tls.CACertPEM)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"},
	}}
	defer client.CloseIdleConnections()
	for _, base := range []string{"http://" + ts.http, "https://" + ts.https} {
		for _, n := range names {
			req, err := http.NewRequest(http.MethodGet, base+n, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Range", "bytes=0-9")
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("Go client GET %.30s…: %d, want 404", base+n, resp.StatusCode)
			}
			requests++
		}
	}
	if got := ts.fastServers()[0].handedOff.Load(); got == 0 {
		t.Error("no request reached net/http")
	}
	// TFTP: error 1, file not found. (tftp-hpa, as atftp cuts names to
	// 255 bytes.)
	dir := t.TempDir()
	for _, n := range names {
		log, _ := tftpHPA(t, ts.tftp, "get "+strings.TrimPrefix(n, "/")+" "+filepath.Join(dir, "x"))
		if !strings.Contains(log, "Error code 1: file not found") {
			t.Errorf("tftp get %.20s…: %s", n, log)
		}
		requests++
	}
	if ev, ok := ts.events.find("tftp", names[1][1:]); !ok || ev.Status != http.StatusNotFound || ev.Detail != "refused: too_long" {
		t.Errorf("tftp access event: %+v", ev)
	}
	if ev, ok := ts.events.find("http", names[1]); !ok || ev.Status != http.StatusNotFound || ev.Detail != "refused: too_long" {
		t.Errorf("http access event: %+v", ev)
	}

	if got := testutil.ToFloat64(ts.metrics.refused.WithLabelValues("too_long")); got != float64(requests) {
		t.Errorf("refused{too_long} = %v, want %d", got, requests)
	}
	if got := testutil.ToFloat64(ts.metrics.requests.WithLabelValues("http", "500")); got != 0 {
		t.Errorf("requests{http,500} = %v", got)
	}
	if out := logs.String(); strings.Contains(out, "level=ERROR") || strings.Contains(out, "level=WARN") {
		t.Errorf("an unanswerable name logged as a fault:\n%s", out)
	}
}
