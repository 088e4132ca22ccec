package appliance

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/config"

	"github.com/phoneprov/phoneprov/internal/syncbuf"
)

// systemdSocket is systemd's end of NOTIFY_SOCKET: a datagram socket
// that receives the service's notifications.
type systemdSocket struct {
	conn *net.UnixConn
}

func listenNotify(t *testing.T, name string) *systemdSocket {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &systemdSocket{conn: conn}
}

// next returns the next notification, failing after timeout.
func (s *systemdSocket) next(t *testing.T, timeout time.Duration) string {
	t.Helper()
	buf := make([]byte, 4096)
	s.conn.SetReadDeadline(time.Now().Add(timeout))
	n, err := s.conn.Read(buf)
	if err != nil {
		t.Fatalf("no notification within %s: %v", timeout, err)
	}
	return string(buf[:n])
}

// await returns the next notification that holds state, skipping
// WATCHDOG=1 unless that is what is awaited.
func (s *systemdSocket) await(t *testing.T, state string) string {
	t.Helper()
	for range 100 {
		msg := s.next(t, 20*time.Second)
		if strings.Contains("\n"+msg+"\n", "\n"+state+"\n") {
			return msg
		}
		if msg != "WATCHDOG=1" {
			t.Fatalf("got %q while waiting for %s", msg, state)
		}
	}
	t.Fatalf("no %s in 100 notifications", state)
	return ""
}

// serveConfig writes a configuration that listens on 127.0.0.1 ports the
// kernel picks, with one file to serve, and returns its path.
func serveConfig(t *testing.T) (path, files string) {
	t.Helper()
	base := t.TempDir()
	files = filepath.Join(base, "files")
	if err := os.MkdirAll(files, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(files, "46xxsettings.txt"), []byte("SET X 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(base, "phoneprov.toml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(`data_dir = %q
[admin]
listen = "127.0.0.1:0"
[fileserve]
root = %q
drain_timeout = "2s"
[fileserve.http]
listen = ["127.0.0.1:0"]
[fileserve.https]
enabled = false
[fileserve.tftp]
listen = ["127.0.0.1:0"]
`, filepath.Join(base, "data"), files)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, files
}

var readyHTTP = regexp.MustCompile(`STATUS=serving .*http (127\.0\.0\.1:\d+)`)

// Serve under systemd: READY=1 comes once the listeners take connections
// (the test fetches a file the moment it arrives), WATCHDOG=1 comes
// periodically while the readiness checks pass and stops while one fails,
// a SIGHUP is wrapped in RELOADING=1 and READY=1, and SIGTERM brings
// STOPPING=1. Both socket kinds systemd uses are tried: a path and an
// abstract name.
func TestServeNotifiesSystemd(t *testing.T) {
	for _, kind := range []string{"path", "abstract"} {
		t.Run(kind, func(t *testing.T) {
			name := filepath.Join(t.TempDir(), "notify")
			if kind == "abstract" {
				name = fmt.Sprintf("@phoneprov-test-%d-%d", os.Getpid(), time.Now().UnixNano())
			}
			sd := listenNotify(t, name)
			t.Setenv("NOTIFY_SOCKET", name)
			t.Setenv("WATCHDOG_USEC", "200000") // fed every 100 ms
			t.Setenv("WATCHDOG_PID", fmt.Sprint(os.Getpid()))
			cfgPath, files := serveConfig(t)
			cfg, err := config.Load(cfgPath)
			if err != nil {
				t.Fatal(err)
			}
			logs := &syncbuf.Buffer{}
			done := make(chan error, 1)
			go func() {
				done <- Serve(context.Background(), cfg, Options{ConfigPath: cfgPath, Version: "test",
					Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			}()
			ready := sd.await(t, "READY=1")
			m := readyHTTP.FindStringSubmatch(ready)
			if m == nil {
				t.Fatalf("READY=1 came without the listen addresses: %q", ready)
			}
			c := http.Client{Timeout: 10 * time.Second}
			resp, err := c.Get("http://" + m[1] + "/46xxsettings.txt")
			if err != nil {
				t.Fatalf("the file server does not answer when READY=1 comes: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("GET after READY=1: %d", resp.StatusCode)
			}
			for range 3 {
				sd.await(t, "WATCHDOG=1")
			}

			// A wedged or broken part: the file tree is gone. The watchdog
			// goes hungry until it is back.
			if err := os.Rename(files, files+".away"); err != nil {
				t.Fatal(err)
			}
			waitLog(t, logs, "the systemd watchdog is no longer fed")
			drain(sd)
			quiet := time.Now().Add(time.Second) // five watchdog intervals
			for time.Now().Before(quiet) {
				sd.conn.SetReadDeadline(quiet)
				buf := make([]byte, 4096)
				if n, err := sd.conn.Read(buf); err == nil {
					t.Fatalf("notification %q while a readiness check fails", buf[:n])
				}
			}
			if err := os.Rename(files+".away", files); err != nil {
				t.Fatal(err)
			}
			sd.await(t, "WATCHDOG=1")

			if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			if msg := sd.await(t, "RELOADING=1"); !regexp.MustCompile(`\nMONOTONIC_USEC=\d+$`).MatchString(msg) {
				t.Errorf("RELOADING=1 without MONOTONIC_USEC: %q", msg)
			}
			if msg := sd.await(t, "READY=1"); !strings.Contains(msg, "STATUS=reloaded") {
				t.Errorf("after the reload: %q", msg)
			}

			if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			sd.await(t, "STOPPING=1")
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Serve: %v\n%s", err, logs.String())
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("Serve did not return after SIGTERM\n%s", logs.String())
			}
		})
	}
}

// drain discards the notifications already queued.
func drain(sd *systemdSocket) {
	buf := make([]byte, 4096)
	for {
		sd.conn.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		if _, err := sd.conn.Read(buf); err != nil {
			return
		}
	}
}

func waitLog(t *testing.T, logs *syncbuf.Buffer, text string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), text); {
		if time.Now().After(deadline) {
			t.Fatalf("the log never said %q:\n%s", text, logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWatchdogInterval(t *testing.T) {
	for _, tc := range []struct {
		usec, pid string
		want      time.Duration
		err       bool
	}{
		{"", "", 0, false},
		{"30000000", "", 15 * time.Second, false},
		{"30000000", "4242", 15 * time.Second, false},
		{"30000000", "1", 0, false}, // meant for another process
		{"0", "", 0, true},
		{"soon", "", 0, true},
	} {
		got, err := watchdogInterval(tc.usec, tc.pid, 4242)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("watchdogInterval(%q, %q) = %v, %v; want %v, error %v", tc.usec, tc.pid, got, err, tc.want, tc.err)
		}
	}
}

func TestNotifySocketMustBeUnix(t *testing.T) {
	if _, err := newNotifier("vsock:2:1234", slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "NOTIFY_SOCKET") {
		t.Errorf("vsock address: %v", err)
	}
	if _, err := newNotifier(filepath.Join(t.TempDir(), "none"), slog.New(slog.DiscardHandler)); err == nil {
		t.Error("a socket nobody listens on was accepted")
	}
}
