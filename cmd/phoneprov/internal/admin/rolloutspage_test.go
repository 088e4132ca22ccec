package admin

import (
	"strings"
	"testing"
	"time"

	fwrollout "github.com/phoneprov/phoneprov/provisioning/rollout"
)

func TestETAAndWaveLabel(t *testing.T) {
	start := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	r := fwrollout.Rollout{Status: fwrollout.StatusRunning, Started: start, Waves: []float64{0.1, 0.5, 1}, Wave: 1,
		Members: map[string]*fwrollout.Member{
			"a": {Wave: 0, State: fwrollout.PhoneUpgraded},
			"b": {Wave: 1, State: fwrollout.PhoneUpgraded},
			"c": {Wave: 1, State: fwrollout.PhonePending},
		}}
	// 1.5 waves of 4 done in 30 minutes: 2.5 left, 50 minutes.
	if got := eta(r, start.Add(30*time.Minute)); got != "about 50m at the pace so far" {
		t.Errorf("eta = %q", got)
	}
	if got := waveLabel(r); got != "1 of 3 (10 %)" {
		t.Errorf("wave = %q", got)
	}
	r.Wave = 0
	r.Members = map[string]*fwrollout.Member{"a": {Wave: 0, State: fwrollout.PhonePending}}
	if got := eta(r, start.Add(time.Minute)); !strings.Contains(got, "unknown") {
		t.Errorf("eta before the canary is back = %q", got)
	}
	if got := waveLabel(r); got != "canary (then 3)" {
		t.Errorf("wave = %q", got)
	}
	r.Status = fwrollout.StatusBraked
	if got := eta(r, start); !strings.Contains(got, "stopped") {
		t.Errorf("eta when braked = %q", got)
	}
	if got := roundETA(90 * time.Minute); got != "1h30m" {
		t.Errorf("roundETA = %q", got)
	}
}
