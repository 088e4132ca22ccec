package main

import (
	"strings"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
)

// fakeRun makes a serverRun whose best trial is at rate, with the given CPU
// and memory.
func fakeRun(name string, round, rate int, cpu time.Duration, hwm, held int64, leases int, durable bool) serverRun {
	t := trialResult{Rate: rate, Pass: true, CPU: cpu, Mem: benchkit.Memory{RSS: hwm, HWM: hwm},
		Perf: perfResult{DO: exchangeStats{Sent: rate * 10}, RA: exchangeStats{Received: rate * 10}}}
	d := durability{Acks: 5}
	if durable {
		d.AcksAfterSync = 5
	}
	return serverRun{
		Name: name, Round: round,
		Search:     searchOutcome{Best: rate, Ceiling: rate * 2},
		Trials:     []trialResult{{Rate: rate * 2, Mem: benchkit.Memory{HWM: hwm + 1}}, t},
		Hold:       holdResult{Target: 50000, Leases: leases, Settled: benchkit.Memory{RSS: held}, Busy: benchkit.Memory{RSS: held, HWM: held}},
		Durability: d, TraceFile: name + ".txt",
	}
}

func TestSummarizePicksTheMedianRound(t *testing.T) {
	runs := []serverRun{
		fakeRun("phoneprov", 0, 4000, time.Second, 40<<20, 50<<20, 50000, true),
		fakeRun("kea", 0, 7000, time.Second, 30<<20, 30<<20, 50000, false),
		fakeRun("phoneprov", 1, 6000, time.Second, 90<<20, 50<<20, 50000, true),
		fakeRun("phoneprov", 2, 5000, 2*time.Second, 45<<20, 55<<20, 50000, true),
	}
	s, ok := summarize(runs, "phoneprov")
	if !ok {
		t.Fatal("no summary")
	}
	if s.Rate() != 5000 || s.Pick.Round != 2 || !s.HasBest || s.Best.CPU != 2*time.Second {
		t.Errorf("picked round %d at %d/s, best %+v", s.Pick.Round, s.Rate(), s.Best)
	}
	if len(s.Rates) != 3 || s.Rates[0] != 4000 || s.Rates[2] != 5000 {
		t.Errorf("rates %v", s.Rates)
	}
	if s.PeakHWM != 90<<20+1 {
		t.Errorf("peak %d", s.PeakHWM)
	}
	if _, ok := summarize(runs, "dnsmasq"); ok {
		t.Error("a summary for a server that did not run")
	}
}

