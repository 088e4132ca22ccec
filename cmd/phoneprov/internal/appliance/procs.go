package appliance

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// procsPolicy sizes the Go scheduler: how many Ps (threads running Go
// code at once) the runtime gets for the next window, from what the
// process and the CPUs it may run on did in the last one.
//
// One P while one is enough. With two on a two-CPU box that also runs
// something else, the runtime keeps waking a second thread for work one
// could have done, and it runs on the other program's CPU: in
// phonebench's rig (wrk beside phoneprov, HTTPS 10 MiB over 128
// connections) wrk spent 5-7 % of its time waiting on the run queue
// against two Ps, none against one or against nginx, while a CPU stood
// 14-19 % idle. A P is added while the process fills the ones it has and
// the CPUs have room for more, so a boot storm gets every CPU within a
// window; one is taken away when one fewer would hold the work with room
// to spare. The bands do not meet, so the count does not swing.
//
// TFTP is the exception: a transfer sends its next block only when the
// last one is acknowledged, so while two or more run each waits for a
// processor at every block, and they get every P whatever the CPU use.
// With one P, 20 atftp clients fetched 0.86× what tftpd-hpa served while
// phoneprov used half a CPU; with two, 1.11×.
//
// A busy DHCP server is not an exception, though it was tried as one.
// With one P, the thread in the lease journal's fdatasync holds the P
// until the runtime's monitor takes it back (it sleeps up to 10 ms), and
// replies then leave in bursts: every P while DHCP packets arrived at
// 1,000 a second cut the gaps of over 4 ms without a reply from 117 to 31
// in back-to-back 8 s captures at 8,000 DORA/s. But in 45 alternating
// fixed-rate dhcpbench trial pairs (7,000 and 8,000/s) it lost fewer
// exchanges in only 25, for about a third more CPU in every one.
//
// The count never exceeds the runtime's own at start, which follows the
// CPUs the process may use and a cgroup CPU limit; once set, the runtime
// no longer updates it by itself.
type procsPolicy struct {
	limit     int     // the runtime's own count at start
	growFill  float64 // add a P when the process used this share of its Ps or more…
	growIdle  float64 // … and the CPUs it may run on had this many CPUs idle or more
	shrinkFit float64 // drop a P when the work would fill one fewer to this share or less
	lockstep  int     // running TFTP transfers from which every P is given
}

// defaultProcsPolicy is the policy for a process the runtime gave limit Ps.
func defaultProcsPolicy(limit int) procsPolicy {
	return procsPolicy{limit: limit, growFill: 0.85, growIdle: 0.5, shrinkFit: 0.75, lockstep: 2}
}

// procsLoad is what one window saw: the CPUs the process used, the CPUs
// that stood idle, and the TFTP transfers running at its end.
type procsLoad struct {
	used, idle float64
	tftp       int
}

// next returns the Ps for the window after one with cur Ps and load l.
func (p procsPolicy) next(cur int, l procsLoad) int {
	switch {
	case l.tftp >= p.lockstep:
		return p.limit
	case cur < p.limit && l.used >= p.growFill*float64(cur) && l.idle >= p.growIdle:
		return cur + 1
	case cur > 1 && l.used <= p.shrinkFit*float64(cur-1):
		return cur - 1
	}
	return cur
}

// cpuSample is one reading of the process's CPU time and of the CPU time
// of the CPUs it may run on.
type cpuSample struct {
	at        time.Time
	process   time.Duration
	idle, all uint64 // those CPUs' ticks in /proc/stat: idle (with iowait), and all
	cpus      int    // how many CPUs that is
}

// sub returns the CPUs the process used, and the CPUs that stood idle,
// between an earlier sample and s.
func (s cpuSample) sub(earlier cpuSample) (used, idle float64) {
	if wall := s.at.Sub(earlier.at).Seconds(); wall > 0 {
		used = (s.process - earlier.process).Seconds() / wall
	}
	if all := s.all - earlier.all; all > 0 {
		idle = float64(s.idle-earlier.idle) / float64(all) * float64(s.cpus)
	}
	return used, idle
}

