package fileserve

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/phoneprov/phoneprov/fileserve/internal/fswatch"
)

// Small files (settings, upgrade scripts, certificates) are asked for by
// every phone at every boot. smallFiles keeps their bytes in memory so a
// request costs no file system call at all beyond one read of an inotify
// queue, and the body leaves in the same write as the headers.
//
// Every cached name has inotify watches on its file and on each directory
// on its path, set before the file is read. The kernel queues an event
// before the rename, write or unlink that caused it returns, and every
// lookup first drains that queue and drops what the events name. So a
// file renamed into place is served on the very next request; the old
// copy never outlives the change. Names reached through a symbolic link,
// files with more than one link and files on network or FUSE file
// systems are not cached (their changes could happen where no watch
// looks); they are served from disk every time. (Writes through a shared
// memory mapping make no inotify event; like any write in place, they are
// no way to publish a file. Rename it into place.)
type smallFiles struct {
	root  *os.Root
	watch *fswatch.Watcher // nil: caching is off

	mu      sync.RWMutex
	entries map[string]*smallFile
	bytes   int64
	dirs    map[string]int32       // watched directory ("." is the root) → watch
	dirOf   map[int32]string       // watch → directory
	fileOf  map[int32]string       // watch → the name it was set for (cached or loading)
	loading map[string]*loadTicket // names being read now
	broken  atomic.Bool            // the watcher failed; nothing is cached any more

	// absent holds top-level names (lower case) that are in the tree
	// under no spelling, such as the generated files' names, so asking
	// for them again costs no file system call; an event in the top
	// directory for the name (or any loss of events) drops it.
	absent        map[string]bool
	absentLoading map[string]*loadTicket // names being checked now
}

// loadTicket lets a change that happens while a file is read stop the
// copy from being cached.
type loadTicket struct{ stale bool }

// smallFile is one cached file, with the header values every response
// for it carries, formatted once.
type smallFile struct {
	memContent
	watch int32
}

// Limits of the small-file cache.
const (
	smallFileMax     = 64 << 10 // what counts as small
	smallCacheMax    = 16 << 20 // bytes kept in all
	smallCacheFiles  = 4096     // files kept
	smallCacheDirs   = 1024     // directories watched
	smallCacheName   = 512      // longer names are not cached
	smallCacheLevels = 16       // deeper names are not cached
)

// newSmallFiles starts the cache for the tree open at root. Without
// inotify it caches nothing, and every request reads the file.
func newSmallFiles(root *os.Root) *smallFiles {
	c := &smallFiles{
		root: root, entries: map[string]*smallFile{},
		dirs: map[string]int32{}, dirOf: map[int32]string{}, fileOf: map[int32]string{},
		loading: map[string]*loadTicket{}, absent: map[string]bool{}, absentLoading: map[string]*loadTicket{},
	}
	if w, err := fswatch.New(); err == nil {
		c.watch = w
	}
	return c
}

// close ends the watches.
func (c *smallFiles) close() {
	if c.watch != nil {
		c.watch.Close()
	}
}

// lookup returns the cached copy of name, current as of this call, or nil.
func (c *smallFiles) lookup(name string) *smallFile {
	if c.watch == nil || !c.sync() {
		return nil
	}
	c.mu.RLock()
	sf := c.entries[name]
	c.mu.RUnlock()
	return sf
}

// sync applies every change the kernel has reported so far. It reports
// false when the cache cannot be trusted any more.
func (c *smallFiles) sync() bool {
	if err := c.watch.Drain(c.apply); err != nil {
		c.mu.Lock()
		c.dropAll()
		c.broken.Store(true)
		c.mu.Unlock()
		return false
	}
	return !c.broken.Load()
}

// apply drops what one event says may have changed.
func (c *smallFiles) apply(ev fswatch.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ev.Watch == fswatch.Overflow {
		c.dropAll() // events were lost: nothing cached, and no directory path, can be trusted
		return
	}
	if dir, ok := c.dirOf[ev.Watch]; ok {
		if ev.Name == "" { // the directory itself was moved, deleted or unwatched
			c.dropUnder(dir)
			return
		}
		c.dropUnder(path.Join(dir, ev.Name))
		return
	}
	if name, ok := c.fileOf[ev.Watch]; ok {
		c.dropName(name)
	}
	// Otherwise it is the IN_IGNORED of a watch already forgotten.
}

