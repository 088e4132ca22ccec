package leases

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"

	"github.com/phoneprov/phoneprov/internal/durable"
)

// Journal file layout, version 1 (integers big-endian):
//
//	a durable journal header (internal/durable/frame.go): magic "PPLEASEJ",
//	  journal version 1
//	durable frames, back to back, each body:
//	  u8   op: 1 put, 2 delete; bit 7 (opMore) set when the same call
//	       continues in the next frame
//	  [4]  the IPv4 address
//	  ...  put only: the lease record as encodeLease writes it (with its own CRC)
//
// A call's frames form a unit: every frame but the last has opMore set, and
// replay applies a unit only once its last frame is read, so a Put or Delete
// of several leases cut short by a crash leaves none of them behind. A typical
// phone lease takes 90 bytes (77 of record).
const (
	journalMagic             = "PPLEASEJ"
	journalVersion    uint32 = 1
	journalHeaderSize        = durable.HeaderSize

	opPut    byte = 1
	opDelete byte = 2
	opMore   byte = 0x80

	frameOverhead = durable.FrameOverhead
	deleteBody    = 1 + 4
	// minPutBody is op, address and the shortest record: version, state,
	// flags, five empty length-prefixed fields and the record CRC.
	minPutBody = 1 + 4 + 3 + 5 + 4
	// maxFrameBody bounds a frame, so that a damaged length field is
	// recognised at once and resynchronising stays cheap. Nothing a DHCP
	// packet carries comes near it.
	maxFrameBody = 64 << 10
	maxFrameSize = maxFrameBody + frameOverhead
	// maxLeaseFieldBytes bounds the variable-length fields of one lease so
	// its frame stays under maxFrameBody (the fixed part is under 128 bytes).
	maxLeaseFieldBytes = maxFrameBody - 256
)

// encodeJournalHeader returns the header for a file of the given version.
func encodeJournalHeader(version uint32) []byte {
	return durable.AppendHeader(make([]byte, 0, journalHeaderSize), journalMagic, version)
}

// checkJournalHeader reads the header at the start of b (the first
// journalHeaderSize bytes of the file, or all of a shorter file). A file cut
// short while it was being created gives durable.ErrTornHeader.
func checkJournalHeader(path string, b []byte) error {
	v, err := durable.CheckHeader(b, journalMagic)
	switch {
	case errors.Is(err, durable.ErrTornHeader):
		return err
	case errors.Is(err, durable.ErrForeignFile) && len(b) < journalHeaderSize:
		return fmt.Errorf("%s is not a phoneprov lease journal (%d bytes, no journal header)", path, len(b))
	case errors.Is(err, durable.ErrForeignFile):
		return fmt.Errorf("%s is not a phoneprov lease journal (no %q header): move it away or point phoneprov elsewhere", path, journalMagic)
	case err != nil:
		return fmt.Errorf("lease journal %s: %w: %w", path, err, ErrCorrupt)
	case v == 0:
		return fmt.Errorf("lease journal %s: version 0 is invalid: %w", path, ErrCorrupt)
	case v > journalVersion:
		return fmt.Errorf("lease journal %s was written by a newer phoneprov (schema %d, this one reads up to %d): upgrade phoneprov or move the file away: %w",
			path, v, journalVersion, ErrNewerSchema)
	}
	return nil
}

// appendFrame appends one frame to dst: a put of l when l is not nil,
// otherwise a delete of addr. The caller keeps l's fields under
// maxLeaseFieldBytes (checkFrameSizes).
func appendFrame(dst []byte, op byte, addr [4]byte, l *Lease) []byte {
	start := len(dst)
	dst = append(durable.BeginFrame(dst), op, addr[0], addr[1], addr[2], addr[3])
	if l != nil {
		dst = encodeLease(dst, l)
	}
	return durable.EndFrame(dst, start)
}

