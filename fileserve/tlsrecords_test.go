package fileserve

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// recordingConn keeps a copy of every byte read from the server.
type recordingConn struct {
	net.Conn
	got bytes.Buffer
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.got.Write(p[:n])
	return n, err
}

// appDataRecords returns the lengths of the TLS application-data records
// in a raw server-to-client stream.
func appDataRecords(t *testing.T, b []byte) []int {
	t.Helper()
	var out []int
	for len(b) > 0 {
		if len(b) < 5 {
			t.Fatalf("truncated TLS record header: % x", b)
		}
		typ, n := b[0], int(binary.BigEndian.Uint16(b[3:5]))
		if len(b) < 5+n {
			t.Fatalf("truncated TLS record: want %d bytes, have %d", n, len(b)-5)
		}
		if typ == 23 {
			out = append(out, n)
		}
		b = b[5+n:]
	}
	return out
}

// TestTLSResponseInFullRecords: on a fresh connection a response leaves in
// records of up to 16 KiB, as nginx sends them (ssl_buffer_size 16k), not
// in the small first records of crypto/tls's dynamic record sizing, each
// of which costs a write of its own: a 2 KiB settings file is one record,
// 40 KiB three (the fast path) or four (net/http, for a Range request;
// nine before).
func TestTLSResponseInFullRecords(t *testing.T) {
	ts := startServer(t, nil)
	for name, size := range map[string]int{"settings-small.txt": 2 << 10, "firmware-40k.bin": 40 << 10} {
		if err := os.WriteFile(filepath.Join(ts.filesDir, name), bytes.Repeat([]byte("x"), size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name, rangeHdr string
		size           int
		records        int
	}{
		{"settings-small.txt", "", 2 << 10, 1},
		{"firmware-40k.bin", "", 40 << 10, 3},
		{"firmware-40k.bin", "bytes=0-", 40 << 10, 4}, // net/http's path: its 4 KiB buffer, then 32 KiB copies
	} {
		raw, err := net.DialTimeout("tcp", ts.https, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		raw.SetDeadline(time.Now().Add(10 * time.Second))
		rc := &recordingConn{Conn: raw}
		// TLS 1.2: handshake messages keep their own record type there, so
		// the application-data records are the response's alone.
		conn := tls.Client(rc, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12}) //nolint:gosec // test server
		if err := conn.Handshake(); err != nil {
			t.Fatal(err)
		}
		before := rc.got.Len()
		req := "GET /" + c.name + " HTTP/1.1\r\nHost: x\r\n"
		if c.rangeHdr != "" {
			req += "Range: " + c.rangeHdr + "\r\n"
		}
		if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil || len(body) != c.size {
			t.Fatalf("%s: %d bytes, %v", c.name, len(body), err)
		}
		conn.Close()
		recs := appDataRecords(t, rc.got.Bytes()[before:])
		if len(recs) != c.records {
			t.Errorf("%s (range %q): response in %d records %v, want %d", c.name, c.rangeHdr, len(recs), recs, c.records)
		}
	}
	// Every connection above made one handshake, the one handed to
	// net/http too (the fast path shakes hands first).
	if got := testutil.ToFloat64(ts.metrics.tlsHandshakes); got != 3 {
		t.Errorf("tls_handshakes_total = %v after 3 connections", got)
	}
}
