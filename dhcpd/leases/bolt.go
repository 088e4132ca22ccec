package leases

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"
)

// Bucket and key names inside the database file. Other parts of phoneprov may
// keep their own buckets in the same file; these are the lease store's.
var (
	metaBucket   = []byte("meta")
	schemaKey    = []byte("leases-schema")
	leasesBucket = []byte("leases")
)

// DefaultLockTimeout is how long OpenBolt waits, unless told otherwise, for
// another process to release the database file.
const DefaultLockTimeout = time.Second

// BoltOptions tunes OpenBolt. The zero value is a sensible read-write open.
type BoltOptions struct {
	// Timeout bounds the wait for the file lock held by another process;
	// zero means DefaultLockTimeout. When it runs out OpenBolt fails with an
	// error wrapping ErrInUse that names the holder's pid when it can.
	Timeout time.Duration
	// ReadOnly opens an existing file with a shared lock, for tools such as
	// `phoneprov leases` while the server is not running. Put and Delete then
	// fail with ErrReadOnly.
	ReadOnly bool
	// Registerer, when set, receives the store's metrics (commits, records
	// written, corrupt records seen by Load).
	Registerer prometheus.Registerer
}

// BoltStats counts a Bolt store's work since it was opened.
type BoltStats struct {
	// Commits is the number of write transactions committed (each one fsync).
	Commits uint64
	// Records is the number of leases written or deleted by those commits.
	Records uint64
	// Corrupt is the number of undecodable records Load has skipped.
	Corrupt uint64
}

// Bolt is a Store in one bbolt file. Concurrent Put and Delete calls are
// group-committed: one transaction and one fsync for all the calls that queued
// while the previous commit was written. It is safe for concurrent use.
type Bolt struct {
	db       *bolt.DB
	path     string
	readOnly bool
	commit   committer

	// lastTx is the id of the write transaction that last counted a commit.
	// It is only touched inside write transactions, which bbolt serializes.
	lastTx  int
	commits atomic.Uint64
	records atomic.Uint64
	corrupt atomic.Uint64
}

var _ Store = (*Bolt)(nil)

// OpenBolt opens (or, unless read-only, creates) the lease database at path.
// A file written by a newer schema is refused with an error wrapping
// ErrNewerSchema; a file locked by another process with one wrapping ErrInUse.
func OpenBolt(path string, opts BoltOptions) (*Bolt, error) {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, os.ErrNotExist)
	if created && opts.ReadOnly {
		return nil, fmt.Errorf("open lease database %s read-only: %w", path, os.ErrNotExist)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      timeout,
		ReadOnly:     opts.ReadOnly,
		FreelistType: bolt.FreelistMapType,
	})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, inUseError(path)
	}
	if err != nil {
		return nil, fmt.Errorf("open lease database %s: %w", path, err)
	}
	b := &Bolt{db: db, path: path, readOnly: opts.ReadOnly, commit: committer{db: db}}
	if err := b.checkSchema(); err != nil {
		_ = db.Close()
		return nil, err
	}
	if err := b.register(opts.Registerer); err != nil {
		_ = db.Close()
		return nil, err
	}
	if created {
		// The new file's directory entry must survive a power cut too, or
		// every lease committed into the file could vanish with it.
		if err := syncDir(filepath.Dir(path)); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("open lease database %s: %w", path, err)
		}
	}
	return b, nil
}

// InUseError says another process holds the lease database. It matches
// ErrInUse with errors.Is.
type InUseError struct {
	Path string
	// PID and Process name the holder; PID is 0 when it cannot be told.
	PID     int
	Process string
}

// Error names the database and, when known, the process holding it.
func (e *InUseError) Error() string {
	holder := "pid unknown"
	if e.PID > 0 {
		holder = fmt.Sprintf("pid %d", e.PID)
		if e.Process != "" {
			holder += ", " + e.Process
		}
	}
	return fmt.Sprintf("lease database %s is in use by another phoneprov (%s): stop it or use another data directory", e.Path, holder)
}

// Is makes errors.Is(err, ErrInUse) true.
func (e *InUseError) Is(target error) bool { return target == ErrInUse }

func inUseError(path string) error {
	e := &InUseError{Path: path}
	// A journal's holder may compact, putting a new locked file at path,
	// between the lookup's stat and its read of the lock table: look again.
	for range 3 {
		if pid, ok := lockHolder(path); ok {
			e.PID, e.Process = pid, processName(pid)
			break
		}
	}
	return e
}

// checkSchema creates the buckets in a new file, and refuses a file this code
// cannot read. Migrations from older schemas go here when there are any.
func (b *Bolt) checkSchema() error {
	check := func(tx *bolt.Tx) error {
		meta := tx.Bucket(metaBucket)
		if meta == nil || meta.Get(schemaKey) == nil {
			if tx.Bucket(leasesBucket) != nil {
				return fmt.Errorf("lease database %s has leases but no schema version: not written by phoneprov?", b.path)
			}
			if !tx.Writable() {
				return nil // a fresh, empty file: nothing to read
			}
			meta, err := tx.CreateBucketIfNotExists(metaBucket)
			if err != nil {
				return err
			}
			if err := meta.Put(schemaKey, encodeSchema(schemaVersion)); err != nil {
				return err
			}
			_, err = tx.CreateBucket(leasesBucket)
			return err
		}
		v, err := decodeSchema(meta.Get(schemaKey))
		if err != nil {
			return fmt.Errorf("lease database %s: %w", b.path, err)
		}
		if v > schemaVersion {
			return fmt.Errorf("lease database %s was written by a newer phoneprov (schema %d, this one reads up to %d): upgrade phoneprov or move the file away: %w",
				b.path, v, schemaVersion, ErrNewerSchema)
		}
		if tx.Bucket(leasesBucket) == nil {
			if !tx.Writable() {
				return nil
			}
			_, err := tx.CreateBucket(leasesBucket)
			return err
		}
		return nil
	}
	var err error
	if b.readOnly {
		err = b.db.View(check)
	} else {
		err = b.db.Update(check)
	}
	if err != nil {
		return fmt.Errorf("check lease database schema: %w", err)
	}
	return nil
}

