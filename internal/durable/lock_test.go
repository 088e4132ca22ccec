package durable

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestOpenLockedNamesTheHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	a, err := OpenLocked(path, "lock file", 0o600, 0)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = OpenLocked(path, "lock file", 0o600, 50*time.Millisecond)
	if waited := time.Since(start); waited < 50*time.Millisecond {
		t.Errorf("gave up after %v, before the 50ms timeout", waited)
	}
	var iu *InUseError
	if !errors.Is(err, ErrInUse) || !errors.As(err, &iu) {
		t.Fatalf("second lock: %v, want an *InUseError", err)
	}
	holder := fmt.Sprintf("pid %d", os.Getpid())
	if runtime.GOOS != "linux" {
		holder = "pid unknown"
	}
	if want := "lock file " + path + " is in use by another phoneprov (" + holder; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want it to start with %q", err, want)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := OpenLocked(path, "lock file", 0o600, 0)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	b.Close()
}

func TestOpenLockedRechecksTheFileAfterLocking(t *testing.T) {
	// The holder compacts between our open and our lock: we open the old
	// file, it renames a new locked one over it and lets the old one go, we
	// lock the old one. That lock guards nothing; openLocked must notice and
	// wait for the new file.
	dir := t.TempDir()
	path := filepath.Join(dir, "leases.journal")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	oldF, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := TryLock(oldF); err != nil {
		t.Fatal(err)
	}
	newPath := filepath.Join(dir, "new")
	if err := os.WriteFile(newPath, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	newF, err := os.OpenFile(newPath, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := TryLock(newF); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	released := make(chan struct{})
	compactNow := func() {
		once.Do(func() {
			if err := os.Rename(newPath, path); err != nil {
				t.Error(err)
			}
			_ = oldF.Close()
			go func() { // the new holder goes away a little later
				time.Sleep(100 * time.Millisecond)
				close(released)
				_ = newF.Close()
			}()
		})
	}
	f, err := openLocked(path, "test file", 0o600, 5*time.Second, compactNow)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	select {
	case <-released:
	default:
		t.Fatal("openLocked returned while the new file was still locked: it locked the old one")
	}
	b := make([]byte, 3)
	if _, err := f.ReadAt(b, 0); err != nil || string(b) != "new" {
		t.Fatalf("openLocked returned the file holding %q, %v; want the new one", b, err)
	}
}
