package tftpd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

// transfer is one read request being served on its own socket.
type transfer struct {
	s      *Server
	l      *listener
	req    Request
	peer   netip.AddrPort // client TID, unmapped
	from   netip.AddrPort // client address as the listener saw it
	local  netip.Addr     // address the request was sent to; invalid if unknown
	start  time.Time
	netasc bool

	sock    *socket
	file    File
	size    int64 // file size
	bs      int
	window  int
	timeout time.Duration // first retransmission timeout
	optTime bool          // timeout came from the client's timeout option
	oack    []byte        // OACK packet; nil when no option was accepted

	// oackOut is set while the OACK is sent and not acknowledged; the
	// receive loop then repeats it for a retransmitted RRQ (repeatOACK).
	// conn and oack are set before it is.
	oackOut  atomic.Bool
	rrqOACKs atomic.Int64 // OACKs repeated for retransmitted RRQs

	buf     []byte         // one packet: 4-byte header + block
	rbuf    []byte         // incoming packets
	scratch []byte         // netascii input
	marks   []netasciiMark // netascii encoder state at block starts, ring of window+1
	ahead   *readahead     // octet mode: the file, a run of blocks at a time

	res Result
}

// run serves the transfer and returns its Result.
func (t *transfer) run(parent context.Context) Result {
	t.res = Result{Request: t.req, ErrorCode: -1}
	t.serve(parent)
	t.res.Duration = time.Since(t.start)
	return t.res
}

// serve does the work of run, recording the outcome in t.res.
func (t *transfer) serve(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	stopAbort := context.AfterFunc(t.s.abortCtx, cancel)
	defer stopAbort()

	sock, err := openSocket(ctx, t.local, t.peer, t.s.active.Load() <= int64(t.s.directMax()))
	if err != nil {
		// Out of sockets or ports: tell the client from the listening socket.
		t.l.reply(appendError(nil, codeUndefined, ErrBusy.Error()), t.from, t.local)
		t.res.Err = fmt.Errorf("open transfer socket: %w: %w", err, ErrBusy)
		t.res.ErrorCode = codeUndefined
		return
	}
	t.sock = sock
	defer sock.close()

	f, err := t.s.handler.OpenRead(ctx, t.req)
	if err == nil && f == nil {
		err = errors.New("handler returned no file")
	}
	if err != nil {
		if ctx.Err() != nil && t.s.abortCtx.Err() != nil {
			t.fail(codeUndefined, "server shutting down", fmt.Errorf("open %q: %w (%w)", t.req.Filename, ErrServerClosed, err))
			return
		}
		code, msg := errorCode(err)
		t.fail(code, msg, fmt.Errorf("open %q: %w", t.req.Filename, err))
		return
	}
	t.file = f
	defer f.Close()
	t.size = f.Size()
	if t.size < 0 {
		t.fail(codeUndefined, "internal error", fmt.Errorf("open %q: negative size %d", t.req.Filename, t.size))
		return
	}

	if err := t.negotiate(); err != nil {
		t.fail(codeUndefined, "read error", fmt.Errorf("read %q: %w", t.req.Filename, err))
		return
	}
	t.res.BlockSize, t.res.WindowSize = t.bs, t.window
	t.send(ctx)
}

// errorCode maps a Handler error to the TFTP error code and message sent.
func errorCode(err error) (int, string) {
	switch {
	case errors.Is(err, ErrNotFound):
		return codeNotFound, ErrNotFound.Error()
	case errors.Is(err, ErrAccess):
		return codeAccess, ErrAccess.Error()
	case errors.Is(err, ErrBusy):
		return codeUndefined, ErrBusy.Error()
	}
	return codeUndefined, err.Error()
}

// fail sends an ERROR packet from the transfer socket and records it.
func (t *transfer) fail(code int, msg string, err error) {
	_ = t.sock.send(appendError(t.buf[:0], code, msg))
	t.res.Err = err
	t.res.ErrorCode = code
}

