package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// rssLimit is the most resident memory phoneprov may use at any time.
const rssLimit = 60 << 20

// summary is a scenario's figures reduced over its rounds: medians, except
// failures (summed) and peak RSS (the highest).
type summary struct {
	Throughput float64
	Rate       float64
	P99        time.Duration
	CPU        time.Duration // the server's
	ClientCPU  time.Duration // the load generator's
	PeakRSS    int64
	Failures   int64
	FirstErr   string
}

// summarize reduces the runs of one server.
func summarize(runs []figures) summary {
	var s summary
	if len(runs) == 0 {
		return s
	}
	var tp, rate, p99, cpu, client []float64
	for _, f := range runs {
		tp = append(tp, f.Throughput)
		rate = append(rate, f.Rate)
		p99 = append(p99, float64(f.P99))
		cpu = append(cpu, float64(f.Usage.CPU))
		client = append(client, float64(f.ClientCPU))
		s.PeakRSS = max(s.PeakRSS, f.Usage.PeakRSS)
		s.Failures += f.Failures
		if s.FirstErr == "" {
			s.FirstErr = f.FirstErr
		}
	}
	s.Throughput, s.Rate = median(tp), median(rate)
	s.P99, s.CPU, s.ClientCPU = time.Duration(median(p99)), time.Duration(median(cpu)), time.Duration(median(client))
	return s
}

// median returns the middle value (the mean of the middle two for an even
// count); NaN for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// roundRatio is the median over rounds of phoneprov's throughput over the
// peer's in the same round. The two runs of a round are back to back, so
// a change in the shared machine's load between rounds cancels out of
// each ratio instead of landing on one server's median.
func roundRatio(pp, peer []figures) float64 {
	return median(roundRatios(pp, peer))
}

// roundRatios are each round's phoneprov / peer throughput, in round
// order; rounds without a peer figure are left out.
func roundRatios(pp, peer []figures) []float64 {
	var rs []float64
	for i := range min(len(pp), len(peer)) {
		if r := ratio(pp[i].Throughput, peer[i].Throughput); !math.IsNaN(r) {
			rs = append(rs, r)
		}
	}
	return rs
}

// ratio returns phoneprov's figure over the peer's; >1 means phoneprov did
// better. NaN when the peer's figure is not positive.
func ratio(pp, peer float64) float64 {
	if !(peer > 0) {
		return math.NaN()
	}
	return pp / peer
}

// Verdict states.
const (
	statusPass   = "PASS"
	statusMiss   = "MISS"
	statusNotRun = "NOT RUN"
	statusError  = "ERROR"
)

// target is one goal from the issue: a minimum ratio on one scenario.
type target struct {
	Scenario   string  // scenario ID
	Goal       string  // as the issue states it
	MinRatio   float64 // phoneprov/peer at least this
	NoFailures bool    // and phoneprov had no failed transfer
}

// webTargets is issue 14's goal for every HTTP(S) scenario that ran:
// phoneprov at least as fast as nginx at every point of the sweep.
func webTargets(results []scenarioResult) []target {
	var out []target
	for _, r := range results {
		if sc := r.Scenario; sc.Proto == "http" || sc.Proto == "https" {
			out = append(out, target{Scenario: sc.ID, Goal: sc.Title + " ≥ 1.0× nginx", MinRatio: 1.0})
		}
	}
	return out
}

// targets returns the goals for the TFTP scenarios.
func targets() []target {
	return []target{
		{Scenario: tftpScenarioID(100), Goal: "TFTP 100 clients ≥ 1.0× tftpd-hpa, no failed transfer", MinRatio: 1.0, NoFailures: true},
	}
}

// verdict is a target's outcome.
type verdict struct {
	Goal   string
	Got    string
	Status string
}

// evaluate judges every target against the results, and phoneprov's
// highest resident memory (peakRSS, 0 if nothing ran) against rssLimit.
func evaluate(ts []target, results []scenarioResult, peakRSS int64) []verdict {
	byID := make(map[string]scenarioResult, len(results))
	for _, r := range results {
		byID[r.Scenario.ID] = r
	}
	var out []verdict
	for _, t := range ts {
		out = append(out, judge(t, byID))
	}
	mem := verdict{Goal: fmt.Sprintf("phoneprov peak RSS < %d MiB", rssLimit>>20), Status: statusNotRun}
	if peakRSS > 0 {
		mem.Got = fmt.Sprintf("%.1f MiB", float64(peakRSS)/(1<<20))
		mem.Status = passIf(peakRSS < rssLimit)
	}
	return append(out, mem)
}

func judge(t target, byID map[string]scenarioResult) verdict {
	v := verdict{Goal: t.Goal}
	r, ok := byID[t.Scenario]
	switch {
	case !ok:
		v.Status = statusNotRun
		return v
	case r.Err != nil:
		v.Status = statusError
		v.Got = "could not run"
		return v
	}
	pp := summarize(r.Phoneprov)
	x := roundRatio(r.Phoneprov, r.Other)
	v.Got = fmtRatio(x)
	pass := x >= t.MinRatio // false for NaN
	if t.NoFailures {
		v.Got += fmt.Sprintf(", %d failed", pp.Failures)
		pass = pass && pp.Failures == 0
	}
	v.Status = passIf(pass)
	return v
}

func passIf(ok bool) string {
	if ok {
		return statusPass
	}
	return statusMiss
}
