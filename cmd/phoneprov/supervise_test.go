package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/internal/syncbuf"
)

// serveInProcess runs `phoneprov serve -c cfgPath` in this process and
// returns its exit code and what it wrote, once it has exited.
type serveInProcess struct {
	logs *syncbuf.Buffer
	code chan int
}

func startServe(t *testing.T, cfgPath string) *serveInProcess {
	t.Helper()
	s := &serveInProcess{logs: &syncbuf.Buffer{}, code: make(chan int, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { s.code <- run(ctx, []string{"serve", "-c", cfgPath}, os.Stdout, s.logs) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.code:
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(s.logs.String(), "phoneprov started") {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", s.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return s
}

// exit waits for serve to exit on its own.
func (s *serveInProcess) exit(t *testing.T) int {
	t.Helper()
	select {
	case code := <-s.code:
		s.code <- code // for the clean-up
		return code
	case <-time.After(30 * time.Second):
		t.Fatalf("serve is still running:\n%s", s.logs.String())
		return 0
	}
}

// shutdownListener shuts down, from outside the server's code, the
// listening TCP socket of this process bound to port, as a failing
// kernel or an administrator's `ss -K` would: its Accept fails.
func shutdownListener(t *testing.T, port int) {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if v, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN); err != nil || v != 1 {
			continue
		}
		sa, err := syscall.Getsockname(fd)
		if err != nil {
			continue
		}
		if in4, ok := sa.(*syscall.SockaddrInet4); ok && in4.Port == port {
			if err := syscall.Shutdown(fd, syscall.SHUT_RDWR); err != nil {
				t.Fatalf("shutdown fd %d: %v", fd, err)
			}
			return
		}
	}
	t.Fatalf("no listening socket on port %d in this process", port)
}

func refused(port int) bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 2*time.Second)
	if err == nil {
		c.Close()
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// A listener that dies while serve runs stops the whole process with a
// non-zero result and the cause, so systemd restarts it; before, serve
// kept running (waiting for the inventory) with the listener gone.
func TestServeExitsWhenAListenerDies(t *testing.T) {
	for _, tc := range []struct {
		name     string
		portIdx  int    // which of configFor's ports dies: 0 admin, 1 http
		wantPart string // the part the cause is logged under
	}{
		{"http", 1, "fileserve"},
		{"admin", 0, "admin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			root := filepath.Join(base, "files")
			os.MkdirAll(root, 0o755)
			ports := freePorts(t, 4)
			cfgPath := filepath.Join(base, "phoneprov.toml")
			os.WriteFile(cfgPath, []byte(configFor(filepath.Join(base, "data"), root, ports)), 0o644)
			s := startServe(t, cfgPath)

			shutdownListener(t, ports[tc.portIdx])
			if code := s.exit(t); code != 1 {
				t.Fatalf("exit code %d after the %s listener died, want 1:\n%s", code, tc.name, s.logs.String())
			}
			logs := s.logs.String()
			wantCause := fmt.Sprintf("127.0.0.1:%d", ports[tc.portIdx])
			if !strings.Contains(logs, "part="+tc.wantPart) || !strings.Contains(logs, wantCause) || !strings.Contains(logs, "phoneprov serve: "+tc.wantPart+": ") {
				t.Errorf("the cause (%s on %s) is not told:\n%s", tc.wantPart, wantCause, logs)
			}
			for i, name := range []string{"admin", "http", "https"} {
				if !refused(ports[i]) {
					t.Errorf("the %s listener is still open after serve stopped", name)
				}
			}
		})
	}
}

// A missing certificate is an error with its cause at start, not a panic
// in the clean-up after it.
func TestServeTellsWhyItCannotStart(t *testing.T) {
	base := t.TempDir()
	ports := freePorts(t, 4)
	cfgPath := filepath.Join(base, "phoneprov.toml")
	cfg := strings.Replace(configFor(filepath.Join(base, "data"), "", ports), "[fileserve.tftp]",
		"cert_file = \"missing.pem\"\nkey_file = \"missing.key\"\n[fileserve.tftp]", 1)
	os.WriteFile(cfgPath, []byte(cfg), 0o644)
	var stderr syncbuf.Buffer
	code := run(context.Background(), []string{"serve", "-c", cfgPath}, os.Stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit code %d, want 1:\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "https certificate") || !strings.Contains(stderr.String(), "missing.pem") {
		t.Errorf("the cause is not printed:\n%s", stderr.String())
	}
}
