package main

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	if !math.IsNaN(median(nil)) {
		t.Error("median(nil) is not NaN")
	}
}

func TestRatio(t *testing.T) {
	if got := ratio(150, 100); got != 1.5 {
		t.Errorf("ratio(150, 100) = %v", got)
	}
	for _, peer := range []float64{0, -1, math.NaN()} {
		if got := ratio(1, peer); !math.IsNaN(got) {
			t.Errorf("ratio(1, %v) = %v, want NaN", peer, got)
		}
	}
}

func TestSummarize(t *testing.T) {
	s := summarize([]figures{
		{Throughput: 10, Failures: 1, Usage: benchkit.Usage{PeakRSS: 5, CPU: time.Second}},
		{Throughput: 30, FirstErr: "boom", Usage: benchkit.Usage{PeakRSS: 9, CPU: 3 * time.Second}},
		{Throughput: 20, Failures: 2, Usage: benchkit.Usage{PeakRSS: 7, CPU: 2 * time.Second}},
	})
	if s.Throughput != 20 || s.Failures != 3 || s.PeakRSS != 9 || s.CPU != 2*time.Second || s.FirstErr != "boom" {
		t.Errorf("summarize = %+v", s)
	}
}

// result makes a scenario result with one run per server.
func result(id string, pp, peer float64, ppFailures int64) scenarioResult {
	return scenarioResult{
		Scenario:  scenario{ID: id},
		Phoneprov: []figures{{Throughput: pp, Failures: ppFailures}},
		Other:     []figures{{Throughput: peer}},
	}
}

// webResult makes an HTTP(S) sweep point's result with one run per server.
func webResult(key string, size int64, conns int, pp, peer float64) scenarioResult {
	r := result("", pp, peer, 0)
	r.Scenario = httpScenario("wrk", key, testFile{Name: "f", Size: size}, conns)
	return r
}

func TestEvaluate(t *testing.T) {
	results := []scenarioResult{
		webResult("", 10<<20, 64, 100, 100),      // exactly 1.0×: pass
		webResult(keyECDSA, 2<<10, 256, 99, 100), // 0.99× < 1.0×: miss
		webResult(keyRSA, 2<<10, 1, 110, 100),    // 1.1×: pass
		result(tftpScenarioID(100), 120, 100, 1), // fast, but a failed transfer
	}
	bad := webResult(keyECDSA, 10<<20, 8, 0, 0)
	bad.Err = errors.New("wrk missing")
	results = append(results, bad)
	got := evaluate(append(webTargets(results), targets()...), results, 61<<20)
	want := []string{statusPass, statusMiss, statusPass, statusError, statusMiss, statusMiss}
	if len(got) != len(want) {
		t.Fatalf("evaluate gave %d verdicts, want %d: %+v", len(got), len(want), got)
	}
	for i, v := range got {
		if v.Status != want[i] {
			t.Errorf("%s: %s (%s), want %s", v.Goal, v.Status, v.Got, want[i])
		}
	}
	if got[1].Goal != "HTTPS ECDSA P-256, 2 KiB ×256 ≥ 1.0× nginx" {
		t.Errorf("sweep goal reads %q", got[1].Goal)
	}
	if got[4].Got != "1.20×, 1 failed" {
		t.Errorf("TFTP verdict shows %q", got[4].Got)
	}
}

func TestEvaluateNotRun(t *testing.T) {
	got := evaluate(targets(), nil, 20<<20)
	if got[0].Status != statusNotRun {
		t.Errorf("TFTP not run: %s, want %s", got[0].Status, statusNotRun)
	}
	if got[1].Status != statusPass {
		t.Errorf("memory: %+v; want PASS", got[1])
	}
	if got := evaluate(targets(), nil, 0); got[1].Status != statusNotRun {
		t.Errorf("memory with nothing run: %s, want %s", got[1].Status, statusNotRun)
	}
}

func TestEvaluatePeerZero(t *testing.T) {
	results := []scenarioResult{webResult("", 10<<20, 1, 100, 0)}
	got := evaluate(webTargets(results), results, 1)
	if got[0].Status != statusMiss || got[0].Got != "n/a" {
		t.Errorf("HTTP against a zero peer: %+v, want MISS with n/a", got[0])
	}
}

func TestRoundRatioPairsRounds(t *testing.T) {
	// Round 3 ran while the machine was busy for phoneprov only: the medians
	// of each server (100 / 110) would say 0.91; the rounds say 1.1.
	pp := []figures{{Throughput: 110}, {Throughput: 110}, {Throughput: 60}}
	peer := []figures{{Throughput: 100}, {Throughput: 100}, {Throughput: 110}}
	if got := roundRatio(pp, peer); math.Abs(got-1.1) > 1e-9 {
		t.Errorf("roundRatio = %v, want 1.1", got)
	}
	// A round the peer could not measure (0) is left out, not counted as ∞.
	if got := roundRatio([]figures{{Throughput: 50}, {Throughput: 90}}, []figures{{Throughput: 0}, {Throughput: 100}}); math.Abs(got-0.9) > 1e-9 {
		t.Errorf("roundRatio with an empty round = %v, want 0.9", got)
	}
	if got := roundRatio(nil, nil); !math.IsNaN(got) {
		t.Errorf("roundRatio of nothing = %v, want NaN", got)
	}
}