// readCPUStat sums, from /proc/stat's per-CPU lines, the idle and iowait
// ticks and all ticks of the CPUs in set.
func readCPUStat(r io.Reader, set *unix.CPUSet) (idle, all uint64, cpus int, err error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || !strings.HasPrefix(fields[0], "cpu") || fields[0] == "cpu" {
			continue
		}
		n, err := strconv.Atoi(fields[0][3:])
		if err != nil || !set.IsSet(n) {
			continue
		}
		for i, f := range fields[1:] {
			v, err := strconv.ParseUint(f, 10, 64)
			if err != nil {
				return 0, 0, 0, fmt.Errorf("/proc/stat: %s: %w", fields[0], err)
			}
			all += v
			if i == 3 || i == 4 { // idle, iowait
				idle += v
			}
		}
		cpus++
	}
	if err := sc.Err(); err != nil {
		return 0, 0, 0, fmt.Errorf("/proc/stat: %w", err)
	}
	if cpus == 0 {
		return 0, 0, 0, fmt.Errorf("/proc/stat: none of the process's %d CPUs listed", set.Count())
	}
	return idle, all, cpus, nil
}

// sampleCPU reads the process's CPU time and /proc/stat.
func sampleCPU() (cpuSample, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return cpuSample{}, fmt.Errorf("the process's CPUs: %w", err)
	}
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return cpuSample{}, fmt.Errorf("the process's CPU time: %w", err)
	}
	s := cpuSample{at: time.Now(), process: time.Duration(ru.Utime.Nano() + ru.Stime.Nano())}
	f, err := os.Open("/proc/stat")
	if err != nil {
		return cpuSample{}, err
	}
	defer f.Close()
	s.idle, s.all, s.cpus, err = readCPUStat(f, &set)
	return s, err
}

// procsSizer applies a procsPolicy every tick.
type procsSizer struct {
	policy procsPolicy
	sample func() (cpuSample, error)
	tftp   func() int // running TFTP transfers
	set    func(int)  // runtime.GOMAXPROCS in the appliance
	log    *slog.Logger
}

// run sizes the Ps at every tick until ctx ends. The count starts at the
// policy's limit, so that a storm met at start-up gets every CPU at once.
// If the CPU times cannot be read, it logs why and leaves the runtime its
// own count.
func (s procsSizer) run(ctx context.Context, ticks <-chan time.Time) {
	cur := s.policy.limit
	last, err := s.sample()
	for err == nil {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
		}
		var now cpuSample
		if now, err = s.sample(); err != nil {
			break
		}
		var l procsLoad
		l.used, l.idle = now.sub(last)
		l.tftp = s.tftp()
		if n := s.policy.next(cur, l); n != cur {
			s.set(n)
			s.log.Debug("processor count changed", "from", cur, "to", n, "used_cpus", l.used, "idle_cpus", l.idle, "tftp_transfers", l.tftp)
			cur = n
		}
		last = now
	}
	s.set(s.policy.limit)
	s.log.Warn("cannot read the CPU times; the Go runtime keeps its own processor count", "err", err)
	<-ctx.Done()
}

// procsWindow is how often the Ps are sized.
const procsWindow = 500 * time.Millisecond

// sizeProcs sizes the runtime's Ps to the load (procsPolicy) until ctx
// ends, unless GOMAXPROCS in the environment fixes the count or the
// runtime has one CPU to give. tftp tells the running TFTP transfers.
func sizeProcs(ctx context.Context, tftp func() int, log *slog.Logger) {
	limit := runtime.GOMAXPROCS(0)
	if os.Getenv("GOMAXPROCS") != "" || limit < 2 {
		<-ctx.Done()
		return
	}
	t := time.NewTicker(procsWindow)
	defer t.Stop()
	sizer := procsSizer{policy: defaultProcsPolicy(limit), sample: sampleCPU, tftp: tftp, set: func(n int) { runtime.GOMAXPROCS(n) }, log: log}
	sizer.run(ctx, t.C)
}