// checkFrameSizes refuses leases too large for one frame.
func checkFrameSizes(ls []Lease) error {
	for i := range ls {
		l := &ls[i]
		n := len(l.HWAddr) + len(l.ClientID) + len(l.Hostname) + len(l.VendorClass) + len(l.Class)
		if n > maxLeaseFieldBytes {
			return fmt.Errorf("lease %v is too large to store: %d bytes of hardware address, client id and names, at most %d", l.Addr, n, maxLeaseFieldBytes)
		}
	}
	return nil
}

// checkFrame reports the size of the whole, intact frame at the start of b.
// ok is false when b does not start with one: damaged, or cut short by the
// end of b.
func checkFrame(b []byte) (size int, ok bool) {
	if len(b) < frameOverhead+deleteBody {
		return 0, false
	}
	// The op and length are checked first: a resync tries every offset, and
	// this rejects nearly all of them without a CRC.
	n := durable.FrameLen(b)
	switch b[4] &^ opMore {
	case opPut:
		if n < minPutBody {
			return 0, false
		}
	case opDelete:
		if n != deleteBody {
			return 0, false
		}
	default:
		return 0, false
	}
	return durable.CheckFrame(b, maxFrameBody)
}

// frameAddr and frameRecord take a checked frame apart.
func frameAddr(f []byte) [4]byte  { return [4]byte(f[5:9]) }
func frameRecord(f []byte) []byte { return f[9 : len(f)-4] }

// frameRef locates one frame in the file.
type frameRef struct {
	off  int64
	size int32
}

// badRegion is a stretch of the file between two good frames that holds no
// intact frame: bit rot, or a write that never completed followed by later
// ones.
type badRegion struct {
	off, size int64
}

// journalIndex is what replaying a journal finds.
type journalIndex struct {
	// live is the last put frame of each address not deleted since.
	live map[[4]byte]frameRef
	// end is the end of the last complete unit: everything after it is a
	// torn write, and a writer appends here.
	end int64
	// fileEnd is where the scan stopped (the file's size when it started).
	fileEnd int64
	// bad lists the damaged stretches skipped between good frames.
	bad []badRegion
}

// liveBytes is the size of a compacted copy of the journal.
func (x *journalIndex) liveBytes() int64 {
	n := int64(journalHeaderSize)
	for _, r := range x.live {
		n += int64(r.size)
	}
	return n
}

// sortedLive returns the live frames in file order, for one sequential pass.
func (x *journalIndex) sortedLive() []frameRef {
	refs := make([]frameRef, 0, len(x.live))
	for _, r := range x.live {
		refs = append(refs, r)
	}
	slices.SortFunc(refs, func(a, b frameRef) int { return cmp.Compare(a.off, b.off) })
	return refs
}

// frameReader reads frames of a file through a window buffer, so a scan makes
// one read(2) per window rather than one per frame.
type frameReader struct {
	r      io.ReaderAt
	end    int64
	buf    []byte
	bufOff int64
}

const readWindow = 256 << 10 // must exceed maxFrameSize

func newFrameReader(r io.ReaderAt, end int64) *frameReader {
	return &frameReader{r: r, end: end, buf: make([]byte, 0, readWindow)}
}

// window returns the file's bytes from off up to off+n, fewer where the file
// (or the part being read) ends first. n must not exceed readWindow.
func (fr *frameReader) window(off int64, n int) ([]byte, error) {
	hi := min(off+int64(n), fr.end)
	if off >= fr.bufOff && hi <= fr.bufOff+int64(len(fr.buf)) {
		return fr.buf[off-fr.bufOff : hi-fr.bufOff], nil
	}
	fr.buf = fr.buf[:min(int64(cap(fr.buf)), fr.end-off)]
	got, err := fr.r.ReadAt(fr.buf, off)
	if err != nil && !(errors.Is(err, io.EOF) && got < len(fr.buf)) {
		return nil, fmt.Errorf("read at %d: %w", off, err)
	}
	if got < len(fr.buf) {
		// The file is shorter than expected: only a read-only reader racing
		// a writer's start-up truncation sees this. Stop where it ends.
		fr.end = off + int64(got)
		fr.buf = fr.buf[:got]
		hi = min(hi, fr.end)
	}
	fr.bufOff = off
	return fr.buf[:hi-off], nil
}

