package fileserve

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"sync"
	"syscall"
	"time"
)

// Small files (settings, upgrade scripts, certificates) are asked for by
// every phone at every boot. smallFiles keeps their bytes in memory so a
// request costs one stat instead of open, stat, read and close, and the
// body leaves in the same write as the headers. An entry is used only while
// the file's identity (inode, size, modification and change times) is
// unchanged, so a file renamed into place is picked up on the next request.
type smallFiles struct {
	mu      sync.RWMutex
	entries map[string]*smallFile
	bytes   int64
}

type smallFile struct {
	id   fileIdentity
	data []byte
	etag string
	mod  time.Time
}

// fileIdentity says whether a cached copy still stands for the file.
type fileIdentity struct {
	ino, size    int64
	mtime, ctime int64
}

// Limits of the small-file cache: what counts as small, and the total kept.
const (
	smallFileMax   = 64 << 10
	smallCacheMax  = 16 << 20
	smallCacheName = 512 // longer names are not cached
)

func identityOf(fi fs.FileInfo) (fileIdentity, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileIdentity{}, false
	}
	return fileIdentity{
		ino: int64(st.Ino), size: st.Size,
		mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano(),
	}, true
}

func newSmallFiles() *smallFiles { return &smallFiles{entries: map[string]*smallFile{}} }

// entry returns the cached copy of name if fi still describes it.
func (c *smallFiles) entry(name string, fi fs.FileInfo) *Entry {
	id, ok := identityOf(fi)
	if !ok {
		return nil
	}
	c.mu.RLock()
	sf := c.entries[name]
	c.mu.RUnlock()
	if sf == nil || sf.id != id {
		return nil
	}
	return sf.asEntry(name)
}

func (sf *smallFile) asEntry(name string) *Entry {
	return &Entry{
		Name: name, Source: SourceOperator, Size: int64(len(sf.data)), ModTime: sf.mod,
		ETag: sf.etag, data: bytes.NewReader(sf.data),
	}
}

// load reads an opened small file into the cache and returns it as an
// in-memory entry; f is closed. If the file changed while it was read,
// the entry serves the open descriptor instead, uncached.
func (c *smallFiles) load(name string, f *os.File, fi fs.FileInfo) *Entry {
	id, ok := identityOf(fi)
	if !ok || len(name) > smallCacheName {
		return nil
	}
	data := make([]byte, fi.Size())
	if _, err := io.ReadFull(io.NewSectionReader(f, 0, fi.Size()), data); err != nil {
		return nil
	}
	after, err := f.Stat()
	if err != nil {
		return nil
	}
	if id2, ok := identityOf(after); !ok || id2 != id {
		return nil
	}
	sf := &smallFile{id: id, data: data, etag: fileETag(fi), mod: fi.ModTime()}
	c.mu.Lock()
	if old := c.entries[name]; old != nil {
		c.bytes -= int64(len(old.data))
	}
	for n, e := range c.entries { // random eviction: map order is random
		if c.bytes+int64(len(data)) <= smallCacheMax {
			break
		}
		delete(c.entries, n)
		c.bytes -= int64(len(e.data))
	}
	c.entries[name] = sf
	c.bytes += int64(len(data))
	c.mu.Unlock()
	f.Close()
	return sf.asEntry(name)
}
