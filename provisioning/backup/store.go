package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoneprov/phoneprov/internal/configcheck"
	"github.com/phoneprov/phoneprov/internal/durable"
	"github.com/phoneprov/phoneprov/internal/obs"
)

// Errors a Store returns; a missing file is fs.ErrNotExist.
var (
	// ErrBadName: the name does not match the configured pattern, or could
	// leave the folder. The error is a *NameError.
	ErrBadName = errors.New("bad backup file name")
	// ErrTooLarge: the body is longer than Config.MaxBytes.
	ErrTooLarge = errors.New("backup file too large")
	// ErrFull: the store already holds Config.MaxFiles names.
	ErrFull = errors.New("backup store full")
)

// NameError says why a name was refused.
type NameError struct {
	Name   string
	Reason string // empty, too_long, hidden, separator, pattern
}

// Error says which name was refused and why.
func (e *NameError) Error() string {
	return fmt.Sprintf("backup file name %q refused: %s", e.Name, e.Reason)
}

// Is makes errors.Is(err, ErrBadName) true for a *NameError.
func (e *NameError) Is(target error) bool { return target == ErrBadName }

// Options are what a Store is wired to; Dir is required.
type Options struct {
	Dir      string // <data_dir>/backup; created when missing
	Logger   *slog.Logger
	Registry prometheus.Registerer
	// ReplicateTo is the partner box's backup folder, like
	// "http://198.18.0.2/backup/": every upload stored here is copied
	// there in the background (Replicate). Empty: no copies.
	ReplicateTo string
	// ReplicaClient sends the copies; nil means a plain http.Client.
	ReplicaClient *http.Client
	// Fleet is how many phones the site's DHCP pools can serve, 0 when
	// unknown: Config.FilesFor scales the cap on files with it.
	Fleet int
}

// Store keeps the phones' backup files in one folder, confined by os.Root:
//
//	<dir>/<name>                 the current version, served by GET
//	<dir>/.versions/<name>.<n>   earlier versions, 1 the most recent
//	<dir>/.tmp-<name>-<random>   uploads in progress, removed at start
//
// Every change is atomic: the body goes to a temporary file in the same
// folder, is synced, and is renamed over the current file, and the folder is
// synced. The version being replaced is first hard-linked into .versions, so
// at every instant, crash included, the current name holds one complete
// upload. Changes to one name are serialized; uploads themselves stream in
// parallel.
type Store struct {
	root    *os.Root
	dir     string
	log     *slog.Logger
	metrics *metrics
	cur     atomic.Pointer[settings]
	locks   nameLocks
	replica *replicator // nil without Options.ReplicateTo

	fleet int // Options.Fleet

	countMu sync.Mutex
	count   int // current files stored, for the cap (Config.FilesFor)
}

// settings are a validated Config with its pattern compiled.
type settings struct {
	cfg     Config
	pattern *regexp.Regexp
}

const (
	versionsDir = ".versions"
)

// New opens (creating if needed) the backup folder, removes uploads a crash
// left behind, and registers the metrics.
func New(cfg Config, opts Options) (*Store, error) {
	st, err := compile(cfg)
	if err != nil {
		return nil, err
	}
	if opts.Dir == "" {
		return nil, errors.New("backup: no folder given")
	}
	opts.Logger = obs.Logger(opts.Logger)
	opts.Registry = obs.Registry(opts.Registry)
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("backup: create folder: %w", err)
	}
	root, err := os.OpenRoot(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("backup: open folder: %w", err)
	}
	s := &Store{root: root, dir: opts.Dir, log: opts.Logger, fleet: opts.Fleet}
	s.cur.Store(st)
	if err := root.Mkdir(versionsDir, 0o750); err != nil && !errors.Is(err, fs.ErrExist) {
		root.Close()
		return nil, fmt.Errorf("backup: create %s: %w", versionsDir, err)
	}
	if err := s.removeLeftovers(); err != nil {
		root.Close()
		return nil, err
	}
	names, err := s.currentNames()
	if err != nil {
		root.Close()
		return nil, err
	}
	s.count = len(names)
	if s.metrics, err = newMetrics(opts.Registry, s.files); err != nil {
		root.Close()
		return nil, err
	}
	if opts.ReplicateTo != "" {
		if s.replica, err = newReplicator(opts.ReplicateTo, opts.ReplicaClient, s, opts.Registry); err != nil {
			root.Close()
			return nil, err
		}
	}
	return s, nil
}

