package ha

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/dhcpd/leases"
)

// TestAnswerHasContentLength: a page of leases larger than the HTTP
// server's buffer goes out with its Content-Length, not chunked: Kea's
// HTTP client reads no body without one (response_parser.cc) and failed
// to synchronise from a phoneprov holding a few dozen leases.
func TestAnswerHasContentLength(t *testing.T) {
	s, err := New(testConfig("b"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	db := &memDB{ls: map[netip.Addr]leases.Lease{}}
	for i := range 100 {
		a := netip.AddrFrom4([4]byte{198, 18, 0, byte(10 + i)})
		db.ls[a] = leases.Lease{Addr: a, HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, byte(i)}, Start: epoch, Expiry: epoch.Add(time.Hour), State: leases.Active}
	}
	s.db = db
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	resp, err := http.Post(srv.URL, "application/json", bytes.NewBufferString(`{"command":"lease4-get-page","service":["dhcp4"],"arguments":{"from":"start","limit":100}}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if len(body) < 8192 {
		t.Fatalf("the page is only %d bytes; the test wants one larger than the server's buffer", len(body))
	}
	if resp.Header.Get("Content-Length") != strconv.Itoa(len(body)) || len(resp.TransferEncoding) != 0 {
		t.Errorf("Content-Length %q, Transfer-Encoding %v for a %d-byte answer", resp.Header.Get("Content-Length"), resp.TransferEncoding, len(body))
	}
	a, err := decodeAnswer(body)
	if err != nil || a.Result != ResultSuccess {
		t.Fatalf("answer %+v, %v", a, err)
	}
}
