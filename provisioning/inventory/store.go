package inventory

import (
	"errors"
	"fmt"

	"github.com/phoneprov/phoneprov/internal/durable"
)

// store is the inventory's file: a durable.Journal whose frames each hold
// one change in the codec of codec.go; the last frame for a MAC wins. A
// flush appends the changed records and syncs; when the journal has grown
// to rewriteFactor times what a fresh copy would take, it is rewritten
// with one record per phone, so it stays in proportion to the fleet. A
// crash can leave a torn last frame, which is cut off at the next open; a
// damaged frame in the middle is skipped and the file rewritten at the
// first flush. A file in the earlier JSON-lines format is converted at the
// first open (importLegacy).
//
// Unlike a memory-mapped database, the journal costs no resident memory:
// the inventory's own map is the only copy in memory.
type store struct {
	j    *durable.Journal
	heal bool   // damage was skipped at open: rewrite before appending
	buf  []byte // frames being built; flushMu serialises its use
}

// journalConfig describes the inventory's journal.
func journalConfig() durable.JournalConfig {
	return durable.JournalConfig{
		Magic: "PPINVENT", Version: codecVersion, What: "inventory journal", MaxBody: maxRecord,
		MinRewrite: compactMin, Factor: rewriteFactor, Import: importLegacy,
	}
}

// compactMin is the journal size below which it is never rewritten.
const compactMin = 1 << 20

// rewriteFactor is how many times its fresh size the journal may grow to
// before it is rewritten: each rewrite encodes every phone once, so the
// rewrites cost half an encoding per record appended, the same factor as
// the lease journal's.
const rewriteFactor = 2

// loaded is what openStore read.
type loaded struct {
	phones     map[MAC]*Phone
	recovery   durable.Recovery
	unreadable int // intact frames whose record did not decode
}

// openStore opens and locks the journal at path and reads every phone.
func openStore(path string) (*store, loaded, error) {
	ld := loaded{phones: map[MAC]*Phone{}}
	live := map[MAC]int64{} // the size of each phone's last frame
	j, rec, err := durable.OpenJournal(path, journalConfig(), func(body []byte) {
		mac, p, err := decodeChange(body)
		switch {
		case err != nil:
			ld.unreadable++
		case p == nil:
			delete(ld.phones, mac)
			delete(live, mac)
		default:
			p.intern()
			ld.phones[mac] = p
			live[mac] = int64(len(body) + durable.FrameOverhead)
		}
	})
	switch {
	case errors.Is(err, durable.ErrInUse):
		return nil, ld, fmt.Errorf("inventory: %w: stop it or use another data directory", err)
	case err != nil:
		return nil, ld, fmt.Errorf("inventory: %w", err)
	}
	base := int64(durable.HeaderSize)
	for _, n := range live {
		base += n
	}
	j.Rebase(base)
	ld.recovery = rec
	return &store{j: j, heal: rec.Damaged > 0 || ld.unreadable > 0}, ld, nil
}

// frames returns the store's frame buffer, emptied. The caller holds the
// inventory's flushMu and calls done after.
func (s *store) frames() []byte { return s.buf[:0] }

// done keeps the buffer for the next flush unless a burst or a rewrite
// has grown it large, so it does not stay resident between flushes.
func (s *store) done(buf []byte) {
	if cap(buf) > 256<<10 {
		buf = nil
	}
	s.buf = buf
}

// wantsRewrite reports whether the journal should be rewritten: damage
// was skipped at open, or it has grown to rewriteFactor times its fresh
// size.
func (s *store) wantsRewrite() bool { return s.heal || s.j.Due() }

func (s *store) append(frames []byte) error {
	if err := s.j.Append(frames); err != nil {
		return fmt.Errorf("inventory: %w", err)
	}
	return nil
}

// rewrite replaces the journal with frames, one per phone.
func (s *store) rewrite(frames []byte) error {
	if err := s.j.Rewrite(frames); err != nil {
		return fmt.Errorf("inventory: %w", err)
	}
	s.heal = false
	return nil
}

func (s *store) close() error { return s.j.Close() }
