package durable

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// JournalConfig describes a kind of journal for OpenJournal.
type JournalConfig struct {
	// Magic names the kind of file in its header: 8 bytes.
	Magic string
	// Version is the body codec's version written in new headers. Files
	// of another version are handed to the caller's visit function all the
	// same (Recovery.Version says which), so a codec can read its older
	// versions.
	Version uint32
	// What names the file for a person, in errors: "inventory journal".
	What string
	// MaxBody bounds a frame's body; a longer declared length is damage.
	MaxBody int
	// MinRewrite is the size below which Due never asks for a rewrite.
	MinRewrite int64
	// Factor is how many times its live size the file may grow to before
	// Due asks for a rewrite (Grown).
	Factor int64
	// Import, when not nil, converts a file in an earlier format (one that
	// is not a journal of this kind) to frames, which then replace it as
	// Rewrite does, atomically, before they are read. For a file it does
	// not recognise it returns an error wrapping ErrForeignFile, and the
	// file is refused unchanged.
	Import func(old []byte) (frames []byte, err error)
}

// Recovery is what OpenJournal found in the file.
type Recovery struct {
	Version uint32 // the codec version of the file's header
	Records int    // intact frames handed to visit
	// Damaged counts stretches of damaged bytes skipped in the middle of
	// the file, each followed by intact frames.
	Damaged int
	// TornBytes is what followed the last intact frame (a write a crash
	// interrupted), cut off before anything is appended.
	TornBytes int64
	// Imported says the file was in an earlier format, converted by
	// JournalConfig.Import and replaced.
	Imported bool
}

// Journal is an append-only file of framed records (see frame.go) with a
// single writer: it is locked while open (OpenLocked), its torn tail is
// cut at open, appends are made durable with fdatasync before Append
// returns, and Rewrite replaces it with a fresh copy of the live records,
// atomically and durably, when Due says it has grown by its factor.
//
// A Journal is not safe for concurrent use; its owner serialises calls.
type Journal struct {
	f         *os.File
	path      string
	cfg       JournalConfig
	size      int64 // bytes in the file
	committed int64 // bytes made durable: the end after the last Commit
	base      int64 // live bytes at the last rewrite or open (Rebase)
}

// OpenJournal opens the journal at path, creating it (with its folder) if
// missing, and locks it; a second process gets an *InUseError. The body of
// every intact frame is handed to visit, in file order, and is only valid
// during the call; a torn tail is cut off durably, a damaged stretch in the
// middle is skipped and counted. A file that is not a journal of this kind
// is refused unchanged with an error wrapping ErrForeignFile.
func OpenJournal(path string, cfg JournalConfig, visit func(body []byte)) (*Journal, Recovery, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, Recovery{}, fmt.Errorf("create folder for %s %s: %w", cfg.What, path, err)
	}
	f, err := OpenLocked(path, cfg.What, 0o600, 0)
	if err != nil {
		return nil, Recovery{}, err
	}
	j := &Journal{f: f, path: path, cfg: cfg}
	rec, err := j.recover(visit)
	if err != nil {
		_ = f.Close()
		return nil, Recovery{}, fmt.Errorf("%s %s: %w", cfg.What, path, err)
	}
	// Leftovers of a rewrite a crash interrupted: never renamed, unused.
	if err := os.Remove(j.tmpPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		_ = f.Close()
		return nil, Recovery{}, fmt.Errorf("%s %s: remove a rewrite's leftover: %w", cfg.What, path, err)
	}
	return j, rec, nil
}

