package inventory

import (
	"fmt"
	"strings"
	"testing"
)

// The cache answers what the parser answers, reads a User-Agent once while
// it stays recent, and never holds more than its two generations.
func TestAgentCacheReadsEachUserAgentOnce(t *testing.T) {
	var c agentCache
	uas := []string{j179UA, s96UA, "AVAYA/SIP12x0\x17/04.00.04.00", "curl/8.5.0", "FileTransport PolycomVVX-VVX_410-UA/5.9.0.9373"}
	for round := range 3 {
		for _, ua := range uas {
			got := c.parse(ua)
			if got.Agent != ParseUserAgent(ua) || got.ua != ua {
				t.Fatalf("parse(%q) = %+v, want %+v", ua, got, ParseUserAgent(ua))
			}
			if round == 0 && got.Firmware != "" && got.firmware == "" {
				t.Errorf("parse(%q): no canonical firmware", ua)
			}
		}
	}
	if c.misses != uint64(len(uas)) || c.hits != uint64(2*len(uas)) {
		t.Errorf("%d misses and %d hits, want %d and %d", c.misses, c.hits, len(uas), 2*len(uas))
	}
	if got := c.parse(""); got != (parsedAgent{}) || c.misses != uint64(len(uas)) {
		t.Errorf("an empty User-Agent: %+v, %d misses", got, c.misses)
	}

	// A fleet of J100 phones (a MAC in each User-Agent) larger than the
	// cache: bounded, and the latest phones are still remembered.
	for i := range 5 * agentGeneration {
		c.parse(fmt.Sprintf("Mozilla/4.0 (compatible; MSIE 6.0) AVAYA/J179-4.1.3.0.6 (MAC:c81fea%06x)", i))
	}
	if n := len(c.recent) + len(c.older); n > 2*agentGeneration {
		t.Errorf("the cache holds %d User-Agents, more than %d", n, 2*agentGeneration)
	}
	misses := c.misses
	c.parse(fmt.Sprintf("Mozilla/4.0 (compatible; MSIE 6.0) AVAYA/J179-4.1.3.0.6 (MAC:c81fea%06x)", 5*agentGeneration-1))
	if c.misses != misses {
		t.Error("the latest User-Agent was read again")
	}
	long := "AVAYA/J179-4.1.3.0.6 " + strings.Repeat("x", agentCacheMaxLen)
	c.parse(long)
	if _, ok := c.recent[long]; ok {
		t.Error("a User-Agent longer than agentCacheMaxLen was kept")
	}
}

// The queue wakes its consumer for the first fact of a batch and for a
// full one, not for each fact, and refuses facts past its limit.
func TestFactQueueWakesOncePerBatch(t *testing.T) {
	q := newFactQueue(batchFacts + 10)
	wakes := 0
	f := leaseFactOf(lease(0, "00:04:0d:00:00:01", "198.18.0.10", 1, "", ""))
	for i := range batchFacts + 20 {
		ok := q.push(&f)
		if want := i < batchFacts+10; ok != want {
			t.Fatalf("push %d: %v, want %v", i, ok, want)
		}
		select {
		case <-q.wake:
			wakes++
		default:
		}
	}
	if wakes != 2 {
		t.Errorf("%d wake-ups for %d facts, want 2 (the first, and the full batch)", wakes, batchFacts+10)
	}
	batch := q.take(nil)
	if len(batch) != batchFacts+10 || q.len() != 0 {
		t.Fatalf("took %d, %d left", len(batch), q.len())
	}
	q.push(&f)
	if got := q.take(batch); len(got) != 1 || cap(q.pending) != cap(batch) {
		t.Errorf("after giving the batch back: took %d; the spare has room for %d, want %d", len(got), cap(q.pending), cap(batch))
	}
}

// The room a backlog grew is not kept once its batch is folded in: the
// next batch starts small.
func TestFactQueueDropsABacklogsRoom(t *testing.T) {
	backlog := DefaultConfig().QueueFor(0)
	q := newFactQueue(backlog)
	f := leaseFactOf(lease(0, "00:04:0d:00:00:01", "198.18.0.10", 1, "", ""))
	for range backlog {
		if !q.push(&f) {
			t.Fatal("push refused below the limit")
		}
	}
	batch := q.take(nil)
	if len(batch) != backlog {
		t.Fatalf("took %d facts, want %d", len(batch), backlog)
	}
	q.push(&f)
	if got := q.take(batch); len(got) != 1 {
		t.Fatalf("took %d facts, want 1", len(got))
	}
	if c, most := cap(q.pending), 2*batchFacts; c > most {
		t.Errorf("the queue kept room for %d facts after a backlog of %d, want at most %d", c, backlog, most)
	}
}
