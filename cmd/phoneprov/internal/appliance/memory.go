package appliance

import (
	"context"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// defaultMemoryLimit bounds the memory of the Go runtime (heap, stacks,
// its own books) on a small box: the garbage collector works harder as
// the heap nears it. It is a ceiling for bursts, not the working size:
// between bursts trimAfterBursts hands the memory a burst used back to the
// system. The process's resident size is this plus the program's own
// pages (about 15 MiB of the binary resident), so 80 MiB keeps a box under
// 100 MiB through a boot storm; at 96 MiB a 10,000-phone storm held
// 110 MiB resident with 44 MiB of it live. GOMEMLIMIT in the environment
// (the systemd unit, say) overrides it.
const defaultMemoryLimit = 80 << 20

func setMemoryLimit(log *slog.Logger) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(defaultMemoryLimit)
	log.Debug("soft memory limit set", "bytes", defaultMemoryLimit)
}

// burstDetector tells, from the bytes allocated each second, when a burst
// of work (a boot storm: thousands of DHCP exchanges and downloads) has
// ended. The heap grows during a burst and the runtime keeps the pages;
// returning them when the burst is over keeps the box's resident size at
// what it holds (leases, phones, caches) rather than at what the storm
// needed.
//
// Load too moderate to count as a burst (DHCP at a few hundred exchanges
// a second filling the lease table) also leaves memory behind: free pages
// and the garbage since the last collection, which a quiet heap may not
// collect for minutes. Once minFree bytes of it are waiting, quiet ticks
// end the load as they end a burst.
type burstDetector struct {
	busyRate  uint64 // bytes allocated per tick that count as busy
	quietRate uint64 // … and as quiet
	quietFor  int    // quiet ticks in a row that end a burst
	minFree   uint64 // reclaimable heap bytes worth handing back after any load

	busy  bool // a burst has been seen and not yet ended
	quiet int  // quiet ticks in a row so far
}

func newBurstDetector() *burstDetector {
	return &burstDetector{busyRate: 16 << 20, quietRate: 1 << 20, quietFor: 2, minFree: 16 << 20}
}

// tick takes the bytes allocated since the last tick and the heap's
// reclaimable bytes now (free pages and garbage since the last
// collection), and reports whether a burst has just ended.
func (d *burstDetector) tick(allocated, reclaimable uint64) bool {
	switch {
	case allocated >= d.busyRate:
		d.busy, d.quiet = true, 0
	case allocated < d.quietRate && (d.busy || reclaimable >= d.minFree):
		d.quiet++
		if d.quiet >= d.quietFor {
			d.busy, d.quiet = false, 0
			return true
		}
	default:
		d.quiet = 0
	}
	return false
}

// trimAfterBursts returns the heap's free memory to the system once after
// each burst of allocation (see burstDetector), until ctx ends.
func trimAfterBursts(ctx context.Context, log *slog.Logger) {
	samples := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/memory/classes/heap/free:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}
	read := func() (allocs, reclaimable uint64) {
		metrics.Read(samples)
		var v [4]uint64
		for i, s := range samples {
			if s.Value.Kind() == metrics.KindUint64 {
				v[i] = s.Value.Uint64()
			}
		}
		return v[0], v[1] + v[2] - min(v[2], v[3])
	}
	d := newBurstDetector()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last, _ := read()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now, free := read()
		if d.tick(now-last, free) {
			start := time.Now()
			debug.FreeOSMemory()
			log.Debug("burst over; free memory returned to the system", "took", time.Since(start))
		}
		last = now
	}
}
