package inventory

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/dhcpd"
)

func TestAgeQueuePopsInOrder(t *testing.T) {
	var q ageQueue
	r := rand.New(rand.NewPCG(1, 2))
	var want []int64
	for i := range 500 {
		s := r.Int64N(100) // repeats included
		want = append(want, s)
		q.push(ageEntry{mac: MAC{0x02, 0, 0, 0, byte(i >> 8), byte(i)}, seen: s})
	}
	slices.Sort(want)
	for i, w := range want {
		if got := q.pop().seen; got != w {
			t.Fatalf("pop %d: seen %d, want %d", i, got, w)
		}
	}
	if len(q.entries) != 0 {
		t.Errorf("%d entries left", len(q.entries))
	}
}

func TestEvictionAllocatesNothing(t *testing.T) {
	inv := openTest(t, "", func(c *Config, o *Options) { c.MaxPhones = 100 })
	defer inv.Close()
	facts := make([]fact, 1000)
	for i := range facts {
		facts[i] = leaseFactOf(lease(time.Duration(i)*time.Second, testMAC(i), "", dhcpd.Offered, "", "ccp.avaya.com"))
	}
	i := 0
	learn := func() {
		inv.apply(context.Background(), facts[i%len(facts)])
		i++
	}
	for range 200 {
		learn()
	}
	// Every fact is a phone the full inventory does not hold: one is
	// evicted, its record reused.
	if allocs := testing.AllocsPerRun(200, learn); allocs > 0 {
		t.Errorf("learning a phone in a full inventory allocates %v times", allocs)
	}
}
