package main

import (
	"strings"
	"testing"
	"time"
)

func TestJudgePaced(t *testing.T) {
	period := 5 * time.Second
	for _, c := range []struct {
		name          string
		t             pacedResult
		pass, limited bool
	}{
		{"all answered", pacedResult{Rate: 1000, Sent: 5000, Acked: 5000, SendTook: 5 * time.Second}, true, false},
		{"under the loss limit", pacedResult{Rate: 1000, Sent: 5000, Acked: 4960, SendTook: 5 * time.Second}, true, false},
		{"over the loss limit", pacedResult{Rate: 1000, Sent: 5000, Acked: 4900, SendTook: 5 * time.Second}, false, false},
		{"an address ACKed to two clients", pacedResult{Rate: 1000, Sent: 5000, Acked: 5000, Duplicates: 1, SendTook: 5 * time.Second}, false, false},
		{"sent too few", pacedResult{Rate: 1000, Sent: 4000, Acked: 4000, SendTook: 5 * time.Second}, false, true},
		{"sent too slowly", pacedResult{Rate: 1000, Sent: 5000, Acked: 5000, SendTook: 6 * time.Second}, false, true},
		{"nothing sent", pacedResult{Rate: 1000}, false, true},
		{"answers left unread", pacedResult{Rate: 1000, Sent: 5000, Acked: 4000, SendTook: 5 * time.Second, Behind: true}, false, true},
	} {
		got := judgePaced(c.t, period, 0.01)
		if got.Pass != c.pass || got.ClientLimited != c.limited {
			t.Errorf("%s: pass %v, client-limited %v; want %v, %v", c.name, got.Pass, got.ClientLimited, c.pass, c.limited)
		}
	}
}

func TestPacedSummaryAndTarget(t *testing.T) {
	paced := func(r serverRun, rate int) serverRun {
		r.Paced = searchOutcome{Best: rate, Ceiling: rate * 2, Steps: []searchStep{{Rate: rate, Pass: true}}}
		r.PacedTrials = []pacedResult{{Rate: rate * 2}, {Rate: rate, Sent: rate * 5, Acked: rate * 5, ServerCPU: time.Second, ClientCPU: 2 * time.Second, Pass: true}}
		return r
	}
	runs := []serverRun{
		paced(fakeRun("phoneprov", 0, 6000, time.Second, 40<<20, 50<<20, 50000, true), 18000),
		paced(fakeRun("phoneprov", 1, 6000, time.Second, 40<<20, 50<<20, 50000, true), 12000),
		paced(fakeRun("phoneprov", 2, 6000, time.Second, 40<<20, 50<<20, 50000, true), 16000),
		paced(fakeRun("kea", 0, 6000, time.Second, 30<<20, 30<<20, 50000, false), 8000),
		paced(fakeRun("kea-mt", 0, 5000, time.Second, 30<<20, 30<<20, 50000, false), 6000),
	}
	p, _ := summarize(runs, "phoneprov")
	k, _ := summarize(runs, "kea")
	km, _ := summarize(runs, "kea-mt")
	if p.PacedRate() != 16000 || p.PacedPick.Round != 2 || !p.HasPacedBest || p.Rate() != 6000 {
		t.Fatalf("paced median %d/s from round %d (best found %v), perfdhcp's %d/s", p.PacedRate(), p.PacedPick.Round, p.HasPacedBest, p.Rate())
	}
	if row := pacedRow(p, 5*time.Second); strings.Join(row, "|") != "phoneprov|16000 [18000 12000 16000]|0.00|12|25|33" {
		t.Errorf("row %q", row)
	}
	var got *target
	ts := issue14Targets(p, k, km, true, true)
	for i := range ts {
		if strings.Contains(ts[i].Want, "paced") {
			got = &ts[i]
		}
	}
	if got == nil || got.Verdict != "PASS" || !strings.Contains(got.Got, "phoneprov 16000/s, Kea 8000/s (ratio 2.00), kea-mt 6000/s") {
		t.Fatalf("paced target %+v", got)
	}
	// perfdhcp's rate target is judged on perfdhcp's search alone.
	if ts[0].Verdict != "MISS" {
		t.Errorf("perfdhcp's rate target %+v", ts[0])
	}
	k.PacedPick.Paced.Best = 12000
	for _, tg := range issue14Targets(p, k, km, true, true) {
		if strings.Contains(tg.Want, "paced") && tg.Verdict != "MISS" {
			t.Errorf("1.33× passed: %+v", tg)
		}
	}
}
