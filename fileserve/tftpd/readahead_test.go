package tftpd

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// shortFile ends early: it claims more bytes than it has.
type shortFile struct{ genFile }

func (f shortFile) Size() int64 { return f.size + 1000 }

func TestReadaheadBlocks(t *testing.T) {
	const size, bs = 100_000, 1428
	want := genBytes(size)
	r := newReadahead(genFile{size}, size, bs)
	dst := make([]byte, bs)
	// Forward, back (a retransmission before the buffered run), the end.
	for _, blk := range []int64{1, 2, 30, 5, 70, 71} {
		off := (blk - 1) * bs
		n := min(bs, size-off)
		if err := r.block(dst[:n], off, uint16(blk)); err != nil {
			t.Fatalf("block %d: %v", blk, err)
		}
		if !bytes.Equal(dst[:n], want[off:off+n]) {
			t.Fatalf("block %d differs", blk)
		}
	}
	if len(r.buf) != 22*bs {
		t.Errorf("buffer of %d bytes, want %d", len(r.buf), 22*bs)
	}
	if small := newReadahead(genFile{10}, 10, bs); len(small.buf) != 10 {
		t.Errorf("buffer of %d bytes for a 10-byte file", len(small.buf))
	}

	f := shortFile{genFile{size}}
	r = newReadahead(f, f.Size(), bs)
	off := int64(70 * bs) // block 71: the file ends inside it
	err := r.block(dst[:bs], off, 71)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short file: %v, want unexpected EOF", err)
	}
}
