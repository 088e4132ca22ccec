// Package fswatch reads inotify events on demand, without a goroutine.
//
// The kernel queues an inotify event before the system call that caused it
// (a rename, a write, an unlink) returns. So a caller that drains the queue
// and applies what it read before it looks something up sees every change
// that finished before that moment: a cache invalidated this way never
// serves what a completed rename has replaced.
package fswatch

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"unsafe"

	"github.com/phoneprov/phoneprov/fileserve/internal/nonblock"
)

// Masks for the two kinds of watch a cache needs.
const (
	// DirMask reports changes to a directory's entries and to the directory itself.
	DirMask = syscall.IN_CREATE | syscall.IN_DELETE | syscall.IN_MOVED_FROM | syscall.IN_MOVED_TO |
		syscall.IN_DELETE_SELF | syscall.IN_MOVE_SELF | syscall.IN_ONLYDIR
	// FileMask reports changes to a file's content, metadata (including
	// its link count) or existence, whichever name they were made through.
	FileMask = syscall.IN_MODIFY | syscall.IN_ATTRIB | syscall.IN_CLOSE_WRITE |
		syscall.IN_DELETE_SELF | syscall.IN_MOVE_SELF
)

// Overflow is the watch descriptor of the event that says the kernel's
// queue overflowed and events were lost.
const Overflow = -1

// Event is one inotify event.
type Event struct {
	Watch int32  // watch descriptor; Overflow when events were lost
	Mask  uint32 // syscall.IN_* bits
	Name  string // the entry inside a watched directory; "" for the watched object itself
}

// Watcher is one inotify instance. Its methods are safe for concurrent
// use; AddOpen and Remove may be called while apply functions run.
type Watcher struct {
	drain sync.Mutex // serialises Drain, so events are applied in order and completely
	buf   []byte     // guarded by drain

	fdMu sync.RWMutex // write-held only to close fd
	fd   int          // -1 once closed
}

// New starts an inotify instance.
func New() (*Watcher, error) {
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	return &Watcher{fd: fd, buf: make([]byte, 64<<10)}, nil
}

// AddOpen watches what the open file f refers to (a file or a directory),
// whatever path it was opened by, and returns the watch descriptor. The
// same object watched twice gets the same descriptor.
func (w *Watcher) AddOpen(f *os.File, mask uint32) (int32, error) {
	// inotify takes a path; /proc/self/fd/N names exactly the object f
	// has open, so no path is resolved a second time.
	path := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	w.fdMu.RLock()
	defer w.fdMu.RUnlock()
	if w.fd < 0 {
		return 0, errors.New("inotify: closed")
	}
	wd, err := syscall.InotifyAddWatch(w.fd, path, mask)
	if err != nil {
		return 0, fmt.Errorf("inotify watch %s: %w", f.Name(), err)
	}
	return int32(wd), nil
}

// Remove ends a watch. The kernel then queues an IN_IGNORED event for it.
func (w *Watcher) Remove(wd int32) {
	w.fdMu.RLock()
	defer w.fdMu.RUnlock()
	if w.fd >= 0 {
		_, _ = syscall.InotifyRmWatch(w.fd, uint32(wd))
	}
}

// Drain reads every event queued so far and calls apply for each, in
// order, without blocking. A concurrent Drain waits until this one has
// applied all it read, so when any Drain returns, every event queued
// before it started has been applied. apply may call AddOpen and Remove
// but not Drain.
func (w *Watcher) Drain(apply func(Event)) error {
	w.drain.Lock()
	defer w.drain.Unlock()
	for {
		n, err := w.read()
		switch {
		case errors.Is(err, syscall.EAGAIN):
			return nil
		case err != nil:
			return fmt.Errorf("inotify read: %w", err)
		case n <= 0:
			return nil
		}
		parse(w.buf[:n], apply)
	}
}

// read reads what is queued. A cache drains before every lookup, so this
// read, EAGAIN nearly always, is made once per request: package nonblock
// makes it without the runtime's system-call entry (the descriptor is
// IN_NONBLOCK).
func (w *Watcher) read() (int, error) {
	w.fdMu.RLock()
	defer w.fdMu.RUnlock()
	if w.fd < 0 {
		return 0, errors.New("inotify: closed")
	}
	n, errno := nonblock.Read(uintptr(w.fd), w.buf)
	if errno != 0 {
		return 0, errno
	}
	return n, nil
}

// parse splits a read of struct inotify_event records.
func parse(b []byte, apply func(Event)) {
	const head = syscall.SizeofInotifyEvent
	for len(b) >= head {
		raw := (*syscall.InotifyEvent)(unsafe.Pointer(&b[0]))
		end := head + int(raw.Len)
		if end > len(b) {
			return // cannot happen: the kernel returns whole records
		}
		ev := Event{Watch: raw.Wd, Mask: raw.Mask}
		if raw.Len > 0 {
			name := b[head:end]
			for i, c := range name { // the name is NUL-padded
				if c == 0 {
					name = name[:i]
					break
				}
			}
			ev.Name = string(name)
		}
		apply(ev)
		b = b[end:]
	}
}

// Close ends the instance and every watch.
func (w *Watcher) Close() error {
	w.fdMu.Lock()
	defer w.fdMu.Unlock()
	if w.fd < 0 {
		return nil
	}
	err := syscall.Close(w.fd)
	w.fd = -1
	return err
}