// negotiate applies the requested options, builds the OACK and allocates
// the transfer's buffers.
func (t *transfer) negotiate() error {
	cfg := &t.s.cfg
	t.bs, t.window, t.timeout = 512, 1, cfg.Timeout
	var blksize, timeout, window int64 = -1, -1, -1
	opts := t.req.Options
	if v, ok := opts["blksize"]; ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= minBlockSize {
			blksize = min(n, int64(cfg.BlockSizeMax))
			t.bs = int(blksize)
		}
	}
	if v, ok := opts["timeout"]; ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 1 && n <= 255 {
			timeout = n
			t.timeout = time.Duration(n) * time.Second
			t.optTime = true
		}
	}
	if v, ok := opts["windowsize"]; ok && cfg.WindowSizeMax > 1 {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 1 && n <= 65535 {
			window = min(n, int64(cfg.WindowSizeMax))
			t.window = int(window)
		}
	}
	t.buf = make([]byte, 4+max(t.bs, 512)) // an ERROR fits even with a tiny blksize
	t.rbuf = make([]byte, 1024)
	if t.netasc {
		t.scratch = make([]byte, t.bs)
		t.marks = make([]netasciiMark, t.window+1)
	} else {
		t.ahead = newReadahead(t.file, t.size, t.bs)
	}

	var oack []byte
	if blksize >= 0 {
		oack = appendOption(oack, "blksize", blksize)
	}
	if _, ok := opts["tsize"]; ok {
		tsize := t.size
		if t.netasc {
			var err error
			if tsize, err = netasciiSize(t.file, t.size, t.buf); err != nil {
				return err
			}
		}
		oack = appendOption(oack, "tsize", tsize)
	}
	if timeout >= 0 {
		oack = appendOption(oack, "timeout", timeout)
	}
	if window >= 0 {
		oack = appendOption(oack, "windowsize", window)
	}
	if oack != nil {
		t.oack = binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(oack)), opOACK)
		t.oack = append(t.oack, oack...)
	}
	return nil
}

// sendState is where a transfer's send loop stands. Packet indexes are
// int64; on the wire the block number is the index modulo 65536.
type sendState struct {
	base    int64         // first unacknowledged packet
	next    int64         // next packet to send
	sentMax int64         // highest packet sent so far
	last    int64         // final DATA block; -1 while unknown (netascii)
	tries   int           // timeouts in a row without progress
	waited  time.Duration // waited for the current packet
	werr    error         // last write error
}

// send runs the transfer proper: OACK (packet 0) if options were accepted,
// then DATA blocks 1..last, window by window, retransmitting the window
// from its first unacknowledged packet on timeout. Block numbers roll
// over from 65535 to 0.
func (t *transfer) send(ctx context.Context) {
	st := &sendState{base: 1, sentMax: -1, last: -1}
	if t.oack != nil {
		st.base = 0
		t.oackOut.Store(true)
		defer t.oackOut.Store(false)
		defer func() { t.res.Retransmits += int(t.rrqOACKs.Load()) }()
	}
	st.next = st.base
	if !t.netasc {
		st.last = t.size/int64(t.bs) + 1
	}
	for t.sendWindow(st) && t.awaitProgress(ctx, st) {
	}
}

// sendWindow sends the packets of the window not yet sent (only the OACK
// until it is acknowledged). It reports false when the transfer ended.
func (t *transfer) sendWindow(st *sendState) bool {
	end := st.base + int64(t.window) - 1
	if st.base == 0 {
		end = 0
	}
	for st.next <= end && (st.last < 0 || st.next <= st.last) {
		n, isLast, err := t.packet(st.next)
		if err != nil {
			t.fail(codeUndefined, "read error", fmt.Errorf("read %q: %w", t.req.Filename, err))
			return false
		}
		if isLast {
			st.last = st.next
		}
		if st.next <= st.sentMax {
			t.res.Retransmits++
		} else {
			st.sentMax = st.next
		}
		if err := t.sock.send(t.buf[:n]); err != nil {
			st.werr = err // treated as a lost packet
		}
		st.next++
	}
	return true
}

