package fileserve

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/fileserve/internal/fswatch"
)

func newTestNamespace(t *testing.T, root string) *Namespace {
	t.Helper()
	ns, err := NewNamespace(root, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	if ns.small.watch == nil {
		t.Skip("no inotify here: the small-file cache is off")
	}
	d, err := os.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if !localFS(d) {
		t.Skip("the temporary directory is on a file system the cache leaves alone")
	}
	return ns
}

func TestNetworkAndPseudoFileSystemsAreNotLocal(t *testing.T) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	if localFS(f) {
		t.Fatal("procfs counted as a local file system")
	}
}

// fetch opens name and returns its content and whether it came from the cache.
func fetch(t *testing.T, ns *Namespace, name string) (string, bool) {
	t.Helper()
	res, err := ns.resolve(context.Background(), name, Client{})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if res.mem != nil {
		return string(res.mem.data), true
	}
	defer res.entry.Close()
	return readEntry(t, res.entry), false
}

func write(t *testing.T, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func renameInto(t *testing.T, p, data string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(p), ".new."+filepath.Base(p))
	write(t, tmp, data)
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
}

// A file renamed into place is served by the very next request: no
// sleeping, no polling, however many requests the cached copy served.
func TestCacheServesRenameOnTheNextRequest(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "46xxsettings.txt")
	write(t, p, "version 0")
	ns := newTestNamespace(t, root)
	for i := 1; i <= 200; i++ {
		got, cached := fetch(t, ns, "46xxsettings.txt")
		if want := fmt.Sprintf("version %d", i-1); got != want {
			t.Fatalf("round %d: served %q, want %q", i, got, want)
		}
		if i > 1 && !cached {
			t.Fatalf("round %d: not served from the cache", i)
		}
		fetch(t, ns, "46xxsettings.txt") // cached again
		renameInto(t, p, fmt.Sprintf("version %d", i))
	}
}

func TestCacheSeesEveryKindOfChange(t *testing.T) {
	root := t.TempDir()
	ns := newTestNamespace(t, root)
	p := filepath.Join(root, "a", "b", "f.txt")
	write(t, p, "one")
	load := func(want string) {
		t.Helper()
		if got, _ := fetch(t, ns, "a/b/f.txt"); got != want {
			t.Fatalf("served %q, want %q", got, want)
		}
		if got, cached := fetch(t, ns, "a/b/f.txt"); got != want || !cached {
			t.Fatalf("second time: %q cached=%v, want %q from the cache", got, cached, want)
		}
	}
	load("one")

	// Written in place (same inode, maybe the same size and second).
	if err := os.WriteFile(p, []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	load("two")

	// Removed: not found, not the cached copy.
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if _, err := ns.resolve(context.Background(), "a/b/f.txt", Client{}); err == nil {
		t.Fatal("a removed file was served")
	}
	write(t, p, "three")
	load("three")

	// A parent directory replaced by another one.
	other := filepath.Join(root, "other")
	write(t, filepath.Join(other, "b", "f.txt"), "four")
	if err := os.Rename(filepath.Join(root, "a"), filepath.Join(root, "old-a")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, filepath.Join(root, "a")); err != nil {
		t.Fatal(err)
	}
	load("four")

	// And the old directory changing no longer matters, nor misleads.
	write(t, filepath.Join(root, "old-a", "b", "f.txt"), "stale")
	load("four")

	// A hard link made later: writes through it are seen too.
	link := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.Link(p, link); err == nil {
		if err := os.WriteFile(link, []byte("five"), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, _ := fetch(t, ns, "a/b/f.txt"); got != "five" {
			t.Fatalf("write through a hard link: served %q", got)
		}
	}

	// chmod, truncate: metadata changes drop the copy as well.
	renameInto(t, p, "six")
	load("six")
	if err := os.Truncate(p, 1); err != nil {
		t.Fatal(err)
	}
	if got, _ := fetch(t, ns, "a/b/f.txt"); got != "s" {
		t.Fatalf("after truncate: %q", got)
	}
}

func TestCacheLeavesLinksAndSharedFilesOnDisk(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "real", "f.txt"), "linked")
	write(t, filepath.Join(root, "target.txt"), "target")
	if err := os.Symlink("real", filepath.Join(root, "dirlink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("target.txt", filepath.Join(root, "filelink.txt")); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(root, "twice.txt"), "two names")
	if err := os.Link(filepath.Join(root, "twice.txt"), filepath.Join(root, "twice-too.txt")); err != nil {
		t.Fatal(err)
	}
	ns := newTestNamespace(t, root)
	for name, want := range map[string]string{"dirlink/f.txt": "linked", "filelink.txt": "target", "twice.txt": "two names"} {
		for range 2 {
			got, cached := fetch(t, ns, name)
			if got != want || cached {
				t.Fatalf("%s: %q cached=%v, want %q from disk", name, got, cached, want)
			}
		}
	}
	// The link's target changes under it, and the next request sees it.
	renameInto(t, filepath.Join(root, "real", "f.txt"), "changed")
	if got, _ := fetch(t, ns, "dirlink/f.txt"); got != "changed" {
		t.Fatalf("through the link: %q", got)
	}
}

func TestCacheKeepsWithinBounds(t *testing.T) {
	root := t.TempDir()
	ns := newTestNamespace(t, root)
	data := bytes.Repeat([]byte("x"), smallFileMax)
	n := smallCacheMax/smallFileMax + 20
	for i := range n {
		name := fmt.Sprintf("f%03d.bin", i)
		if err := os.WriteFile(filepath.Join(root, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		fetch(t, ns, name)
	}
	c := ns.small
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.bytes > smallCacheMax || len(c.entries) == 0 {
		t.Fatalf("%d bytes in %d entries, limit %d", c.bytes, len(c.entries), smallCacheMax)
	}
	var sum int64
	for _, e := range c.entries {
		sum += int64(len(e.data))
		if c.fileOf[e.watch] != e.name {
			t.Fatalf("%s: its watch is not accounted for", e.name)
		}
	}
	if sum != c.bytes || len(c.fileOf) != len(c.entries) {
		t.Fatalf("accounting: %d bytes counted, %d held; %d file watches for %d entries", c.bytes, sum, len(c.fileOf), len(c.entries))
	}
}

// When the kernel's event queue overflows, nothing cached is trusted.
func TestCacheDropsEverythingOnOverflow(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "f.txt"), "old")
	ns := newTestNamespace(t, root)
	fetch(t, ns, "f.txt")
	if _, cached := fetch(t, ns, "f.txt"); !cached {
		t.Fatal("not cached")
	}
	ns.small.apply(fswatchOverflow())
	ns.small.mu.RLock()
	n, dirs, files := len(ns.small.entries), len(ns.small.dirs), len(ns.small.fileOf)
	ns.small.mu.RUnlock()
	if n != 0 || dirs != 0 || files != 0 {
		t.Fatalf("after overflow: %d entries, %d dir watches, %d file watches", n, dirs, files)
	}
	if got, _ := fetch(t, ns, "f.txt"); got != "old" {
		t.Fatalf("after overflow: %q", got)
	}
	if _, cached := fetch(t, ns, "f.txt"); !cached {
		t.Fatal("not cached again after the overflow")
	}
}

// Phones keep asking while the operator keeps renaming new versions in:
// every answer is one whole version, never older than the last rename
// finished before the request began.
func TestCacheUnderConcurrentRenames(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "s.txt")
	body := func(v int) string { return fmt.Sprintf("%06d%s", v, bytes.Repeat([]byte{'a' + byte(v%26)}, 3000)) }
	write(t, p, body(0))
	ns := newTestNamespace(t, root)
	var renamed atomic.Int64 // the last version whose rename has returned
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for v := 1; ; v++ {
			select {
			case <-stop:
				return
			default:
			}
			renameInto(t, p, body(v))
			renamed.Store(int64(v))
		}
	})
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			deadline := time.Now().Add(time.Second)
			for time.Now().Before(deadline) {
				floor := renamed.Load()
				res, err := ns.resolve(context.Background(), "s.txt", Client{})
				if err != nil {
					errs <- err
					return
				}
				var got string
				if res.mem != nil {
					got = string(res.mem.data)
				} else {
					got = readEntry(t, res.entry)
					res.entry.Close()
				}
				var v int
				if _, err := fmt.Sscanf(got[:6], "%d", &v); err != nil || got != body(v) {
					errs <- fmt.Errorf("served a torn or foreign body: %.20q…", got)
					return
				}
				if int64(v) < floor {
					errs <- fmt.Errorf("served version %d after version %d was renamed in", v, floor)
					return
				}
			}
		})
	}
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func fswatchOverflow() fswatch.Event {
	return fswatch.Event{Watch: fswatch.Overflow, Mask: syscall.IN_Q_OVERFLOW}
}