func compile(cfg Config) (*settings, error) {
	if err := configcheck.Check("backup", cfg.Validate); err != nil {
		return nil, err
	}
	return &settings{cfg: cfg, pattern: regexp.MustCompile(cfg.NamePattern)}, nil
}

// Reload applies a new configuration to requests that start after it. The
// path cannot change while running (the file server mounts it once); the
// returned error says so and nothing changes.
func (s *Store) Reload(cfg Config) error {
	st, err := compile(cfg)
	if err != nil {
		return err
	}
	if old := s.cur.Load().cfg; old.Path != cfg.Path || old.Enabled != cfg.Enabled {
		return errors.New("backup: path and enabled take effect only after a restart")
	}
	s.cur.Store(st)
	return nil
}

// Config returns the configuration in force.
func (s *Store) Config() Config { return s.cur.Load().cfg }

// Close releases the folder.
func (s *Store) Close() error { return s.root.Close() }

// CheckName returns a *NameError when name may not be stored.
func (s *Store) CheckName(name string) error {
	reason := ""
	switch {
	case name == "":
		reason = "empty"
	case len(name) > maxNameBytes:
		reason = "too_long"
	case name[0] == '.':
		reason = "hidden"
	case strings.ContainsAny(name, "/\\\x00"):
		reason = "separator"
	case !s.cur.Load().pattern.MatchString(name):
		reason = "pattern"
	}
	if reason != "" {
		if len(name) > 64 {
			name = name[:64] + "…"
		}
		return &NameError{Name: name, Reason: reason}
	}
	return nil
}

// PutResult describes a stored upload.
type PutResult struct {
	Created bool  // no file had the name before
	Bytes   int64 // body length
}

