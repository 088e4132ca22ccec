package tftpd

import (
	"fmt"
	"io"
)

// netasciiMark is the position of the netascii encoder at the start of a
// block: where in the file it is, how many output bytes precede the block,
// and the second byte of a CR LF / CR NUL pair split by the previous block
// boundary.
type netasciiMark struct {
	off     int64 // file offset of the next input byte
	out     int64 // output bytes before this block
	pend    byte  // pending output byte, valid if hasPend
	hasPend bool
}

// fillNetascii fills dst with the netascii encoding (LF -> CR LF,
// CR -> CR NUL) of f starting at mark m, reading input through scratch
// (len(scratch) >= len(dst)). It returns the number of bytes written, which
// is less than len(dst) only for the final block, and the mark of the next
// block.
func fillNetascii(dst, scratch []byte, f io.ReaderAt, size int64, m netasciiMark) (int, netasciiMark, error) {
	n := 0
	if m.hasPend && len(dst) > 0 {
		dst[0] = m.pend
		n = 1
		m.hasPend = false
	}
	// Every input byte yields at least one output byte, so one read of the
	// remaining space is enough to fill dst or reach the end of the file.
	if n < len(dst) && m.off < size {
		want := int64(len(dst) - n)
		if want > size-m.off {
			want = size - m.off
		}
		src := scratch[:want]
		k, err := f.ReadAt(src, m.off)
		if k < len(src) {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, m, fmt.Errorf("read at offset %d: %w", m.off, err)
		}
		for _, c := range src {
			if n == len(dst) {
				break
			}
			m.off++
			switch c {
			case '\n', '\r':
				dst[n] = '\r'
				n++
				second := byte('\n')
				if c == '\r' {
					second = 0
				}
				if n < len(dst) {
					dst[n] = second
					n++
				} else {
					m.pend, m.hasPend = second, true
				}
			default:
				dst[n] = c
				n++
			}
		}
	}
	m.out += int64(n)
	return n, m, nil
}

// netasciiSize returns the exact size of the netascii encoding of f: its
// size plus one byte per CR and per LF. It reads the whole file through buf.
func netasciiSize(f io.ReaderAt, size int64, buf []byte) (int64, error) {
	total := size
	for off := int64(0); off < size; {
		chunk := buf
		if int64(len(chunk)) > size-off {
			chunk = chunk[:size-off]
		}
		k, err := f.ReadAt(chunk, off)
		if k < len(chunk) {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, fmt.Errorf("read at offset %d: %w", off, err)
		}
		for _, c := range chunk {
			if c == '\n' || c == '\r' {
				total++
			}
		}
		off += int64(k)
	}
	return total, nil
}
