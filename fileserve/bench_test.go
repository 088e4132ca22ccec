package fileserve

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkSmallFileRequest measures one keep-alive GET of a cached 2 KiB
// file over loopback, client included, on each path: allocs/op are the
// server's (the client reuses its buffers).
func BenchmarkSmallFileRequest(b *testing.B) {
	for _, c := range []struct {
		name        string
		netHTTPOnly bool
	}{{"fast", false}, {"nethttp", true}} {
		b.Run(c.name, func(b *testing.B) {
			data := b.TempDir()
			files := filepath.Join(data, "files")
			os.MkdirAll(files, 0o755)
			if err := os.WriteFile(filepath.Join(files, "settings-small.bin"), make([]byte, 2048), 0o644); err != nil {
				b.Fatal(err)
			}
			cfg := DefaultConfig()
			cfg.HTTP.Listen = []string{"127.0.0.1:0"}
			cfg.HTTPS.Enabled = false
			cfg.TFTP.Enabled = false
			srv, err := New(context.Background(), cfg, Options{FilesDir: files, TLSDir: filepath.Join(data, "tls")})
			if err != nil {
				b.Fatal(err)
			}
			if err := srv.Bind(); err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			if c.netHTTPOnly {
				var handshakeErrors atomic.Int64
				go func() { done <- serveNetHTTPOnly(ctx, srv, &handshakeErrors) }()
			} else {
				go func() { done <- srv.Serve(ctx) }()
			}
			defer func() { cancel(); <-done }()

			conn, err := net.Dial("tcp", srv.Addrs()["http"][0].String())
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			req := []byte("GET /settings-small.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
			conn.Write(req)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil || resp.StatusCode != 200 {
				b.Fatalf("%v %v", err, resp)
			}
			// The response has a fixed length but for the Date, which has one.
			br := bufio.NewReader(conn)
			var size int
			conn.Write(req)
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					b.Fatal(err)
				}
				size += len(line)
				if len(line) == 2 {
					break
				}
			}
			size += 2048
			io.ReadFull(br, make([]byte, 2048))
			buf := make([]byte, size)
			conn.SetDeadline(time.Now().Add(time.Minute))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := conn.Write(req); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(conn, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