// Put stores body as the new current version of name. It reads at most
// Config.MaxBytes+1 bytes; a longer body gives ErrTooLarge and changes
// nothing, as does any read error.
func (s *Store) Put(ctx context.Context, name string, body io.Reader) (PutResult, error) {
	if err := ctx.Err(); err != nil {
		return PutResult{}, err
	}
	if err := s.CheckName(name); err != nil {
		return PutResult{}, err
	}
	limit := s.cur.Load().cfg.MaxBytes
	tmp, tmpName, err := s.createTemp(name)
	if err != nil {
		return PutResult{}, err
	}
	n, err := io.Copy(tmp, io.LimitReader(body, limit+1))
	if err == nil && n > limit {
		err = fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	if err := s.closeTemp(tmp, tmpName, err); err != nil {
		return PutResult{}, fmt.Errorf("backup %s: receive: %w", name, err)
	}
	created, err := s.commitLocked(name, tmpName)
	if err != nil {
		return PutResult{}, err
	}
	return PutResult{Created: created, Bytes: n}, nil
}

// Open returns the current version of name for reading, and its details.
func (s *Store) Open(name string) (*os.File, fs.FileInfo, error) {
	if err := s.CheckName(name); err != nil {
		return nil, nil, err
	}
	return s.openRegular(name)
}

// OpenVersion returns earlier version n (1 is the most recent) of name.
func (s *Store) OpenVersion(name string, n int) (*os.File, fs.FileInfo, error) {
	if err := s.CheckName(name); err != nil {
		return nil, nil, err
	}
	if n < 1 {
		return nil, nil, fmt.Errorf("backup %s: version %d: %w", name, n, fs.ErrNotExist)
	}
	return s.openRegular(versionName(name, n))
}

func (s *Store) openRegular(name string) (*os.File, fs.FileInfo, error) {
	f, err := s.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("backup: open %s: %w", name, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("backup: stat %s: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("backup: %s is not a regular file: %w", name, fs.ErrNotExist)
	}
	return f, fi, nil
}

// Delete removes the current version of name. The removed file becomes
// version 1, so a phone's delete can be undone with Revert until enough
// newer uploads push it out.
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.CheckName(name); err != nil {
		return err
	}
	unlock := s.locks.lock(name)
	defer unlock()
	fi, err := s.root.Lstat(name)
	if err != nil {
		return fmt.Errorf("backup: delete %s: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("backup: delete %s: not a regular file: %w", name, fs.ErrNotExist)
	}
	if v := s.cur.Load().cfg.Versions; v > 0 {
		if err := s.rotate(name, v); err != nil {
			return err
		}
	}
	if err := s.root.Remove(name); err != nil {
		return fmt.Errorf("backup: delete %s: %w", name, err)
	}
	s.addCount(-1)
	return s.syncDirs()
}

// Revert makes earlier version n of name current again; the current
// version, if any, becomes version 1.
func (s *Store) Revert(ctx context.Context, name string, n int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	src, _, err := s.OpenVersion(name, n)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp, tmpName, err := s.createTemp(name)
	if err != nil {
		return err
	}
	_, err = io.Copy(tmp, src)
	if err := s.closeTemp(tmp, tmpName, err); err != nil {
		return fmt.Errorf("backup: revert %s to version %d: %w", name, n, err)
	}
	_, err = s.commitLocked(name, tmpName)
	return err
}

// File describes one stored backup.
type File struct {
	Name     string    `json:"name"`
	Size     int64     `json:"size"`
	ModTime  time.Time `json:"mod_time"`
	Versions int       `json:"versions"` // earlier versions kept
}

// Version describes one earlier version of a file.
type Version struct {
	N       int       `json:"n"` // 1 is the most recent
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mod_time"`
}

// List returns the stored files by name. Uploads in progress and leftovers
// of a crash are never listed.
func (s *Store) List() ([]File, error) {
	names, err := s.currentNames()
	if err != nil {
		return nil, err
	}
	out := make([]File, 0, len(names))
	for _, n := range names {
		fi, err := s.root.Lstat(n)
		if err != nil {
			continue // deleted meanwhile
		}
		vs, err := s.Versions(n)
		if err != nil {
			return nil, err
		}
		out = append(out, File{Name: n, Size: fi.Size(), ModTime: fi.ModTime(), Versions: len(vs)})
	}
	return out, nil
}

// Versions returns the earlier versions kept for name, most recent first.
// A deleted file may still have versions.
func (s *Store) Versions(name string) ([]Version, error) {
	if err := s.CheckName(name); err != nil {
		return nil, err
	}
	var out []Version
	for i := 1; i <= maxVersionScan; i++ {
		fi, err := s.root.Lstat(versionName(name, i))
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("backup: versions of %s: %w", name, err)
		}
		out = append(out, Version{N: i, Size: fi.Size(), ModTime: fi.ModTime()})
	}
	return out, nil
}

// maxVersionScan bounds loops over version numbers; Config.Versions is at most 100.
const maxVersionScan = 200

func versionName(name string, n int) string {
	return versionsDir + "/" + name + "." + strconv.Itoa(n)
}

// currentNames lists the regular files that are backups, sorted.
func (s *Store) currentNames() ([]string, error) {
	entries, err := s.readDir(".")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

func (s *Store) readDir(dir string) ([]fs.DirEntry, error) {
	d, err := s.root.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("backup: list %s: %w", dir, err)
	}
	defer d.Close()
	entries, err := d.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("backup: list %s: %w", dir, err)
	}
	return entries, nil
}

// removeLeftovers deletes temporary files an interrupted upload left.
func (s *Store) removeLeftovers() error {
	for _, dir := range []string{".", versionsDir} {
		entries, err := s.readDir(dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if durable.IsTemp(e.Name()) {
				p := dir + "/" + e.Name()
				if err := s.root.Remove(p); err != nil {
					return fmt.Errorf("backup: remove leftover %s: %w", p, err)
				}
				s.log.Info("removed an interrupted backup upload", "file", p)
			}
		}
	}
	return nil
}

func (s *Store) createTemp(name string) (*os.File, string, error) {
	f, tmp, err := durable.CreateTemp(s.root, name, 0o640)
	if err != nil {
		return nil, "", fmt.Errorf("backup %s: %w", name, err)
	}
	return f, tmp, nil
}

