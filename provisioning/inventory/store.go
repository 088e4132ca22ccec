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
	buf  []byte // a batch's buffer, kept between batches
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
// before it is rewritten. Each rewrite encodes every phone once, so the
// rewrites cost a third of an encoding per record appended; the lease
// journal, whose rewrite copies frames without encoding them, uses 2.
const rewriteFactor = 4

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
		mac, op, err := applyChange(ld.phones, body)
		switch {
		case err != nil:
			ld.unreadable++
		case op == opRemove:
			delete(live, mac)
		case op == opPhone:
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

// chunkSize is how many bytes of frames a batch builds before it writes
// them out, so a flush of the whole fleet needs no buffer its size.
const chunkSize = 64 << 10

// batch builds frames in the store's buffer and writes them out a chunk at
// a time; the first error sticks.
type batch struct {
	s   *store
	buf []byte
	to  interface{ Write([]byte) error } // the journal, or a rewrite's copy
	err error
}

// add appends the frames that encode appends to the batch.
func (b *batch) add(encode func([]byte) []byte) {
	b.buf = encode(b.buf)
	if len(b.buf) >= chunkSize {
		b.writeOut()
	}
}

func (b *batch) writeOut() {
	if b.err == nil && len(b.buf) > 0 {
		b.err = b.to.Write(b.buf)
	}
	b.buf = b.buf[:0]
}

// release hands the buffer back to the store for the next batch, unless a
// record far over chunkSize grew it.
func (b *batch) release() {
	if cap(b.buf) <= 2*chunkSize {
		b.s.buf = b.buf[:0]
	}
}

// appendBatch starts a batch of changes appended to the journal; commit
// ends it. The caller holds the inventory's flushMu, which serialises
// batches.
func (s *store) appendBatch() *batch {
	return &batch{s: s, buf: s.buf[:0], to: s.j}
}

// commit writes out the rest of an append batch and makes it durable.
func (b *batch) commit() error {
	defer b.release()
	b.writeOut()
	if b.err == nil {
		b.err = b.s.j.Commit()
	}
	if b.err != nil {
		return fmt.Errorf("inventory: %w", b.err)
	}
	return nil
}

// wantsRewrite reports whether the journal should be rewritten: damage
// was skipped at open, or it has grown to rewriteFactor times its fresh
// size.
func (s *store) wantsRewrite() bool { return s.heal || s.j.Due() }

// rewrite replaces the journal with a fresh copy holding the records that
// each calls add for, one per phone.
func (s *store) rewrite(each func(add func(encode func([]byte) []byte))) error {
	rw, err := s.j.BeginRewrite()
	if err != nil {
		return fmt.Errorf("inventory: %w", err)
	}
	b := &batch{s: s, buf: s.buf[:0], to: rw}
	defer b.release()
	each(b.add)
	if b.writeOut(); b.err != nil {
		rw.Abort()
		return fmt.Errorf("inventory: %w", b.err)
	}
	if err := rw.Commit(); err != nil {
		return fmt.Errorf("inventory: %w", err)
	}
	s.heal = false
	return nil
}

func (s *store) close() error { return s.j.Close() }
