package appliance

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestProcsPolicy(t *testing.T) {
	p := defaultProcsPolicy(2)
	cases := []struct {
		name string
		cur  int
		load procsLoad
		want int
	}{
		{"light load on one P stays", 1, procsLoad{used: 0.3, idle: 1.5}, 1},
		{"one P filled with idle CPUs grows", 1, procsLoad{used: 0.9, idle: 1.0}, 2},
		{"one P filled beside a busy neighbour stays", 1, procsLoad{used: 1.0, idle: 0.1}, 1},
		{"never past the runtime's count", 2, procsLoad{used: 2.0, idle: 0.8}, 2},
		{"two Ps that one would hold shrink", 2, procsLoad{used: 0.7, idle: 1.2}, 1},
		{"two Ps a little over one stay", 2, procsLoad{used: 0.8, idle: 1.0}, 2},
		{"never below one", 1, procsLoad{idle: 2}, 1},
		{"one TFTP transfer changes nothing", 1, procsLoad{used: 0.5, idle: 0.4, tftp: 1}, 1},
		{"lock-step TFTP transfers get every P at once", 1, procsLoad{used: 0.5, idle: 0.4, tftp: 2}, 2},
		{"and keep them with little CPU used", 2, procsLoad{used: 0.3, idle: 1.5, tftp: 20}, 2},
	}
	for _, c := range cases {
		if got := p.next(c.cur, c.load); got != c.want {
			t.Errorf("%s: next(%d, %+v) = %d, want %d", c.name, c.cur, c.load, got, c.want)
		}
	}
	// The bands do not meet: a load that makes one P grow does not make
	// the two it grew to shrink back.
	if p.growFill <= p.shrinkFit {
		t.Errorf("growFill %.2f must lie above shrinkFit %.2f", p.growFill, p.shrinkFit)
	}
	four := defaultProcsPolicy(4)
	if got := four.next(3, procsLoad{used: 2.6, idle: 0.9}); got != 4 {
		t.Errorf("four CPUs: three filled Ps grow to %d, want 4", got)
	}
	if got := four.next(3, procsLoad{used: 1.4, idle: 1.5}); got != 2 {
		t.Errorf("four CPUs: three Ps with two's work shrink to %d, want 2", got)
	}
	if got := four.next(1, procsLoad{used: 0.2, idle: 3, tftp: 5}); got != 4 {
		t.Errorf("four CPUs: TFTP transfers get %d Ps, want 4", got)
	}
}

const procStat = `cpu  1000 0 500 8000 100 0 50 20 0 0
cpu0 600 0 300 3000 50 0 30 10 0 0
cpu1 300 0 150 4000 40 0 15 5 0 0
cpu2 100 0 50 1000 10 0 5 5 0 0
intr 123 4 5
ctxt 999
`

func TestReadCPUStat(t *testing.T) {
	var set unix.CPUSet
	set.Set(0)
	set.Set(1)
	idle, all, cpus, err := readCPUStat(strings.NewReader(procStat), &set)
	if err != nil {
		t.Fatal(err)
	}
	// cpu0 and cpu1 only; the "cpu" total and cpu2 are not counted.
	if wantIdle, wantAll := uint64(3000+50+4000+40), uint64(3990+4510); idle != wantIdle || all != wantAll || cpus != 2 {
		t.Errorf("idle %d all %d cpus %d, want %d %d 2", idle, all, cpus, wantIdle, wantAll)
	}
	var none unix.CPUSet
	none.Set(7)
	if _, _, _, err := readCPUStat(strings.NewReader(procStat), &none); err == nil {
		t.Error("a CPU set /proc/stat does not list: no error")
	}
	if _, _, _, err := readCPUStat(strings.NewReader("cpu0 1 2 3 x 5 6\n"), &set); err == nil || !strings.Contains(err.Error(), "cpu0") {
		t.Errorf("a malformed line: error %v, want one naming cpu0", err)
	}
}

func TestCPUSampleSub(t *testing.T) {
	t0 := time.Unix(1000, 0)
	a := cpuSample{at: t0, process: time.Second, idle: 100, all: 400, cpus: 2}
	b := cpuSample{at: t0.Add(2 * time.Second), process: 2500 * time.Millisecond, idle: 250, all: 800, cpus: 2}
	used, idle := b.sub(a)
	if used != 0.75 || idle != 0.75 {
		t.Errorf("used %.2f idle %.2f CPUs, want 0.75 and 0.75", used, idle)
	}
}

// TestProcsSizer drives the sizer with made-up samples, one per tick,
// and checks the counts it sets.
func TestProcsSizer(t *testing.T) {
	second := func(i int, process time.Duration, idleTicks uint64) cpuSample {
		return cpuSample{at: time.Unix(int64(i), 0), process: process, idle: idleTicks, all: uint64(i) * 200, cpus: 2}
	}
	samples := []cpuSample{
		second(0, 0, 0),
		second(1, 300*time.Millisecond, 150),  // light: 0.3 CPU used, 1.5 idle → 1
		second(2, 1300*time.Millisecond, 200), // one P filled, 1 idle → 2
		second(3, 2800*time.Millisecond, 210), // storm on two Ps → 2
		second(4, 3400*time.Millisecond, 340), // 0.6 used → 1
		second(5, 4400*time.Millisecond, 350), // one P filled beside a busy neighbour (0.1 idle) → 1
		second(6, 4700*time.Millisecond, 500), // light, but TFTP transfers run → 2
	}
	tftp := []int{0, 0, 0, 0, 0, 0, 3} // at each sample
	var set []int
	next := 0
	ticks := make(chan time.Time)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	sizer := procsSizer{
		policy: defaultProcsPolicy(2),
		sample: func() (cpuSample, error) {
			if next == len(samples) {
				return cpuSample{}, errors.New("no more samples")
			}
			next++
			return samples[next-1], nil
		},
		tftp: func() int { return tftp[next-1] },
		set:  func(n int) { set = append(set, n) },
		log:  slog.New(slog.DiscardHandler),
	}
	go func() { sizer.run(ctx, ticks); close(done) }()
	for range len(samples) - 1 {
		ticks <- time.Time{}
	}
	// The next tick finds no sample: the runtime gets its count back.
	ticks <- time.Time{}
	cancel()
	<-done
	if want := []int{1, 2, 1, 2, 2}; !slices.Equal(set, want) {
		t.Errorf("counts set %v, want %v", set, want)
	}
}
