package rollout

import (
	"errors"
	"fmt"
	"github.com/phoneprov/phoneprov/provisioning/firmware"
	"math"
	"slices"
	"strings"
	"time"
)

// Status is where a roll-out stands.
type Status string

// The statuses. Every one but finished is "in force": the image is
// withheld from phones the roll-out does not offer it to.
const (
	// StatusRunning: waves start as the previous ones come back healthy.
	StatusRunning Status = "running"
	// StatusPaused: the operator paused it; nothing new is offered.
	StatusPaused Status = "paused"
	// StatusBraked: too many phones of the current wave failed; paused by
	// itself until the operator resumes, aborts or finishes.
	StatusBraked Status = "braked"
	// StatusDone: every wave came back; phones that appear later are
	// offered the image only once the operator finishes the roll-out.
	StatusDone Status = "done"
	// StatusAborted: only phones already upgraded keep the image; every
	// other phone is offered its previous firmware.
	StatusAborted Status = "aborted"
	// StatusFinished: the roll-out is over and changes nothing any more:
	// the upgrade scripts choose firmware as they do without one.
	StatusFinished Status = "finished"
)

// PhoneState is where one member of a roll-out stands.
type PhoneState string

// The member states.
const (
	// PhonePending: in a started wave, has not downloaded the image yet.
	PhonePending PhoneState = "pending"
	// PhoneFetched: downloaded the image completely; not back yet.
	PhoneFetched PhoneState = "fetched"
	// PhoneUpgraded: came back reporting the new version (or presumed up
	// to date by the inventory after coming back).
	PhoneUpgraded PhoneState = "upgraded"
	// PhoneFailed: came back on another version, downloaded the image
	// again after coming back, or did not come back within the window.
	PhoneFailed PhoneState = "failed"
	// PhoneAbsent: did not download the image within the window of its
	// wave; it does not hold the wave back and is still offered the image.
	PhoneAbsent PhoneState = "absent"
)

// AllPhoneStates lists the member states in display order.
func AllPhoneStates() []PhoneState {
	return []PhoneState{PhonePending, PhoneFetched, PhoneUpgraded, PhoneFailed, PhoneAbsent}
}

// Member is one phone of a started wave.
type Member struct {
	Wave   int        `json:"wave"` // 0 is the canary
	State  PhoneState `json:"state"`
	Since  time.Time  `json:"since"` // when it entered State
	Reason string     `json:"reason,omitempty"`
	// Fetches is how many complete downloads of the image the phone had
	// made when it entered PhoneFetched.
	Fetches int `json:"fetches,omitempty"`
}

// Canary chooses the first wave: Count phones, the listed MACs, or the
// phones of one GROUP; exactly one of them.
type Canary struct {
	Count int      `json:"count,omitempty"`
	MACs  []string `json:"macs,omitempty"`
	Group int      `json:"group,omitempty"` // 1..999; 0: none
}

// Rollout is one roll-out with its members. Its methods are pure: they
// change the value and nothing else.
type Rollout struct {
	ID      int    `json:"id"`
	Series  string `json:"series,omitempty"` // the target: a series ...
	Model   string `json:"model,omitempty"`  // ... or one MODEL4 value
	Version string `json:"version"`          // the version to reach
	// Images are the firmware files of Version for the target, as the
	// upgrade scripts name them.
	Images []string `json:"images"`
	// Release are the versions (firmware line → version) the roll-out
	// releases when it finishes.
	Release map[string]string `json:"release,omitempty"`
	Canary  Canary            `json:"canary"`
	// Waves are the cumulative shares of the target's phones after the
	// canary, increasing, the last 1 (100 %).
	Waves []float64 `json:"waves"`
	// Wave is the current wave: 0 the canary, i the wave of Waves[i-1].
	Wave        int       `json:"wave"`
	WaveStarted time.Time `json:"wave_started"`
	Status      Status    `json:"status"`
	Reason      string    `json:"reason,omitempty"` // why the status, for people
	// Accepted are failures of the current wave the operator accepted by
	// resuming after a brake; the brake counts only those beyond them.
	Accepted int                `json:"accepted,omitempty"`
	Members  map[string]*Member `json:"members"` // by MAC, lower-case with colons
	Started  time.Time          `json:"started"`
	Updated  time.Time          `json:"updated"`
}

// Target names what the roll-out moves, for people: "96x1S" or "model J179".
func (r *Rollout) Target() string {
	if r.Model != "" {
		return "model " + r.Model
	}
	return r.Series
}

// InForce reports whether the roll-out still changes the upgrade scripts.
func (r *Rollout) InForce() bool { return r.Status != StatusFinished }

// Offers reports whether the upgrade script names the new image to the
// phone: a member that has not failed while the roll-out runs; one that
// has fetched it already (so it is not flipped back) while paused or
// braked; one that is upgraded after an abort.
func (r *Rollout) Offers(mac string) bool {
	m := r.Members[mac]
	if m == nil {
		return false
	}
	switch r.Status {
	case StatusRunning, StatusDone:
		return m.State != PhoneFailed
	case StatusPaused, StatusBraked:
		return m.State == PhoneFetched || m.State == PhoneUpgraded
	case StatusAborted:
		return m.State == PhoneUpgraded
	}
	return false
}

