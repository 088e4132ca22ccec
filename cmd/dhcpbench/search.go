package main

import (
	"fmt"
	"time"
)

// searchSpec bounds the search for the highest rate a server sustains.
type searchSpec struct {
	Start, Min, Max int       // first rate tried; never below Min or above Max
	Bisect          int       // bisection steps once a passing and a failing rate are known
	MaxTrials       int       // trials at most
	Deadline        time.Time // no trial starts that would likely end after it; zero for none
}

// searchStep is one trial of a search.
type searchStep struct {
	Rate int
	Pass bool
	Took time.Duration
}

// searchOutcome is where a search ended.
type searchOutcome struct {
	Best    int // highest passing rate; 0 if none passed
	Ceiling int // lowest failing rate above Best; 0 if none failed
	Steps   []searchStep
	Stopped string // why it ended before bisecting fully, or ""
}

// searchRate finds the highest rate for which trial passes: it doubles from
// Start while trials pass (halves while they fail), then bisects between
// the highest pass and the lowest failure. It assumes that a server that
// fails at one rate fails at every higher one. now is the clock (a fake in
// tests); a trial is not started when the longest one so far would not end
// before the deadline.
func searchRate(spec searchSpec, now func() time.Time, trial func(rate int) (bool, error)) (searchOutcome, error) {
	if spec.Min < 1 || spec.Max < spec.Min || spec.MaxTrials < 1 {
		return searchOutcome{}, fmt.Errorf("search: bad bounds %+v", spec)
	}
	var out searchOutcome
	var longest time.Duration
	// try runs one trial and records it; ok is false when the search must end.
	try := func(rate int) (pass, ok bool, err error) {
		if len(out.Steps) >= spec.MaxTrials {
			out.Stopped = fmt.Sprintf("trial limit (%d)", spec.MaxTrials)
			return false, false, nil
		}
		start := now()
		if !spec.Deadline.IsZero() && start.Add(longest).After(spec.Deadline) {
			out.Stopped = "time budget"
			return false, false, nil
		}
		pass, err = trial(rate)
		if err != nil {
			return false, false, err
		}
		took := now().Sub(start)
		longest = max(longest, took)
		out.Steps = append(out.Steps, searchStep{Rate: rate, Pass: pass, Took: took})
		if pass {
			out.Best = max(out.Best, rate)
		} else if out.Ceiling == 0 || rate < out.Ceiling {
			out.Ceiling = rate
		}
		return pass, true, nil
	}

	rate := min(max(spec.Start, spec.Min), spec.Max)
	pass, ok, err := try(rate)
	if err != nil || !ok {
		return out, err
	}
	// Bracket: double up while passing, or halve down while failing.
	for pass && out.Ceiling == 0 {
		if rate == spec.Max {
			out.Stopped = "maximum rate reached"
			return out, nil
		}
		rate = min(rate*2, spec.Max)
		if pass, ok, err = try(rate); err != nil || !ok {
			return out, err
		}
	}
	for !pass && out.Best == 0 {
		if rate == spec.Min {
			return out, nil // not even the minimum rate passes
		}
		rate = max(rate/2, spec.Min)
		if pass, ok, err = try(rate); err != nil || !ok {
			return out, err
		}
	}
	// Bisect between the best pass and the lowest failure.
	for i := 0; i < spec.Bisect; i++ {
		lo, hi := out.Best, out.Ceiling
		mid := midRate(lo, hi)
		if mid <= lo || mid >= hi {
			break
		}
		if _, ok, err = try(mid); err != nil || !ok {
			return out, err
		}
	}
	return out, nil
}

// midRate is the midpoint of lo and hi, rounded down to a multiple of ten
// when the gap is wide, so reported rates stay readable.
func midRate(lo, hi int) int {
	mid := lo + (hi-lo)/2
	if hi-lo >= 100 {
		mid = mid / 10 * 10
	}
	return mid
}
