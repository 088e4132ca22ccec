package leases

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/phoneprov/phoneprov/internal/durable"
)

// Compaction rewrites the journal with one frame per live lease:
//
//  1. Without any lock, replay the file up to its committed end and write
//     the live frames, in file order, to <path>.tmp, which is locked
//     first; copy what was committed meanwhile; fdatasync. Commits go on
//     into the old file the whole time, and readers of it are unaffected.
//  2. Under the commit lock (commits wait, briefly): copy the last appends,
//     fdatasync, rename over the journal, fsync the directory, and switch
//     commits to the new file.
//
// A crash before the rename leaves the old journal whole (the temporary file
// is removed at the next open); after it, the new one, which is complete and
// synced before the rename. Frames that failed their check are not copied:
// Load has reported them, and where one held an address's latest write an
// older write of it comes back.

// catchUpMin is how much must have been committed during the rewrite for it
// to be copied before taking the commit lock rather than under it.
const catchUpMin = 64 << 10

// compactFactor is how many times the size of a fresh copy the journal may
// grow to before it is rewritten. A rewrite copies frames without decoding
// them, so it is cheap enough to keep the file within twice its live size.
const compactFactor = 2

// maybeCompact, called under commitMu after a commit, starts a compaction in
// the background when the file has doubled since the last one.
func (j *Journal) maybeCompact(size int64) {
	if !durable.Grown(size, j.compactBase, j.compactMin, compactFactor) {
		return
	}
	if !j.compacting.CompareAndSwap(false, true) {
		return
	}
	j.compactWG.Add(1)
	go func() {
		defer j.compactWG.Done()
		defer j.compacting.Store(false)
		if err := j.compact(j.life); err != nil && j.life.Err() == nil {
			j.log.Warn("lease journal compaction failed; the journal carries on in the old file", "path", j.path, "err", err)
		}
	}()
}

// Compact rewrites the journal now with only its live leases, as is done by
// itself whenever the file has doubled since the last rewrite (and is past
// JournalOptions.CompactMinSize). Commits go on meanwhile except for a short
// final step. It waits for a compaction already running.
func (j *Journal) Compact(ctx context.Context) error {
	if j.readOnly {
		return ErrReadOnly
	}
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return fmt.Errorf("compact lease journal %s: %w", j.path, ErrClosed)
	}
	j.compactWG.Add(1)
	j.mu.Unlock()
	defer j.compactWG.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(j.life, cancel)
	defer stop()
	return j.compact(ctx)
}

// compact does one rewrite; see the comment at the top of the file.
func (j *Journal) compact(ctx context.Context) (err error) {
	j.compactRun.Lock()
	defer j.compactRun.Unlock()
	defer func() {
		if err != nil && ctx.Err() == nil && !errors.Is(err, ErrFailed) {
			j.compactFails.Add(1)
			// Try again only once the file has doubled again.
			j.commitMu.Lock()
			j.compactBase = max(j.compactBase, j.Stats().Size)
			j.commitMu.Unlock()
		}
	}()
	began := time.Now()
	old, end, err := j.acquire()
	if err != nil {
		return err
	}
	defer j.release(old)
	c, err := j.copyLive(ctx, old, end)
	if err != nil {
		return fmt.Errorf("compact lease journal %s: %w", j.path, err)
	}
	switched := false
	defer func() {
		if !switched {
			c.discard()
		}
	}()

	j.commitMu.Lock()
	defer j.commitMu.Unlock()
	locked := time.Now()
	final, err := j.finishCopy(ctx, old, c)
	if err != nil {
		return err
	}
	if err := os.Rename(c.tmp, j.path); err != nil {
		return fmt.Errorf("compact lease journal: %w", err)
	}
	// The path names the new file now: commits must go there, whatever
	// happens next.
	switched = true
	if err := j.switchTo(old, c); err != nil {
		return err
	}
	j.compactions.Add(1)
	j.log.Info("lease journal compacted", "path", j.path, "leases", c.live,
		"bytes_before", final, "bytes_after", c.size,
		"took", time.Since(began).Round(time.Millisecond), "commits_held", time.Since(locked).Round(time.Microsecond))
	return nil
}

// compactCopy is the new file a compaction writes.
type compactCopy struct {
	f      *os.File
	w      *bufio.Writer
	tmp    string
	size   int64 // bytes written
	copied int64 // the old file's bytes copied up to here
	live   int   // leases in the rewritten part
}

// discard drops a copy that was not switched to.
func (c *compactCopy) discard() {
	_ = c.f.Close()
	_ = os.Remove(c.tmp)
}