// awaitProgress waits for an acknowledgement that moves the window, or
// for the retransmission timeout. It reports false when the transfer
// ended (finished, failed, aborted or timed out).
func (t *transfer) awaitProgress(ctx context.Context, st *sendState) bool {
	sent := time.Now()
	due := sent.Add(t.retransmitWait(st.tries, st.base == 0))
	for {
		if ctx.Err() != nil {
			t.aborted(st.base)
			return false
		}
		n, from, err := t.sock.recv(ctx, t.rbuf, due)
		if err != nil {
			if ctx.Err() != nil {
				t.aborted(st.base)
				return false
			}
			return t.timedOut(st, due.Sub(sent), err)
		}
		p := t.rbuf[:n]
		// Zones compared out: an interface may be named by name or index.
		if from.Addr().Unmap().WithZone("") != t.peer.Addr().WithZone("") || from.Port() != t.peer.Port() {
			if n >= 2 && binary.BigEndian.Uint16(p) != opERROR {
				_ = t.sock.sendTo(appendError(t.buf[:0], codeUnknownTID, "unknown transfer ID"), from)
			}
			continue
		}
		if n < 4 {
			t.s.malformed.Add(1)
			continue
		}
		moved, goOn, reAcked := t.reply(st, p)
		if moved {
			return goOn
		}
		if reAcked && st.tries > 0 {
			// The client is there and lost what was sent: the backoff,
			// meant for a client that is silent, need not run its course
			// (see the package doc for tftp-hpa's client, which gives up
			// before the longest waits end). The resend still waits for
			// the timer, now at most one timeout away, so a burst of
			// duplicate ACKs makes one resend, not one each (no
			// Sorcerer's Apprentice).
			if soon := time.Now().Add(t.timeout); soon.Before(due) {
				due = soon
			}
		}
	}
}

// timedOut handles a failed read: past the retries it ends the transfer,
// else it rewinds to resend the window. It reports false when the
// transfer ended.
func (t *transfer) timedOut(st *sendState, wait time.Duration, err error) bool {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.res.Err = fmt.Errorf("receive: %w", err)
		t.res.Bytes = t.acked(st.base)
		return false
	}
	st.tries++
	st.waited += wait
	if st.tries > t.s.cfg.Retries {
		t.res.TimedOut = true
		t.res.Bytes = t.acked(st.base)
		t.res.Err = fmt.Errorf("no ACK for block %d after %d retransmissions over %s: %w", uint16(st.base), t.s.cfg.Retries, st.waited, ErrTimeout)
		if st.werr != nil {
			t.res.Err = fmt.Errorf("%w (last send error: %w)", t.res.Err, st.werr)
		}
		return false
	}
	st.next = st.base // resend the window
	return true
}

// reply applies one packet from the peer: moved says whether the wait is
// over, goOn whether the transfer goes on, reAcked whether it was the
// client's ACK, again, of the block before the window (it waits for what
// it lost).
func (t *transfer) reply(st *sendState, p []byte) (moved, goOn, reAcked bool) {
	switch binary.BigEndian.Uint16(p) {
	case opACK:
		// Map the 16-bit block number into [base-1, next-1].
		lo := st.base - 1
		idx := lo + int64(binary.BigEndian.Uint16(p[2:])-uint16(lo))
		if idx == lo || idx >= st.next {
			// Duplicate, old or not yet sent: nothing is sent for it.
			return false, true, idx == lo && st.base > 0
		}
		st.tries, st.waited = 0, 0
		st.base = idx + 1
		t.oackOut.Store(false)
		if idx == st.last {
			t.res.Bytes = t.acked(st.base)
			return true, false, false // done
		}
		// An ACK inside the window means the client lost the blocks
		// after it (RFC 7440): go on from there.
		st.next = st.base
		return true, true, false
	case opERROR:
		code, msg := parseErrorPacket(p)
		t.res.Err = &RemoteError{Code: code, Message: msg}
		t.res.Bytes = t.acked(st.base)
		return true, false, false
	}
	t.s.malformed.Add(1)
	return false, true, false
}

