package leases

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoneprov/phoneprov/internal/durable"
	"github.com/phoneprov/phoneprov/internal/obs"
)

// DefaultLockTimeout is how long OpenJournal waits, unless told otherwise,
// for another process to release the journal file.
const DefaultLockTimeout = time.Second

// DefaultCompactMinSize is the size below which a Journal is never rewritten,
// unless told otherwise: 4 MiB holds some 46 000 typical leases.
const DefaultCompactMinSize = 4 << 20

// ErrFailed is returned by Put and Delete on a Journal that stopped writing
// after its file could not be synced: what the disk kept is then unknown, so
// the store must be reopened (the server restarted), which replays what is
// really on disk.
var ErrFailed = errors.New("lease journal failed")

// JournalOptions tunes OpenJournal. The zero value is a sensible read-write open.
type JournalOptions struct {
	// Timeout bounds the wait for the file lock held by another process;
	// zero means DefaultLockTimeout. When it runs out OpenJournal fails with
	// an error wrapping durable.ErrInUse (a *durable.InUseError) that names the holder's
	// pid when it can.
	Timeout time.Duration
	// ReadOnly opens an existing journal without locking it, for tools such
	// as `phoneprov leases` while the server runs. Each Load reads the file
	// as it then is; nothing is ever written, and Timeout is unused. Put
	// and Delete fail with ErrReadOnly.
	ReadOnly bool
	// Registerer, when set, receives the store's metrics.
	Registerer prometheus.Registerer
	// Logger receives the rare events worth a line: a torn write dropped at
	// open, compactions and their failures. Nil discards them.
	Logger *slog.Logger
	// CompactMinSize is the size below which the journal is not rewritten;
	// zero means DefaultCompactMinSize. Tests lower it.
	CompactMinSize int64
}

// JournalStats counts a Journal's work since it was opened.
type JournalStats struct {
	// Commits is the number of groups written: one write(2) and one
	// fdatasync each, shared by every call queued meanwhile.
	Commits uint64
	// Records is the number of leases written or deleted by those commits.
	Records uint64
	// Syncs counts every fdatasync or fsync the store issued: one per
	// commit, plus those of opening and compacting.
	Syncs uint64
	// Corrupt is the number of damaged stretches and undecodable records
	// Load has skipped.
	Corrupt uint64
	// Compactions is the number of times the journal was rewritten.
	Compactions uint64
	// CompactionFailures counts rewrites abandoned on an error; the journal
	// carries on in the old file.
	CompactionFailures uint64
	// TornBytes is how much of an incomplete write was cut off the end of
	// the file when it was opened.
	TornBytes uint64
	// Size is the journal's committed size in bytes.
	Size int64
}

// Journal is a Store in one append-only file: each Put or Delete appends a
// frame per lease (format in journalformat.go), concurrent calls are
// group-committed with one write(2) and one fdatasync, and the file is
// rewritten with only the live leases when it has doubled since the last
// rewrite. It is safe for concurrent use.
//
// An incomplete write at the end of the file, left by a crash or power cut,
// is cut off when a writer opens it (logged, and counted in
// JournalStats.TornBytes); damage to the very last frame cannot be told from
// one and goes the same way. Damage anywhere else is skipped and reported by
// Load.
//
// A failed write is cut back off the file and fails every call of its
// group; the journal carries on. A failed fdatasync fails its group too and
// stops the journal (ErrFailed): after one, Linux may have dropped the
// unwritten pages, so nothing later could be trusted to be durable. So does
// a write failure that cannot be cut back and synced.
type Journal struct {
	path       string
	readOnly   bool
	log        *slog.Logger
	compactMin int64

	mu       sync.Mutex
	wake     sync.Cond // signalled when a group is queued or the journal closes
	next     *group    // calls waiting for the next commit; nil when none
	inflight int       // calls in the group being committed (for tests)
	spare    []byte    // a group buffer to reuse
	closed   bool
	failed   error // set once what is on disk is unknown; wraps ErrFailed

	// commitMu is held while a group is written and synced, and while a
	// compaction copies the last appends and switches files.
	commitMu sync.Mutex
	// compactBase is the size after the last compaction (at open, the size
	// a compacted copy would have). Guarded by commitMu.
	compactBase int64
	// writeAt and sync are the commit's I/O, replaceable by tests.
	// Guarded by commitMu.
	writeAt func(f *os.File, b []byte, off int64) (int, error)
	sync    func(f *os.File) error

	segMu sync.Mutex
	seg   *segment // the file commits go to; nil for a read-only journal

	compactRun sync.Mutex  // one compaction at a time
	compacting atomic.Bool // a background compaction is scheduled or running
	compactWG  sync.WaitGroup
	life       context.Context // cancelled by Close, to abandon a compaction
	endLife    context.CancelFunc
	loopDone   chan struct{}

	commits, records, syncs, corrupt     atomic.Uint64
	compactions, compactFails, tornBytes atomic.Uint64
}

