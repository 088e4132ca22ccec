package tftpd

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// arrivals receives n copies of DATA block and returns the time between
// consecutive ones, starting from since.
func arrivals(c *rawClient, block uint16, n int, since time.Time) []time.Duration {
	c.t.Helper()
	gaps := make([]time.Duration, 0, n)
	last := since
	for range n {
		c.mustData(block)
		now := time.Now()
		gaps = append(gaps, now.Sub(last))
		last = now
	}
	return gaps
}

// TestBackoff: a packet the client does not acknowledge is resent after
// the timeout, then after twice, four times... that, and the transfer is
// given up one more doubled wait after the last retransmission.
func TestBackoff(t *testing.T) {
	t.Parallel()
	h := newFakeHandler()
	h.files["f"] = genBytes(700)
	const timeout = 100 * time.Millisecond
	ts := startServer(t, Config{Timeout: timeout, Retries: 3}, h)
	c := newRawClient(t, ts.addr)
	c.rrq("f", "octet")
	// The base is taken before DATA 1 is read: a reader descheduled
	// between the read and time.Now() (a loaded CI machine) would make the
	// first gap look shorter than the server waited.
	base := time.Now()
	c.mustData(1)
	gaps := arrivals(c, 1, 3, base)
	// Each retransmission must come no sooner than the doubled waits
	// before it add up to, counted from before the first send: a reader's
	// delays only make the measure longer, never shorter.
	var since, want time.Duration
	for i, g := range gaps {
		since += g
		want += timeout << i
		if since < want*9/10 {
			t.Fatalf("retransmission %d came %v after the first send, want at least %v (gaps %v)", i+1, since, want, gaps)
		}
	}
	c.nothing(timeout * 8 * 8 / 10) // the fourth wait, 800 ms, runs out
	r := ts.result(t)
	if !r.TimedOut || !errors.Is(r.Err, ErrTimeout) || r.Retransmits != 3 || !strings.Contains(r.Err.Error(), "over 1.5s") {
		t.Fatalf("result %+v", r)
	}
}

// TestDuplicateAckEndsBackoff: deep in the backoff, a client that
// acknowledges the previous block again (it lost the next one) gets it
// one timeout later, not after the rest of the doubled wait, and still
// not at once on the duplicate ACK.
func TestDuplicateAckEndsBackoff(t *testing.T) {
	t.Parallel()
	h := newFakeHandler()
	data := genBytes(700) // blocks 1 and 2
	h.files["f"] = data
	const timeout = 100 * time.Millisecond
	ts := startServer(t, Config{Timeout: timeout, Retries: 5}, h)
	c := newRawClient(t, ts.addr)
	c.rrq("f", "octet")
	c.mustData(1)
	c.ack(1)
	base := time.Now()
	c.mustData(2)
	arrivals(c, 2, 3, base) // resent after 100, 200 and 400 ms: the next wait is 800 ms
	c.nothing(50 * time.Millisecond)
	reAck := time.Now()
	c.ack(1)
	c.mustData(2)
	if d := time.Since(reAck); d < timeout*9/10 || d > 400*time.Millisecond {
		t.Fatalf("DATA 2 came %v after the duplicate ACK, want about the %v timeout (the backoff had 750 ms left)", d, timeout)
	}
	c.ack(2)
	if r := ts.result(t); r.Err != nil || r.Retransmits != 4 || r.Bytes != int64(len(data)) {
		t.Fatalf("result %+v", r)
	}
}

// TestTimeoutOptionFirstWait: the client's timeout option (RFC 2349) is
// the first retransmission interval, in place of Config.Timeout, and the
// backoff doubles it.
func TestTimeoutOptionFirstWait(t *testing.T) {
	t.Parallel()
	h := newFakeHandler()
	h.files["f"] = genBytes(700)
	ts := startServer(t, Config{Timeout: 20 * time.Second, Retries: 2}, h)
	c := newRawClient(t, ts.addr)
	c.rrq("f", "octet", "timeout", "1")
	if o := c.mustOACK(); o["timeout"] != "1" {
		t.Fatalf("OACK %v", o)
	}
	c.ack(0)
	c.mustData(1)
	gaps := arrivals(c, 1, 1, time.Now()) // within mustData's 5 s: not the 20 s of Config
	if gaps[0] < 900*time.Millisecond {
		t.Fatalf("DATA 1 resent after %v, want the client's 1 s", gaps[0])
	}
	// The second retransmission, 2 s after the first. Its arrival time
	// is checked, not a read deadline: on a loaded machine the test may
	// read it late, which is no fault of the server's.
	start := time.Now()
	c.mustData(1)
	if d := time.Since(start); d < 1800*time.Millisecond {
		t.Fatalf("DATA 1 resent %v after the first retransmission; the second wait is 2 s", d)
	}
	c.ack(1)
	c.mustData(2)
	c.ack(2)
	if r := ts.result(t); r.Err != nil || r.Retransmits != 2 {
		t.Fatalf("result %+v", r)
	}
}

