package appliance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"
)

// residentBudget is the resident size (RSS) the appliance keeps under on a
// small box, bursts (a boot storm of 10,000 phones) included. Between
// bursts trimAfterBursts hands the memory a burst used back to the system.
const residentBudget = 96 << 20

// The Go runtime's soft limit counts only the memory the runtime maps
// (heap, goroutine stacks, its own metadata), not the program's code and
// read-only data mapped from its file, which are resident too: about 15
// MiB on amd64 once serving, and a busy run touches more of them (a storm
// reached 17 MiB). The limit is the budget less those pages and room for
// them to grow until the next reading (see memoryLimiter);
// programPagesUnknown stands in where /proc cannot tell.
const (
	programPagesGrowth  = 2 << 20
	programPagesUnknown = 16 << 20
	// minMemoryLimit keeps an odd reading from starving the heap.
	minMemoryLimit = 48 << 20
)

// memoryLimit is the soft limit that keeps the process under budget
// when fileResident bytes of the program's own pages are resident.
func memoryLimit(budget, fileResident int64) int64 {
	return max(budget-fileResident-programPagesGrowth, minMemoryLimit)
}

// fileResident reads the resident file-backed pages (RssFile) from a
// /proc/PID/status text.
func fileResident(status string) (int64, error) {
	for line := range strings.Lines(status) {
		rest, ok := strings.CutPrefix(line, "RssFile:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("RssFile %q: %w", strings.TrimSpace(rest), err)
		}
		return kb << 10, nil
	}
	return 0, errors.New("no RssFile line")
}

// memoryLimiter keeps the soft limit at residentBudget less the program
// pages resident now, which grow as more of the program runs.
type memoryLimiter struct {
	log   *slog.Logger
	limit int64 // as last set; 0 before
}

// update sets the limit from the program pages resident now, when it
// moved by a MiB or more. It does nothing when GOMEMLIMIT in the
// environment (the systemd unit, say) sets the limit.
func (m *memoryLimiter) update() {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	pages := int64(programPagesUnknown)
	status, err := os.ReadFile("/proc/self/status")
	if err == nil {
		pages, err = fileResident(string(status))
	}
	if err != nil {
		pages = programPagesUnknown
	}
	limit := memoryLimit(residentBudget, pages)
	if d := limit - m.limit; d > -1<<20 && d < 1<<20 {
		return
	}
	debug.SetMemoryLimit(limit)
	m.limit = limit
	m.log.Debug("soft memory limit set", "bytes", limit, "resident_budget", residentBudget, "program_pages", pages, "read_err", err)
}

// burstDetector tells, from the bytes allocated each second, when a burst
// of work (a boot storm: thousands of DHCP exchanges and downloads) has
// ended. The heap grows during a burst and the runtime keeps the pages;
// returning them when the burst is over keeps the box's resident size at
// what it holds (leases, phones, caches) rather than at what the storm
// needed.
//
// Load too moderate to count as a burst (DHCP at a few hundred exchanges
// a second filling the lease table) also leaves free pages behind: once
// the heap keeps minFree bytes free, quiet ticks end it as they end a
// burst.
type burstDetector struct {
	busyRate  uint64 // bytes allocated per tick that count as busy
	quietRate uint64 // … and as quiet
	quietFor  int    // quiet ticks in a row that end a burst
	minFree   uint64 // free heap bytes worth handing back after any load

	busy  bool // a burst has been seen and not yet ended
	quiet int  // quiet ticks in a row so far
}

func newBurstDetector() *burstDetector {
	return &burstDetector{busyRate: 16 << 20, quietRate: 1 << 20, quietFor: 2, minFree: 16 << 20}
}

// tick takes the bytes allocated since the last tick and the heap's free
// bytes now, and reports whether a burst has just ended.
func (d *burstDetector) tick(allocated, free uint64) bool {
	switch {
	case allocated >= d.busyRate:
		d.busy, d.quiet = true, 0
	case allocated < d.quietRate && (d.busy || free >= d.minFree):
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
// each burst of allocation (see burstDetector), and keeps the soft limit up to date (see
// memoryLimiter), until ctx ends.
func trimAfterBursts(ctx context.Context, log *slog.Logger) {
	samples := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/memory/classes/heap/free:bytes"}}
	read := func() (allocs, free uint64) {
		metrics.Read(samples)
		v := [2]uint64{}
		for i, s := range samples {
			if s.Value.Kind() == metrics.KindUint64 {
				v[i] = s.Value.Uint64()
			}
		}
		return v[0], v[1]
	}
	d := newBurstDetector()
	lim := &memoryLimiter{log: log}
	lim.update()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last, _ := read()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		lim.update()
		now, free := read()
		if d.tick(now-last, free) {
			start := time.Now()
			debug.FreeOSMemory()
			log.Debug("burst over; free memory returned to the system", "took", time.Since(start))
		}
		last = now
	}
}
