package appliance

import "testing"

func TestBurstDetector(t *testing.T) {
	const MiB = 1 << 20
	cases := []struct {
		name    string
		ticks   []uint64
		endedAt []int // ticks (0-based) at which a burst is reported over
	}{
		{"idle never trims", []uint64{0, 0, MiB / 2, 0, 0}, nil},
		{"steady moderate load never trims", []uint64{4 * MiB, 4 * MiB, 4 * MiB, 0, 0}, nil},
		{"burst then quiet trims once", []uint64{32 * MiB, 40 * MiB, 0, 0, 0, 0}, []int{3}},
		{"a busy tick restarts the wait", []uint64{32 * MiB, 0, 32 * MiB, 0, 0}, []int{4}},
		{"moderate load between keeps waiting", []uint64{32 * MiB, 0, 4 * MiB, 0, 0}, []int{4}},
		{"two bursts trim twice", []uint64{32 * MiB, 0, 0, 32 * MiB, 0, 0}, []int{2, 5}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newBurstDetector()
			var got []int
			for i, a := range c.ticks {
				if d.tick(a) {
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
