package main

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
)

// summary is one server's figures over all rounds: the median round's
// figures, and the peak memory over every round.
type summary struct {
	Name    string
	Rates   []int       // best rate of each round, in round order
	Pick    serverRun   // the round with the median best rate
	Best    trialResult // that round's passing trial at its best rate
	HasBest bool
	PeakHWM int64 // highest VmHWM seen in any trial or fill
	// The same for the paced search (paced.go): each round's best rate,
	// the median round, and its passing trial at that rate.
	PacedRates   []int
	PacedPick    serverRun
	PacedBest    pacedResult
	HasPacedBest bool
}

// PacedRate is the median best rate of the paced search.
func (s summary) PacedRate() int { return s.PacedPick.Paced.Best }

// Rate is the median best rate.
func (s summary) Rate() int { return s.Pick.Search.Best }

// summarize gathers the runs of one server; ok is false if it has none.
func summarize(runs []serverRun, name string) (summary, bool) {
	var mine []serverRun
	for _, r := range runs {
		if r.Name == name {
			mine = append(mine, r)
		}
	}
	if len(mine) == 0 {
		return summary{}, false
	}
	s := summary{Name: name}
	for _, r := range mine {
		s.Rates = append(s.Rates, r.Search.Best)
		for _, t := range r.Trials {
			s.PeakHWM = max(s.PeakHWM, t.Mem.HWM)
		}
		s.PeakHWM = max(s.PeakHWM, r.Hold.Busy.HWM, r.Hold.Settled.HWM)
	}
	sorted := slices.Clone(mine)
	slices.SortStableFunc(sorted, func(a, b serverRun) int { return a.Search.Best - b.Search.Best })
	s.Pick = sorted[(len(sorted)-1)/2]
	s.Best, s.HasBest = s.Pick.best()
	for _, r := range mine {
		s.PacedRates = append(s.PacedRates, r.Paced.Best)
	}
	slices.SortStableFunc(sorted, func(a, b serverRun) int { return a.Paced.Best - b.Paced.Best })
	s.PacedPick = sorted[(len(sorted)-1)/2]
	s.PacedBest, s.HasPacedBest = s.PacedPick.bestPaced()
	return s, true
}

// ratio is a/b as text, or "n/a" when either is missing.
func ratio(a, b float64) string {
	if a <= 0 || b <= 0 {
		return "n/a"
	}
	return strconv.FormatFloat(a/b, 'f', 2, 64)
}

// comparison is one row of the ratio table: >1 always means phoneprov is
// better.
type comparison struct {
	What             string
	Kea, KeaMT, Dnsm string
	HowToRead        string
}

// compare computes phoneprov's ratios against the peers that ran.
func compare(p, k, km, d summary) []comparison {
	rate := func(s summary) float64 { return float64(s.Rate()) }
	cpu := func(s summary) float64 {
		if !s.HasBest {
			return 0
		}
		return float64(s.Best.cpuPerExchange())
	}
	held := func(s summary) float64 {
		if !s.Pick.Hold.reached() {
			return 0 // memory for fewer leases does not compare
		}
		return float64(s.Pick.Hold.Settled.RSS)
	}
	peak := func(s summary) float64 { return float64(s.PeakHWM) }
	boot := func(s summary) float64 { return s.Pick.Reboot.AllBound.Seconds() }
	row := func(what string, f func(summary) float64, phoneprovOver bool) comparison {
		c := comparison{What: what, HowToRead: "peer / phoneprov"}
		vs := func(q summary) string { return ratio(f(q), f(p)) }
		if phoneprovOver {
			c.HowToRead = "phoneprov / peer"
			vs = func(q summary) string { return ratio(f(p), f(q)) }
		}
		c.Kea, c.KeaMT, c.Dnsm = vs(k), vs(km), vs(d)
		return c
	}
	return []comparison{
		row("DORA rate at < limit loss", rate, true),
		row("CPU per DORA at best rate", cpu, false),
		row("RSS holding the target leases", held, false),
		row("peak RSS (VmHWM)", peak, false),
		row("mass reboot: time until all bound", boot, false),
	}
}

// target is one of the issue's targets with its verdict.
type target struct {
	Want    string
	Got     string
	Verdict string // PASS, MISS or NOT CHECKED
}

// rssLimit is the issue's memory target.
const rssLimit = 60 << 20