// closeTemp syncs and closes tmp, into which a copy ended with err, and
// removes it when the copy or the sync failed; it returns the first error.
func (s *Store) closeTemp(tmp *os.File, tmpName string, err error) error {
	if err == nil {
		err = durable.SyncClose(tmp)
	} else {
		_ = tmp.Close()
	}
	if err != nil {
		s.removeQuietly(tmpName)
	}
	return err
}

// commitLocked commits the synced temporary file as name under name's
// lock, removing it if that fails.
func (s *Store) commitLocked(name, tmpName string) (created bool, err error) {
	unlock := s.locks.lock(name)
	defer unlock()
	created, err = s.commit(name, tmpName)
	if err != nil {
		s.removeQuietly(tmpName)
	}
	return created, err
}

// commit renames the synced temporary file over name, keeping the version
// it replaces. The caller holds name's lock.
func (s *Store) commit(name, tmpName string) (created bool, err error) {
	_, err = s.root.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		created = true
		if !s.reserve() {
			return false, ErrFull
		}
		defer func() {
			if err != nil {
				s.addCount(-1)
			}
		}()
	case err != nil:
		return false, fmt.Errorf("backup: stat %s: %w", name, err)
	default:
		if v := s.cur.Load().cfg.Versions; v > 0 {
			if err := s.rotate(name, v); err != nil {
				return false, err
			}
		}
	}
	if err := s.root.Rename(tmpName, name); err != nil {
		return false, fmt.Errorf("backup: replace %s: %w", name, err)
	}
	return created, s.syncDirs()
}

// rotate shifts the earlier versions of name up by one, dropping those past
// keep, and hard-links the current file as version 1. The current file stays
// in place throughout.
func (s *Store) rotate(name string, keep int) error {
	for i := keep - 1; i >= 1; i-- {
		err := s.root.Rename(versionName(name, i), versionName(name, i+1))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("backup: keep versions of %s: %w", name, err)
		}
	}
	if err := s.root.Remove(versionName(name, 1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("backup: keep versions of %s: %w", name, err)
	}
	if err := s.root.Link(name, versionName(name, 1)); err != nil {
		return fmt.Errorf("backup: keep version of %s: %w", name, err)
	}
	// Versions past keep remain when the operator lowered the setting.
	for i := keep + 1; i <= maxVersionScan; i++ {
		if err := s.root.Remove(versionName(name, i)); err != nil {
			break
		}
	}
	return nil
}

// syncDirs makes renames durable.
func (s *Store) syncDirs() error {
	for _, dir := range []string{".", versionsDir} {
		if err := durable.SyncRootDir(s.root, dir); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
	}
	return nil
}

func (s *Store) removeQuietly(name string) {
	if err := s.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("cannot remove temporary backup file", "file", name, "err", err)
	}
}

// MaxFiles is the cap on stored names in force (Config.FilesFor).
func (s *Store) MaxFiles() int { return s.cur.Load().cfg.FilesFor(s.fleet) }

func (s *Store) reserve() bool {
	s.countMu.Lock()
	defer s.countMu.Unlock()
	if s.count >= s.MaxFiles() {
		return false
	}
	s.count++
	return true
}

func (s *Store) addCount(d int) {
	s.countMu.Lock()
	s.count += d
	s.countMu.Unlock()
}

func (s *Store) files() float64 {
	s.countMu.Lock()
	defer s.countMu.Unlock()
	return float64(s.count)
}

// nameLocks hands out one mutex per name, kept only while in use.
type nameLocks struct {
	mu    sync.Mutex
	byKey map[string]*nameLock
}

type nameLock struct {
	sync.Mutex
	refs int
}

// lock takes name's lock and returns its release.
func (l *nameLocks) lock(name string) (unlock func()) {
	l.mu.Lock()
	if l.byKey == nil {
		l.byKey = map[string]*nameLock{}
	}
	nl := l.byKey[name]
	if nl == nil {
		nl = &nameLock{}
		l.byKey[name] = nl
	}
	nl.refs++
	l.mu.Unlock()
	nl.Lock()
	return func() {
		nl.Unlock()
		l.mu.Lock()
		if nl.refs--; nl.refs == 0 {
			delete(l.byKey, name)
		}
		l.mu.Unlock()
	}
}
