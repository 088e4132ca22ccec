package admin

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/provisioning/downloads"
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

func TestRolloutsSectionMarksABrakeAndShowsTheCaps(t *testing.T) {
	var b strings.Builder
	v := rolloutsView{
		Rollouts: []rolloutRow{{ID: 3, Target: "96x1S", Version: "7.1.15", Status: "braked", Alert: true, Wave: "canary (then 2)",
			Failed: 3, Pending: 22, Reason: "brake: 3 of 25 phones of wave 0 failed", ETA: "stopped until the operator acts"}},
		Downloads: &downloads.Use{Active: 7, Peak: 50, Max: 50, MaxOnLink: 10, Refused: 123, RetryAfter: 30 * time.Second,
			Busiest: []downloads.LinkUse{{Link: netip.MustParsePrefix("198.18.4.0/22"), Active: 7}}},
	}
	if err := pages.ExecuteTemplate(&b, "rollouts-section", v); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{`class="pill s-failed"`, ">braked<", "brake: 3 of 25", `data-label="Failed">3<`, "stopped until the operator acts",
		"In flight <strong>7</strong> of 50", "at most 10 per link", "peak 50", "refused 123", "198.18.4.0/22", "Retry-After 30s"} {
		if !strings.Contains(out, want) {
			t.Errorf("the section lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	if err := pages.ExecuteTemplate(&b, "rollouts-section", rolloutsView{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "No roll-out") || strings.Contains(b.String(), `id="downloads"`) {
		t.Errorf("without roll-outs or a limiter:\n%s", b.String())
	}
}