// copyLive is the first step, taken without the commit lock: the live
// frames of old up to end, then whatever was committed meanwhile, written to
// a new, locked temporary file and synced.
func (j *Journal) copyLive(ctx context.Context, old *segment, end int64) (*compactCopy, error) {
	x, err := scanJournal(ctx, old.f, end)
	if err != nil {
		return nil, err
	}
	c, err := j.createCopy()
	if err != nil {
		return nil, err
	}
	if c.size, err = writeLive(ctx, c.w, old.f, x); err != nil {
		c.discard()
		return nil, err
	}
	c.live, c.copied = len(x.live), end
	x = nil // let the index go before the rest
	if err := j.catchUp(old, c); err != nil {
		c.discard()
		return nil, err
	}
	return c, nil
}

// createCopy creates the compaction's temporary file, locked before it is
// renamed into place so no other process can take the journal between the
// rename and the switch.
func (j *Journal) createCopy() (*compactCopy, error) {
	tmp := j.tmpPath()
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	tf, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if err := durable.TryLock(tf); err != nil {
		_ = tf.Close()
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("lock %s: %w", tmp, err)
	}
	return &compactCopy{f: tf, w: bufio.NewWriterSize(tf, readWindow), tmp: tmp}, nil
}

// catchUp copies, still without the commit lock, what was committed to old
// during the rewrite, then flushes and syncs the copy.
func (j *Journal) catchUp(old *segment, c *compactCopy) error {
	for range 3 {
		cur := j.committedSize(old)
		if cur-c.copied < catchUpMin {
			break
		}
		if err := copyRange(c.w, old.f, c.copied, cur); err != nil {
			return err
		}
		c.size += cur - c.copied
		c.copied = cur
	}
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", c.tmp, err)
	}
	if err := j.syncCount(c.f); err != nil {
		return fmt.Errorf("sync %s: %w", c.tmp, err)
	}
	return nil
}

// finishCopy, under commitMu, copies the last appends of old and syncs the
// copy; it returns old's final size.
func (j *Journal) finishCopy(ctx context.Context, old *segment, c *compactCopy) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	j.mu.Lock()
	failed := j.failed
	j.mu.Unlock()
	if failed != nil {
		return 0, failed
	}
	final := old.size // no commit runs: this is the end
	if final > c.copied {
		if err := copyRange(c.f, old.f, c.copied, final); err != nil {
			return 0, fmt.Errorf("compact lease journal %s: %w", j.path, err)
		}
		c.size += final - c.copied
		if err := j.syncCount(c.f); err != nil {
			return 0, fmt.Errorf("compact lease journal: sync %s: %w", c.tmp, err)
		}
	}
	return final, nil
}

// switchTo, under commitMu once the copy has been renamed over the journal,
// makes the rename durable and sends commits to the new file.
func (j *Journal) switchTo(old *segment, c *compactCopy) error {
	j.syncs.Add(1)
	dirErr := durable.SyncDir(filepath.Dir(j.path))
	j.segMu.Lock()
	j.seg = &segment{f: c.f, size: c.size}
	old.retired = true // closed by the compaction's release
	j.segMu.Unlock()
	j.compactBase = c.size
	if dirErr != nil {
		// Without the directory synced, a power cut could bring the old
		// file back and lose every commit made to the new one.
		return j.fail(fmt.Errorf("compact lease journal: %w", dirErr))
	}
	return nil
}

// committedSize returns the committed end of s.
func (j *Journal) committedSize(s *segment) int64 {
	j.segMu.Lock()
	defer j.segMu.Unlock()
	return s.size
}

// writeLive writes a journal header and the live frames of x, read from r,
// to w, and returns the bytes written. Each frame becomes a unit of its own.
func writeLive(ctx context.Context, w io.Writer, r io.ReaderAt, x *journalIndex) (int64, error) {
	n, err := w.Write(encodeJournalHeader(journalVersion))
	if err != nil {
		return 0, err
	}
	size := int64(n)
	fr := newFrameReader(r, x.fileEnd)
	scratch := make([]byte, 0, 256)
	for i, ref := range x.sortedLive() {
		if i%4096 == 4095 {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
		}
		f, err := fr.window(ref.off, int(ref.size))
		if err != nil {
			return 0, err
		}
		if _, ok := checkFrame(f); !ok {
			return 0, fmt.Errorf("frame at %d changed during compaction", ref.off)
		}
		if f[4]&opMore != 0 {
			scratch = append(scratch[:0], f...)
			scratch[4] &^= opMore
			durable.ResealFrame(scratch)
			f = scratch
		}
		n, err := w.Write(f)
		if err != nil {
			return 0, err
		}
		size += int64(n)
	}
	return size, nil
}

// copyRange copies the bytes of src between from and to to w.
func copyRange(w io.Writer, src *os.File, from, to int64) error {
	buf := make([]byte, min(to-from, 256<<10))
	if _, err := io.CopyBuffer(w, io.NewSectionReader(src, from, to-from), buf); err != nil {
		return fmt.Errorf("copy journal bytes %d-%d: %w", from, to, err)
	}
	return nil
}