// dropUnder forgets p and everything below it: cached files, loads in
// progress and directory watches (whose paths no longer say where they
// are). "." is the whole tree. c.mu is held.
func (c *smallFiles) dropUnder(p string) {
	if p == "." {
		c.dropAll()
		return
	}
	if !strings.Contains(p, "/") {
		key := strings.ToLower(p)
		delete(c.absent, key)
		if t := c.absentLoading[key]; t != nil {
			t.stale = true
		}
	}
	under := func(n string) bool { return n == p || strings.HasPrefix(n, p) && n[len(p)] == '/' }
	for n := range c.entries {
		if under(n) {
			c.dropName(n)
		}
	}
	for n, t := range c.loading {
		if under(n) {
			t.stale = true
		}
	}
	for d, wd := range c.dirs {
		if under(d) {
			c.forgetDir(d, wd)
		}
	}
}

// dropName forgets one cached (or loading) name and its file watch. c.mu is held.
func (c *smallFiles) dropName(name string) {
	if t := c.loading[name]; t != nil {
		t.stale = true
	}
	sf := c.entries[name]
	if sf == nil {
		return
	}
	delete(c.entries, name)
	c.bytes -= int64(len(sf.data))
	c.forgetFile(sf.watch)
}

func (c *smallFiles) forgetFile(wd int32) {
	delete(c.fileOf, wd)
	c.watch.Remove(wd)
}

func (c *smallFiles) forgetDir(dir string, wd int32) {
	delete(c.dirs, dir)
	delete(c.dirOf, wd)
	c.watch.Remove(wd)
}

// dropAll forgets everything, watches included. c.mu is held.
func (c *smallFiles) dropAll() {
	for _, t := range c.loading {
		t.stale = true
	}
	for _, t := range c.absentLoading {
		t.stale = true
	}
	clear(c.absent)
	for wd := range c.fileOf {
		c.forgetFile(wd)
	}
	for d, wd := range c.dirs {
		c.forgetDir(d, wd)
	}
	clear(c.entries)
	c.bytes = 0
}

// errNotCacheable says a file is served from disk instead; it never
// reaches a client.
var errNotCacheable = errors.New("not cacheable")

// load reads name into the cache and returns the cached copy. An error
// means the caller serves the file from disk, as it would have without a
// cache.
func (c *smallFiles) load(name string) (*smallFile, error) {
	if c.watch == nil || len(name) > smallCacheName || strings.Count(name, "/") >= smallCacheLevels {
		return nil, errNotCacheable
	}
	if !c.sync() {
		return nil, errNotCacheable
	}
	c.mu.Lock()
	if c.loading[name] != nil || len(c.fileOf) >= smallCacheFiles+64 {
		c.mu.Unlock()
		return nil, errNotCacheable // someone else is at it, or too many watches pending
	}
	t := &loadTicket{}
	c.loading[name] = t
	c.mu.Unlock()

	sf, err := c.read(name, t)

	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.loading, name)
	if err == nil && t.stale {
		err = errNotCacheable // it changed while it was read
	}
	if err != nil {
		if sf != nil && c.fileOf[sf.watch] == name {
			if e := c.entries[name]; e == nil || e.watch != sf.watch {
				c.forgetFile(sf.watch)
			}
		}
		return nil, err
	}
	c.insert(sf)
	return sf, nil
}

