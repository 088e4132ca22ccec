package leases

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"
)

func openTestBolt(t *testing.T, path string, opts BoltOptions) *Bolt {
	t.Helper()
	b, err := OpenBolt(path, opts)
	if err != nil {
		t.Fatalf("OpenBolt: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestBoltReopenKeepsEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases.db")
	b := openTestBolt(t, path, BoltOptions{})
	var want []Lease
	for i := range 500 {
		want = append(want, fullLease(i))
	}
	mustPut(t, b, want[:250]...)
	for _, l := range want[250:] {
		mustPut(t, b, l)
	}
	if err := b.Delete(context.Background(), testAddr(7)); err != nil {
		t.Fatal(err)
	}
	want = append(want[:7], want[8:]...)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b2 := openTestBolt(t, path, BoltOptions{})
	got := mustLoad(t, b2)
	if len(got) != len(want) {
		t.Fatalf("after reopen %d leases, want %d", len(got), len(want))
	}
	for i := range want {
		if !equalLease(got[i], want[i]) {
			t.Fatalf("after reopen lease %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("database file mode %v, want 0600", perm)
	}
}

func TestBoltSecondOpenerGetsClearInUseError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases.db")
	openTestBolt(t, path, BoltOptions{})

	for _, ro := range []bool{false, true} {
		start := time.Now()
		_, err := OpenBolt(path, BoltOptions{Timeout: 100 * time.Millisecond, ReadOnly: ro})
		if !errors.Is(err, ErrInUse) {
			t.Fatalf("second open (read-only %v): %v, want ErrInUse", ro, err)
		}
		if waited := time.Since(start); waited > 5*time.Second {
			t.Errorf("second open waited %v for a 100ms timeout", waited)
		}
		msg := err.Error()
		holder := fmt.Sprintf("pid %d", os.Getpid())
		if runtime.GOOS != "linux" {
			holder = "pid unknown" // the holder is read from /proc/locks
		}
		wantPrefix := fmt.Sprintf("lease database %s is in use by another phoneprov (%s", path, holder)
		t.Log(msg)
		var iu *InUseError
		if !errors.As(err, &iu) || (runtime.GOOS == "linux" && iu.PID != os.Getpid()) {
			t.Errorf("in-use error does not carry the holder's pid: %#v", iu)
		}
		if !strings.HasPrefix(msg, wantPrefix) {
			t.Errorf("in-use error %q\nwant it to start with %q", msg, wantPrefix)
		}
	}
}

func TestBoltReadOnly(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "leases.db")

	if _, err := OpenBolt(filepath.Join(dir, "missing.db"), BoltOptions{ReadOnly: true}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("read-only open of a missing file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.db")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("read-only open created the file")
	}

	w := openTestBolt(t, path, BoltOptions{})
	mustPut(t, w, fullLease(1), fullLease(2))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	// Two read-only openers at once are fine: they share the lock.
	r1 := openTestBolt(t, path, BoltOptions{ReadOnly: true})
	r2 := openTestBolt(t, path, BoltOptions{ReadOnly: true})
	for _, r := range []*Bolt{r1, r2} {
		got := mustLoad(t, r)
		if len(got) != 2 || !equalLease(got[1], fullLease(2)) {
			t.Fatalf("read-only Load = %+v", got)
		}
	}
	if err := r1.Put(context.Background(), fullLease(3)); !errors.Is(err, ErrReadOnly) {
		t.Errorf("read-only Put: %v", err)
	}
	if err := r1.Delete(context.Background(), testAddr(1)); !errors.Is(err, ErrReadOnly) {
		t.Errorf("read-only Delete: %v", err)
	}
	// And a writer must wait for the readers to go.
	if _, err := OpenBolt(path, BoltOptions{Timeout: 50 * time.Millisecond}); !errors.Is(err, ErrInUse) {
		t.Errorf("writer while readers hold the file: %v", err)
	}
}

// writeRawDB builds a database file by hand, the way another (or a future)
// version might have left it.
func writeRawDB(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestBoltRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases.db")
	writeRawDB(t, path, func(tx *bolt.Tx) error {
		m, err := tx.CreateBucket(metaBucket)
		if err != nil {
			return err
		}
		return m.Put(schemaKey, encodeSchema(schemaVersion+1))
	})
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, ro := range []bool{false, true} {
		_, err := OpenBolt(path, BoltOptions{ReadOnly: ro})
		if !errors.Is(err, ErrNewerSchema) {
			t.Fatalf("open (read-only %v) of a newer schema: %v", ro, err)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("schema %d, this one reads up to %d", schemaVersion+1, schemaVersion)) {
			t.Errorf("newer-schema error does not say which versions: %v", err)
		}
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("refusing a newer file changed it")
	}
}

func TestBoltRefusesForeignFiles(t *testing.T) {
	dir := t.TempDir()

	noSchema := filepath.Join(dir, "noschema.db")
	writeRawDB(t, noSchema, func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket(leasesBucket)
		return err
	})
	if _, err := OpenBolt(noSchema, BoltOptions{}); err == nil || !strings.Contains(err.Error(), "no schema version") {
		t.Errorf("leases without schema: %v", err)
	}

	notBolt := filepath.Join(dir, "text.db")
	junk := bytes.Repeat([]byte("not a database\n"), 1000)
	if err := os.WriteFile(notBolt, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := OpenBolt(notBolt, BoltOptions{})
	if err == nil || !strings.Contains(err.Error(), notBolt) {
		t.Errorf("open of a text file: %v", err)
	}
	if after, _ := os.ReadFile(notBolt); !bytes.Equal(after, junk) {
		t.Error("open of a text file changed it")
	}
}

func TestBoltKeepsOtherBuckets(t *testing.T) {
	// The inventory may share the file; a lease store must not mind.
	path := filepath.Join(t.TempDir(), "leases.db")
	writeRawDB(t, path, func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucket([]byte("inventory"))
		if err != nil {
			return err
		}
		return bk.Put([]byte("k"), []byte("v"))
	})
	b := openTestBolt(t, path, BoltOptions{})
	mustPut(t, b, fullLease(1))
	if got := mustLoad(t, b); len(got) != 1 {
		t.Fatalf("Load = %+v", got)
	}
}

