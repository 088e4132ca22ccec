package rollout

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

var lim = Limits{ComeBackWindow: 10 * time.Minute, MaxFailureShare: 0.1}

func macs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("00:1b:4f:00:%02x:%02x", i/256, i%256)
	}
	return out
}

func never(a, b *Rollout) bool { return false }

func start(t *testing.T, s *State, pop []string, count int) *Rollout {
	t.Helper()
	r, err := s.Start(StartRequest{Series: "96x1S", Version: "7.1.15", Canary: Canary{Count: count}, Waves: []float64{0.1, 0.5, 1}},
		[]string{"B.tar"}, nil, pop, nil, never, t0)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// obs is a fake inventory: per MAC, what it saw.
type obs map[string]Observation

func (o obs) get(mac string) (Observation, bool) { v, ok := o[mac]; return v, ok }

// upgrade makes every member of wave w fetch the image at t and come back at t+1m on version v.
func (o obs) cycle(r *Rollout, w int, t time.Time, v string) {
	for mac, m := range r.Members {
		if m.Wave == w {
			o[mac] = Observation{Fetched: t, Fetches: 1}
		}
	}
}

func (o obs) comeBack(r *Rollout, w int, t time.Time, v string) {
	for mac, m := range r.Members {
		if m.Wave == w {
			x := o[mac]
			x.Back, x.Running, x.Reported = t, v, t
			o[mac] = x
		}
	}
}

func TestWavesAdvanceWhenTheyComeBackHealthy(t *testing.T) {
	pop := macs(100)
	var s State
	r := start(t, &s, pop, 5)
	if len(r.Members) != 5 || r.Status != StatusRunning || r.Wave != 0 {
		t.Fatalf("canary: %d members, %s, wave %d", len(r.Members), r.Status, r.Wave)
	}
	if !r.Offers(pop[0]) || r.Offers(pop[50]) {
		t.Fatal("the canary is offered the image and nobody else")
	}
	o := obs{}
	now := t0
	wantSizes := []int{5, 10, 50, 100}
	for w := 0; w <= 3; w++ {
		if got := len(r.Members); got != wantSizes[w] {
			t.Fatalf("wave %d: %d members, want %d", w, got, wantSizes[w])
		}
		now = now.Add(time.Minute)
		o.cycle(r, w, now, "")
		r.Step(o.get, SameVersion, pop, lim, now)
		if c := r.waveCounts(w); c[PhoneFetched] == 0 {
			t.Fatalf("wave %d: nobody fetched: %v", w, c)
		}
		now = now.Add(time.Minute)
		o.comeBack(r, w, now, "7.1.15.0.4")
		r.Step(o.get, SameVersion, pop, lim, now)
		if c := r.waveCounts(w); c[PhoneUpgraded] != wantSizes[w]-len(membersBefore(r, w)) {
			t.Fatalf("wave %d: %v", w, c)
		}
	}
	if r.Status != StatusDone || r.Counts()[PhoneUpgraded] != 100 {
		t.Fatalf("after the last wave: %s %v", r.Status, r.Counts())
	}
	if err := r.Finish(now); err != nil || r.InForce() {
		t.Fatalf("finish: %v, in force %v", err, r.InForce())
	}
}

func membersBefore(r *Rollout, w int) []string {
	var out []string
	for mac, m := range r.Members {
		if m.Wave < w {
			out = append(out, mac)
		}
	}
	return out
}

func TestBrakeWhenCanaryComesBackOnTheOldVersion(t *testing.T) {
	pop := macs(100)
	var s State
	r := start(t, &s, pop, 5)
	o := obs{}
	o.cycle(r, 0, t0.Add(time.Minute), "")
	r.Step(o.get, SameVersion, pop, lim, t0.Add(time.Minute))
	o.comeBack(r, 0, t0.Add(2*time.Minute), "7.1.2.0.14")
	events := r.Step(o.get, SameVersion, pop, lim, t0.Add(2*time.Minute))
	if r.Status != StatusBraked || r.Counts()[PhoneFailed] != 5 || len(r.Members) != 5 {
		t.Fatalf("%s %v, %d members; events %v", r.Status, r.Counts(), len(r.Members), events)
	}
	if !strings.Contains(r.Members[pop[0]].Reason, "came back on 7.1.2.0.14") {
		t.Errorf("reason %q", r.Members[pop[0]].Reason)
	}
	for _, mac := range pop {
		if r.Offers(mac) {
			t.Fatalf("%s offered the image while braked", mac)
		}
	}
	// Nothing moves while braked.
	r.Step(o.get, SameVersion, pop, lim, t0.Add(time.Hour))
	if r.Wave != 0 || len(r.Members) != 5 {
		t.Fatal("a braked roll-out started a wave")
	}
	// Resume accepts the failures so far: the next wave starts.
	if err := r.Resume(t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	r.Step(o.get, SameVersion, pop, lim, t0.Add(time.Hour))
	if r.Status != StatusRunning || r.Wave != 1 || len(r.Members) != 10 {
		t.Fatalf("after resume: %s wave %d, %d members", r.Status, r.Wave, len(r.Members))
	}
}

func TestNoComeBackWithinWindowFails(t *testing.T) {
	pop := macs(10)
	var s State
	r := start(t, &s, pop, 1)
	o := obs{pop[0]: {Fetched: t0.Add(time.Minute), Fetches: 1}}
	r.Step(o.get, SameVersion, pop, lim, t0.Add(time.Minute))
	r.Step(o.get, SameVersion, pop, lim, t0.Add(5*time.Minute))
	if r.Members[pop[0]].State != PhoneFetched {
		t.Fatalf("within the window: %s", r.Members[pop[0]].State)
	}
	r.Step(o.get, SameVersion, pop, lim, t0.Add(12*time.Minute))
	if m := r.Members[pop[0]]; m.State != PhoneFailed || !strings.Contains(m.Reason, "did not come back") || r.Status != StatusBraked {
		t.Fatalf("%+v, %s", m, r.Status)
	}
}

func TestSecondDownloadAfterComingBackFails(t *testing.T) {
	pop := macs(10)
	var s State
	r := start(t, &s, pop, 1)
	o := obs{pop[0]: {Fetched: t0.Add(time.Minute), Fetches: 1}}
	r.Step(o.get, SameVersion, pop, lim, t0.Add(time.Minute))
	o[pop[0]] = Observation{Fetched: t0.Add(3 * time.Minute), Fetches: 2, Back: t0.Add(2 * time.Minute)}
	r.Step(o.get, SameVersion, pop, lim, t0.Add(3*time.Minute))
	if m := r.Members[pop[0]]; m.State != PhoneFailed {
		t.Fatalf("%+v", m)
	}
}

func TestPresumedUpgradeWithoutUserAgent(t *testing.T) {
	pop := macs(10)
	var s State
	r := start(t, &s, pop, 1)
	o := obs{pop[0]: {Fetched: t0.Add(time.Minute), Fetches: 1}}
	r.Step(o.get, SameVersion, pop, lim, t0.Add(time.Minute))
	o[pop[0]] = Observation{Fetched: t0.Add(time.Minute), Fetches: 1, Back: t0.Add(2 * time.Minute), UpToDate: true}
	r.Step(o.get, SameVersion, pop, lim, t0.Add(3*time.Minute))
	if m := r.Members[pop[0]]; m.State != PhoneUpgraded {
		t.Fatalf("%+v", m)
	}
}

func TestAbsentPhonesDoNotHoldTheWave(t *testing.T) {
	pop := macs(20)
	var s State
	r := start(t, &s, pop, 2)
	o := obs{pop[0]: {Back: t0.Add(time.Minute), Running: "7.1.15.0.4", Reported: t0.Add(time.Minute)}}
	r.Step(o.get, SameVersion, pop, lim, t0.Add(time.Minute))
	if r.Wave != 0 {
		t.Fatal("advanced with a member pending")
	}
	r.Step(o.get, SameVersion, pop, lim, t0.Add(11*time.Minute))
	if r.Members[pop[1]].State != PhoneAbsent {
		t.Fatalf("pending past the window: %s", r.Members[pop[1]].State)
	}
	r.Step(o.get, SameVersion, pop, lim, t0.Add(12*time.Minute))
	if r.Wave < 1 || !r.Offers(pop[1]) {
		t.Fatalf("wave %d, absent offered %v", r.Wave, r.Offers(pop[1]))
	}
}

func TestCommandsFollowTheStatus(t *testing.T) {
	pop := macs(10)
	var s State
	r := start(t, &s, pop, 2)
	o := obs{pop[0]: {Fetched: t0.Add(time.Minute), Fetches: 1}}
	r.Step(o.get, SameVersion, pop, lim, t0.Add(time.Minute))
	if err := r.Resume(t0); err == nil {
		t.Error("resumed a running roll-out")
	}
	if err := r.Pause(t0); err != nil || r.Status != StatusPaused {
		t.Fatal(err)
	}
	if !r.Offers(pop[0]) || r.Offers(pop[1]) {
		t.Error("paused: only the phone that fetched keeps the image")
	}
	if err := r.Pause(t0); err == nil {
		t.Error("paused twice")
	}
	if err := r.Resume(t0); err != nil || r.Status != StatusRunning {
		t.Fatal(err)
	}
	if err := r.Abort(t0); err != nil || r.Status != StatusAborted {
		t.Fatal(err)
	}
	if r.Offers(pop[0]) || r.Offers(pop[1]) || !r.InForce() {
		t.Error("aborted: nobody not upgraded is offered the image, and it stays in force")
	}
	if err := r.Abort(t0); err == nil {
		t.Error("aborted twice")
	}
	if err := r.Finish(t0); err != nil || r.InForce() {
		t.Fatal(err)
	}
	if err := r.Finish(t0); err == nil {
		t.Error("finished twice")
	}
}

func TestStartRefusals(t *testing.T) {
	var s State
	good := StartRequest{Series: "96x1S", Version: "7.1.15", Canary: Canary{Count: 1}, Waves: []float64{1}}
	for name, req := range map[string]StartRequest{
		"both":      {Series: "96x1S", Model: "9608", Version: "1", Canary: Canary{Count: 1}, Waves: []float64{1}},
		"no canary": {Series: "96x1S", Version: "1", Waves: []float64{1}},
		"two":       {Series: "96x1S", Version: "1", Canary: Canary{Count: 1, Group: 2}, Waves: []float64{1}},
		"waves":     {Series: "96x1S", Version: "1", Canary: Canary{Count: 1}, Waves: []float64{0.5}},
	} {
		if _, err := s.Start(req, []string{"B"}, nil, macs(3), nil, never, t0); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := s.Start(good, nil, nil, macs(3), nil, never, t0); err == nil {
		t.Error("no images: accepted")
	}
	if _, err := s.Start(good, []string{"B"}, nil, macs(3), nil, never, t0); err != nil {
		t.Fatal(err)
	}
	overlap := Overlaps(seriesOf)
	req := good
	req.Series, req.Model = "", "9608"
	if _, err := s.Start(req, []string{"B"}, nil, macs(3), nil, overlap, t0); err == nil {
		t.Error("a model of a series in a roll-out: accepted")
	}
}

func TestParseWaves(t *testing.T) {
	w, err := ParseWaves("10%, 50%,100%")
	if err != nil || len(w) != 3 || w[0] != 0.1 || w[2] != 1 {
		t.Fatalf("%v %v", w, err)
	}
	for _, bad := range []string{"", "50%,10%,100%", "10%,50%", "x", "0,100%"} {
		if _, err := ParseWaves(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
