package leases

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoneprov/phoneprov/internal/durable"
)

func openTestJournal(t *testing.T, path string, opts JournalOptions) *Journal {
	t.Helper()
	j, err := OpenJournal(path, opts)
	if err != nil {
		t.Fatalf("OpenJournal: %v", err)
	}
	t.Cleanup(func() { _ = j.Close() })
	return j
}

func journalPath(t *testing.T) string {
	return filepath.Join(t.TempDir(), "leases.journal")
}

// frameEnds returns the end offset of every intact frame of a journal file,
// in order, walking it without resynchronising.
func frameEnds(t *testing.T, file []byte) []int {
	t.Helper()
	var ends []int
	off := journalHeaderSize
	for off < len(file) {
		n, ok := checkFrame(file[off:])
		if !ok {
			t.Fatalf("no intact frame at %d of %d", off, len(file))
		}
		off += n
		ends = append(ends, off)
	}
	return ends
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// checkLeases fails unless got is exactly want, in order.
func checkLeases(t *testing.T, what string, got, want []Lease) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d leases, want %d", what, len(got), len(want))
	}
	for i := range want {
		if !equalLease(got[i], want[i]) {
			t.Fatalf("%s: lease %d:\n got %+v\nwant %+v", what, i, got[i], want[i])
		}
	}
}

func TestJournalReopenKeepsEverything(t *testing.T) {
	path := journalPath(t)
	j := openTestJournal(t, path, JournalOptions{})
	var want []Lease
	for i := range 500 {
		want = append(want, fullLease(i))
	}
	mustPut(t, j, want[:250]...)
	for _, l := range want[250:] {
		mustPut(t, j, l)
	}
	if err := j.Delete(context.Background(), testAddr(7)); err != nil {
		t.Fatal(err)
	}
	want = append(want[:7], want[8:]...)
	size := j.Stats().Size
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if got := fileSize(t, path); got != size {
		t.Errorf("file is %d bytes, Stats said %d", got, size)
	}

	j2 := openTestJournal(t, path, JournalOptions{})
	checkLeases(t, "after reopen", mustLoad(t, j2), want)
	if st := j2.Stats(); st.Size != size || st.TornBytes != 0 {
		t.Errorf("reopen changed the file: %+v, want size %d", st, size)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("journal file mode %v, want 0600", perm)
	}
}

func checkInUse(t *testing.T, path string, err error) {
	t.Helper()
	if !errors.Is(err, durable.ErrInUse) {
		t.Fatalf("second writer: %v, want ErrInUse", err)
	}
	holder := fmt.Sprintf("pid %d", os.Getpid())
	if runtime.GOOS != "linux" {
		holder = "pid unknown"
	}
	wantPrefix := fmt.Sprintf("lease database %s is in use by another phoneprov (%s", path, holder)
	var iu *durable.InUseError
	if !errors.As(err, &iu) || (runtime.GOOS == "linux" && iu.PID != os.Getpid()) {
		t.Errorf("in-use error does not carry the holder's pid: %#v", iu)
	}
	if !strings.HasPrefix(err.Error(), wantPrefix) {
		t.Errorf("in-use error %q\nwant it to start with %q", err, wantPrefix)
	}
}

func TestJournalSecondWriterGetsClearInUseError(t *testing.T) {
	path := journalPath(t)
	w := openTestJournal(t, path, JournalOptions{CompactMinSize: 1})
	mustPut(t, w, fullLease(1))

	start := time.Now()
	_, err := OpenJournal(path, JournalOptions{Timeout: 100 * time.Millisecond})
	checkInUse(t, path, err)
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("second open waited %v for a 100ms timeout", waited)
	}
	t.Log(err)

	// A compaction puts a new file in place: it must be locked too, and
	// findable by the holder lookup.
	if err := w.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err = OpenJournal(path, JournalOptions{Timeout: 50 * time.Millisecond})
	checkInUse(t, path, err)

	// Once the writer is gone the next one gets the file.
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w2 := openTestJournal(t, path, JournalOptions{Timeout: 100 * time.Millisecond})
	checkLeases(t, "next writer", mustLoad(t, w2), []Lease{fullLease(1)})
}