// frameAt returns the intact frame at off, or ok false.
func (fr *frameReader) frameAt(off int64) (frame []byte, ok bool, err error) {
	w, err := fr.window(off, maxFrameSize)
	if err != nil {
		return nil, false, err
	}
	size, ok := checkFrame(w)
	if !ok {
		return nil, false, nil
	}
	return w[:size], true, nil
}

// scanJournal replays the frames of r between the header and end: the last
// frame of each address wins, a delete removes it, and a unit counts only
// once its last frame is read. Damaged frames are skipped by looking for the
// next offset where an intact frame starts; if none follows, the damage is a
// torn write at the end and index.end stops before it.
func scanJournal(ctx context.Context, r io.ReaderAt, end int64) (*journalIndex, error) {
	x := &journalIndex{live: make(map[[4]byte]frameRef), end: journalHeaderSize}
	fr := newFrameReader(r, end)
	type pendingFrame struct {
		op   byte
		addr [4]byte
		ref  frameRef
	}
	var pending []pendingFrame
	apply := func() {
		for _, p := range pending {
			if p.op&^opMore == opPut {
				x.live[p.addr] = p.ref
			} else {
				delete(x.live, p.addr)
			}
		}
		pending = pending[:0]
	}
	off := int64(journalHeaderSize)
	for frames := 0; off < fr.end; frames++ {
		if frames%4096 == 4095 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		f, ok, err := fr.frameAt(off)
		if err != nil {
			return nil, err
		}
		if ok {
			pending = append(pending, pendingFrame{op: f[4], addr: frameAddr(f), ref: frameRef{off: off, size: int32(len(f))}})
			off += int64(len(f))
			if f[4]&opMore == 0 {
				apply()
				x.end = off
			}
			continue
		}
		next, found, err := fr.resync(ctx, off+1)
		if err != nil {
			return nil, err
		}
		if !found {
			break // a torn write: whatever of its unit was read is dropped
		}
		// Damage in the middle. The frames read of a unit it cut are
		// applied: they were written and are intact; dropping them would
		// lose more.
		apply()
		x.bad = append(x.bad, badRegion{off: off, size: next - off})
		off = next
	}
	x.fileEnd = fr.end
	return x, nil
}

// resync returns the first offset from off on where an intact frame starts.
func (fr *frameReader) resync(ctx context.Context, off int64) (int64, bool, error) {
	for n := 0; off < fr.end; off++ {
		if n++; n%(1<<20) == 0 {
			if err := ctx.Err(); err != nil {
				return 0, false, err
			}
		}
		_, ok, err := fr.frameAt(off)
		if err != nil {
			return 0, false, err
		}
		if ok {
			return off, true, nil
		}
	}
	return 0, false, nil
}

// decodeLive decodes the live leases of x, ordered by address. Frames whose
// record does not decode are returned as errors naming their address.
func decodeLive(ctx context.Context, r io.ReaderAt, x *journalIndex) ([]Lease, []error, error) {
	fr := newFrameReader(r, x.fileEnd)
	out := make([]Lease, 0, len(x.live))
	var bad []error
	for i, ref := range x.sortedLive() {
		if i%4096 == 4095 {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
		}
		f, err := fr.window(ref.off, int(ref.size))
		if err != nil {
			return nil, nil, err
		}
		if _, ok := checkFrame(f); !ok {
			// The file changed under us: it is append-only, so this is a bug
			// or a disk returning different bytes from one read to the next.
			bad = append(bad, fmt.Errorf("offset %d: frame changed while loading", ref.off))
			continue
		}
		addr := netip.AddrFrom4(frameAddr(f))
		l, err := decodeLease(addr, frameRecord(f))
		if err != nil {
			bad = append(bad, fmt.Errorf("%v: %w", addr, err))
			continue
		}
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b Lease) int { return a.Addr.Compare(b.Addr) })
	return out, bad, nil
}