func TestBoltLoadReportsCorruptRecordsAndKeepsThem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases.db")
	b := openTestBolt(t, path, BoltOptions{})
	mustPut(t, b, fullLease(1), fullLease(2), fullLease(3))
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	k2 := addrKey(testAddr(2))
	writeRawDB(t, path, func(tx *bolt.Tx) error {
		bk := tx.Bucket(leasesBucket)
		rec := bytes.Clone(bk.Get(k2[:]))
		rec[5] ^= 0x10 // one flipped bit on disk
		if err := bk.Put(k2[:], rec); err != nil {
			return err
		}
		return bk.Put([]byte{1, 2, 3}, []byte("short key"))
	})

	reg := prometheus.NewRegistry()
	b = openTestBolt(t, path, BoltOptions{Registerer: reg})
	got, err := b.Load(context.Background())
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Load of a damaged file: %v, want ErrCorrupt", err)
	}
	if !strings.Contains(err.Error(), "198.18.0.2: checksum mismatch") || !strings.Contains(err.Error(), "2 records skipped") {
		t.Errorf("corrupt error does not name the records: %v", err)
	}
	if len(got) != 2 || got[0].Addr != testAddr(1) || got[1].Addr != testAddr(3) {
		t.Fatalf("good leases not returned: %+v", got)
	}
	if n := counterValue(t, reg, "phoneprov_lease_store_corrupt_records_total"); n != 2 {
		t.Errorf("corrupt counter = %v, want 2", n)
	}
	// Nothing was thrown away; a new lease for the address replaces the bad record.
	if err := b.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(leasesBucket).Get([]byte{1, 2, 3}) == nil {
			return errors.New("damaged record was deleted")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	mustPut(t, b, fullLease(2))
	got, err = b.Load(context.Background())
	if !errors.Is(err, ErrCorrupt) || len(got) != 3 || !equalLease(got[1], fullLease(2)) {
		t.Fatalf("after replacing the damaged lease: %v, %+v", err, got)
	}
}

// counterValue returns the value of the counter named name in reg.
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

// holdCommit starts a commit that stays open until the returned release is
// called, so that calls made meanwhile queue up behind it as they would
// behind a slow fsync. The held commit writes lease i.
func holdCommit(t *testing.T, b *Bolt, i int) (release func() error) {
	t.Helper()
	started, proceed := make(chan struct{}), make(chan struct{})
	result := make(chan error, 1)
	go func() {
		l := fullLease(i)
		result <- b.commit.do(func(tx *bolt.Tx) error {
			close(started)
			<-proceed
			k := addrKey(l.Addr)
			if err := tx.Bucket(leasesBucket).Put(k[:], encodeLease(nil, &l)); err != nil {
				return err
			}
			b.countCommit(tx, 1)
			return nil
		})
	}()
	<-started
	return func() error {
		close(proceed)
		return <-result
	}
}