// A top-level name found nowhere in the tree (a generated file's) is
// remembered as absent, and a file placed under it, in any spelling, is
// served on the very next request.
func TestAbsentNamesSeeNewFiles(t *testing.T) {
	root := t.TempDir()
	ns, err := NewNamespace(root, nil, fakeGenerator{"J100Supgrade.txt": "generated"})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	if ns.small.watch == nil {
		t.Skip("no inotify")
	}
	source := func() Source {
		t.Helper()
		e, err := ns.Open(context.Background(), "J100Supgrade.txt", Client{})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		return e.Source
	}
	for i, step := range []struct {
		change func() error
		want   Source
	}{
		{func() error { return nil }, SourceGenerated},
		{func() error { return nil }, SourceGenerated},
		{func() error { return os.WriteFile(filepath.Join(root, "j100SUPGRADE.txt"), []byte("mine"), 0o644) }, SourceOperator},
		{func() error { return os.Remove(filepath.Join(root, "j100SUPGRADE.txt")) }, SourceGenerated},
		{func() error { return os.Mkdir(filepath.Join(root, "sub"), 0o755) }, SourceGenerated},
		{func() error {
			return os.WriteFile(filepath.Join(root, "sub", "x"), []byte("x"), 0o644)
		}, SourceGenerated},
		{func() error {
			return os.Rename(filepath.Join(root, "sub", "x"), filepath.Join(root, "J100SUPGRADE.TXT"))
		}, SourceOperator},
	} {
		if err := step.change(); err != nil {
			t.Fatal(err)
		}
		if got := source(); got != step.want {
			t.Fatalf("step %d: served from %s, want %s", i, got, step.want)
		}
		ns.small.mu.RLock()
		absent := ns.small.absent["j100supgrade.txt"]
		ns.small.mu.RUnlock()
		if absent != (step.want == SourceGenerated) {
			t.Errorf("step %d: remembered as absent: %v", i, absent)
		}
	}
}
