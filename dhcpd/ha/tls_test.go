package ha

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/dhcpd/ha/hatest"
	"github.com/phoneprov/phoneprov/dhcpd/leases"
)

// freePort returns a loopback port nothing listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestTLSPeerChannel: with trust_anchor, cert_file and key_file the
// partner's commands arrive over TLS; the listener refuses a partner
// without a certificate and plain HTTP; the client checks the partner's
// certificate against the trust anchor.
func TestTLSPeerChannel(t *testing.T) {
	dir := t.TempDir()
	lo := netip.MustParseAddr("127.0.0.1")
	ca, files, err := hatest.WriteCerts(dir, map[string]netip.Addr{"a": lo, "b": lo})
	if err != nil {
		t.Fatal(err)
	}
	addrA, addrB := freePort(t), freePort(t)
	cfg := func(this string) Config {
		c := testConfig(this)
		c.Peers[0].URL, c.Peers[1].URL = "https://"+addrA+"/", "https://"+addrB+"/"
		c.TrustAnchor, c.CertFile, c.KeyFile = ca, files[this].Cert, files[this].Key
		var problems []string
		c.Validate(func(k string, err error) { problems = append(problems, k+": "+err.Error()) })
		if len(problems) > 0 {
			t.Fatalf("TLS configuration refused: %v", problems)
		}
		return c
	}
	b, err := New(cfg("b"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Bind(&memDB{ls: map[netip.Addr]leases.Lease{}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	defer func() { cancel(); <-done }()

	a, err := New(cfg("a"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	hb, _ := newCommand("ha-heartbeat", nil)
	rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer rcancel()
	if ans, err := a.client.do(rctx, hb); err != nil || ans.Result != ResultSuccess {
		t.Fatalf("heartbeat over TLS: %+v, %v", ans, err)
	}

	pem, _ := os.ReadFile(ca)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	noCert := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if resp, err := noCert.Post("https://"+addrB+"/", "application/json", strings.NewReader(`{"command":"ha-heartbeat"}`)); err == nil {
		resp.Body.Close()
		t.Error("a partner without a certificate was answered")
	}
	plain := &http.Client{Timeout: 5 * time.Second}
	if resp, err := plain.Post("http://"+addrB+"/", "application/json", strings.NewReader(`{"command":"ha-heartbeat"}`)); err == nil && resp.StatusCode == http.StatusOK {
		resp.Body.Close()
		t.Error("plain HTTP was answered on the TLS listener")
	}

	// A client that trusts another CA refuses the listener.
	other, otherFiles, err := hatest.WriteCerts(t.TempDir(), map[string]netip.Addr{"a": lo})
	if err != nil {
		t.Fatal(err)
	}
	c := cfg("a")
	c.TrustAnchor, c.CertFile, c.KeyFile = other, otherFiles["a"].Cert, otherFiles["a"].Key
	stranger, err := New(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stranger.client.do(rctx, hb); err == nil {
		t.Error("the client accepted a partner certificate from an untrusted CA")
	}
}

// TestTLSConfigValidate: the three TLS files go together, https needs
// them and they need https.
func TestTLSConfigValidate(t *testing.T) {
	problems := func(c Config) string {
		var got []string
		c.Validate(func(k string, err error) { got = append(got, k+": "+err.Error()) })
		return strings.Join(got, "\n")
	}
	c := testConfig("a")
	c.TrustAnchor = "/nonexistent/ca.pem"
	if p := problems(c); !strings.Contains(p, "trust_anchor: trust_anchor, cert_file and key_file go together") {
		t.Errorf("a trust anchor alone: %s", p)
	}
	c.CertFile, c.KeyFile = "/nonexistent/a.pem", "/nonexistent/a-key.pem"
	if p := problems(c); !strings.Contains(p, "cert_file: trust_anchor") || !strings.Contains(p, "the scheme must be https") {
		t.Errorf("TLS with http URLs and missing files: %s", p)
	}
}