// waitQueued waits until n calls are queued behind the commit in flight.
func waitQueued(t *testing.T, b *Bolt, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for b.commit.queued() < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d calls queued", b.commit.queued(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestBoltGroupCommitsConcurrentPuts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases.db")
	b := openTestBolt(t, path, BoltOptions{})
	release := holdCommit(t, b, 0)
	const n = 64
	var wg sync.WaitGroup
	for i := 1; i < n; i++ {
		wg.Go(func() {
			if err := b.Put(context.Background(), fullLease(i)); err != nil {
				t.Error(err)
			}
		})
	}
	waitQueued(t, b, n-1)
	if err := release(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if st := b.Stats(); st.Records != n || st.Commits != 2 {
		t.Fatalf("Stats() = %+v, want %d records in 2 commits (the held one, then all the queued ones)", st, n)
	}
	if got := mustLoad(t, b); len(got) != n {
		t.Fatalf("Load = %d leases", len(got))
	}

	// A lone Put is committed at once, on its own.
	start := time.Now()
	mustPut(t, b, fullLease(1000))
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("lone Put took %v", d)
	}
	if st := b.Stats(); st.Commits != 3 {
		t.Errorf("after a lone Put %d commits, want 3", st.Commits)
	}
}

func TestBoltSharedCommitFailureFailsOnlyTheBadCall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases.db")
	b := openTestBolt(t, path, BoltOptions{})
	release := holdCommit(t, b, 0)
	bad := errors.New("bad call")
	errs := make(chan error, 3)
	go func() { errs <- b.Put(context.Background(), fullLease(1)) }()
	go func() { errs <- b.commit.do(func(*bolt.Tx) error { return bad }) }()
	go func() { errs <- b.Put(context.Background(), fullLease(2)) }()
	waitQueued(t, b, 3)
	if err := release(); err != nil {
		t.Fatal(err)
	}
	var nBad, nOK int
	for range 3 {
		switch err := <-errs; {
		case errors.Is(err, bad):
			nBad++
		case err == nil:
			nOK++
		default:
			t.Errorf("unexpected error %v", err)
		}
	}
	if nBad != 1 || nOK != 2 {
		t.Fatalf("%d failed and %d succeeded, want 1 and 2", nBad, nOK)
	}
	if got := mustLoad(t, b); len(got) != 3 {
		t.Fatalf("good Puts lost with the bad one: %+v", got)
	}
}

func TestBoltMetricsRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	path := filepath.Join(t.TempDir(), "leases.db")
	b := openTestBolt(t, path, BoltOptions{Registerer: reg})
	mustPut(t, b, fullLease(1), fullLease(2))
	if err := b.Delete(context.Background(), testAddr(1)); err != nil {
		t.Fatal(err)
	}
	if got := counterValue(t, reg, "phoneprov_lease_store_records_written_total"); got != 3 {
		t.Errorf("records written = %v, want 3", got)
	}
	if got := counterValue(t, reg, "phoneprov_lease_store_commits_total"); got != 2 {
		t.Errorf("commits = %v, want 2", got)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	// Registering the same names again is refused with a clear error, and the file is released.
	if _, err := OpenBolt(path, BoltOptions{Registerer: reg}); err == nil || !strings.Contains(err.Error(), "register lease store metrics") {
		t.Fatalf("second registration: %v", err)
	}
	openTestBolt(t, path, BoltOptions{Timeout: 100 * time.Millisecond})
}

func TestBoltLoadOrdersByAddress(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases.db")
	b := openTestBolt(t, path, BoltOptions{})
	batch := make([]Lease, 0, 10000)
	for i := 9999; i >= 0; i-- {
		batch = append(batch, fullLease(i))
	}
	mustPut(t, b, batch...)
	got := mustLoad(t, b)
	if len(got) != 10000 {
		t.Fatalf("Load = %d leases", len(got))
	}
	for i, l := range got {
		if l.Addr != testAddr(i) {
			t.Fatalf("Load not ordered by address at %d: %v", i, l.Addr)
		}
	}
}