// targets judges phoneprov against the issue's targets.
func targets(p, k summary, haveKea bool, o options) []target {
	holdTarget, traced := o.HoldLeases, o.Strace != ""
	var ts []target
	rt := target{Want: "DORA rate at least Kea's (same pool, lease time, option 242, under the loss limit)", Verdict: "NOT CHECKED"}
	if haveKea {
		rt.Got = fmt.Sprintf("phoneprov %d/s, Kea %d/s (ratio %s)", p.Rate(), k.Rate(), ratio(float64(p.Rate()), float64(k.Rate())))
		rt.Verdict = verdict(p.Rate() > 0 && p.Rate() >= k.Rate())
	} else {
		rt.Got = "Kea was not run"
	}
	ts = append(ts, rt)

	dt := target{Want: "every lease durable (fsync'd) before its ACK", Verdict: "NOT CHECKED", Got: "not traced (strace missing or -strace \"\")"}
	switch {
	case p.Pick.TraceErr != "":
		dt.Got = "trace failed: " + p.Pick.TraceErr
	case traced && p.Pick.TraceFile != "":
		dt.Got = p.Pick.Durability.describe()
		dt.Verdict = verdict(p.Pick.Durability.durable())
	}
	ts = append(ts, dt)

	mt := target{Want: fmt.Sprintf("RSS under %d MiB holding %d leases", rssLimit>>20, holdTarget), Verdict: "NOT CHECKED", Got: "no fill (-hold-leases 0)"}
	if h := p.Pick.Hold; holdTarget > 0 {
		mt.Got = fmt.Sprintf("%s MiB VmRSS (%s anon + %s file) holding %d leases after %s idle (%s MiB right after filling; peak VmHWM %s MiB)",
			benchkit.MiB(h.Settled.RSS), benchkit.MiB(h.Settled.Anon), benchkit.MiB(h.Settled.File), h.Leases, o.Settle, benchkit.MiB(h.Busy.RSS), benchkit.MiB(h.Busy.HWM))
		mt.Verdict = verdict(h.reached() && h.Settled.RSS < rssLimit)
		if !h.reached() {
			mt.Got = fmt.Sprintf("held only %d of %d leases within the fill time; %s MiB VmRSS", h.Leases, h.Target, benchkit.MiB(h.Settled.RSS))
		}
	}
	ts = append(ts, mt)
	return ts
}

// Issue 14's targets.
const (
	rateOverKea    = 1.5              // phoneprov's rate over single-threaded Kea's
	rebootBoundMax = 15 * time.Second // all of a mass reboot bound within
)

// issue14Targets judges phoneprov against issue 14's DHCP targets: the
// rate against Kea single- and multi-threaded, and the mass reboot.
func issue14Targets(p, k, km summary, haveKea, haveMT bool) []target {
	rt := target{Want: fmt.Sprintf("DORA rate at least %.1f× single-threaded Kea's, every lease durable before its ACK", rateOverKea),
		Verdict: "NOT CHECKED", Got: "Kea was not run"}
	if haveKea {
		rt.Got = fmt.Sprintf("phoneprov %d/s, Kea %d/s (ratio %s)", p.Rate(), k.Rate(), ratio(float64(p.Rate()), float64(k.Rate())))
		rt.Verdict = verdict(k.Rate() > 0 && float64(p.Rate()) >= rateOverKea*float64(k.Rate()))
	}
	mt := target{Want: "DORA rate ahead of Kea with multi-threading on", Verdict: "NOT CHECKED", Got: "kea-mt was not run"}
	if haveMT {
		mt.Got = fmt.Sprintf("phoneprov %d/s, kea-mt %d/s (ratio %s)", p.Rate(), km.Rate(), ratio(float64(p.Rate()), float64(km.Rate())))
		mt.Verdict = verdict(p.Rate() > km.Rate())
	}
	ts := []target{rt, mt}
	if len(p.PacedPick.Paced.Steps) > 0 {
		pr := target{Want: fmt.Sprintf("the same two with dhcpbench's own paced clients (this project's load generator, not a peer: the rates when perfdhcp is not the limit): at least %.1f× Kea's, ahead of kea-mt", rateOverKea),
			Verdict: "NOT CHECKED", Got: "Kea and kea-mt were not both run"}
		if haveKea && haveMT {
			pr.Got = fmt.Sprintf("phoneprov %d/s, Kea %d/s (ratio %s), kea-mt %d/s (ratio %s)", p.PacedRate(), k.PacedRate(),
				ratio(float64(p.PacedRate()), float64(k.PacedRate())), km.PacedRate(), ratio(float64(p.PacedRate()), float64(km.PacedRate())))
			pr.Verdict = verdict(k.PacedRate() > 0 && float64(p.PacedRate()) >= rateOverKea*float64(k.PacedRate()) && p.PacedRate() > km.PacedRate())
		}
		ts = append(ts, pr)
	}
	bt := target{Want: fmt.Sprintf("mass reboot: every client bound within %s, no lease lost", rebootBoundMax),
		Verdict: "NOT CHECKED", Got: "no mass reboot (-reboot-clients 0)"}
	if r := p.Pick.Reboot; r.Clients > 0 {
		bt.Got = r.describe()
		bt.Verdict = verdict(r.AllBound > 0 && r.AllBound <= rebootBoundMax && r.lost() == 0 && r.Duplicates == 0)
	}
	return append(ts, bt)
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}
