package fetch

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pin/tftp/v3"

	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/tftpc"
)

var loopback = netip.MustParseAddr("127.0.0.1")

type recorder struct {
	mu sync.Mutex
	ts []Transfer
}

func (r *recorder) observe(t Transfer) {
	r.mu.Lock()
	r.ts = append(r.ts, t)
	r.mu.Unlock()
}

func handler(t *testing.T, gotUA *string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /J100Supgrade.txt", func(w http.ResponseWriter, r *http.Request) {
		*gotUA = r.UserAgent()
		io.WriteString(w, "GET 46xxsettings.txt\n")
	})
	mux.HandleFunc("GET /short.bin", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.Write(make([]byte, 500))
		w.(http.Flusher).Flush()
		// The handler returns early: the server cuts the connection.
		panic(http.ErrAbortHandler)
	})
	mux.HandleFunc("PUT /backup/{name}", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if string(b) != "SPEAKERSTAT=2\n" || r.Header.Get("Authorization") != "Basic eA==" {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("GET /boom", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusInternalServerError)
	})
	return mux
}

func TestHTTPAndTrust(t *testing.T) {
	var ua string
	srv := httptest.NewUnstartedServer(handler(t, &ua))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the expected handshake failure
	srv.StartTLS()
	defer srv.Close()
	plain := httptest.NewServer(handler(t, &ua))
	defer plain.Close()
	var rec recorder
	c := New(Config{Local: loopback, UserAgent: "AVAYA/J179-4.1.3.0.6", Observe: rec.observe, RequestTimeout: 5 * time.Second})
	defer c.Close()
	ctx := context.Background()
	host := strings.TrimPrefix(srv.URL, "https://")

	// A first boot trusts nothing.
	var buf bytes.Buffer
	if _, err := c.Get(ctx, HTTPS, host, "J100Supgrade.txt", &buf); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("HTTPS before TRUSTCERTS: err = %v, want ErrUntrusted", err)
	}
	// Plain HTTP works and carries the User-Agent.
	tr, err := c.Get(ctx, HTTP, strings.TrimPrefix(plain.URL, "http://"), "/J100Supgrade.txt", &buf)
	if err != nil || buf.String() != "GET 46xxsettings.txt\n" || tr.Status != 200 || tr.Bytes != 21 || tr.Size != 21 {
		t.Fatalf("HTTP: %+v %v %q", tr, err, buf.String())
	}
	if ua != "AVAYA/J179-4.1.3.0.6" {
		t.Errorf("User-Agent %q", ua)
	}
	// After loading the server's CA, HTTPS verifies.
	if err := c.Trust([]byte("junk")); err == nil {
		t.Error("Trust accepted a file without certificates")
	}
	pemCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := c.Trust(pemCert); err != nil {
		t.Fatal(err)
	}
	if c.Trusted() != 1 {
		t.Errorf("Trusted = %d", c.Trusted())
	}
	buf.Reset()
	if _, err := c.Get(ctx, HTTPS, host, "J100Supgrade.txt", &buf); err != nil || buf.Len() != 21 {
		t.Fatalf("HTTPS after TRUSTCERTS: %v", err)
	}
	// Errors are classified.
	if _, err := c.Get(ctx, HTTPS, host, "missing.txt", io.Discard); !errors.Is(err, ErrNotFound) {
		t.Errorf("404: %v", err)
	}
	if _, err := c.Get(ctx, HTTPS, host, "short.bin", io.Discard); !errors.Is(err, ErrSizeMismatch) {
		t.Errorf("cut body: %v", err)
	}
	if _, err := c.Get(ctx, HTTPS, host, "boom", io.Discard); err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("500: %v", err)
	}
	l, _ := net.Listen("tcp4", "127.0.0.1:0")
	closed := l.Addr().String()
	l.Close()
	if _, err := c.Get(ctx, HTTP, closed, "x", io.Discard); !errors.Is(err, ErrUnreachable) {
		t.Errorf("closed port: %v", err)
	}
	// A backup.
	tr, err = c.Put(ctx, srv.URL+"/backup/2001_96xxdata.txt", http.Header{"Authorization": {"Basic eA=="}}, []byte("SPEAKERSTAT=2\n"))
	if err != nil || tr.Status != 201 || tr.Bytes != 14 {
		t.Errorf("PUT: %+v %v", tr, err)
	}
	if _, err := c.Put(ctx, srv.URL+"/backup/x", nil, []byte("bad")); err == nil {
		t.Error("PUT answered 400 reported success")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.ts) != 9 {
		t.Errorf("observed %d transfers, want 9", len(rec.ts))
	}
}