var _ Store = (*Journal)(nil)

// group is the calls that share one commit.
type group struct {
	buf     []byte // their frames
	calls   int
	records int
	done    chan struct{} // closed once err is set
	err     error
}

// maxSpareBuffer is the largest group buffer kept for reuse.
const maxSpareBuffer = 256 << 10

// segment is one open journal file. Readers take a reference so that a
// compaction switching files cannot close it under them.
type segment struct {
	f       *os.File
	size    int64 // committed end; guarded by Journal.segMu, changed under commitMu too
	refs    int   // guarded by Journal.segMu
	retired bool  // no longer current: closed once refs drops to 0
}

// OpenJournal opens (or, unless read-only, creates) the lease journal at path.
// A writer takes an exclusive lock, cuts off a torn write left at the end by
// a crash, and removes a compaction's leftover temporary file. A file that is
// not a journal is refused unchanged; one written by a newer schema with an
// error wrapping ErrNewerSchema; one locked by another process with an
// *durable.InUseError.
func OpenJournal(path string, opts JournalOptions) (*Journal, error) {
	j := &Journal{
		path:       path,
		readOnly:   opts.ReadOnly,
		log:        obs.Logger(opts.Logger),
		compactMin: opts.CompactMinSize,
		writeAt:    (*os.File).WriteAt,
		sync:       durable.SyncData,
	}
	if j.compactMin <= 0 {
		j.compactMin = DefaultCompactMinSize
	}
	j.wake.L = &j.mu
	if opts.ReadOnly {
		if err := j.checkReadOnly(); err != nil {
			return nil, err
		}
	} else {
		timeout := opts.Timeout
		if timeout <= 0 {
			timeout = DefaultLockTimeout
		}
		f, err := durable.OpenLocked(path, "lease database", 0o600, timeout)
		if errors.Is(err, durable.ErrInUse) {
			return nil, fmt.Errorf("%w: stop it or use another data directory", err)
		}
		if err != nil {
			return nil, err
		}
		if err := j.recover(f); err != nil {
			_ = f.Close()
			return nil, err
		}
	}
	if err := j.register(opts.Registerer); err != nil {
		if j.seg != nil {
			_ = j.seg.f.Close()
		}
		return nil, err
	}
	if !j.readOnly {
		j.life, j.endLife = context.WithCancel(context.Background())
		j.loopDone = make(chan struct{})
		go j.commitLoop()
	}
	return j, nil
}

// checkReadOnly makes sure a read-only open has a journal to read.
func (j *Journal) checkReadOnly() error {
	f, err := os.Open(j.path)
	if err != nil {
		return fmt.Errorf("open lease journal %s read-only: %w", j.path, err)
	}
	defer f.Close()
	if _, err := readJournalHeader(f, j.path); err != nil && !errors.Is(err, durable.ErrTornHeader) {
		return err
	}
	return nil
}

// readJournalHeader checks the header of f and returns the file's size. A
// file empty or cut short while it was being created reads as holding
// nothing: durable.ErrTornHeader.
func readJournalHeader(f *os.File, path string) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("lease journal %s: %w", path, err)
	}
	h := make([]byte, min(fi.Size(), journalHeaderSize))
	if _, err := f.ReadAt(h, 0); err != nil {
		return 0, fmt.Errorf("read lease journal %s: %w", path, err)
	}
	if err := checkJournalHeader(path, h); err != nil {
		return fi.Size(), err
	}
	return fi.Size(), nil
}