// recover reads the locked file, writes a header to a new one and cuts a
// torn tail.
func (j *Journal) recover(visit func(body []byte)) (Recovery, error) {
	data, err := io.ReadAll(io.NewSectionReader(j.f, 0, 1<<62))
	if err != nil {
		return Recovery{}, err
	}
	v, err := CheckHeader(data, j.cfg.Magic)
	switch {
	case errors.Is(err, ErrTornHeader):
		// Empty, or cut short while it was being created: holds nothing.
		if err := j.writeAll(AppendHeader(nil, j.cfg.Magic, j.cfg.Version)); err != nil {
			return Recovery{}, err
		}
		return Recovery{Version: j.cfg.Version}, nil
	case errors.Is(err, ErrForeignFile) && j.cfg.Import != nil:
		return j.importOld(data, visit)
	case err != nil:
		return Recovery{}, err
	}
	rec := Recovery{Version: v}
	end, damaged := ScanFrames(data[HeaderSize:], j.cfg.MaxBody, func(body []byte) {
		rec.Records++
		visit(body)
	})
	rec.Damaged = damaged
	end += HeaderSize
	j.size, j.committed, j.base = int64(end), int64(end), int64(end)
	if end < len(data) {
		rec.TornBytes = int64(len(data) - end)
		if err := CutTail(j.f, int64(end)); err != nil {
			return Recovery{}, fmt.Errorf("cut a torn write off: %w", err)
		}
	}
	return rec, nil
}

// importOld converts the file's old content with Import, replaces the
// file with the result and reads it.
func (j *Journal) importOld(old []byte, visit func(body []byte)) (Recovery, error) {
	frames, err := j.cfg.Import(old)
	if err != nil {
		return Recovery{}, err
	}
	if err := j.Rewrite(frames); err != nil {
		return Recovery{}, err
	}
	rec := Recovery{Version: j.cfg.Version, Imported: true}
	end, damaged := ScanFrames(frames, j.cfg.MaxBody, func(body []byte) {
		rec.Records++
		visit(body)
	})
	if damaged > 0 || end != len(frames) {
		return Recovery{}, errors.New("import wrote frames that do not read back")
	}
	return rec, nil
}

// writeAll makes the file hold exactly b, durably.
func (j *Journal) writeAll(b []byte) error {
	if err := j.f.Truncate(0); err != nil {
		return err
	}
	if _, err := j.f.WriteAt(b, 0); err != nil {
		return err
	}
	if err := SyncData(j.f); err != nil {
		return err
	}
	j.size, j.committed, j.base = int64(len(b)), int64(len(b)), int64(len(b))
	return SyncDir(filepath.Dir(j.path))
}

// ScanFrames reads the frames back to back in b, handing each intact
// body to visit, and returns where the last intact frame ends. A damaged
// stretch followed by an intact frame is skipped and counted in damaged;
// one that runs to the end of b is a torn tail and ends the scan.
func ScanFrames(b []byte, maxBody int, visit func(body []byte)) (end, damaged int) {
	for off := 0; off < len(b); {
		if size, ok := CheckFrame(b[off:], maxBody); ok {
			visit(b[off+4 : off+size-4])
			off += size
			end = off
			continue
		}
		next := resync(b, off+1, maxBody)
		if next < 0 {
			break
		}
		damaged++
		off = next
	}
	return end, damaged
}

// resync returns the first offset from off on where an intact frame
// starts, or -1.
func resync(b []byte, off, maxBody int) int {
	for ; off < len(b); off++ {
		if _, ok := CheckFrame(b[off:], maxBody); ok {
			return off
		}
	}
	return -1
}

// Write adds frames (whole frames, built with BeginFrame and EndFrame) at
// the end of the journal without waiting for the disk: Commit makes every
// Write since the last commit durable. On an error the journal is cut back
// to its last commit, so nothing later follows a partial write.
func (j *Journal) Write(frames []byte) error {
	if _, err := j.f.WriteAt(frames, j.size); err != nil {
		j.rollBack()
		return fmt.Errorf("append to %s %s: %w", j.cfg.What, j.path, err)
	}
	j.size += int64(len(frames))
	return nil
}

// Commit makes the writes since the last commit durable (fdatasync).
func (j *Journal) Commit() error {
	if j.size == j.committed {
		return nil
	}
	if err := SyncData(j.f); err != nil {
		j.rollBack()
		return fmt.Errorf("sync %s %s: %w", j.cfg.What, j.path, err)
	}
	j.committed = j.size
	return nil
}