func TestTFTP(t *testing.T) {
	srv := tftp.NewServer(func(name string, rf io.ReaderFrom) error {
		if name != "46xxupgrade.scr" {
			return fmt.Errorf("%s: %w", name, os.ErrNotExist)
		}
		rf.(tftp.OutgoingTransfer).SetSize(6)
		_, err := rf.ReadFrom(strings.NewReader("GET x\n"))
		return err
	}, nil)
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(conn)
	defer srv.Shutdown()
	c := New(Config{Local: loopback, TFTP: tftpc.Options{TSize: true}})
	var buf bytes.Buffer
	addr := conn.LocalAddr().String()
	tr, err := c.Get(context.Background(), TFTP, addr, "/46xxupgrade.scr", &buf)
	if err != nil || buf.String() != "GET x\n" || tr.Status != 200 || tr.Size != 6 {
		t.Fatalf("%+v %v", tr, err)
	}
	if _, err := c.Get(context.Background(), TFTP, addr, "nope", io.Discard); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
}

// TestDialedCountsConnections: Dialed hears of every connection opened,
// and files fetched one after another share one connection per server.
func TestDialedCountsConnections(t *testing.T) {
	var ua string
	srv := httptest.NewTLSServer(handler(t, &ua))
	defer srv.Close()
	plain := httptest.NewServer(handler(t, &ua))
	defer plain.Close()
	var mu sync.Mutex
	dialed := map[Protocol]int{}
	c := New(Config{Local: loopback, RequestTimeout: 5 * time.Second, Dialed: func(p Protocol) {
		mu.Lock()
		dialed[p]++
		mu.Unlock()
	}})
	defer c.Close()
	if err := c.Trust(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 3 {
		if _, err := c.Get(ctx, HTTPS, strings.TrimPrefix(srv.URL, "https://"), "J100Supgrade.txt", io.Discard); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(ctx, HTTP, strings.TrimPrefix(plain.URL, "http://"), "J100Supgrade.txt", io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	// The server drops the HTTPS connection: the next file needs a new one.
	srv.CloseClientConnections()
	if _, err := c.Get(ctx, HTTPS, strings.TrimPrefix(srv.URL, "https://"), "J100Supgrade.txt", io.Discard); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if dialed[HTTPS] != 2 || dialed[HTTP] != 1 {
		t.Errorf("dialed %v, want 2 HTTPS connections and 1 HTTP", dialed)
	}
}

// TestOffersAtMostItsTLSVersion: the ClientHello offers no version above
// Config.TLSMax (TLS 1.2 when unset), and so no TLS 1.3 key share.
func TestOffersAtMostItsTLSVersion(t *testing.T) {
	for _, tc := range []struct {
		max, want uint16
	}{{0, tls.VersionTLS12}, {tls.VersionTLS12, tls.VersionTLS12}, {tls.VersionTLS13, tls.VersionTLS13}} {
		var offered []uint16
		var ua string
		srv := httptest.NewUnstartedServer(handler(t, &ua))
		srv.Config.ErrorLog = log.New(io.Discard, "", 0)
		srv.TLS = &tls.Config{GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			offered = hello.SupportedVersions
			return nil, nil
		}}
		srv.StartTLS()
		c := New(Config{Local: loopback, RequestTimeout: 5 * time.Second, TLSMax: tc.max})
		if err := c.Trust(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})); err != nil {
			t.Fatal(err)
		}
		tr, err := c.Get(context.Background(), HTTPS, strings.TrimPrefix(srv.URL, "https://"), "J100Supgrade.txt", io.Discard)
		c.Close()
		srv.Close()
		if err != nil || tr.Status != 200 {
			t.Fatalf("TLSMax %#x: %+v %v", tc.max, tr, err)
		}
		if len(offered) == 0 || slices.Max(offered) != tc.want {
			t.Errorf("TLSMax %#x: offered %#x, want at most %#x", tc.max, offered, tc.want)
		}
	}
}
