package durable

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
)

// A journal is a header followed by frames, back to back (integers
// big-endian):
//
//	header, HeaderSize bytes:
//	  [8]  magic, naming the kind of file
//	  u32  version of the body codec
//	  u32  CRC-32C of the 12 bytes above
//	frame:
//	  u32  n, the length of the body
//	  [n]  the body, in the journal's own codec
//	  u32  CRC-32C of the length field and the body
//
// A crash can leave the last frame incomplete: the reader finds where the
// last intact frame ends and the writer cuts the rest off (CutTail) before
// appending. The journal rewrites itself with only its live records once it
// has grown by its factor (Grown).

// Castagnoli is the CRC-32C table of the frames and headers; codecs use it
// for checksums of their own.
var Castagnoli = crc32.MakeTable(crc32.Castagnoli)

const (
	// HeaderSize is the size of a journal header.
	HeaderSize = 16
	// FrameOverhead is what framing adds to a body: length and CRC.
	FrameOverhead = 8
)

// Errors of CheckHeader.
var (
	// ErrTornHeader marks a file shorter than a header whose bytes are the
	// start of one: a crash while the file was being created. It holds no
	// records.
	ErrTornHeader = errors.New("journal header incomplete")
	// ErrForeignFile marks a file that does not start with the magic.
	ErrForeignFile = errors.New("not a journal of this kind")
	// ErrHeaderChecksum marks a header whose checksum does not match.
	ErrHeaderChecksum = errors.New("journal header checksum mismatch")
)

// AppendHeader appends the header of a journal of kind magic (8 bytes) and
// codec version to dst.
func AppendHeader(dst []byte, magic string, version uint32) []byte {
	start := len(dst)
	dst = append(dst, magic...)
	dst = binary.BigEndian.AppendUint32(dst, version)
	return binary.BigEndian.AppendUint32(dst, crc32.Checksum(dst[start:], Castagnoli))
}

// CheckHeader reads the header at the start of b (the first HeaderSize
// bytes of the file, or all of a shorter file) and returns its version.
func CheckHeader(b []byte, magic string) (uint32, error) {
	if len(b) < HeaderSize {
		// The version is not known yet, but the magic comes first.
		if bytes.HasPrefix([]byte(magic), b) || bytes.HasPrefix(b, []byte(magic)) {
			return 0, ErrTornHeader
		}
		return 0, ErrForeignFile
	}
	if string(b[:8]) != magic {
		return 0, ErrForeignFile
	}
	if crc32.Checksum(b[:12], Castagnoli) != binary.BigEndian.Uint32(b[12:16]) {
		return 0, ErrHeaderChecksum
	}
	return binary.BigEndian.Uint32(b[8:12]), nil
}

// BeginFrame appends the length field of a new frame to dst; the caller
// notes len(dst) before the call as the frame's start, appends the body and
// calls EndFrame. Neither allocates when dst has room.
func BeginFrame(dst []byte) []byte { return append(dst, 0, 0, 0, 0) }

// EndFrame completes the frame that starts at start in dst: it fills in the
// length and appends the CRC.
func EndFrame(dst []byte, start int) []byte {
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return binary.BigEndian.AppendUint32(dst, crc32.Checksum(dst[start:], Castagnoli))
}

// ResealFrame recomputes the CRC of the complete frame f after its body was
// changed in place.
func ResealFrame(f []byte) {
	n := len(f) - 4
	binary.BigEndian.PutUint32(f[n:], crc32.Checksum(f[:n], Castagnoli))
}

// FrameLen returns the body length declared by the frame starting at b,
// which must hold at least 4 bytes.
func FrameLen(b []byte) int { return int(binary.BigEndian.Uint32(b)) }

// CheckFrame reports the size of the whole, intact frame at the start of b,
// whose body is at most maxBody bytes. ok is false when b does not start
// with one: damaged, or cut short by the end of b.
func CheckFrame(b []byte, maxBody int) (size int, ok bool) {
	if len(b) < FrameOverhead {
		return 0, false
	}
	n := FrameLen(b)
	if n > maxBody {
		return 0, false
	}
	size = n + FrameOverhead
	if len(b) < size {
		return 0, false
	}
	if crc32.Checksum(b[:4+n], Castagnoli) != binary.BigEndian.Uint32(b[4+n:]) {
		return 0, false
	}
	return size, true
}

// CutTail cuts the file back to end, the end of its last intact frame,
// durably: what followed was a write a crash interrupted, never
// acknowledged, and appending after it would hide what comes next.
func CutTail(f *os.File, end int64) error {
	if err := f.Truncate(end); err != nil {
		return err
	}
	return SyncData(f)
}

// Grown reports whether a journal of size bytes, whose live records would
// take base bytes in a fresh copy, is due for a rewrite: it has reached
// minSize and grown past factor times base.
func Grown(size, base, minSize, factor int64) bool {
	return size >= minSize && size > factor*base
}