// recover readies the locked file f for appending: a header for a new
// file, the torn end of an interrupted write cut off, a leftover temporary
// file removed.
func (j *Journal) recover(f *os.File) error {
	size, err := readJournalHeader(f, j.path)
	switch {
	case errors.Is(err, durable.ErrTornHeader):
		if err := j.writeHeader(f); err != nil {
			return err
		}
		size = journalHeaderSize
	case err != nil:
		return err
	}
	if err := os.Remove(j.tmpPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		// Not worth refusing to serve over: compactions will fail and say so.
		j.log.Warn("lease journal: cannot remove a compaction's leftover file", "path", j.tmpPath(), "err", err)
	}
	x, err := scanJournal(context.Background(), f, size)
	if err != nil {
		return fmt.Errorf("read lease journal %s: %w", j.path, err)
	}
	if x.end < size {
		// A crash or power cut during a write: nothing in it was
		// acknowledged, and appending after it would hide what follows.
		j.syncs.Add(1)
		if err := durable.CutTail(f, x.end); err != nil {
			return fmt.Errorf("cut torn write off lease journal %s: %w", j.path, err)
		}
		j.tornBytes.Add(uint64(size - x.end))
		j.log.Info("lease journal: cut off an incomplete write left by a crash", "path", j.path, "bytes", size-x.end)
	}
	if len(x.bad) > 0 {
		j.log.Warn("lease journal has damaged records; Load reports them", "path", j.path, "stretches", len(x.bad))
	}
	j.seg = &segment{f: f, size: x.end}
	j.compactBase = x.liveBytes()
	return nil
}

// writeHeader writes the header of a new journal and makes the file durable,
// directory entry included.
func (j *Journal) writeHeader(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("create lease journal %s: %w", j.path, err)
	}
	if _, err := f.WriteAt(encodeJournalHeader(journalVersion), 0); err != nil {
		return fmt.Errorf("create lease journal %s: %w", j.path, err)
	}
	if err := j.syncCount(f); err != nil {
		return fmt.Errorf("create lease journal %s: %w", j.path, err)
	}
	j.syncs.Add(1) // the directory's
	if err := durable.SyncDir(filepath.Dir(j.path)); err != nil {
		return fmt.Errorf("create lease journal %s: %w", j.path, err)
	}
	return nil
}

// syncCount is durable.SyncData, counted.
func (j *Journal) syncCount(f *os.File) error {
	j.syncs.Add(1)
	return durable.SyncData(f)
}

func (j *Journal) tmpPath() string { return j.path + ".tmp" }

func (j *Journal) register(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	counter := func(name, help string, v *atomic.Uint64) prometheus.Collector {
		return obs.CounterFunc(name, help, func() float64 { return float64(v.Load()) })
	}
	collectors := []prometheus.Collector{
		counter("phoneprov_lease_store_commits_total",
			"Groups of lease writes committed to the lease journal (one write and one fdatasync each).", &j.commits),
		counter("phoneprov_lease_store_records_written_total",
			"Leases written or deleted in the lease journal.", &j.records),
		counter("phoneprov_lease_store_syncs_total",
			"fdatasync and fsync calls made by the lease journal (commits, compactions, directory).", &j.syncs),
		counter("phoneprov_lease_store_corrupt_records_total",
			"Damaged stretches and undecodable lease records skipped while loading.", &j.corrupt),
		counter("phoneprov_lease_store_compactions_total",
			"Rewrites of the lease journal down to its live leases.", &j.compactions),
		counter("phoneprov_lease_store_compaction_failures_total",
			"Rewrites of the lease journal abandoned on an error.", &j.compactFails),
		counter("phoneprov_lease_store_torn_tail_bytes_total",
			"Bytes of an incomplete write cut off the end of the lease journal at open.", &j.tornBytes),
		obs.GaugeFunc("phoneprov_lease_store_file_bytes", "Size of the lease journal file.",
			func() float64 { return float64(j.Stats().Size) }),
		obs.GaugeFunc("phoneprov_lease_store_failed",
			"1 when the lease journal stopped writing after a failed sync; restart to recover.", func() float64 {
				j.mu.Lock()
				defer j.mu.Unlock()
				if j.failed != nil {
					return 1
				}
				return 0
			}),
	}
	return obs.Register(reg, "lease store", collectors...)
}

// Stats returns the store's counters.
func (j *Journal) Stats() JournalStats {
	st := JournalStats{
		Commits:            j.commits.Load(),
		Records:            j.records.Load(),
		Syncs:              j.syncs.Load(),
		Corrupt:            j.corrupt.Load(),
		Compactions:        j.compactions.Load(),
		CompactionFailures: j.compactFails.Load(),
		TornBytes:          j.tornBytes.Load(),
	}
	j.segMu.Lock()
	if j.seg != nil {
		st.Size = j.seg.size
	}
	j.segMu.Unlock()
	return st
}