// repeatOACK sends the OACK again if it is still unacknowledged: the
// client retransmitted its RRQ, so it did not get the OACK. Called from
// the receive loop; a send error is the same as a lost packet.
func (t *transfer) repeatOACK() {
	if !t.oackOut.Load() {
		return
	}
	if err := t.sock.sendShared(t.oack); err == nil {
		t.rrqOACKs.Add(1)
	}
}

// Retransmission waits; see retransmitWait.
const (
	// maxRetransmitWait caps the backoff (unless the timeout itself is
	// longer): with the default 1 s timeout and 5 retries the waits are
	// 1, 2, 4, 8, 16 and 32 s, 63 s in all, as in tftpd-hpa.
	maxRetransmitWait = time.Minute
	// oackWait is the least first wait for ACK 0 when the client did not
	// send the timeout option. A second OACK makes atftp abort the
	// transfer ("unexpected OACK": atftp 0.8.0, tftp_file.c,
	// S_OACK_RECEIVED), and atftp (tftp_def.h, TIMEOUT) and tftp-hpa's
	// client (tftp/main.c, rexmtval) retransmit after 5 s. Waiting past
	// two of those lets a client whose ACK 0 was lost resend it twice
	// before the OACK is repeated; a client whose OACK was lost resends its
	// RRQ, which repeatOACK answers at once.
	oackWait = 11 * time.Second
)

// retransmitWait returns how long to wait for an acknowledgement after a
// window (or the OACK, when oack is set) was sent for the tries+1-th time
// in a row without progress: the transfer's timeout (the client's timeout
// option, else Config.Timeout) doubled at every retransmission, up to
// maxRetransmitWait or the timeout if that is longer. Backing off matters:
// atftp answers a repeated DATA block with one extra ACK only, then
// ignores repeats until its own 5 s timer expires, which every packet it
// receives restarts (tftp_file.c, S_DATA_RECEIVED "got wrong block"); a
// server resending at a fixed 1 s never hears from it again once that
// extra ACK is lost.
func (t *transfer) retransmitWait(tries int, oack bool) time.Duration {
	d := t.timeout
	if oack && !t.optTime {
		d = max(d, oackWait)
	}
	limit := max(d, maxRetransmitWait)
	for range tries {
		if d *= 2; d >= limit {
			return limit
		}
	}
	return d
}

// packet builds packet i (0 = OACK, otherwise DATA block i) in t.buf and
// returns its length and whether it is the final DATA block.
func (t *transfer) packet(i int64) (int, bool, error) {
	if i == 0 {
		return copy(t.buf, t.oack), false, nil
	}
	binary.BigEndian.PutUint16(t.buf[0:], opDATA)
	binary.BigEndian.PutUint16(t.buf[2:], uint16(i))
	block := t.buf[4 : 4+t.bs]
	if t.netasc {
		L := int64(len(t.marks))
		n, next, err := fillNetascii(block, t.scratch, t.file, t.size, t.marks[i%L])
		if err != nil {
			return 0, false, err
		}
		t.marks[(i+1)%L] = next
		return 4 + n, n < t.bs, nil
	}
	off := (i - 1) * int64(t.bs)
	n := min(int64(t.bs), t.size-off)
	if err := t.ahead.block(block[:n], off, uint16(i)); err != nil {
		return 0, false, err
	}
	return 4 + int(n), int(n) < t.bs, nil
}

// acked returns the payload bytes before packet base, that is the bytes
// the client has acknowledged when base is the first unacknowledged packet.
func (t *transfer) acked(base int64) int64 {
	if base <= 1 {
		return 0
	}
	if t.netasc {
		return t.marks[base%int64(len(t.marks))].out
	}
	return min((base-1)*int64(t.bs), t.size)
}

// aborted ends a transfer cancelled by Shutdown.
func (t *transfer) aborted(base int64) {
	t.res.Bytes = t.acked(base)
	t.fail(codeUndefined, "server shutting down", ErrServerClosed)
}
