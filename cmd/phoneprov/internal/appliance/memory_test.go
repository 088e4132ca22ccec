package appliance

import "testing"

func TestBurstDetector(t *testing.T) {
	const MiB = 1 << 20
	cases := []struct {
		name    string
		ticks   []uint64
		endedAt []int    // ticks (0-based) at which a burst is reported over
		reclaim []uint64 // the heap's reclaimable bytes at each tick; none: 0
	}{
		{"idle never trims", []uint64{0, 0, MiB / 2, 0, 0}, nil, nil},
		{"steady moderate load never trims", []uint64{4 * MiB, 4 * MiB, 4 * MiB, 0, 0}, nil, nil},
		{"burst then quiet trims once", []uint64{32 * MiB, 40 * MiB, 0, 0, 0, 0}, []int{3}, nil},
		{"a busy tick restarts the wait", []uint64{32 * MiB, 0, 32 * MiB, 0, 0}, []int{4}, nil},
		{"moderate load between keeps waiting", []uint64{32 * MiB, 0, 4 * MiB, 0, 0}, []int{4}, nil},
		{"two bursts trim twice", []uint64{32 * MiB, 0, 0, 32 * MiB, 0, 0}, []int{2, 5}, nil},
		// A lease-table fill at a few hundred DHCP exchanges a second
		// leaves free pages and garbage without ever counting as a burst.
		{"moderate load leaving reclaimable memory trims once quiet", []uint64{4 * MiB, 4 * MiB, 4 * MiB, 0, 0, 0, 0},
			[]int{4}, []uint64{20 * MiB, 20 * MiB, 20 * MiB, 20 * MiB, 20 * MiB, 0, 0}},
		{"little reclaimable memory after moderate load is kept", []uint64{4 * MiB, 4 * MiB, 0, 0, 0},
			nil, []uint64{8 * MiB, 8 * MiB, 8 * MiB, 8 * MiB, 8 * MiB}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newBurstDetector()
			var got []int
			for i, a := range c.ticks {
				var free uint64
				if c.reclaim != nil {
					free = c.reclaim[i]
				}
				if d.tick(a, free) {
					got = append(got, i)
				}
			}
			if len(got) != len(c.endedAt) {
				t.Fatalf("bursts ended at ticks %v, want %v", got, c.endedAt)
			}
			for i := range got {
				if got[i] != c.endedAt[i] {
					t.Fatalf("bursts ended at ticks %v, want %v", got, c.endedAt)
				}
			}
		})
	}
}
