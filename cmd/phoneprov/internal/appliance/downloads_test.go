package appliance

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// holdDownload starts a GET of name and reads only the response head,
// leaving the body unread so the download stays in flight until the
// connection is closed.
func holdDownload(t *testing.T, base, name string) (net.Conn, *http.Response) {
	t.Helper()
	return holdDownloadFrom(t, netip.Addr{}, base, name)
}

// holdDownloadFrom is holdDownload from a local address of the phone's
// own (any when invalid).
func holdDownloadFrom(t *testing.T, from netip.Addr, base, name string) (net.Conn, *http.Response) {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if from.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: from.AsSlice()}
	}
	conn, err := d.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.(*net.TCPConn).SetReadBuffer(16 << 10)
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET /%s HTTP/1.1\r\nHost: phoneprov\r\nUser-Agent: %s\r\n\r\n", name, j179Agent)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", name, err)
	}
	return conn, resp
}

// TestFirmwareDownloadCap runs the appliance with max_concurrent = 2:
// with two slow firmware downloads in flight a third phone gets 503 and
// Retry-After, settings still go out, the refusal is counted, and once
// one download ends the next phone gets its image.
func TestFirmwareDownloadCap(t *testing.T) {
	ta := startAppliance(t, "[provisioning.downloads]\nmax_concurrent = 2\nretry_after = \"20s\"")
	const fw = "FW_S_J179_R4_1_3_0_6.bin"
	if err := os.WriteFile(filepath.Join(ta.filesDir, fw), make([]byte, 32<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	// The tree is watched: wait until the new size is served.
	deadline := time.Now().Add(10 * time.Second)
	first, resp := holdDownload(t, ta.http, fw)
	for resp.ContentLength != 32<<20 {
		first.Close()
		if time.Now().After(deadline) {
			t.Fatalf("the 32 MiB image is not served: Content-Length %d", resp.ContentLength)
		}
		time.Sleep(50 * time.Millisecond)
		first, resp = holdDownload(t, ta.http, fw)
	}
	if _, resp := holdDownload(t, ta.http, fw); resp.StatusCode != http.StatusOK {
		t.Fatalf("second download: %s", resp.Status)
	}
	if _, resp := holdDownload(t, ta.http, fw); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "20" {
		t.Fatalf("third download: %s, Retry-After %q; want 503, 20", resp.Status, resp.Header.Get("Retry-After"))
	}
	if code := ta.fetch(t, "46xxsettings.txt", j179Agent); code != http.StatusOK {
		t.Errorf("settings under a full cap: %d", code)
	}
	_, metrics := ta.get(t, "/metrics")
	for _, want := range []string{
		`phoneprov_firmware_downloads_refused_total{protocol="http"} 1`,
		"phoneprov_firmware_downloads_active 2",
		"phoneprov_firmware_downloads_max 2",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	first.Close()
	deadline = time.Now().Add(10 * time.Second)
	for {
		conn, resp := holdDownload(t, ta.http, fw)
		conn.Close()
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after one download ended: still %s", resp.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestFirmwareDownloadCapPerLink runs the appliance with max_per_link = 1
// and a DHCP subnet 127.0.0.0/16 configured (DHCP off): a second phone of
// that subnet gets 503 while one of 127.1.0.0/24 (in no subnet: its /24
// is its link) gets its image; the status page shows the caps in use.
func TestFirmwareDownloadCapPerLink(t *testing.T) {
	ta := startAppliance(t, "[provisioning.downloads]\nmax_per_link = 1\nretry_after = \"7s\"\n[[dhcp.subnet]]\ncidr = \"127.0.0.0/16\"\ninterface = \"lo\"\n[[dhcp.subnet.pool]]\nstart = \"127.0.200.1\"\nend = \"127.0.200.9\"")
	const fw = "FW_S_J179_R4_1_3_0_6.bin"
	if err := os.WriteFile(filepath.Join(ta.filesDir, fw), make([]byte, 32<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	a, b, other := netip.MustParseAddr("127.0.0.31"), netip.MustParseAddr("127.0.9.32"), netip.MustParseAddr("127.1.0.33")
	deadline := time.Now().Add(10 * time.Second)
	first, resp := holdDownloadFrom(t, a, ta.http, fw)
	for resp.ContentLength != 32<<20 {
		first.Close()
		if time.Now().After(deadline) {
			t.Fatalf("the 32 MiB image is not served: Content-Length %d", resp.ContentLength)
		}
		time.Sleep(50 * time.Millisecond)
		first, resp = holdDownloadFrom(t, a, ta.http, fw)
	}
	if _, resp := holdDownloadFrom(t, b, ta.http, fw); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "7" {
		t.Fatalf("second phone of 127.0.0.0/16: %s, Retry-After %q; want 503, 7", resp.Status, resp.Header.Get("Retry-After"))
	}
	if _, resp := holdDownloadFrom(t, other, ta.http, fw); resp.StatusCode != http.StatusOK {
		t.Fatalf("a phone of another link: %s", resp.Status)
	}
	_, metrics := ta.get(t, "/metrics")
	for _, want := range []string{
		"phoneprov_firmware_downloads_link_refused_total 1",
		"phoneprov_firmware_downloads_link_max 1",
		"phoneprov_firmware_downloads_active 2",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	_, page := ta.get(t, "/")
	cap := section(t, page, "downloads")
	for _, want := range []string{"127.0.0.0/16", "127.1.0.0/24", "refused"} {
		if !strings.Contains(cap, want) {
			t.Errorf("the download section lacks %q:\n%s", want, cap)
		}
	}
}
