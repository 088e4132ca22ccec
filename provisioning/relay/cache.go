package relay

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path"
	"syscall"
	"time"

	"github.com/phoneprov/phoneprov/internal/durable"
)

// meta is what the cache keeps beside each file, in a hidden ".<name>.meta"
// file in the same folder.
type meta struct {
	Name         string    `json:"name"`
	Source       string    `json:"source"` // the URL it came from, credentials removed
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"last_modified,omitempty"`
	Size         int64     `json:"size"`
	Stamp        int64     `json:"stamp"` // the data file's modification time (ns): binds this meta to that file
	FetchedAt    time.Time `json:"fetched_at"`
}

// modTime is the upstream's Last-Modified when it sent one, else the fetch time.
func (m *meta) modTime() time.Time {
	if t, err := http.ParseTime(m.LastModified); err == nil {
		return t
	}
	return m.FetchedAt
}

// diskCache is the cache folder, confined by os.Root. Names are the
// upstream's paths, so the folder mirrors the upstream's tree:
//
//	<dir>/<name>                  the file
//	<dir>/<folder>/.<base>.meta   its meta
//	<dir>/<folder>/.tmp-<base>-*  downloads in progress, removed at start
//
// Hidden names never clash with a cached name: the namespace refuses to
// resolve names with a dot segment.
type diskCache struct {
	root *os.Root
}

func openDiskCache(dir string) (*diskCache, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("relay: create cache folder: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("relay: open cache folder: %w", err)
	}
	return &diskCache{root: root}, nil
}

func (c *diskCache) close() error { return c.root.Close() }

func metaName(name string) string {
	dir, base := path.Split(name)
	return dir + "." + base + ".meta"
}

// removeLeftovers deletes the temporary files of downloads a crash cut short.
func (c *diskCache) removeLeftovers() (removed int, err error) {
	var stale []string
	err = fs.WalkDir(c.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && durable.IsTemp(d.Name()) {
			stale = append(stale, p)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("relay: scan cache folder: %w", err)
	}
	for _, p := range stale {
		if err := c.root.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("relay: remove leftover %s: %w", p, err)
		}
		removed++
	}
	return removed, nil
}

// load reads name's meta and checks that the data file is the one it
// describes. It returns nil, nil when nothing usable is cached.
func (c *diskCache) load(name string) (*meta, error) {
	b, err := c.root.ReadFile(metaName(name))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("relay: read cache meta of %s: %w", name, err)
	}
	var m meta
	if err := json.Unmarshal(b, &m); err != nil || m.Name != name {
		return nil, nil // damaged: fetch again
	}
	fi, err := c.root.Stat(name)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != m.Size || fi.ModTime().UnixNano() != m.Stamp {
		return nil, nil // a crash between the two renames of a commit: fetch again
	}
	return &m, nil
}

// create opens a temporary file for a download of name.
func (c *diskCache) create(name string) (*os.File, string, error) {
	if dir := path.Dir(name); dir != "." {
		if err := c.root.MkdirAll(dir, 0o750); err != nil {
			return nil, "", fmt.Errorf("relay: cache folder for %s: %w", name, err)
		}
	}
	f, tmp, err := durable.CreateTemp(c.root, name, 0o640)
	if err != nil {
		return nil, "", fmt.Errorf("relay: create cache file for %s: %w", name, err)
	}
	return f, tmp, nil
}

// pending is a synced download with its meta written, ready to install.
type pending struct {
	name, dataTmp, metaTmp string
	meta                   *meta
}

// prepare stamps the synced, closed download dataTmp and writes its meta
// beside it, synced.
func (c *diskCache) prepare(name, dataTmp string, m *meta) (*pending, error) {
	now := time.Now()
	if err := c.root.Chtimes(dataTmp, now, now); err != nil {
		return nil, fmt.Errorf("relay: stamp cache file for %s: %w", name, err)
	}
	fi, err := c.root.Stat(dataTmp)
	if err != nil {
		return nil, fmt.Errorf("relay: stat cache file for %s: %w", name, err)
	}
	m.Size, m.Stamp = fi.Size(), fi.ModTime().UnixNano() // as the file system stored it
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	f, metaTmp, err := durable.CreateTemp(c.root, name, 0o640)
	if err != nil {
		return nil, fmt.Errorf("relay: write cache meta for %s: %w", name, err)
	}
	if _, err = f.Write(b); err == nil {
		err = durable.SyncClose(f)
	} else {
		_ = f.Close()
	}
	if err != nil {
		c.root.Remove(metaTmp)
		return nil, fmt.Errorf("relay: write cache meta for %s: %w", name, err)
	}
	return &pending{name: name, dataTmp: dataTmp, metaTmp: metaTmp, meta: m}, nil
}

// install renames a prepared download into place: the meta first, then the
// data. A crash between the two leaves a meta whose stamp does not match
// the data file, which load treats as nothing cached.
func (c *diskCache) install(p *pending) error {
	if err := c.root.Rename(p.metaTmp, metaName(p.name)); err != nil {
		return fmt.Errorf("relay: install cache meta for %s: %w", p.name, err)
	}
	if err := c.root.Rename(p.dataTmp, p.name); err != nil {
		return fmt.Errorf("relay: install cache file %s: %w", p.name, err)
	}
	return nil
}

// discard removes a prepared download that will not be installed.
func (c *diskCache) discard(p *pending) {
	c.root.Remove(p.dataTmp)
	c.root.Remove(p.metaTmp)
}

// syncDir makes the renames in name's folder durable.
func (c *diskCache) syncDir(name string) error {
	if err := durable.SyncRootDir(c.root, path.Dir(name)); err != nil {
		return fmt.Errorf("relay: cache folder: %w", err)
	}
	return nil
}

// remove deletes name and its meta (the meta first, so a crash leaves no
// meta pointing at nothing that load would trust).
func (c *diskCache) remove(name string) error {
	var errs []error
	for _, p := range []string{metaName(name), name} {
		if err := c.root.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("relay: remove cached %s: %w", name, err)
	}
	return nil
}

// open returns name's data file if it is still the one m describes.
func (c *diskCache) open(name string, m *meta) (*os.File, error) {
	f, err := c.root.Open(name)
	if err != nil {
		return nil, fmt.Errorf("relay: open cached %s: %w", name, err)
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != m.Size || fi.ModTime().UnixNano() != m.Stamp {
		f.Close()
		return nil, fmt.Errorf("relay: cached %s changed on disk: %w", name, fs.ErrNotExist)
	}
	return f, nil
}