func TestJournalReadOnly(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "leases.journal")

	missing := filepath.Join(dir, "missing.journal")
	if _, err := OpenJournal(missing, JournalOptions{ReadOnly: true}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("read-only open of a missing file: %v", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("read-only open created the file")
	}

	w := openTestJournal(t, path, JournalOptions{})
	mustPut(t, w, fullLease(1), fullLease(2))

	// Readers need no lock: they work while the writer holds the file.
	r1 := openTestJournal(t, path, JournalOptions{ReadOnly: true})
	r2 := openTestJournal(t, path, JournalOptions{ReadOnly: true, Timeout: time.Millisecond})
	for _, r := range []*Journal{r1, r2} {
		checkLeases(t, "read-only Load", mustLoad(t, r), []Lease{fullLease(1), fullLease(2)})
	}
	// Each Load sees what was committed since, compaction or not.
	mustPut(t, w, fullLease(3))
	checkLeases(t, "read-only Load after a Put", mustLoad(t, r1), []Lease{fullLease(1), fullLease(2), fullLease(3)})
	if err := w.Delete(context.Background(), testAddr(1)); err != nil {
		t.Fatal(err)
	}
	if err := w.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkLeases(t, "read-only Load after a compaction", mustLoad(t, r1), []Lease{fullLease(2), fullLease(3)})

	if err := r1.Put(context.Background(), fullLease(4)); !errors.Is(err, ErrReadOnly) {
		t.Errorf("read-only Put: %v", err)
	}
	if err := r1.Delete(context.Background(), testAddr(2)); !errors.Is(err, ErrReadOnly) {
		t.Errorf("read-only Delete: %v", err)
	}
	if err := r1.Compact(context.Background()); !errors.Is(err, ErrReadOnly) {
		t.Errorf("read-only Compact: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	// A reader changes nothing: not a torn end, not a leftover temporary file.
	whole := readFile(t, path)
	torn := whole[:len(whole)-5]
	if err := os.WriteFile(path, torn, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".tmp", []byte("leftover"), 0o600); err != nil {
		t.Fatal(err)
	}
	r3 := openTestJournal(t, path, JournalOptions{ReadOnly: true})
	checkLeases(t, "read-only Load of a torn file", mustLoad(t, r3), []Lease{fullLease(2)})
	if !bytes.Equal(readFile(t, path), torn) {
		t.Error("a read-only open changed the journal")
	}
	if _, err := os.Stat(path + ".tmp"); err != nil {
		t.Errorf("a read-only open touched the temporary file: %v", err)
	}
	if err := r3.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r3.Load(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("read-only Load after Close: %v", err)
	}
}

// writeHeader writes a journal header of the given version, with a valid
// checksum, followed by body.
func writeRawJournal(t *testing.T, path string, version uint32, body []byte) []byte {
	t.Helper()
	b := append(encodeJournalHeader(version), body...)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestJournalRefusesNewerSchema(t *testing.T) {
	path := journalPath(t)
	l := fullLease(1)
	before := writeRawJournal(t, path, journalVersion+1, appendFrame(nil, opPut, addrKey(l.Addr), &l))
	for _, ro := range []bool{false, true} {
		_, err := OpenJournal(path, JournalOptions{ReadOnly: ro})
		if !errors.Is(err, ErrNewerSchema) {
			t.Fatalf("open (read-only %v) of a newer schema: %v", ro, err)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("schema %d, this one reads up to %d", journalVersion+1, journalVersion)) {
			t.Errorf("newer-schema error does not say which versions: %v", err)
		}
	}
	if !bytes.Equal(before, readFile(t, path)) {
		t.Error("refusing a newer file changed it")
	}
}

func TestJournalRefusesForeignFiles(t *testing.T) {
	dir := t.TempDir()
	badHeader := encodeJournalHeader(journalVersion)
	badHeader[9] ^= 1
	files := map[string][]byte{
		"text":           bytes.Repeat([]byte("not a journal\n"), 1000),
		"short":          []byte("hello"),
		"binary":         bytes.Repeat([]byte{0, 0, 0, 0, 0xed, 0x0c, 0xda, 0xed}, 512),
		"damaged header": append(badHeader, 1, 2, 3),
	}
	for name, content := range files {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".journal")
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, ro := range []bool{false, true} {
			_, err := OpenJournal(path, JournalOptions{ReadOnly: ro})
			if err == nil || !strings.Contains(err.Error(), path) {
				t.Errorf("%s (read-only %v): %v", name, ro, err)
			}
			if name == "damaged header" && !errors.Is(err, ErrCorrupt) {
				t.Errorf("damaged header: %v, want ErrCorrupt", err)
			}
		}
		if !bytes.Equal(readFile(t, path), content) {
			t.Errorf("%s: refusing the file changed it", name)
		}
		t.Logf("%s: %v", name, func() error { _, err := OpenJournal(path, JournalOptions{}); return err }())
	}
}

func TestJournalStartsOverAfterTornCreation(t *testing.T) {
	// A crash while the file was created leaves it empty or with part of a header.
	for _, n := range []int{0, 3, 8, 15} {
		path := journalPath(t)
		if err := os.WriteFile(path, encodeJournalHeader(journalVersion)[:n], 0o600); err != nil {
			t.Fatal(err)
		}
		r := openTestJournal(t, path, JournalOptions{ReadOnly: true})
		if got := mustLoad(t, r); len(got) != 0 {
			t.Fatalf("%d header bytes: read-only Load = %+v", n, got)
		}
		w := openTestJournal(t, path, JournalOptions{})
		mustPut(t, w, fullLease(1))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		checkLeases(t, "after restart", mustLoad(t, openTestJournal(t, path, JournalOptions{})), []Lease{fullLease(1)})
	}
}

func TestJournalTornTailIsCutOffAtEveryByte(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "leases.journal")
	w := openTestJournal(t, path, JournalOptions{})
	base := []Lease{fullLease(1), fullLease(2), fullLease(3)}
	mustPut(t, w, base...)
	// The last call: a new lease, a replacement and a deletion, all or nothing.
	replaced := fullLease(40)
	replaced.Addr = testAddr(2)
	if err := w.Put(context.Background(), fullLease(4), replaced); err != nil {
		t.Fatal(err)
	}
	if err := w.Delete(context.Background(), testAddr(3)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	whole := readFile(t, path)
	ends := frameEnds(t, whole)
	if len(ends) != 6 {
		t.Fatalf("%d frames, want 6", len(ends))
	}
	unitStarts := map[int][]Lease{
		// Cut inside the last Put (frames 4 and 5): only the first Put counts.
		ends[2]: base,
		// Cut inside the Delete (frame 6): both Puts count.
		ends[4]: {fullLease(1), replaced, fullLease(3), fullLease(4)},
	}
	cuts := 0
	for cut := ends[2]; cut < len(whole); cut++ {
		validEnd := ends[2]
		if cut >= ends[4] {
			validEnd = ends[4]
		}
		want := unitStarts[validEnd]
		torn := path + fmt.Sprint(cut)
		if err := os.WriteFile(torn, whole[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := OpenJournal(torn, JournalOptions{ReadOnly: true})
		if err != nil {
			t.Fatalf("cut at %d: read-only open: %v", cut, err)
		}
		got, err := r.Load(context.Background())
		if err != nil {
			t.Fatalf("cut at %d: read-only Load: %v", cut, err)
		}
		checkLeases(t, fmt.Sprintf("cut at %d, read-only", cut), got, want)

		j, err := OpenJournal(torn, JournalOptions{})
		if err != nil {
			t.Fatalf("cut at %d: open: %v", cut, err)
		}
		got, err = j.Load(context.Background())
		if err != nil {
			t.Fatalf("cut at %d: Load: %v", cut, err)
		}
		checkLeases(t, fmt.Sprintf("cut at %d", cut), got, want)
		if size := fileSize(t, torn); size != int64(validEnd) {
			t.Fatalf("cut at %d: open left %d bytes, want the torn write cut off at %d", cut, size, validEnd)
		}
		if st := j.Stats(); st.TornBytes != uint64(cut-validEnd) {
			t.Errorf("cut at %d: TornBytes = %d, want %d", cut, st.TornBytes, cut-validEnd)
		}
		// What comes next is appended after the last whole call, not after the debris.
		if cut%5 == 0 {
			mustPut(t, j, fullLease(5))
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			again := openTestJournal(t, torn, JournalOptions{})
			got = mustLoad(t, again)
			checkLeases(t, fmt.Sprintf("cut at %d, after a Put and a reopen", cut), got, append(append([]Lease(nil), want...), fullLease(5)))
			_ = again.Close()
		}
		_ = j.Close()
		_ = os.Remove(torn)
		cuts++
	}
	t.Logf("cut the journal at %d offsets inside its last two calls", cuts)
}

// corruptJournal writes leases 1-5 one Put each, closes, and returns the file
// and the frame ends.
func corruptJournal(t *testing.T, path string) ([]byte, []int) {
	t.Helper()
	w := openTestJournal(t, path, JournalOptions{})
	for i := 1; i <= 5; i++ {
		mustPut(t, w, fullLease(i))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	whole := readFile(t, path)
	return whole, frameEnds(t, whole)
}

func TestJournalSkipsDamageInTheMiddle(t *testing.T) {
	path := journalPath(t)
	whole, ends := corruptJournal(t, path)
	want := []Lease{fullLease(1), fullLease(2), fullLease(4), fullLease(5)}
	damaged := path + ".damaged"
	// Every single damaged byte of frame 3, then a length field gone wild.
	for pos := ends[1]; pos <= ends[2]; pos++ {
		bad := bytes.Clone(whole)
		if pos == ends[2] {
			binary.BigEndian.PutUint32(bad[ends[1]:], 60000)
		} else {
			bad[pos] ^= 0x40
		}
		if err := os.WriteFile(damaged, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		reg := prometheus.NewRegistry()
		j, err := OpenJournal(damaged, JournalOptions{Registerer: reg})
		if err != nil {
			t.Fatalf("byte %d: open: %v", pos, err)
		}
		got, err := j.Load(context.Background())
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("byte %d: Load of a damaged file: %v, want ErrCorrupt", pos, err)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("offset %d: %d damaged bytes", ends[1], ends[2]-ends[1])) {
			t.Fatalf("byte %d: corrupt error does not locate the damage: %v", pos, err)
		}
		checkLeases(t, fmt.Sprintf("byte %d", pos), got, want)
		if n := counterValue(t, reg, "phoneprov_lease_store_corrupt_records_total"); n != 1 {
			t.Errorf("byte %d: corrupt counter = %v, want 1", pos, n)
		}
		if size := fileSize(t, damaged); size != int64(len(whole)) {
			t.Fatalf("byte %d: open changed the file's size to %d", pos, size)
		}
		_ = j.Close()
	}
	t.Log("last error:", func() error {
		_, err := openTestJournal(t, damaged, JournalOptions{ReadOnly: true}).Load(context.Background())
		return err
	}())

	// The store carries on: appends go after the good frames that follow the
	// damage, and a compaction drops the damaged stretch.
	j := openTestJournal(t, damaged, JournalOptions{})
	mustPut(t, j, fullLease(3))
	if err := j.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkLeases(t, "after a Put and a compaction", mustLoad(t, j), []Lease{fullLease(1), fullLease(2), fullLease(3), fullLease(4), fullLease(5)})
}

func TestJournalReportsUndecodableRecordsAndKeepsThem(t *testing.T) {
	// A frame intact on disk whose record does not decode (a bug, or bit rot
	// inside the record with a recomputed frame checksum): Load names its
	// address, compaction keeps it, a Put for the address replaces it.
	path := journalPath(t)
	l2 := fullLease(2)
	frame := appendFrame(nil, opPut, addrKey(l2.Addr), &l2)
	frame[12] ^= 0x10 // inside the record: its own CRC no longer matches
	binary.BigEndian.PutUint32(frame[len(frame)-4:], crc32.Checksum(frame[:len(frame)-4], durable.Castagnoli))
	var body []byte
	l1, l3 := fullLease(1), fullLease(3)
	body = appendFrame(body, opPut, addrKey(l1.Addr), &l1)
	body = append(body, frame...)
	body = appendFrame(body, opPut, addrKey(l3.Addr), &l3)
	writeRawJournal(t, path, journalVersion, body)

	j := openTestJournal(t, path, JournalOptions{})
	for _, step := range []string{"before compaction", "after compaction"} {
		got, err := j.Load(context.Background())
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "198.18.0.2: checksum mismatch") || !strings.Contains(err.Error(), "1 records skipped") {
			t.Fatalf("%s: Load: %v", step, err)
		}
		checkLeases(t, step, got, []Lease{l1, l3})
		if err := j.Compact(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	mustPut(t, j, l2)
	checkLeases(t, "after replacing the damaged lease", mustLoad(t, j), []Lease{l1, l2, l3})
}

// holdJournalCommits makes the commit loop take lease i's Put and wait, so
// that calls made meanwhile queue up behind it as they would behind a slow
// fdatasync. release lets it go and returns that Put's error.
func holdJournalCommits(t *testing.T, j *Journal, i int) (release func() error) {
	t.Helper()
	j.commitMu.Lock()
	result := make(chan error, 1)
	go func() { result <- j.Put(context.Background(), fullLease(i)) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, inflight := j.queued(); inflight == 1 {
			break
		}
		if time.Now().After(deadline) {
			j.commitMu.Unlock()
			t.Fatal("the held Put never reached the commit loop")
		}
		time.Sleep(time.Millisecond)
	}
	var once sync.Once
	release = func() error {
		once.Do(j.commitMu.Unlock)
		return <-result
	}
	t.Cleanup(func() { once.Do(j.commitMu.Unlock) }) // if the test stops half way
	return release
}

func waitJournalQueued(t *testing.T, j *Journal, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		queued, _ := j.queued()
		if queued >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d calls queued", queued, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestJournalGroupCommitsConcurrentPuts(t *testing.T) {
	j := openTestJournal(t, journalPath(t), JournalOptions{})
	before := j.Stats()
	release := holdJournalCommits(t, j, 0)
	const n = 64
	var wg sync.WaitGroup
	for i := 1; i < n; i++ {
		wg.Go(func() {
			if err := j.Put(context.Background(), fullLease(i)); err != nil {
				t.Error(err)
			}
		})
	}
	waitJournalQueued(t, j, n-1)
	if err := release(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	st := j.Stats()
	if st.Records != n || st.Commits != 2 || st.Syncs-before.Syncs != 2 {
		t.Fatalf("Stats() = %+v, want %d records in 2 commits and 2 syncs (the held one, then all the queued ones)", st, n)
	}
	if got := mustLoad(t, j); len(got) != n {
		t.Fatalf("Load = %d leases", len(got))
	}

	// A lone Put is committed at once, on its own.
	start := time.Now()
	mustPut(t, j, fullLease(1000))
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("lone Put took %v", d)
	}
	if st := j.Stats(); st.Commits != 3 {
		t.Errorf("after a lone Put %d commits, want 3", st.Commits)
	}
}

// setJournalIO replaces the commit's I/O.
func setJournalIO(j *Journal, write func(f *os.File, b []byte, off int64) (int, error), sync func(f *os.File) error) {
	j.commitMu.Lock()
	defer j.commitMu.Unlock()
	if write != nil {
		j.writeAt = write
	}
	if sync != nil {
		j.sync = sync
	}
}

func TestJournalFailedWriteFailsTheGroupAndIsCutBack(t *testing.T) {
	path := journalPath(t)
	j := openTestJournal(t, path, JournalOptions{})
	mustPut(t, j, fullLease(1))
	good := j.Stats().Size

	// The disk fills up half way through the next group's write.
	setJournalIO(j, func(f *os.File, b []byte, off int64) (int, error) {
		n, _ := f.WriteAt(b[:len(b)/2], off)
		return n, syscall.ENOSPC
	}, nil)
	release := holdJournalCommits(t, j, 2)
	errs := make(chan error, 3)
	go func() { errs <- j.Put(context.Background(), fullLease(3)) }()
	go func() { errs <- j.Put(context.Background(), fullLease(4), fullLease(5)) }()
	go func() { errs <- j.Delete(context.Background(), testAddr(1)) }()
	waitJournalQueued(t, j, 3)
	if err := release(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("held Put: %v, want ENOSPC", err)
	}
	for range 3 {
		if err := <-errs; !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("a call of the failed group: %v, want ENOSPC", err)
		}
	}
	if size := fileSize(t, path); size != good {
		t.Fatalf("file is %d bytes after the failed write, want it cut back to %d", size, good)
	}
	// Space again: the journal carries on.
	setJournalIO(j, (*os.File).WriteAt, nil)
	mustPut(t, j, fullLease(6))
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	checkLeases(t, "after reopen", mustLoad(t, openTestJournal(t, path, JournalOptions{})), []Lease{fullLease(1), fullLease(6)})
}

func TestJournalFailedSyncStopsTheJournal(t *testing.T) {
	path := journalPath(t)
	reg := prometheus.NewRegistry()
	j := openTestJournal(t, path, JournalOptions{Registerer: reg})
	mustPut(t, j, fullLease(1))

	setJournalIO(j, nil, func(*os.File) error { return syscall.EIO })
	release := holdJournalCommits(t, j, 2)
	errs := make(chan error, 2)
	go func() { errs <- j.Put(context.Background(), fullLease(3)) }()
	go func() { errs <- j.Put(context.Background(), fullLease(4)) }()
	waitJournalQueued(t, j, 2)
	if err := release(); !errors.Is(err, syscall.EIO) || !errors.Is(err, ErrFailed) {
		t.Fatalf("held Put: %v, want EIO and ErrFailed", err)
	}
	for range 2 {
		if err := <-errs; !errors.Is(err, syscall.EIO) || !errors.Is(err, ErrFailed) {
			t.Errorf("a call of the failed group: %v", err)
		}
	}
	// Nothing is written any more, even once the disk would take it.
	setJournalIO(j, nil, durable.SyncData)
	err := j.Put(context.Background(), fullLease(5))
	if !errors.Is(err, ErrFailed) {
		t.Fatalf("Put after a failed sync: %v, want ErrFailed", err)
	}
	t.Log(err)
	if err := j.Compact(context.Background()); !errors.Is(err, ErrFailed) {
		t.Errorf("Compact after a failed sync: %v", err)
	}
	if v := gaugeValue(t, reg, "phoneprov_lease_store_failed"); v != 1 {
		t.Errorf("failed gauge = %v", v)
	}
	checkLeases(t, "Load of a failed journal", mustLoad(t, j), []Lease{fullLease(1)})
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	checkLeases(t, "after reopen", mustLoad(t, openTestJournal(t, path, JournalOptions{})), []Lease{fullLease(1)})
}

func gaugeValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

func TestJournalMetricsRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	path := journalPath(t)
	j := openTestJournal(t, path, JournalOptions{Registerer: reg})
	mustPut(t, j, fullLease(1), fullLease(2))
	if err := j.Delete(context.Background(), testAddr(1)); err != nil {
		t.Fatal(err)
	}
	if err := j.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{
		"phoneprov_lease_store_records_written_total": 3,
		"phoneprov_lease_store_commits_total":         2,
		"phoneprov_lease_store_compactions_total":     1,
		"phoneprov_lease_store_corrupt_records_total": 0,
		"phoneprov_lease_store_torn_tail_bytes_total": 0,
	} {
		if got := counterValue(t, reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	// Creating the file: its sync and the directory's; two commits; the
	// compaction's file and directory.
	if got := counterValue(t, reg, "phoneprov_lease_store_syncs_total"); got != 6 {
		t.Errorf("syncs = %v, want 6", got)
	}
	if got := gaugeValue(t, reg, "phoneprov_lease_store_file_bytes"); got != float64(fileSize(t, path)) {
		t.Errorf("file bytes gauge = %v, file has %d", got, fileSize(t, path))
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	// Registering the same names again is refused with a clear error, and the file is released.
	if _, err := OpenJournal(path, JournalOptions{Registerer: reg}); err == nil || !strings.Contains(err.Error(), "register lease store metrics") {
		t.Fatalf("second registration: %v", err)
	}
	openTestJournal(t, path, JournalOptions{Timeout: 100 * time.Millisecond})
}

func TestJournalLoadOrdersByAddress(t *testing.T) {
	j := openTestJournal(t, journalPath(t), JournalOptions{})
	batch := make([]Lease, 0, 10000)
	for i := 9999; i >= 0; i-- {
		batch = append(batch, fullLease(i))
	}
	mustPut(t, j, batch...)
	for i := 0; i < 10000; i += 7 { // rewrites scattered through the file
		mustPut(t, j, fullLease(i))
	}
	got := mustLoad(t, j)
	if len(got) != 10000 {
		t.Fatalf("Load = %d leases", len(got))
	}
	for i, l := range got {
		if l.Addr != testAddr(i) {
			t.Fatalf("Load not ordered by address at %d: %v", i, l.Addr)
		}
	}
}

func TestJournalRefusesOversizedLease(t *testing.T) {
	j := openTestJournal(t, journalPath(t), JournalOptions{})
	big := fullLease(2)
	big.Hostname = strings.Repeat("x", maxFrameBody)
	if err := j.Put(context.Background(), fullLease(1), big); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("Put of an oversized lease: %v", err)
	}
	if got := mustLoad(t, j); len(got) != 0 {
		t.Fatalf("the refused call stored %d leases", len(got))
	}
	// The largest allowed lease fits in a frame.
	big.Hostname = strings.Repeat("x", maxLeaseFieldBytes-len(big.HWAddr)-len(big.ClientID)-len(big.VendorClass)-len(big.Class))
	big.ClientID = bytes.Repeat([]byte{1}, len(big.ClientID))
	mustPut(t, j, big)
	checkLeases(t, "largest lease", mustLoad(t, j), []Lease{big})
}

func TestJournalCompactsUnderConcurrentPuts(t *testing.T) {
	path := journalPath(t)
	j := openTestJournal(t, path, JournalOptions{CompactMinSize: 16 << 10})
	const workers, perWorker, versions = 8, 25, 60
	last := make([][]Lease, workers)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var loads, loadErrs int
	wg.Go(func() { // Loads go on throughout and always see whole leases
		for {
			select {
			case <-stop:
				return
			default:
			}
			ls, err := j.Load(context.Background())
			loads++
			if err != nil {
				loadErrs++
				t.Error(err)
				return
			}
			for _, l := range ls {
				if _, _, ok := parseHot(l); !ok {
					t.Errorf("Load during compaction returned %+v", l)
					return
				}
			}
		}
	})
	var writers sync.WaitGroup
	for w := range workers {
		last[w] = make([]Lease, perWorker)
		writers.Go(func() {
			for v := range versions {
				for k := range perWorker {
					l := hotLease(w*perWorker+k, v)
					if err := j.Put(context.Background(), l); err != nil {
						t.Error(err)
						return
					}
					last[w][k] = l
				}
				if v%10 == 9 { // and now and then a deletion that must stick
					if err := j.Delete(context.Background(), testAddr(hotBase+w*perWorker)); err != nil {
						t.Error(err)
						return
					}
					last[w][0] = Lease{}
				}
			}
		})
	}
	writers.Wait()
	close(stop)
	wg.Wait()
	var want []Lease
	for w := range workers {
		for _, l := range last[w] {
			if l.State != 0 {
				want = append(want, l)
			}
		}
	}
	slicesSortByAddr(want)
	st := j.Stats()
	t.Logf("%d records in %d commits, %d compactions, file %d bytes, %d Loads meanwhile", st.Records, st.Commits, st.Compactions, st.Size, loads)
	if st.Compactions == 0 {
		t.Fatal("no compaction happened: the test tested nothing")
	}
	written := int64(st.Records) * 90
	if st.Size > 64<<10 || st.Size > written/10 {
		t.Errorf("journal is %d bytes after ~%d written: it did not shrink", st.Size, written)
	}
	checkLeases(t, "after compactions", mustLoad(t, j), want)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	checkLeases(t, "after reopen", mustLoad(t, openTestJournal(t, path, JournalOptions{})), want)
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file left behind: %v", err)
	}
}

func slicesSortByAddr(ls []Lease) {
	for i := 1; i < len(ls); i++ {
		for k := i; k > 0 && ls[k].Addr.Less(ls[k-1].Addr); k-- {
			ls[k], ls[k-1] = ls[k-1], ls[k]
		}
	}
}

func TestJournalCompactWritesOnlyTheLiveLeases(t *testing.T) {
	path := journalPath(t)
	j := openTestJournal(t, path, JournalOptions{})
	// A call of several frames, replaced, deleted and kept leases.
	mustPut(t, j, fullLease(1), fullLease(2), fullLease(3))
	mustPut(t, j, fullLease(4))
	if err := j.Delete(context.Background(), testAddr(2), testAddr(99)); err != nil {
		t.Fatal(err)
	}
	second := fullLease(30)
	second.Addr = testAddr(3)
	mustPut(t, j, second)
	want := []Lease{fullLease(1), second, fullLease(4)}

	// A reader that opened the old file keeps reading it whole.
	old, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if err := j.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	file := readFile(t, path)
	var live int
	for _, l := range want {
		live += len(appendFrame(nil, opPut, addrKey(l.Addr), &l))
	}
	if len(file) != journalHeaderSize+live {
		t.Fatalf("compacted file is %d bytes, want header and %d live frame bytes", len(file), live)
	}
	start := journalHeaderSize
	for _, end := range frameEnds(t, file) {
		if file[start+4]&opMore != 0 {
			t.Errorf("compacted frame at %d still continues into the next", start)
		}
		start = end
	}
	checkLeases(t, "after compaction", mustLoad(t, j), want)
	x, err := scanJournal(context.Background(), old, fileSizeOf(t, old))
	if err != nil || len(x.live) != 3 {
		t.Fatalf("old file after compaction: %v, %d live", err, len(x.live))
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	checkLeases(t, "after reopen", mustLoad(t, openTestJournal(t, path, JournalOptions{})), want)
}

func fileSizeOf(t *testing.T, f *os.File) int64 {
	t.Helper()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestJournalCompactionFailureLeavesTheJournalAlone(t *testing.T) {
	path := journalPath(t)
	j := openTestJournal(t, path, JournalOptions{})
	mustPut(t, j, fullLease(1))
	mustPut(t, j, fullLease(1))
	// Something in the way of the temporary file.
	if err := os.Mkdir(path+".tmp", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(path+".tmp", "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := j.Compact(context.Background()); err == nil {
		t.Fatal("Compact succeeded with a directory in the way")
	}
	if st := j.Stats(); st.CompactionFailures != 1 || st.Compactions != 0 {
		t.Errorf("Stats() = %+v", st)
	}
	mustPut(t, j, fullLease(2))
	checkLeases(t, "after a failed compaction", mustLoad(t, j), []Lease{fullLease(1), fullLease(2)})
	// What is in the way does not keep the journal from opening either.
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	checkLeases(t, "after reopen", mustLoad(t, openTestJournal(t, path, JournalOptions{})), []Lease{fullLease(1), fullLease(2)})
}

func TestJournalRemovesLeftoverTempFile(t *testing.T) {
	path := journalPath(t)
	j := openTestJournal(t, path, JournalOptions{})
	mustPut(t, j, fullLease(1))
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	// A compaction killed before its rename.
	if err := os.WriteFile(path+".tmp", append(encodeJournalHeader(journalVersion), 1, 2, 3), 0o600); err != nil {
		t.Fatal(err)
	}
	j = openTestJournal(t, path, JournalOptions{})
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover temporary file not removed: %v", err)
	}
	checkLeases(t, "after reopen", mustLoad(t, j), []Lease{fullLease(1)})
}

func TestJournalCloseAbandonsCompaction(t *testing.T) {
	path := journalPath(t)
	j := openTestJournal(t, path, JournalOptions{})
	batch := make([]Lease, 5000)
	for i := range batch {
		batch[i] = fullLease(i)
	}
	mustPut(t, j, batch...)
	mustPut(t, j, batch...)
	done := make(chan error, 1)
	go func() { done <- j.Compact(context.Background()) }()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Logf("Compact racing Close: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Compact did not return after Close")
	}
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file left behind: %v", err)
	}
	checkLeases(t, "after reopen", mustLoad(t, openTestJournal(t, path, JournalOptions{})), batch)
}

// The group commit adds no fixed wait: a call that arrives alone, even
// right after a shared group (the old code then slept a commit delay of
// 1 ms hoping for company), is written and synced at once. Each trial
// makes a shared group (two calls queued behind a sync held open), then
// times a lone Put from its start to its sync. The fastest of the trials
// must reach its sync well inside 1 ms; a fixed wait makes every trial
// take at least that long, while scheduling noise on a busy machine only
// slows some of them.
func TestJournalLoneCallAfterSharedGroupIsNotDelayed(t *testing.T) {
	j := openTestJournal(t, journalPath(t), JournalOptions{})
	var lastSync atomic.Int64 // unix nanoseconds of the latest sync's start
	j.commitMu.Lock()
	j.sync = func(f *os.File) error {
		lastSync.Store(time.Now().UnixNano())
		return durable.SyncData(f)
	}
	j.commitMu.Unlock()
	ctx := context.Background()
	best := time.Hour
	for trial := range 20 {
		base := trial * 10
		release := holdJournalCommits(t, j, base)
		var wg sync.WaitGroup
		for i := 1; i <= 2; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := j.Put(ctx, fullLease(base+i)); err != nil {
					t.Error(err)
				}
			}()
		}
		waitJournalQueued(t, j, 2)
		if err := release(); err != nil {
			t.Fatal(err)
		}
		wg.Wait() // the shared group of two is committed
		start := time.Now()
		if err := j.Put(ctx, fullLease(base+3)); err != nil {
			t.Fatal(err)
		}
		best = min(best, time.Duration(lastSync.Load()-start.UnixNano()))
	}
	if best >= 500*time.Microsecond {
		t.Errorf("a lone Put after a shared group reached its sync %s after it started, at best over 20 trials: the commit waited for company", best)
	}
}

// queued returns how many calls wait for the next commit and how many are
// in the one being committed (for tests).
func (j *Journal) queued() (next, inflight int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.next != nil {
		next = j.next.calls
	}
	return next, j.inflight
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
