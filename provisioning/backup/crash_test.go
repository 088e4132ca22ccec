package backup

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/internal/durable"
)

// The killed-writer tests re-run this test binary as a child process
// (TestChildProcess with PHONEPROV_BACKUP_CHILD set) that writes slowly,
// kill it with SIGKILL mid-write, and check what is left.

const childEnv = "PHONEPROV_BACKUP_CHILD"

// TestChildProcess is the child's body; it does nothing in a normal run.
func TestChildProcess(t *testing.T) {
	switch os.Getenv(childEnv) {
	case "":
		t.Skip("helper for the killed-writer tests")
	case "store":
		// The appliance itself dies while storing an upload.
		cfg := DefaultConfig()
		cfg.MaxBytes = 1 << 30 // the parent kills us long before
		s, err := New(cfg, Options{Dir: os.Getenv("PHONEPROV_BACKUP_DIR")})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		_, err = s.Put(context.Background(), "1234_96xxdata.txt", slowReader{})
		fmt.Fprintln(os.Stderr, "put returned:", err)
		os.Exit(3) // never reached: the parent kills us first
	case "client":
		// A phone dies (or loses power) while uploading.
		conn, err := net.Dial("tcp", os.Getenv("PHONEPROV_BACKUP_ADDR"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Fprintf(conn, "PUT /backup/1234_96xxdata.txt HTTP/1.1\r\nHost: x\r\nUser-Agent: AVAYA/test\r\nContent-Length: 100000\r\n\r\n")
		io.Copy(conn, slowReader{})
		os.Exit(3)
	}
}

// slowReader yields 512 bytes every 5 ms, forever.
type slowReader struct{}

func (slowReader) Read(p []byte) (int, error) {
	time.Sleep(5 * time.Millisecond)
	n := min(len(p), 512)
	for i := range n {
		p[i] = 'k'
	}
	return n, nil
}

func startChild(t *testing.T, mode string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildProcess$", "-test.count=1")
	cmd.Env = append(append(os.Environ(), childEnv+"="+mode), env...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// waitForTemp waits until an upload in progress has at least min bytes on disk.
func waitForTemp(t *testing.T, dir string, min int64) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if durable.IsTemp(e.Name()) {
				if fi, err := e.Info(); err == nil && fi.Size() >= min {
					return filepath.Join(dir, e.Name())
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no upload in progress appeared in %s", dir)
	return ""
}

func kill(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die by SIGKILL: %v", err)
	}
}

func TestKilledStoreKeepsPreviousVersion(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "backup")
	s, err := New(DefaultConfig(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "1234_96xxdata.txt", "previous good")
	s.Close()

	child := startChild(t, "store", "PHONEPROV_BACKUP_DIR="+dir)
	leftover := waitForTemp(t, dir, 8<<10)
	kill(t, child)
	if _, err := os.Stat(leftover); err != nil {
		t.Fatalf("the killed writer's temporary file should still be on disk for this test to mean anything: %v", err)
	}

	s2, err := New(DefaultConfig(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got := current(t, s2, "1234_96xxdata.txt"); got != "previous good" {
		t.Fatalf("after the crash, current = %.40q", got)
	}
	files, err := s2.List()
	if err != nil || len(files) != 1 || files[0].Name != "1234_96xxdata.txt" {
		t.Fatalf("list = %+v, %v", files, err)
	}
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Fatalf("leftover not removed at start: %v", err)
	}
	srv := serve(t, s2)
	if code, body := do(t, http.MethodGet, srv.URL+"/backup/"+filepath.Base(leftover), nil, nil); code != http.StatusBadRequest {
		t.Fatalf("GET of the temporary name = %d %.40q", code, body)
	}
}

func TestKilledClientKeepsPreviousVersion(t *testing.T) {
	s, dir := newTestStore(t, nil)
	put(t, s, "1234_96xxdata.txt", "previous good")
	srv := serve(t, s)

	child := startChild(t, "client", "PHONEPROV_BACKUP_ADDR="+strings.TrimPrefix(srv.URL, "http://"))
	leftover := waitForTemp(t, dir, 8<<10)
	// While the upload runs, the old version is what GET serves and List shows.
	if code, body := do(t, http.MethodGet, srv.URL+"/backup/1234_96xxdata.txt", nil, nil); code != http.StatusOK || body != "previous good" {
		t.Fatalf("GET during the upload = %d %.40q", code, body)
	}
	if files, _ := s.List(); len(files) != 1 || files[0].Size != int64(len("previous good")) {
		t.Fatalf("list during the upload = %+v", files)
	}
	kill(t, child)

	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(leftover); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the interrupted upload's temporary file was not removed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, body := do(t, http.MethodGet, srv.URL+"/backup/1234_96xxdata.txt", nil, nil); code != http.StatusOK || body != "previous good" {
		t.Fatalf("GET after the phone died = %d %.40q", code, body)
	}
	if vs, _ := s.Versions("1234_96xxdata.txt"); len(vs) != 0 {
		t.Fatalf("an aborted upload rotated the versions: %+v", vs)
	}
}
