package main

import (
	"testing"
	"time"
)

func TestRetryDelayFollowsRFC2131(t *testing.T) {
	// 4 s, doubled up to 64 s, each ±1 s.
	for n, want := range map[int]time.Duration{1: 4 * time.Second, 2: 8 * time.Second, 3: 16 * time.Second, 5: 64 * time.Second, 9: 64 * time.Second} {
		if got := retryDelay(n, 0); got != want {
			t.Errorf("retransmission %d: %s, want %s", n, got, want)
		}
	}
	if lo, hi := retryDelay(1, -1), retryDelay(1, 0.999); lo != 3*time.Second || hi <= 4*time.Second || hi >= 5*time.Second {
		t.Errorf("jitter: %s..%s, want 3 s..5 s", lo, hi)
	}
}

func TestRebootLost(t *testing.T) {
	for _, c := range []struct {
		r    rebootResult
		want int
	}{
		{rebootResult{Bound: 30000, Stored: 30000}, 0},
		{rebootResult{Bound: 30000, Stored: 29990}, 10},
		{rebootResult{Bound: 100, Stored: 150}, 0}, // the probe's lease and others count too
		{rebootResult{Bound: 100, Stored: -1}, -1},
	} {
		if got := c.r.lost(); got != c.want {
			t.Errorf("%+v: lost %d, want %d", c.r, got, c.want)
		}
	}
}

func TestRebootMACsAreDistinct(t *testing.T) {
	seen := map[string]bool{}
	for i := range 65536 {
		m := rebootMAC(i).String()
		if seen[m] {
			t.Fatalf("client %d reuses %s", i, m)
		}
		seen[m] = true
	}
}