func (b *Bolt) register(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	collectors := []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "phoneprov_lease_store_commits_total",
			Help: "Write transactions committed to the lease database (one fsync each).",
		}, func() float64 { return float64(b.commits.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "phoneprov_lease_store_records_written_total",
			Help: "Leases written or deleted in the lease database.",
		}, func() float64 { return float64(b.records.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "phoneprov_lease_store_corrupt_records_total",
			Help: "Undecodable lease records skipped while loading.",
		}, func() float64 { return float64(b.corrupt.Load()) }),
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register lease store metrics: %w", err)
		}
	}
	return nil
}

// Stats returns the store's counters.
func (b *Bolt) Stats() BoltStats {
	return BoltStats{Commits: b.commits.Load(), Records: b.records.Load(), Corrupt: b.corrupt.Load()}
}

// countCommit, called inside a write transaction that writes n records,
// counts the records and, once per transaction, the commit.
func (b *Bolt) countCommit(tx *bolt.Tx, n int) {
	tx.OnCommit(func() { b.records.Add(uint64(n)) })
	if id := tx.ID(); id != b.lastTx {
		b.lastTx = id
		tx.OnCommit(func() { b.commits.Add(1) })
	}
}

// Path returns the database file's path.
func (b *Bolt) Path() string { return b.path }

// Load returns every stored lease, ordered by address. Records that cannot be
// decoded are left out and reported in an error wrapping ErrCorrupt, returned
// together with the good leases.
func (b *Bolt) Load(ctx context.Context) ([]Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var (
		out     []Lease
		corrupt []error
	)
	err := b.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket(leasesBucket)
		if bk == nil {
			return nil // read-only open of a fresh file
		}
		c := bk.Cursor()
		n := 0
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if n++; n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			addr, err := keyAddr(k)
			if err != nil {
				corrupt = append(corrupt, err)
				continue
			}
			l, err := decodeLease(addr, v)
			if err != nil {
				corrupt = append(corrupt, fmt.Errorf("%v: %w", addr, err))
				continue
			}
			out = append(out, l)
		}
		return nil
	})
	if err != nil {
		return nil, b.wrap("load leases", err)
	}
	if len(corrupt) > 0 {
		b.corrupt.Add(uint64(len(corrupt)))
		return out, fmt.Errorf("lease database %s: %w: %d records skipped: %w",
			b.path, ErrCorrupt, len(corrupt), errors.Join(corrupt...))
	}
	return out, nil
}

// Put stores the leases in one transaction, shared with concurrent calls, and
// returns once it is fsync'd. A cancelled ctx stops Put only before the
// leases are handed to the database: after that Put waits for the commit, so
// a nil error always means durable and an error means nothing was written.
func (b *Bolt) Put(ctx context.Context, ls ...Lease) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validateAll(ls); err != nil {
		return err
	}
	if b.readOnly {
		return ErrReadOnly
	}
	if len(ls) == 0 {
		return nil
	}
	type record struct {
		key [4]byte
		val []byte
	}
	recs := make([]record, len(ls))
	for i := range ls {
		recs[i] = record{key: addrKey(ls[i].Addr), val: encodeLease(make([]byte, 0, 96), &ls[i])}
	}
	// The function may run twice (alone, after a failed shared commit);
	// writing the same records again is harmless.
	err := b.commit.do(func(tx *bolt.Tx) error {
		bk := tx.Bucket(leasesBucket)
		for i := range recs {
			if err := bk.Put(recs[i].key[:], recs[i].val); err != nil {
				return fmt.Errorf("%v: %w", netip.AddrFrom4(recs[i].key), err)
			}
		}
		b.countCommit(tx, len(recs))
		return nil
	})
	return b.wrap("store leases", err)
}

// Delete removes the leases for these addresses in one durable transaction.
func (b *Bolt) Delete(ctx context.Context, addrs ...netip.Addr) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validateAddrs(addrs); err != nil {
		return err
	}
	if b.readOnly {
		return ErrReadOnly
	}
	if len(addrs) == 0 {
		return nil
	}
	keys := make([][4]byte, len(addrs))
	for i, a := range addrs {
		keys[i] = addrKey(a)
	}
	err := b.commit.do(func(tx *bolt.Tx) error {
		bk := tx.Bucket(leasesBucket)
		for i := range keys {
			if err := bk.Delete(keys[i][:]); err != nil {
				return fmt.Errorf("%v: %w", netip.AddrFrom4(keys[i]), err)
			}
		}
		b.countCommit(tx, len(keys))
		return nil
	})
	return b.wrap("delete leases", err)
}

// Close waits for transactions in flight and closes the file. Closing twice
// is harmless.
func (b *Bolt) Close() error {
	if err := b.db.Close(); err != nil {
		return fmt.Errorf("close lease database %s: %w", b.path, err)
	}
	return nil
}

// wrap adds context to a database error and maps bbolt's to ours.
func (b *Bolt) wrap(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bolt.ErrDatabaseNotOpen):
		return fmt.Errorf("%s in %s: %w", op, b.path, ErrClosed)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	default:
		return fmt.Errorf("%s in %s: %w", op, b.path, err)
	}
}

// syncDir fsyncs a directory so a file just created in it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
