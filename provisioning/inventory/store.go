package inventory

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/phoneprov/phoneprov/internal/durable"
)

// store is the inventory's file: an append-only journal of JSON lines.
// The first line names the format; every other line is one change,
//
//	<crc> {"mac":"c8:1f:ea:83:e8:5a",…}   a phone's whole record
//	<crc> -c8:1f:ea:83:e8:5a             the phone was forgotten
//
// where <crc> is the CRC-32C of the rest of the line in 8 hex digits. The
// last line for a MAC wins. A flush appends the changed records and syncs;
// when the journal has grown to four times what a fresh copy would take, it is
// rewritten (to a temporary file, synced, renamed over the old one), so it
// stays in proportion to the fleet. A crash can leave a torn last line,
// which the CRC reveals: it is skipped, and the file is rewritten at the
// next open before anything is appended.
//
// Unlike a memory-mapped database, the journal costs no resident memory:
// the inventory's own map is the only copy in memory. The file is locked
// (durable.OpenLocked) so two processes cannot write it at once.
type store struct {
	f    *os.File
	path string

	size     int64 // bytes in the journal
	baseline int64 // bytes the last fresh copy took
	minSize  int64 // the journal is never rewritten below this size
	dirty    bool  // a torn or unreadable line was found: rewrite before appending
	lb       *lineBuffer
}

// journalHeader is the journal's first line.
const journalHeader = "phoneprov inventory journal 1\n"

// compactMin is the journal size below which it is never rewritten.
const compactMin = 4 << 20

// rewriteFactor is how many times its fresh size the journal may grow to
// before it is rewritten: each rewrite encodes every phone once, so the
// rewrites cost a third of an encoding per line appended.
const rewriteFactor = 4

func openStore(path string) (*store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("inventory: create folder for %s: %w", path, err)
	}
	f, err := durable.OpenLocked(path, "inventory journal", 0o600, 0)
	if errors.Is(err, durable.ErrInUse) {
		return nil, fmt.Errorf("inventory: %w: stop it or use another data directory", err)
	}
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	s := &store{f: f, path: path, minSize: compactMin}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("inventory: %s: %w", path, err)
	}
	s.size = fi.Size() // appends go at the end; load recounts it
	if fi.Size() == 0 {
		if err := s.append([]byte(journalHeader)); err != nil {
			f.Close()
			return nil, err
		}
	}
	return s, nil
}

// load reads every phone. A line that cannot be read is skipped and
// counted, not fatal: the phone is learnt again at its next boot.
func (s *store) load() (phones []*Phone, skipped []string, err error) {
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return nil, nil, fmt.Errorf("inventory: read %s: %w", s.path, err)
	}
	r := bufio.NewReaderSize(s.f, 64<<10)
	header, err := r.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("inventory: read %s: %w", s.path, err)
	}
	if header != journalHeader {
		return nil, nil, fmt.Errorf("inventory: %s is not a phoneprov inventory journal this version reads (first line %q); move it away to start afresh", s.path, trimLine(header))
	}
	byMAC := map[MAC]*Phone{}
	live := map[MAC]int{} // the length of each phone's last line
	size := int64(len(header))
	for lineNo := 2; ; lineNo++ {
		line, err := r.ReadBytes('\n')
		size += int64(len(line))
		if len(line) > 0 {
			if line[len(line)-1] != '\n' {
				skipped = append(skipped, fmt.Sprintf("line %d: torn (no end of line)", lineNo))
				s.dirty = true
			} else if mac, why := applyLine(byMAC, line[:len(line)-1]); why != "" {
				skipped = append(skipped, fmt.Sprintf("line %d: %s", lineNo, why))
				s.dirty = true
			} else if byMAC[mac] != nil {
				live[mac] = len(line)
			} else {
				delete(live, mac)
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("inventory: read %s: %w", s.path, err)
		}
	}
	s.size, s.baseline = size, int64(len(journalHeader))
	phones = make([]*Phone, 0, len(byMAC))
	for mac, p := range byMAC {
		phones = append(phones, p)
		s.baseline += int64(live[mac])
	}
	return phones, skipped, nil
}