func TestCompareAndTargets(t *testing.T) {
	o := options{HoldLeases: 50000, Strace: "/usr/bin/strace", Settle: 5 * time.Second}
	p, _ := summarize([]serverRun{fakeRun("phoneprov", 0, 8000, time.Second, 40<<20, 50<<20, 50000, true)}, "phoneprov")
	k, _ := summarize([]serverRun{fakeRun("kea", 0, 4000, time.Second, 30<<20, 25<<20, 50000, false)}, "kea")
	d, _ := summarize([]serverRun{fakeRun("dnsmasq", 0, 100, time.Second, 5<<20, 5<<20, 7000, true)}, "dnsmasq")
	km, _ := summarize([]serverRun{fakeRun("kea-mt", 0, 16000, 4*time.Second, 60<<20, 25<<20, 50000, false)}, "kea-mt")
	p.Pick.Reboot.AllBound, k.Pick.Reboot.AllBound = 10*time.Second, 70*time.Second
	cmp := compare(p, k, km, d)
	// Rate 8000/4000, 8000/16000 and 8000/100; CPU per DORA: Kea 25 µs,
	// kea-mt 25 µs, dnsmasq 1 ms, phoneprov 12.5 µs; held 25/50 MiB,
	// dnsmasq held too few leases to compare; peaks 30/50, 60/50 and 5/50
	// MiB (the fill's 50 MiB is phoneprov's peak); reboot 70/10 s, the
	// others did none.
	want := [][3]string{{"2.00", "0.50", "80.00"}, {"2.00", "2.00", "80.00"}, {"0.50", "0.50", "n/a"}, {"0.60", "1.20", "0.10"}, {"7.00", "n/a", "n/a"}}
	if len(cmp) != len(want) {
		t.Fatalf("%d comparisons, want %d", len(cmp), len(want))
	}
	for i, c := range cmp {
		if got := [3]string{c.Kea, c.KeaMT, c.Dnsm}; got != want[i] {
			t.Errorf("%s: %v, want %v", c.What, got, want[i])
		}
	}
	ts := targets(p, k, true, o)
	if len(ts) != 3 || ts[0].Verdict != "PASS" || ts[1].Verdict != "PASS" || ts[2].Verdict != "PASS" {
		t.Fatalf("targets %+v", ts)
	}
	// Slower than Kea, not synced, too big, too few leases.
	p.Pick.Search.Best = 3000
	p.Pick.Durability.AcksAfterSync = 4
	p.Pick.Hold.Settled.RSS = 61 << 20
	ts = targets(p, k, true, o)
	for i, tg := range ts {
		if tg.Verdict != "MISS" {
			t.Errorf("target %d: %s, want MISS (%s)", i, tg.Verdict, tg.Got)
		}
	}
	p.Pick.Hold.Settled.RSS, p.Pick.Hold.Leases = 10<<20, 49999
	if ts = targets(p, k, true, o); ts[2].Verdict != "MISS" || !strings.Contains(ts[2].Got, "held only 49999") {
		t.Errorf("memory target with too few leases: %+v", ts[2])
	}
	o.Strace, o.HoldLeases = "", 0
	p.Pick.TraceFile = ""
	ts = targets(p, summary{}, false, o)
	for i, tg := range ts {
		if tg.Verdict != "NOT CHECKED" {
			t.Errorf("target %d without Kea, strace or fill: %s", i, tg.Verdict)
		}
	}
}

func TestIssue14Targets(t *testing.T) {
	p, _ := summarize([]serverRun{fakeRun("phoneprov", 0, 9000, time.Second, 40<<20, 50<<20, 50000, true)}, "phoneprov")
	k, _ := summarize([]serverRun{fakeRun("kea", 0, 6000, time.Second, 30<<20, 25<<20, 50000, false)}, "kea")
	km, _ := summarize([]serverRun{fakeRun("kea-mt", 0, 8000, time.Second, 30<<20, 25<<20, 50000, false)}, "kea-mt")
	p.Pick.Reboot = rebootResult{Clients: 30000, Bound: 30000, AllBound: 12 * time.Second, Stored: 30000}
	ts := issue14Targets(p, k, km, true, true)
	for i, tg := range ts {
		if tg.Verdict != "PASS" {
			t.Errorf("target %d: %s (%s)", i, tg.Verdict, tg.Got)
		}
	}
	// 1.49× Kea, behind kea-mt, a lease missing from the store.
	p.Pick.Search.Best, km.Pick.Search.Best = 8940, 9000
	p.Pick.Reboot.Stored = 29999
	for i, tg := range issue14Targets(p, k, km, true, true) {
		if tg.Verdict != "MISS" {
			t.Errorf("target %d: %s, want MISS (%s)", i, tg.Verdict, tg.Got)
		}
	}
	// Too slow, or not all bound.
	p.Pick.Reboot.Stored, p.Pick.Reboot.AllBound = 30000, 16*time.Second
	if tg := issue14Targets(p, k, km, true, true)[2]; tg.Verdict != "MISS" {
		t.Errorf("a 16 s reboot: %s", tg.Verdict)
	}
	p.Pick.Reboot.AllBound, p.Pick.Reboot.Bound = 0, 29000
	if tg := issue14Targets(p, k, km, true, true)[2]; tg.Verdict != "MISS" || !strings.Contains(tg.Got, "not all bound") {
		t.Errorf("an unfinished reboot: %+v", tg)
	}
	for i, tg := range issue14Targets(p, summary{}, summary{}, false, false)[:2] {
		if tg.Verdict != "NOT CHECKED" {
			t.Errorf("target %d without peers: %s", i, tg.Verdict)
		}
	}
}