// Load returns every stored lease, ordered by address: the last put of each
// address not deleted since. Damaged stretches in the middle of the file and
// records that do not decode are left out and reported in an error wrapping
// ErrCorrupt, returned together with the good leases; where a damaged stretch
// held the latest write of an address, an older one may come back. A torn
// write at the end is not an error: it was never acknowledged.
//
// A writer's Load sees every call that had returned when it started; a
// read-only Load sees the file as it is.
func (j *Journal) Load(ctx context.Context) ([]Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var (
		x   *journalIndex
		r   *os.File
		err error
	)
	if j.readOnly {
		j.mu.Lock()
		closed := j.closed
		j.mu.Unlock()
		if closed {
			return nil, fmt.Errorf("load leases from %s: %w", j.path, ErrClosed)
		}
		r, err = os.Open(j.path)
		if err != nil {
			return nil, fmt.Errorf("load leases: %w", err)
		}
		defer r.Close()
		size, err := readJournalHeader(r, j.path)
		if errors.Is(err, durable.ErrTornHeader) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		x, err = scanJournal(ctx, r, size)
		if err != nil {
			return nil, j.wrapLoad(err)
		}
	} else {
		seg, end, err := j.acquire()
		if err != nil {
			return nil, err
		}
		defer j.release(seg)
		r = seg.f
		if x, err = scanJournal(ctx, r, end); err != nil {
			return nil, j.wrapLoad(err)
		}
	}
	out, bad, err := decodeLive(ctx, r, x)
	if err != nil {
		return nil, j.wrapLoad(err)
	}
	if len(x.bad) > 0 || len(bad) > 0 {
		errs := make([]error, 0, len(x.bad)+len(bad))
		for _, b := range x.bad {
			errs = append(errs, fmt.Errorf("offset %d: %d damaged bytes", b.off, b.size))
		}
		errs = append(errs, bad...)
		j.corrupt.Add(uint64(len(errs)))
		return out, fmt.Errorf("lease journal %s: %w: %d records skipped: %w",
			j.path, ErrCorrupt, len(errs), errors.Join(errs...))
	}
	return out, nil
}

func (j *Journal) wrapLoad(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("load leases from %s: %w", j.path, err)
}

// acquire returns the current file and its committed size, referenced until
// release.
func (j *Journal) acquire() (*segment, int64, error) {
	j.segMu.Lock()
	defer j.segMu.Unlock()
	if j.seg == nil || j.seg.retired {
		return nil, 0, fmt.Errorf("lease journal %s: %w", j.path, ErrClosed)
	}
	j.seg.refs++
	return j.seg, j.seg.size, nil
}

func (j *Journal) release(s *segment) {
	j.segMu.Lock()
	defer j.segMu.Unlock()
	s.refs--
	if s.retired && s.refs == 0 {
		_ = s.f.Close()
	}
}

// Put appends the leases and returns once they are fsync'd, sharing the
// write and the sync with concurrent calls. A cancelled ctx stops Put only
// before the leases are queued: after that Put waits for the commit, so a
// nil error always means durable. An error means none of the leases is
// stored, except after ErrFailed, when what the disk kept is unknown (a
// crash-safe unit: all of the call's leases or none).
func (j *Journal) Put(ctx context.Context, ls ...Lease) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validateAll(ls); err != nil {
		return err
	}
	if err := checkFrameSizes(ls); err != nil {
		return err
	}
	if j.readOnly {
		return ErrReadOnly
	}
	if len(ls) == 0 {
		return nil
	}
	return j.submit("store leases", ls, nil)
}

// Delete removes the leases for these addresses, durably, like Put.
func (j *Journal) Delete(ctx context.Context, addrs ...netip.Addr) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validateAddrs(addrs); err != nil {
		return err
	}
	if j.readOnly {
		return ErrReadOnly
	}
	if len(addrs) == 0 {
		return nil
	}
	return j.submit("delete leases", nil, addrs)
}

// submit appends the frames of one call (puts of ls, or deletes of addrs)
// to the next group and waits for its commit.
func (j *Journal) submit(op string, ls []Lease, addrs []netip.Addr) error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return fmt.Errorf("%s in %s: %w", op, j.path, ErrClosed)
	}
	if j.failed != nil {
		err := j.failed
		j.mu.Unlock()
		return fmt.Errorf("%s: %w", op, err)
	}
	g := j.next
	if g == nil {
		g = &group{buf: j.spare, done: make(chan struct{})}
		j.spare = nil
		j.next = g
		j.wake.Signal()
	}
	n := len(ls) + len(addrs)
	for i := range ls {
		g.buf = appendFrame(g.buf, frameOp(opPut, i, n), addrKey(ls[i].Addr), &ls[i])
	}
	for i, a := range addrs {
		g.buf = appendFrame(g.buf, frameOp(opDelete, i, n), addrKey(a), nil)
	}
	g.calls++
	g.records += n
	j.mu.Unlock()

	<-g.done
	if g.err != nil {
		return fmt.Errorf("%s: %w", op, g.err)
	}
	return nil
}

