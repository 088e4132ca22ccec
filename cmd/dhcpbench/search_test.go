package main

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

// fakeServer passes every rate up to its capacity; each trial takes 10 s of
// a fake clock.
type fakeServer struct {
	capacity int
	clock    time.Time
	tried    []int
}

func (f *fakeServer) now() time.Time { return f.clock }

func (f *fakeServer) trial(rate int) (bool, error) {
	f.tried = append(f.tried, rate)
	f.clock = f.clock.Add(10 * time.Second)
	return rate <= f.capacity, nil
}

func spec() searchSpec {
	return searchSpec{Start: 1000, Min: 25, Max: 128000, Bisect: 3, MaxTrials: 12}
}

func TestSearchDoublesThenBisects(t *testing.T) {
	f := &fakeServer{capacity: 5300}
	out, err := searchRate(spec(), f.now, f.trial)
	if err != nil {
		t.Fatal(err)
	}
	// 1000 2000 4000 pass, 8000 fails; 6000 fails, 5000 passes, 5500 fails.
	if want := []int{1000, 2000, 4000, 8000, 6000, 5000, 5500}; !reflect.DeepEqual(f.tried, want) {
		t.Fatalf("tried %v, want %v", f.tried, want)
	}
	if out.Best != 5000 || out.Ceiling != 5500 || out.Stopped != "" {
		t.Fatalf("outcome %+v", out)
	}
	if len(out.Steps) != 7 || !out.Steps[0].Pass || out.Steps[3].Pass || out.Steps[0].Took != 10*time.Second {
		t.Fatalf("steps %+v", out.Steps)
	}
}

func TestSearchHalvesWhenTheStartFails(t *testing.T) {
	f := &fakeServer{capacity: 180}
	out, err := searchRate(spec(), f.now, f.trial)
	if err != nil {
		t.Fatal(err)
	}
	// 1000 500 250 fail, 125 passes; then 180 passes, 215 and 197 fail.
	if want := []int{1000, 500, 250, 125, 180, 215, 197}; !reflect.DeepEqual(f.tried, want) {
		t.Fatalf("tried %v, want %v", f.tried, want)
	}
	if out.Best != 180 || out.Ceiling != 197 {
		t.Fatalf("outcome %+v", out)
	}
}

func TestSearchNothingPasses(t *testing.T) {
	f := &fakeServer{capacity: 0}
	s := spec()
	s.Min = 100
	out, err := searchRate(s, f.now, f.trial)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{1000, 500, 250, 125, 100}; !reflect.DeepEqual(f.tried, want) {
		t.Fatalf("tried %v, want %v", f.tried, want)
	}
	if out.Best != 0 || out.Ceiling != 100 {
		t.Fatalf("outcome %+v", out)
	}
}

func TestSearchStopsAtMax(t *testing.T) {
	f := &fakeServer{capacity: 1 << 30}
	s := spec()
	s.Max = 5000
	out, err := searchRate(s, f.now, f.trial)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{1000, 2000, 4000, 5000}; !reflect.DeepEqual(f.tried, want) {
		t.Fatalf("tried %v, want %v", f.tried, want)
	}
	if out.Best != 5000 || out.Ceiling != 0 || out.Stopped != "maximum rate reached" {
		t.Fatalf("outcome %+v", out)
	}
}

func TestSearchTrialLimit(t *testing.T) {
	f := &fakeServer{capacity: 5300}
	s := spec()
	s.MaxTrials = 3
	out, err := searchRate(s, f.now, f.trial)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.tried) != 3 || out.Best != 4000 || out.Stopped != "trial limit (3)" {
		t.Fatalf("tried %v, outcome %+v", f.tried, out)
	}
}

func TestSearchTimeBudget(t *testing.T) {
	f := &fakeServer{capacity: 5300, clock: time.Unix(0, 0)}
	s := spec()
	// Room for three 10 s trials and a bit: the fourth would end too late.
	s.Deadline = f.clock.Add(35 * time.Second)
	out, err := searchRate(s, f.now, f.trial)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.tried) != 3 || out.Stopped != "time budget" || out.Best != 4000 {
		t.Fatalf("tried %v, outcome %+v", f.tried, out)
	}
}

func TestSearchTrialError(t *testing.T) {
	boom := errors.New("server died")
	calls := 0
	out, err := searchRate(spec(), time.Now, func(rate int) (bool, error) {
		calls++
		if calls == 2 {
			return false, boom
		}
		return true, nil
	})
	if !errors.Is(err, boom) || len(out.Steps) != 1 || out.Best != 1000 {
		t.Fatalf("err %v, outcome %+v", err, out)
	}
}

func TestSearchClampsStartAndRejectsBadBounds(t *testing.T) {
	f := &fakeServer{capacity: 1 << 30}
	s := spec()
	s.Start, s.Max, s.Bisect = 1, 40, 0
	if _, err := searchRate(s, f.now, f.trial); err != nil {
		t.Fatal(err)
	}
	if f.tried[0] != 25 || f.tried[len(f.tried)-1] != 40 {
		t.Fatalf("tried %v: want a start clamped to 25 and an end at 40", f.tried)
	}
	for _, bad := range []searchSpec{{Min: 0, Max: 10, MaxTrials: 1}, {Min: 10, Max: 5, MaxTrials: 1}, {Min: 1, Max: 5}} {
		if _, err := searchRate(bad, time.Now, f.trial); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

func TestMidRate(t *testing.T) {
	for _, c := range []struct{ lo, hi, want int }{
		{4000, 8000, 6000}, {5000, 6000, 5500}, {125, 250, 180}, {156, 187, 171}, {10, 11, 10},
	} {
		if got := midRate(c.lo, c.hi); got != c.want {
			t.Errorf("midRate(%d, %d) = %d, want %d", c.lo, c.hi, got, c.want)
		}
	}
}
