package backup

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/phoneprov/phoneprov/internal/metricstest"
)

// pairBox is one box of a pair: its store, its server and its registry.
type pairBox struct {
	store *Store
	srv   *httptest.Server
	reg   *prometheus.Registry
	dir   string
}

// newPairBoxes starts two stores on loopback, each copying to the other's
// URL through front (nil: directly), with credentials and the Avaya
// User-Agent check on, as a pair would run them.
func newPairBoxes(t *testing.T, frontB func(http.Handler) http.Handler) (a, b *pairBox) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Users = []User{{Name: "198.18.0.10", Password: "1234"}}
	cfg.RequireAvayaUserAgent = true
	boxes := [2]*pairBox{}
	var handlers [2]atomic.Pointer[http.Handler]
	for i := range boxes {
		i := i
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if h := handlers[i].Load(); h != nil {
				(*h).ServeHTTP(w, r)
				return
			}
			http.Error(w, "starting", http.StatusServiceUnavailable)
		}))
		t.Cleanup(srv.Close)
		boxes[i] = &pairBox{srv: srv, reg: prometheus.NewRegistry(), dir: filepath.Join(t.TempDir(), "backup")}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	for i, box := range boxes {
		other := boxes[1-i]
		s, err := New(cfg, Options{Dir: box.dir, Registry: box.reg, ReplicateTo: other.srv.URL + "/backup/"})
		if err != nil {
			t.Fatal(err)
		}
		box.store = s
		mux := http.NewServeMux()
		m := s.Mount()
		mux.Handle(m.Prefix, m.Handler)
		var h http.Handler = mux
		if i == 1 && frontB != nil {
			h = frontB(mux)
		}
		handlers[i].Store(&h)
		go func() { s.Replicate(ctx); done <- struct{}{} }()
	}
	t.Cleanup(func() {
		cancel()
		<-done
		<-done
		boxes[0].store.Close()
		boxes[1].store.Close()
	})
	return boxes[0], boxes[1]
}

func phonePut(t *testing.T, box *pairBox, name, body string) int {
	t.Helper()
	code, msg := do(t, http.MethodPut, box.srv.URL+"/backup/"+name, strings.NewReader(body),
		map[string]string{"User-Agent": "AVAYA/J179-4.0.13", "Authorization": "Basic MTk4LjE4LjAuMTA6MTIzNA=="})
	if code/100 != 2 {
		t.Fatalf("PUT %s: %d %s", name, code, msg)
	}
	return code
}

// waitFile waits (bounded) until box serves name with want.
func waitFile(t *testing.T, box *pairBox, name, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	got := ""
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(filepath.Join(box.dir, name)); err == nil {
			if got = string(b); got == want {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s holds %q, want %q", name, got, want)
}

// waitSettled waits (bounded) until box has no copy pending.
func waitSettled(t *testing.T, box *pairBox) {
	t.Helper()
	for range 500 {
		if box.store.replica.pendingCount() == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("copies still pending after 10s")
}

// A phone's backup stored on A is copied to B, which keeps versions as
// for a phone's upload and passes the phone's credentials and
// User-Agent checks; B does not copy it back; a phone restoring from B
// gets it.
func TestBackupCopiedToPartner(t *testing.T) {
	a, b := newPairBoxes(t, nil)
	phonePut(t, a, "1234_96xxdata.txt", "v1")
	waitFile(t, b, "1234_96xxdata.txt", "v1")
	phonePut(t, a, "1234_96xxdata.txt", "v2")
	waitFile(t, b, "1234_96xxdata.txt", "v2")
	vs, err := b.store.Versions("1234_96xxdata.txt")
	if err != nil || len(vs) != 1 {
		t.Fatalf("B's versions: %v %v", vs, err)
	}
	code, body := do(t, http.MethodGet, b.srv.URL+"/backup/1234_96xxdata.txt", nil,
		map[string]string{"User-Agent": "AVAYA/J179-4.0.13", "Authorization": "Basic MTk4LjE4LjAuMTA6MTIzNA=="})
	if code != http.StatusOK || body != "v2" {
		t.Errorf("restore from B: %d %q", code, body)
	}
	// Settle: nothing is bounced back to A.
	waitSettled(t, a)
	waitSettled(t, b)
	if n := testutil.ToFloat64(b.store.replica.metrics.received); n != 2 {
		t.Errorf("B received %v copies, want 2", n)
	}
	if n := testutil.ToFloat64(a.store.replica.metrics.replicated); n != 2 {
		t.Errorf("A copied %v, want 2", n)
	}
	if n := testutil.ToFloat64(b.store.replica.metrics.replicated) + testutil.ToFloat64(a.store.replica.metrics.received); n != 0 {
		t.Errorf("copies bounced back to A: %v", n)
	}
	// A phone's upload to B goes to A the same way.
	phonePut(t, b, "5678_96xxdata.txt", "from b")
	waitFile(t, a, "5678_96xxdata.txt", "from b")
	problems, err := metricstest.NamingProblems(a.reg)
	if err != nil || len(problems) > 0 {
		t.Errorf("naming: %v %v", problems, err)
	}
}

// A partner that fails gets the copy again after a backoff; the failure
// is counted.
func TestBackupCopyRetried(t *testing.T) {
	var refused atomic.Int32
	a, b := newPairBoxes(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && refused.Add(1) == 1 {
				io.Copy(io.Discard, r.Body)
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	phonePut(t, a, "1234_96xxdata.txt", "settings")
	waitFile(t, b, "1234_96xxdata.txt", "settings")
	waitSettled(t, a)
	if n := testutil.ToFloat64(a.store.replica.metrics.failures); n != 1 {
		t.Errorf("failures %v, want 1", n)
	}
	if n := testutil.ToFloat64(a.store.replica.metrics.replicated); n != 1 {
		t.Errorf("replicated %v, want 1", n)
	}
	if p := a.store.replica.pendingCount(); p != 0 {
		t.Errorf("%v still pending", p)
	}
}
