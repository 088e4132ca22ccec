package tftpd

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// TestAckBurst: an ACK, its duplicate and an ERROR sent in one burst end
// the transfer with the client's error, without a retransmission.
func TestAckBurst(t *testing.T) {
	t.Parallel()
	h := newFakeHandler()
	h.files["f"] = genBytes(1500)
	// A second of timeout, so that DATA 1 is not retransmitted before the
	// test's ACK on a loaded machine; DATA 2 must not be resent at all.
	ts := startServer(t, Config{Timeout: time.Second, Retries: 3}, h)
	c := newRawClient(t, ts.addr)
	c.rrq("f", "octet")
	c.mustData(1)
	c.ack(1)
	c.ack(1)
	c.sendError(0, "cancelled")
	c.mustData(2)
	c.nothing(300 * time.Millisecond) // no retransmission of DATA 2
	r := ts.result(t)
	var remote *RemoteError
	if !errors.As(r.Err, &remote) || remote.Message != "cancelled" || r.Retransmits != 0 || r.Bytes != 512 {
		t.Fatalf("result %+v", r)
	}
}

// TestTimeoutFromLastWindow: the retransmission timeout runs from the
// last window sent, not from an earlier one: ACKs that each come within
// the timeout never cause a retransmission, however long the transfer as
// a whole takes, and a lost one causes exactly one, a full timeout after
// the block.
func TestTimeoutFromLastWindow(t *testing.T) {
	t.Parallel()
	h := newFakeHandler()
	data := genBytes(1800) // blocks 1..4
	h.files["f"] = data
	// Room for a loaded machine between the steps: at 1 s with ACKs half a
	// timeout apart, a CI run saw DATA 1 retransmitted before its ACK.
	const timeout = 3 * time.Second
	ts := startServer(t, Config{Timeout: timeout, Retries: 2}, h)
	c := newRawClient(t, ts.addr)
	c.rrq("f", "octet")
	c.mustData(1)
	// Each ACK comes a third of a timeout after its block, so a timeout
	// that ran from the first block would expire while DATA 3 is out.
	for block := uint16(1); block <= 2; block++ {
		time.Sleep(timeout / 3)
		c.ack(block)
		c.mustData(block + 1)
	}
	sent := time.Now()
	p := c.mustData(3) // the retransmission
	if d := time.Since(sent); d < timeout*9/10 {
		t.Fatalf("DATA 3 retransmitted after %v, timeout %v", d, timeout)
	}
	if len(p.data) != 512 {
		t.Fatalf("DATA 3 has %d bytes", len(p.data))
	}
	c.ack(3)
	c.mustData(4)
	c.ack(4)
	r := ts.result(t)
	if r.Err != nil || r.Retransmits != 1 || r.Bytes != int64(len(data)) {
		t.Fatalf("result %+v", r)
	}
}

// countingFile counts the ReadAt calls on a genFile.
type countingFile struct {
	genFile
	reads *atomic.Int64
}

func (f countingFile) ReadAt(p []byte, off int64) (int, error) {
	f.reads.Add(1)
	return f.genFile.ReadAt(p, off)
}

type countingHandler struct {
	size  int64
	reads atomic.Int64
}

func (h *countingHandler) OpenRead(context.Context, Request) (File, error) {
	return countingFile{genFile{h.size}, &h.reads}, nil
}

// TestReadaheadReadsInRuns: an octet transfer reads its file a run of
// blocks at a time, not once per block: 71 blocks of 1428 bytes in 4
// reads of 22 blocks (the old engine read 71 times).
func TestReadaheadReadsInRuns(t *testing.T) {
	t.Parallel()
	h := &countingHandler{size: 100_000}
	ts := startServer(t, Config{}, h)
	got, _, err := download(t, ts.addr.String(), "f", "octet", 1428, false)
	if err != nil || !bytes.Equal(got, genBytes(h.size)) {
		t.Fatalf("download: %d bytes, %v", len(got), err)
	}
	if r := ts.result(t); r.Err != nil {
		t.Fatalf("result %+v", r)
	}
	if n := h.reads.Load(); n != 4 {
		t.Errorf("%d reads for 71 blocks, want 4", n)
	}
}
