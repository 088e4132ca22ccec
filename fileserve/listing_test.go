package fileserve

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

// The listing shows exactly what the server would serve from its own
// sources: every name listed is served, and the names left out (hidden,
// outside the tree, not regular files) are refused.
func TestFilesListsWhatIsServed(t *testing.T) {
	ts := startServer(t, nil)
	for _, name := range []string{"a.txt", "fw/J179.bin", "fw/deep/x.bin", ".hidden", ".git/config", "fw/.partial"} {
		ts.put(t, name, []byte("content of "+name))
	}
	outside := filepath.Join(ts.dataDir, "secret.txt")
	if err := os.WriteFile(outside, []byte("not for phones"), 0o644); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"link.txt": "a.txt", "escape.txt": outside, "fwdir": "fw"} {
		if err := os.Symlink(target, filepath.Join(ts.filesDir, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(ts.filesDir, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}

	l, err := ts.Files(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	if !l.Complete {
		t.Error("a small tree is listed as incomplete")
	}
	var names []string
	for _, f := range l.Files {
		names = append(names, f.Name)
		want := SourceOperator
		if f.Name == CAFileName {
			want = SourceBuiltin
		}
		if f.Source != want {
			t.Errorf("%s: source %s, want %s", f.Name, f.Source, want)
		}
		if f.Size <= 0 || f.ModTime.IsZero() {
			t.Errorf("%s: size %d, modified %v", f.Name, f.Size, f.ModTime)
		}
	}
	wantNames := []string{"a.txt", "fw/J179.bin", "fw/deep/x.bin", "link.txt", CAFileName}
	slices.Sort(wantNames)
	if !slices.Equal(names, wantNames) {
		t.Fatalf("listed %q, want %q", names, wantNames)
	}
	for _, name := range names {
		if code := httpStatus(t, ts.http, name); code != http.StatusOK {
			t.Errorf("listed %s answers %d", name, code)
		}
	}
	for _, name := range []string{".hidden", ".git/config", "fw/.partial", "escape.txt", "pipe"} {
		if code := httpStatus(t, ts.http, name); code == http.StatusOK {
			t.Errorf("%s is left out of the listing but served", name)
		}
	}
}

func httpStatus(t *testing.T, hostport, name string) int {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + hostport + "/" + name)
	if err != nil {
		t.Fatalf("GET %s: %v", name, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestFilesStopsAtTheLimit(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.HTTPS.Enabled = false })
	for i := range 30 {
		ts.put(t, fmt.Sprintf("d%d/f%02d.bin", i%3, i), []byte("x"))
	}
	l, err := ts.Files(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if l.Complete || len(l.Files) != 10 {
		t.Fatalf("limit 10 of 30: got %d files, complete %v", len(l.Files), l.Complete)
	}
	all, err := ts.Files(context.Background(), 30)
	if err != nil {
		t.Fatal(err)
	}
	if !all.Complete || len(all.Files) != 30 {
		t.Fatalf("limit 30 of 30: got %d files, complete %v", len(all.Files), all.Complete)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ts.Files(ctx, 30); err == nil {
		t.Error("a cancelled listing succeeded")
	}
}

// A download the client stops reading stays in progress, and
// ActiveTransfers counts it until the client hangs up.
func TestActiveTransfersCountsADownloadInProgress(t *testing.T) {
	ts := startServer(t, nil)
	f, err := os.Create(filepath.Join(ts.filesDir, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: far more than the socket buffers hold, no disk used.
	if err := f.Truncate(256 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if got := ts.ActiveTransfers(); got != (Transfers{}) {
		t.Fatalf("idle server: %+v", got)
	}
	conn, err := net.DialTimeout("tcp", ts.http, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /big.bin HTTP/1.1\r\nHost: test\r\n\r\n")
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if want := "HTTP/1.1 200 OK\r\n"; status != want {
		t.Fatalf("status line %q", status)
	}
	waitTransfers(t, ts.Server, Transfers{HTTP: 1})
	if got := ts.ActiveTransfers().Total(); got != 1 {
		t.Errorf("Total() = %d, want 1", got)
	}
	conn.Close()
	waitTransfers(t, ts.Server, Transfers{})
}

func waitTransfers(t *testing.T, s *Server, want Transfers) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := s.ActiveTransfers()
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("active transfers %+v, want %+v", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRootFollowsReload(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.HTTPS.Enabled = false })
	if got := ts.Root(); got != ts.filesDir {
		t.Fatalf("Root() = %s, want %s", got, ts.filesDir)
	}
	other := t.TempDir()
	cfg := ts.state.Load().cfg
	cfg.Root = other
	if _, err := ts.Reload(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if got := ts.Root(); got != other {
		t.Fatalf("after reload Root() = %s, want %s", got, other)
	}
}