// frameOp marks all frames of a call but the last as continued.
func frameOp(op byte, i, n int) byte {
	if i < n-1 {
		return op | opMore
	}
	return op
}

// commitLoop commits groups one after the other until the journal is closed
// and nothing is queued: a leader/follower group commit with no timer. A
// call that finds the loop idle is written and synced as soon as the
// goroutines already ready to run have had their turn (one yield: those are
// workers about to queue leases of their own, and none of them waits for
// the network); the calls that queue while a group is written and synced
// form the next group, which starts the moment that sync returns. Under
// load a group grows to whatever arrives during one fdatasync, so the syncs
// per lease fall as the rate rises, and no call ever waits for company that
// may not come.
func (j *Journal) commitLoop() {
	defer close(j.loopDone)
	for {
		j.mu.Lock()
		for j.next == nil && !j.closed {
			j.wake.Wait()
		}
		if !j.closed {
			// Let the goroutines that are ready to run (workers about to
			// queue their leases) go first. No timer: with nothing else
			// ready, the sync starts at once.
			j.mu.Unlock()
			runtime.Gosched()
			j.mu.Lock()
		}
		g := j.next
		j.next = nil
		if g == nil {
			j.mu.Unlock()
			return
		}
		j.inflight = g.calls
		j.mu.Unlock()

		g.err = j.commit(g)

		j.mu.Lock()
		j.inflight = 0
		if cap(g.buf) <= maxSpareBuffer {
			j.spare = g.buf[:0] // the callers only read g.err
		}
		j.mu.Unlock()
		close(g.done)
	}
}

// commit writes g's frames at the end of the journal with one write and
// makes them durable with one fdatasync.
func (j *Journal) commit(g *group) error {
	j.commitMu.Lock()
	defer j.commitMu.Unlock()
	j.mu.Lock()
	failed := j.failed
	j.mu.Unlock()
	if failed != nil {
		return failed
	}
	seg := j.seg
	end := seg.size
	if _, err := j.writeAt(seg.f, g.buf, end); err != nil {
		// Part of the group may be in the file. Cut it off (and make the
		// cut durable) so the next group starts on a frame boundary and no
		// failed call's lease comes back after a crash.
		err = fmt.Errorf("write lease journal %s: %w", j.path, err)
		if terr := seg.f.Truncate(end); terr != nil {
			return j.fail(fmt.Errorf("%w; cutting it back failed too: %w", err, terr))
		}
		j.syncs.Add(1)
		if serr := j.sync(seg.f); serr != nil {
			return j.fail(fmt.Errorf("%w; syncing the cut failed: %w", err, serr))
		}
		return err
	}
	j.syncs.Add(1)
	if err := j.sync(seg.f); err != nil {
		// The kernel may have dropped the pages it could not write and
		// will report success next time: nothing written from now on could
		// be trusted. Cut the group off (best effort) and stop.
		_ = seg.f.Truncate(end)
		return j.fail(fmt.Errorf("sync lease journal %s: %w", j.path, err))
	}
	j.segMu.Lock()
	seg.size = end + int64(len(g.buf))
	j.segMu.Unlock()
	j.commits.Add(1)
	j.records.Add(uint64(g.records))
	j.maybeCompact(seg.size)
	return nil
}

// fail stops the journal for good and returns the error every later call gets.
func (j *Journal) fail(cause error) error {
	err := fmt.Errorf("%w: %w (restart phoneprov to reopen it)", ErrFailed, cause)
	j.mu.Lock()
	j.failed = err
	j.mu.Unlock()
	j.log.Error("lease journal stopped: leases can no longer be stored", "path", j.path, "err", cause)
	return err
}

// Err returns nil while the journal can store leases, else why not (an
// error wrapping ErrFailed or ErrClosed). It is cheap enough for a
// readiness probe.
func (j *Journal) Err() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.failed != nil {
		return j.failed
	}
	if j.closed {
		return ErrClosed
	}
	return nil
}

// Close commits the calls already queued, abandons a compaction in progress
// and closes the file, releasing the lock. Closing twice is harmless.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	j.wake.Broadcast()
	j.mu.Unlock()
	if j.readOnly {
		return nil
	}
	<-j.loopDone
	j.endLife()
	j.compactWG.Wait()

	j.segMu.Lock()
	defer j.segMu.Unlock()
	seg := j.seg
	seg.retired = true
	if seg.refs == 0 {
		if err := seg.f.Close(); err != nil {
			return fmt.Errorf("close lease journal %s: %w", j.path, err)
		}
	}
	return nil
}