// TestOACKWaitsForClient: without the timeout option, a lost ACK 0 is
// left to the client to resend (clients wait 5 s, so twice in 11 s) before
// the OACK is repeated, because a second OACK makes atftp abort. When it
// is repeated anyway, the ACK 0 for each copy starts the data exactly
// once.
func TestOACKWaitsForClient(t *testing.T) {
	t.Parallel()
	h := newFakeHandler()
	data := genBytes(2000)
	h.files["f"] = data
	ts := startServer(t, Config{}, h) // Timeout 1 s
	c := newRawClient(t, ts.addr)
	c.rrq("f", "octet", "blksize", "1024")
	c.mustOACK()
	start := time.Now()
	c.nothing(9500 * time.Millisecond) // our ACK 0 is "lost"; no OACK yet
	c.mustOACK()
	if d := time.Since(start); d < 10500*time.Millisecond { // oackWait is 11 s
		t.Fatalf("OACK repeated after %v", d)
	}
	c.ack(0) // for the first OACK, late
	c.ack(0) // for the second
	c.mustData(1)
	c.nothing(300 * time.Millisecond) // no DATA 1 for the duplicate ACK 0
	c.ack(1)
	c.mustData(2)
	c.ack(2)
	r := ts.result(t)
	if r.Err != nil || r.Retransmits != 1 || r.Bytes != int64(len(data)) {
		t.Fatalf("result %+v", r)
	}
}

// TestDuplicateAcksInWindow: repeated and old ACKs never make the server
// send anything (no Sorcerer's Apprentice), with windows too.
func TestDuplicateAcksInWindow(t *testing.T) {
	t.Parallel()
	h := newFakeHandler()
	data := genBytes(512*8 + 10) // blocks 1..9
	h.files["f"] = data
	ts := startServer(t, Config{Timeout: 2 * time.Second}, h)
	c := newRawClient(t, ts.addr)
	c.rrq("f", "octet", "windowsize", "4")
	c.mustOACK()
	c.ack(0)
	for b := uint16(1); b <= 4; b++ {
		c.mustData(b)
	}
	c.ack(4)
	c.ack(4)
	c.ack(4)
	c.ack(0)
	for b := uint16(5); b <= 8; b++ {
		c.mustData(b)
	}
	c.ack(3)
	c.ack(4)
	c.nothing(300 * time.Millisecond)
	c.ack(8)
	c.mustData(9)
	c.ack(9)
	c.ack(9)
	r := ts.result(t)
	if r.Err != nil || r.Retransmits != 0 || r.Bytes != int64(len(data)) {
		t.Fatalf("result %+v", r)
	}
	c.nothing(100 * time.Millisecond)
}

// TestRetransmittedRRQRepeatsOACK: a client that did not get the OACK
// resends its RRQ from the same port; it gets the OACK again at once, from
// the transfer's port, and no second transfer starts. Once ACK 0 came, a
// late RRQ copy gets nothing.
func TestRetransmittedRRQRepeatsOACK(t *testing.T) {
	t.Parallel()
	h := newFakeHandler()
	data := genBytes(1500)
	h.files["f"] = data
	ts := startServer(t, Config{Timeout: 5 * time.Second}, h)
	c := newRawClient(t, ts.addr)
	c.rrq("f", "octet", "blksize", "1024")
	c.mustOACK()
	tid := c.tid
	c.rrq("f", "octet", "blksize", "1024") // as if the OACK was lost
	p, ok := c.recv(time.Second)           // well before the 11 s OACK timer
	if !ok || p.op != opOACK || p.from != tid {
		t.Fatalf("after a repeated RRQ: %v, %v; want the OACK from %v", p, ok, tid)
	}
	if ts.Active() != 1 {
		t.Fatalf("Active %d", ts.Active())
	}
	c.ack(0)
	c.mustData(1)
	c.rrq("f", "octet", "blksize", "1024")
	c.nothing(300 * time.Millisecond)
	c.ack(1)
	c.mustData(2)
	c.ack(2)
	r := ts.result(t)
	if r.Err != nil || r.Retransmits != 1 || r.Bytes != int64(len(data)) {
		t.Fatalf("result %+v", r)
	}
	ts.noResult(t, 50*time.Millisecond)
}