// rollBack forgets the writes since the last commit.
func (j *Journal) rollBack() {
	_ = j.f.Truncate(j.committed)
	j.size = j.committed
}

// Size is the journal's size in bytes.
func (j *Journal) Size() int64 { return j.size }

// Rebase sets the live size Due compares with: what a fresh copy of the
// records read at open would take, when its owner can tell (by default,
// the file's size at open).
func (j *Journal) Rebase(live int64) { j.base = live }

// Due reports whether the journal has grown to more than its factor times
// its live size at the last rewrite (or Rebase) and past its minimum.
func (j *Journal) Due() bool { return Grown(j.size, j.base, j.cfg.MinRewrite, j.cfg.Factor) }

// Rewrite replaces the journal with a header and frames, the live records
// (BeginRewrite, one Write, Commit).
func (j *Journal) Rewrite(frames []byte) error {
	rw, err := j.BeginRewrite()
	if err != nil {
		return err
	}
	if err := rw.Write(frames); err != nil {
		rw.Abort()
		return err
	}
	return rw.Commit()
}

// A Rewriter writes the fresh copy of a journal that replaces it.
type Rewriter struct {
	j    *Journal
	f    *os.File
	tmp  string
	size int64
}

// BeginRewrite starts a fresh copy of the journal in a temporary file
// beside it, locked before it can take the journal's name, so no other
// process can open the new file unlocked. The owner writes the live
// records to it and calls Commit, or Abort to drop it; appends to the
// journal meanwhile stay in the old file.
func (j *Journal) BeginRewrite() (*Rewriter, error) {
	tmp := j.tmpPath()
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("rewrite %s %s: %w", j.cfg.What, j.path, err)
	}
	rw := &Rewriter{j: j, f: f, tmp: tmp}
	if err := TryLock(f); err != nil {
		rw.Abort()
		return nil, fmt.Errorf("rewrite %s %s: lock %s: %w", j.cfg.What, j.path, tmp, err)
	}
	if err := rw.Write(AppendHeader(nil, j.cfg.Magic, j.cfg.Version)); err != nil {
		rw.Abort()
		return nil, err
	}
	return rw, nil
}

// Write adds frames to the fresh copy.
func (rw *Rewriter) Write(frames []byte) error {
	if _, err := rw.f.Write(frames); err != nil {
		return fmt.Errorf("rewrite %s %s: %w", rw.j.cfg.What, rw.j.path, err)
	}
	rw.size += int64(len(frames))
	return nil
}

// Abort drops the fresh copy.
func (rw *Rewriter) Abort() {
	_ = rw.f.Close()
	_ = os.Remove(rw.tmp)
}

// Commit syncs the fresh copy, renames it over the journal and syncs the
// folder, so a crash leaves either the old or the new file whole; later
// appends go to the new file. On an error before the rename the copy is
// dropped and the journal carries on in the old file.
func (rw *Rewriter) Commit() error {
	j := rw.j
	if err := SyncData(rw.f); err != nil {
		rw.Abort()
		return fmt.Errorf("rewrite %s %s: %w", j.cfg.What, j.path, err)
	}
	if err := os.Rename(rw.tmp, j.path); err != nil {
		rw.Abort()
		return fmt.Errorf("rewrite %s %s: %w", j.cfg.What, j.path, err)
	}
	_ = j.f.Close()
	j.f, j.size, j.committed, j.base = rw.f, rw.size, rw.size, rw.size
	if err := SyncDir(filepath.Dir(j.path)); err != nil {
		// The rename happened; only its durability is in doubt.
		return fmt.Errorf("rewrite %s %s: %w", j.cfg.What, j.path, err)
	}
	return nil
}

func (j *Journal) tmpPath() string { return j.path + ".tmp" }

// Close closes the file, releasing its lock.
func (j *Journal) Close() error { return j.f.Close() }