// applyLine folds one journal line (without its newline) into byMAC and
// returns the MAC it was about, or says why it cannot.
func applyLine(byMAC map[MAC]*Phone, line []byte) (MAC, string) {
	if len(line) < 10 || line[8] != ' ' {
		return MAC{}, "not a journal line"
	}
	var sum [4]byte
	if _, err := hex.Decode(sum[:], line[:8]); err != nil {
		return MAC{}, "bad checksum field"
	}
	body := line[9:]
	if crc32.Checksum(body, durable.Castagnoli) != uint32(sum[0])<<24|uint32(sum[1])<<16|uint32(sum[2])<<8|uint32(sum[3]) {
		return MAC{}, "checksum mismatch"
	}
	if body[0] == '-' {
		mac, err := ParseMAC(string(body[1:]))
		if err != nil {
			return MAC{}, "bad MAC in a removal"
		}
		delete(byMAC, mac)
		return mac, ""
	}
	var p Phone
	if err := json.Unmarshal(body, &p); err != nil || p.MAC.IsZero() {
		return MAC{}, "unreadable record"
	}
	p.intern()
	byMAC[p.MAC] = &p
	return p.MAC, ""
}

func trimLine(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strings.TrimRight(s, "\n")
}

// lineBuffer builds journal lines in one reusable buffer.
type lineBuffer struct {
	buf bytes.Buffer
	enc *json.Encoder
}

func newLineBuffer() *lineBuffer {
	lb := &lineBuffer{}
	lb.enc = json.NewEncoder(&lb.buf)
	return lb
}

// addPhone appends p's record line.
func (lb *lineBuffer) addPhone(p *Phone) error {
	start := lb.buf.Len()
	lb.buf.WriteString("00000000 ")
	if err := lb.enc.Encode(p); err != nil { // JSON and a newline
		lb.buf.Truncate(start)
		return err
	}
	lb.seal(start)
	return nil
}

// addRemoval appends the line that forgets mac.
func (lb *lineBuffer) addRemoval(mac MAC) {
	start := lb.buf.Len()
	lb.buf.WriteString("00000000 -")
	lb.buf.WriteString(mac.String())
	lb.buf.WriteByte('\n')
	lb.seal(start)
}

// seal fills in the checksum of the line that starts at start.
func (lb *lineBuffer) seal(start int) {
	line := lb.buf.Bytes()[start:]
	c := crc32.Checksum(line[9:len(line)-1], durable.Castagnoli)
	hex.Encode(line[:8], []byte{byte(c >> 24), byte(c >> 16), byte(c >> 8), byte(c)})
}

func (lb *lineBuffer) bytes() []byte { return lb.buf.Bytes() }

// lines returns the store's line buffer, emptied. The caller holds the
// inventory's flushMu, which serialises every use, and calls done after.
func (s *store) lines() *lineBuffer {
	if s.lb == nil {
		s.lb = newLineBuffer()
	}
	s.lb.buf.Reset()
	return s.lb
}

// done lets go of the line buffer when a burst or a rewrite has grown it
// large, so it does not stay resident between flushes.
func (s *store) done() {
	if s.lb != nil && s.lb.buf.Cap() > 256<<10 {
		s.lb = nil
	}
}

func (s *store) append(buf []byte) error {
	if len(buf) == 0 {
		return nil
	}
	n, err := s.f.WriteAt(buf, s.size)
	s.size += int64(n)
	if err == nil {
		err = s.f.Sync()
	}
	if err != nil {
		return fmt.Errorf("inventory: write %s: %w", s.path, err)
	}
	return nil
}

// wantsRewrite reports whether the journal should be rewritten: it has
// torn or unreadable lines, or it has grown to rewriteFactor times its
// fresh size.
func (s *store) wantsRewrite() bool {
	return s.dirty || durable.Grown(s.size, s.baseline, s.minSize, rewriteFactor)
}

// rewrite replaces the journal with a fresh copy holding lines (one per
// phone, from a lineBuffer): written to a temporary file, synced, locked
// and renamed over the journal, so a crash leaves either the old or the
// new file whole.
func (s *store) rewrite(lines []byte) error {
	tmp := s.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("inventory: rewrite %s: %w", s.path, err)
	}
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("inventory: rewrite %s: %w", s.path, err)
	}
	if _, err := f.WriteString(journalHeader); err != nil {
		return fail(err)
	}
	if _, err := f.Write(lines); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	// Lock the new file before it takes the name, so no other process can
	// open the journal unlocked in between.
	if err := durable.TryLock(f); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fail(err)
	}
	size := int64(len(journalHeader) + len(lines))
	if err := durable.SyncDir(filepath.Dir(s.path)); err != nil {
		// The rename happened; only its durability is in doubt.
		s.swap(f, size)
		return fmt.Errorf("inventory: rewrite %s: %w", s.path, err)
	}
	s.swap(f, size)
	return nil
}

func (s *store) swap(f *os.File, size int64) {
	s.f.Close()
	s.f, s.size, s.baseline, s.dirty = f, size, size, false
}

func (s *store) close() error { return s.f.Close() }
