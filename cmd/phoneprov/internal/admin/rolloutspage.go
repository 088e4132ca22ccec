package admin

import (
	"fmt"
	"strings"
	"time"

	"github.com/phoneprov/phoneprov/provisioning/downloads"
	fwrollout "github.com/phoneprov/phoneprov/provisioning/rollout"
)

// rolloutsView is the status page's firmware roll-outs and download caps.
type rolloutsView struct {
	// Enabled: the appliance runs roll-outs (the start form is shown).
	Enabled  bool
	Rollouts []rolloutRow
	// Hold: new firmware is held until a roll-out; Held lists it.
	Hold bool
	Held []heldRow
	// Downloads is the caps in use and the downloads in flight; nil when
	// the appliance has no limiter.
	Downloads *downloads.Use
}

// rolloutRow is one roll-out on the page.
type rolloutRow struct {
	ID                                         int
	Target, Version, Status, Reason            string
	Wave                                       string // "canary", "2 of 3 (50 %)"
	Pending, Fetched, Upgraded, Failed, Absent int
	Members                                    int
	ETA                                        string
	Alert                                      bool // braked
	Updated                                    time.Time
	Commands                                   []fwrollout.Command // the buttons its status allows
}

// heldRow is one held firmware version on the page.
type heldRow struct {
	fwrollout.Held
	Start, Release string // the commands
}

// maxRolloutsShown bounds the roll-outs on the page: those in force and
// the latest ended ones.
const maxRolloutsShown = 5

// busiestLinksShown is how many links the download section lists.
const busiestLinksShown = 5

// rolloutsSection reads the roll-outs and the download caps for the page.
func (s *Site) rolloutsSection(now time.Time) rolloutsView {
	var v rolloutsView
	if s.Downloads != nil {
		u := s.Downloads.Use(busiestLinksShown)
		v.Downloads = &u
	}
	if s.Rollouts == nil {
		return v
	}
	v.Enabled = true
	v.Hold = s.Rollouts.HoldsNewFirmware()
	for _, h := range s.Rollouts.Held() {
		start, release := h.Commands()
		v.Held = append(v.Held, heldRow{Held: h, Start: start, Release: release})
	}
	for i, r := range s.Rollouts.List() {
		if i >= maxRolloutsShown && !r.InForce() {
			break
		}
		n := r.Counts()
		v.Rollouts = append(v.Rollouts, rolloutRow{
			ID: r.ID, Target: r.Target(), Version: r.Version, Status: string(r.Status), Reason: r.Reason,
			Wave: waveLabel(r), Members: len(r.Members),
			Pending: n[fwrollout.PhonePending], Fetched: n[fwrollout.PhoneFetched], Upgraded: n[fwrollout.PhoneUpgraded],
			Failed: n[fwrollout.PhoneFailed], Absent: n[fwrollout.PhoneAbsent],
			ETA: eta(r, now), Alert: r.Status == fwrollout.StatusBraked, Updated: r.Updated, Commands: r.Commands(),
		})
	}
	return v
}

// waveLabel names the current wave: "canary (wave 0 of 3)" or "2 of 3 (50 %)".
func waveLabel(r fwrollout.Rollout) string {
	if r.Wave == 0 {
		return fmt.Sprintf("canary (then %d)", len(r.Waves))
	}
	return fmt.Sprintf("%d of %d (%g %%)", r.Wave, len(r.Waves), r.Waves[r.Wave-1]*100)
}

// eta estimates when a running roll-out ends at the pace so far: the
// waves done (the current one by the share of its members no longer
// pending or fetched) over the time since it started, applied to the
// waves left. It is a guess and says so; phones that are switched off
// keep a wave open until the come-back window passes.
func eta(r fwrollout.Rollout, now time.Time) string {
	switch r.Status {
	case fwrollout.StatusDone:
		return "done: finish it to offer the image to every phone"
	case fwrollout.StatusPaused, fwrollout.StatusBraked:
		return "stopped until the operator acts"
	case fwrollout.StatusAborted, fwrollout.StatusFinished:
		return "-"
	}
	in, over := 0, 0
	for _, m := range r.Members {
		if m.Wave != r.Wave {
			continue
		}
		in++
		if m.State != fwrollout.PhonePending && m.State != fwrollout.PhoneFetched {
			over++
		}
	}
	done := float64(r.Wave)
	if in > 0 {
		done += float64(over) / float64(in)
	}
	elapsed := now.Sub(r.Started)
	if done <= 0 || elapsed <= 0 {
		return "unknown until the canary comes back"
	}
	left := time.Duration(float64(elapsed) * (float64(len(r.Waves)+1) - done) / done)
	return "about " + roundETA(left) + " at the pace so far"
}

// roundETA writes a duration for people: minutes, or hours and minutes.
func roundETA(d time.Duration) string {
	d = d.Round(time.Minute)
	if d < time.Minute {
		return "a minute"
	}
	return strings.TrimSuffix(d.String(), "0s")
}