// Counts returns how many members are in each state.
func (r *Rollout) Counts() map[PhoneState]int {
	out := make(map[PhoneState]int, 5)
	for _, m := range r.Members {
		out[m.State]++
	}
	return out
}

// ErrState is wrapped by a command the roll-out's status does not allow.
var ErrState = errors.New("not allowed in this status")

// Pause stops offering the image to phones that have not fetched it.
func (r *Rollout) Pause(now time.Time) error {
	if r.Status != StatusRunning {
		return fmt.Errorf("roll-out %d is %s: %w (only a running roll-out pauses)", r.ID, r.Status, ErrState)
	}
	r.set(StatusPaused, "paused by the operator", now)
	return nil
}

// Resume lets a paused or braked roll-out go on. After a brake the
// failures of the current wave so far are accepted: only new ones count.
func (r *Rollout) Resume(now time.Time) error {
	if r.Status != StatusPaused && r.Status != StatusBraked {
		return fmt.Errorf("roll-out %d is %s: %w (only a paused or braked roll-out resumes)", r.ID, r.Status, ErrState)
	}
	if r.Status == StatusBraked {
		r.Accepted = r.waveCounts(r.Wave)[PhoneFailed]
	}
	r.set(StatusRunning, "resumed by the operator", now)
	return nil
}

// Abort leaves the image to the phones already upgraded; every other
// phone is offered its previous firmware.
func (r *Rollout) Abort(now time.Time) error {
	if !r.InForce() || r.Status == StatusAborted {
		return fmt.Errorf("roll-out %d is %s: %w", r.ID, r.Status, ErrState)
	}
	r.set(StatusAborted, "aborted by the operator: phones not upgraded are offered their previous firmware", now)
	return nil
}

// Finish ends the roll-out: the upgrade scripts choose as without one.
// The Manager then releases its version, unless it was aborted.
func (r *Rollout) Finish(now time.Time) error {
	if !r.InForce() {
		return fmt.Errorf("roll-out %d is %s: %w", r.ID, r.Status, ErrState)
	}
	reason := "finished by the operator: its version is released"
	if r.Status == StatusAborted {
		reason = "finished by the operator after an abort: its version stays held"
	}
	r.set(StatusFinished, reason, now)
	return nil
}

func (r *Rollout) set(s Status, reason string, now time.Time) {
	r.Status, r.Reason, r.Updated = s, reason, now
}

// waveCounts counts the members of one wave by state.
func (r *Rollout) waveCounts(wave int) map[PhoneState]int {
	out := map[PhoneState]int{}
	for _, m := range r.Members {
		if m.Wave == wave {
			out[m.State]++
		}
	}
	return out
}

// addMembers puts phones into wave w, pending.
func (r *Rollout) addMembers(w int, macs []string, now time.Time) {
	for _, mac := range macs {
		if _, ok := r.Members[mac]; !ok {
			r.Members[mac] = &Member{Wave: w, State: PhonePending, Since: now}
		}
	}
}

// waveTarget is how many members the roll-out should have once wave w
// (1..len(Waves)) has started, out of population phones (members
// included).
func (r *Rollout) waveTarget(w, population int) int {
	return int(math.Ceil(r.Waves[w-1]*float64(population) - 1e-9))
}

// ParseWaves reads cumulative wave shares such as "10%,50%,100%" (or
// "0.1,0.5,1"): increasing, in (0, 1], the last 100 %.
func ParseWaves(s string) ([]float64, error) {
	var out []float64
	for part := range strings.SplitSeq(s, ",") {
		p := strings.TrimSpace(part)
		var v float64
		var err error
		if pct, ok := strings.CutSuffix(p, "%"); ok {
			_, err = fmt.Sscanf(pct, "%g", &v)
			v /= 100
		} else {
			_, err = fmt.Sscanf(p, "%g", &v)
		}
		if err != nil || p == "" {
			return nil, fmt.Errorf("wave %q is not a share like 10%% or 0.1", p)
		}
		out = append(out, v)
	}
	if err := checkWaves(out); err != nil {
		return nil, err
	}
	return out, nil
}

func checkWaves(w []float64) error {
	if len(w) == 0 || len(w) > 20 {
		return fmt.Errorf("give 1 to 20 waves, not %d", len(w))
	}
	for i, v := range w {
		if v <= 0 || v > 1 || i > 0 && v <= w[i-1] {
			return fmt.Errorf("waves must grow within (0 %%, 100 %%]: %v", w)
		}
	}
	if w[len(w)-1] != 1 {
		return fmt.Errorf("the last wave must be 100 %%, not %g %%", w[len(w)-1]*100)
	}
	return nil
}

// sortedMACs returns the keys of a set, sorted.
func sortedMACs(set map[string]*Member) []string {
	out := make([]string, 0, len(set))
	for m := range set {
		out = append(out, m)
	}
	slices.Sort(out)
	return out
}

// SameVersion reports whether a phone's reported version is the
// roll-out's: the same in firmware.Canonical form, or the roll-out's
// written shorter (7.1.15 covers 7.1.15.0.4).
func SameVersion(reported, version string) bool {
	a, b := strings.ToLower(firmware.Canonical(reported)), strings.ToLower(firmware.Canonical(version))
	return b != "" && (a == b || strings.HasPrefix(a, b+"."))
}