// read watches name's directories and file, then reads it. Changes after
// a watch is set mark t stale (through apply); read drains them before it
// returns. On error the returned smallFile, if any, only carries the file
// watch to forget.
func (c *smallFiles) read(name string, t *loadTicket) (*smallFile, error) {
	dir := "."
	if err := c.watchDir(dir, t); err != nil {
		return nil, err
	}
	segs := strings.Split(name, "/")
	for _, seg := range segs[:len(segs)-1] {
		dir = path.Join(dir, seg)
		// The parent's watch is set, so a swap of this entry from now on is seen.
		if fi, err := c.root.Lstat(dir); err != nil || !fi.IsDir() {
			return nil, errNotCacheable // a symbolic link, or gone
		}
		if err := c.watchDir(dir, t); err != nil {
			return nil, err
		}
	}
	if fi, err := c.root.Lstat(name); err != nil || !fi.Mode().IsRegular() {
		return nil, errNotCacheable // a symbolic link, or gone
	}
	f, err := c.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, errNotCacheable
	}
	defer f.Close()
	wd, err := c.watch.AddOpen(f, fswatch.FileMask)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if other, ok := c.fileOf[wd]; ok && other != name {
		c.mu.Unlock()
		return nil, errNotCacheable // one file under two names: leave both uncached
	}
	c.fileOf[wd] = name
	c.mu.Unlock()
	sf := &smallFile{watch: wd}

	// From here on any change to the file is reported, so what fstat and
	// the read see is either current or about to be marked stale.
	fi, err := f.Stat()
	if err != nil {
		return sf, fmt.Errorf("stat %s: %w", name, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || !fi.Mode().IsRegular() || st.Nlink != 1 || fi.Size() > smallFileMax || !localFS(f) {
		return sf, errNotCacheable
	}
	data := make([]byte, fi.Size())
	if _, err := io.ReadFull(io.NewSectionReader(f, 0, fi.Size()), data); err != nil {
		return sf, errNotCacheable // it shrank
	}
	var extra [1]byte
	if n, _ := f.ReadAt(extra[:], fi.Size()); n != 0 {
		return sf, errNotCacheable // it grew
	}
	sf.memContent = newMemContent(name, data, fi.ModTime(), FileETag(fi))
	if !c.sync() {
		return sf, errNotCacheable
	}
	return sf, nil
}

// watchDir makes sure dir (already checked to be a directory, not a
// link) is watched.
func (c *smallFiles) watchDir(dir string, t *loadTicket) error {
	c.mu.RLock()
	_, ok := c.dirs[dir]
	n := len(c.dirs)
	c.mu.RUnlock()
	if ok {
		return nil
	}
	if n >= smallCacheDirs {
		return errNotCacheable
	}
	d, err := c.root.Open(dir)
	if err != nil {
		return errNotCacheable
	}
	defer d.Close()
	wd, err := c.watch.AddOpen(d, fswatch.DirMask)
	if err != nil {
		return err
	}
	if !localFS(d) {
		return errNotCacheable
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.stale {
		// Something on the path changed since the parent's check; the
		// watch may sit on another directory than dir names now.
		if _, mapped := c.dirOf[wd]; !mapped {
			c.watch.Remove(wd)
		}
		return errNotCacheable
	}
	if other, ok := c.dirOf[wd]; ok {
		if other == dir {
			return nil // set meanwhile by another load
		}
		return errNotCacheable // the same directory under two names
	}
	c.dirs[dir] = wd
	c.dirOf[wd] = dir
	return nil
}

// localFS reports whether f is on a local file system, where inotify
// sees every change. On NFS, SMB, FUSE and the like it sees only the
// changes made through this machine, so nothing there is cached.
func localFS(f *os.File) bool {
	var st syscall.Statfs_t
	if err := syscall.Fstatfs(int(f.Fd()), &st); err != nil {
		return false
	}
	switch uint32(st.Type) {
	case 0xEF53, // ext2, ext3, ext4
		0x58465342, // xfs
		0x9123683E, // btrfs
		0xCA451A4E, // bcachefs
		0xF2F52010, // f2fs
		0x2FC12FC1, // zfs
		0x01021994, // tmpfs
		0x858458F6, // ramfs
		0x794C7630, // overlayfs
		0x73717368, // squashfs
		0xE0F5E1E2, // erofs
		0x4D44,     // vfat
		0x2011BAB0, // exfat
		0x5346544E, // ntfs3
		0x9660,     // iso9660
		0x15013346: // udf
		return true
	}
	return false
}

// insert adds sf, evicting others at random (map order) to stay in bounds. c.mu is held.
func (c *smallFiles) insert(sf *smallFile) {
	if old := c.entries[sf.name]; old != nil {
		delete(c.entries, sf.name)
		c.bytes -= int64(len(old.data))
		if old.watch != sf.watch {
			c.forgetFile(old.watch)
		}
	}
	for n := range c.entries {
		if c.bytes+int64(len(sf.data)) <= smallCacheMax && len(c.entries) < smallCacheFiles {
			break
		}
		c.dropName(n)
	}
	c.entries[sf.name] = sf
	c.fileOf[sf.watch] = sf.name
	c.bytes += int64(len(sf.data))
}

// isAbsent reports whether name is known to be in the tree under no
// spelling, as of the last sync (lookup has just done one).
func (c *smallFiles) isAbsent(name string) bool {
	if c.watch == nil || strings.Contains(name, "/") {
		return false
	}
	c.mu.RLock()
	absent := c.absent[strings.ToLower(name)]
	c.mu.RUnlock()
	return absent
}

// noteAbsent remembers that the top-level name is in the tree under no
// spelling, if stillAbsent, asked once the top directory is watched,
// says so and nothing about the name changed meanwhile.
func (c *smallFiles) noteAbsent(name string, stillAbsent func() bool) {
	if c.watch == nil || strings.Contains(name, "/") || len(name) > smallCacheName {
		return
	}
	key := strings.ToLower(name)
	c.mu.Lock()
	if c.absentLoading[key] != nil {
		c.mu.Unlock()
		return
	}
	if len(c.absent) >= smallCacheFiles {
		clear(c.absent)
	}
	t := &loadTicket{}
	c.absentLoading[key] = t
	c.mu.Unlock()

	ok := c.watchDir(".", t) == nil && stillAbsent() && c.sync()

	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.absentLoading, key)
	if ok && !t.stale {
		c.absent[key] = true
	}
}
