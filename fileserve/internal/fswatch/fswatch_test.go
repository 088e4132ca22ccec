package fswatch

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

func drained(t *testing.T, w *Watcher) []Event {
	t.Helper()
	var evs []Event
	if err := w.Drain(func(e Event) { evs = append(evs, e) }); err != nil {
		t.Fatal(err)
	}
	return evs
}

func watchPath(t *testing.T, w *Watcher, path string, mask uint32) int32 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	wd, err := w.AddOpen(f, mask)
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

func has(evs []Event, wd int32, mask uint32, name string) bool {
	for _, e := range evs {
		if e.Watch == wd && e.Mask&mask != 0 && e.Name == name {
			return true
		}
	}
	return false
}

// The event of a finished rename is there for the very next Drain: no
// waiting, no goroutine.
func TestRenameSeenByNextDrain(t *testing.T) {
	dir := t.TempDir()
	w, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	wd := watchPath(t, w, dir, DirMask)
	if evs := drained(t, w); len(evs) != 0 {
		t.Fatalf("events before any change: %+v", evs)
	}
	// Reading the file is no change.
	if _, err := os.ReadFile(filepath.Join(dir, "a.txt")); err != nil {
		t.Fatal(err)
	}
	if evs := drained(t, w); len(evs) != 0 {
		t.Fatalf("a read made events: %+v", evs)
	}
	if err := os.WriteFile(filepath.Join(dir, ".a.tmp"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, ".a.tmp"), filepath.Join(dir, "a.txt")); err != nil {
		t.Fatal(err)
	}
	evs := drained(t, w)
	if !has(evs, wd, syscall.IN_MOVED_TO, "a.txt") || !has(evs, wd, syscall.IN_CREATE, ".a.tmp") {
		t.Fatalf("events after rename: %+v", evs)
	}
}

func TestFileWatchSeesWritesThroughAnotherName(t *testing.T) {
	dir := t.TempDir()
	w, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	p := filepath.Join(dir, "f.bin")
	if err := os.WriteFile(p, []byte("v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	wd := watchPath(t, w, p, FileMask)
	other := filepath.Join(t.TempDir(), "hardlink")
	if err := os.Link(p, other); err != nil {
		t.Skipf("no hard links across temporary directories here: %v", err)
	}
	if evs := drained(t, w); !has(evs, wd, syscall.IN_ATTRIB, "") {
		t.Fatalf("a new link is no IN_ATTRIB: %+v", evs)
	}
	if err := os.WriteFile(other, []byte("v2"), 0o644); err != nil {
		t.Fatal(err)
	}
	if evs := drained(t, w); !has(evs, wd, syscall.IN_MODIFY, "") {
		t.Fatalf("a write through the other name went unseen: %+v", evs)
	}
}

func TestRemoveQueuesIgnored(t *testing.T) {
	dir := t.TempDir()
	w, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	wd := watchPath(t, w, dir, DirMask)
	w.Remove(wd)
	if evs := drained(t, w); !has(evs, wd, syscall.IN_IGNORED, "") {
		t.Fatalf("after Remove: %+v", evs)
	}
}

func TestOverflowIsReported(t *testing.T) {
	limit, err := os.ReadFile("/proc/sys/fs/inotify/max_queued_events")
	if err != nil {
		t.Skip(err)
	}
	n, err := strconv.Atoi(string(limit[:len(limit)-1]))
	if err != nil || n > 1<<16 {
		t.Skipf("max_queued_events %q is too large to overflow quickly", limit)
	}
	dir := t.TempDir()
	w, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	watchPath(t, w, dir, DirMask)
	p := filepath.Join(dir, "x")
	for i := 0; i <= n; i++ { // create and delete: two events a round, never merged
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	if evs := drained(t, w); !has(evs, Overflow, syscall.IN_Q_OVERFLOW, "") {
		t.Fatalf("%d events, no overflow", len(evs))
	}
}

func TestClosedWatcher(t *testing.T) {
	w, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Drain(func(Event) {}); err == nil {
		t.Fatal("Drain after Close succeeded")
	}
	f, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := w.AddOpen(f, DirMask); err == nil {
		t.Fatal("AddOpen after Close succeeded")
	}
	w.Remove(1) // no effect, no panic
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
