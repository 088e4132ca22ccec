package rollout

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// State is every roll-out there has been, the newest last. It is what
// the state file holds.
type State struct {
	NextID   int        `json:"next_id"`
	Rollouts []*Rollout `json:"rollouts"`
	// Released is the version released for each firmware line
	// (provisioning.ReleaseLine → version): what every phone may be
	// offered. Nil until the first look at the file tree, which takes
	// every version present then as released.
	Released map[string]string `json:"released"`
}

// release records versions (line → version) as released.
func (s *State) release(versions map[string]string) {
	if len(versions) == 0 {
		return
	}
	if s.Released == nil {
		s.Released = map[string]string{}
	}
	maps.Copy(s.Released, versions)
}

// StartRequest is the operator's start command.
type StartRequest struct {
	Series  string    `json:"series,omitempty"`
	Model   string    `json:"model,omitempty"`
	Version string    `json:"version"`
	Canary  Canary    `json:"canary"`
	Waves   []float64 `json:"waves"`
}

// Get returns the roll-out with id.
func (s *State) Get(id int) (*Rollout, bool) {
	for _, r := range s.Rollouts {
		if r.ID == id {
			return r, true
		}
	}
	return nil, false
}

// InForce returns the roll-outs in force, oldest first.
func (s *State) InForce() []*Rollout {
	var out []*Rollout
	for _, r := range s.Rollouts {
		if r.InForce() {
			out = append(out, r)
		}
	}
	return out
}

// maxKept bounds the roll-outs kept: the oldest finished ones go.
const maxKept = 50

// Start begins a roll-out of req's target to images (the files of
// req.Version for it), which releases the versions in release (line →
// version) when it finishes. population are the target's phones (MACs in
// canonical form) not yet on the version; canary are the canary's MACs
// (the listed ones, or those of its group) or nil for a count. A target
// that overlaps a roll-out in force is refused: one phone, one roll-out.
func (s *State) Start(req StartRequest, images []string, release map[string]string, population, canary []string, overlaps func(a, b *Rollout) bool, now time.Time) (*Rollout, error) {
	if (req.Series == "") == (req.Model == "") {
		return nil, errors.New("give a series or a model, not both")
	}
	if len(images) == 0 {
		return nil, fmt.Errorf("no firmware %s for %s in the file tree", req.Version, orModel(req))
	}
	if err := checkWaves(req.Waves); err != nil {
		return nil, err
	}
	c := req.Canary
	switch n := btoi(c.Count > 0) + btoi(len(c.MACs) > 0) + btoi(c.Group > 0); {
	case n != 1:
		return nil, errors.New("give the canary as a count, a list of MACs or a group, exactly one")
	case c.Count < 0, c.Group > 999:
		return nil, errors.New("the canary count must be positive and the group 1..999")
	}
	r := &Rollout{
		ID: s.NextID + 1, Series: req.Series, Model: req.Model, Version: req.Version,
		Images: slices.Clone(images), Release: maps.Clone(release), Canary: c, Waves: slices.Clone(req.Waves),
		Status: StatusRunning, Reason: "canary wave started", Members: map[string]*Member{},
		Started: now, Updated: now, WaveStarted: now,
	}
	for _, o := range s.InForce() {
		if overlaps(o, r) {
			return nil, fmt.Errorf("roll-out %d (%s to %s) is in force for these phones: finish or abort it first", o.ID, o.Target(), o.Version)
		}
	}
	first := canary
	if c.Count > 0 {
		first = population[:min(c.Count, len(population))]
	}
	if len(first) == 0 {
		return nil, fmt.Errorf("the canary holds no phone of %s (the inventory knows %d not on %s)", r.Target(), len(population), req.Version)
	}
	r.addMembers(0, first, now)
	s.NextID = r.ID
	s.Rollouts = append(s.Rollouts, r)
	s.trim()
	return r, nil
}

func (s *State) trim() {
	for len(s.Rollouts) > maxKept {
		i := slices.IndexFunc(s.Rollouts, func(r *Rollout) bool { return !r.InForce() })
		if i < 0 {
			return
		}
		s.Rollouts = slices.Delete(s.Rollouts, i, i+1)
	}
}

func orModel(req StartRequest) string {
	if req.Model != "" {
		return "model " + req.Model
	}
	return req.Series
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Observation is what the inventory knows of one member, for Step.
type Observation struct {
	// Running is the version the phone reported itself (its User-Agent),
	// at Reported; empty when it reports none.
	Running  string
	Reported time.Time
	// Fetched is its latest complete download of one of the roll-out's
	// images, zero when none; Fetches counts them (in its recent files).
	Fetched time.Time
	Fetches int
	// Back is its latest upgrade-script request.
	Back time.Time
	// UpToDate: the inventory judges it up to date on the newest firmware.
	UpToDate bool
}

// Limits are the brake's settings, from Config.
type Limits struct {
	ComeBackWindow  time.Duration
	MaxFailureShare float64
}

// Step folds what the inventory knows into a running, paused or braked
// roll-out: members change state, the brake pulls past the failure
// share, and the next wave starts when the current one is over. observe
// returns a member's observation (ok false: the inventory does not know
// it); population are the target's phones not yet on the version. It
// returns what happened, for the log; none means nothing changed.
func (r *Rollout) Step(observe func(mac string) (Observation, bool), same func(a, b string) bool, population []string, lim Limits, now time.Time) []string {
	if !r.InForce() || r.Status == StatusAborted {
		return nil
	}
	var events []string
	for _, mac := range sortedMACs(r.Members) {
		m := r.Members[mac]
		o, ok := observe(mac)
		if !ok {
			o = Observation{}
		}
		if ev := r.stepMember(mac, m, o, same, lim, now); ev != "" {
			events = append(events, ev)
		}
	}
	if r.Status == StatusRunning {
		if ev := r.brake(lim, now); ev != "" {
			return append(events, ev)
		}
		if ev := r.advance(population, now); ev != "" {
			events = append(events, ev)
		}
	}
	if len(events) > 0 {
		r.Updated = now
	}
	return events
}

// stepMember moves one member along what its observation says.
func (r *Rollout) stepMember(mac string, m *Member, o Observation, same func(a, b string) bool, lim Limits, now time.Time) string {
	to, why := m.State, ""
	reported := func(after time.Time) bool { return o.Running != "" && o.Reported.After(after) }
	switch m.State {
	case PhonePending, PhoneAbsent:
		switch {
		case reported(r.Started) && same(o.Running, r.Version):
			to, why = PhoneUpgraded, "reports "+o.Running
		case !o.Fetched.IsZero() && !o.Fetched.Before(r.Started):
			to, why = PhoneFetched, "downloaded the image"
			m.Fetches = o.Fetches
		case m.State == PhonePending && now.Sub(r.WaveStarted) > lim.ComeBackWindow:
			to, why = PhoneAbsent, fmt.Sprintf("did not download the image within %s of its wave's start", lim.ComeBackWindow)
		}
	case PhoneFetched:
		back := o.Back.After(m.Since)
		switch {
		case back && reported(m.Since) && same(o.Running, r.Version):
			to, why = PhoneUpgraded, "came back reporting "+o.Running
		case back && reported(m.Since):
			to, why = PhoneFailed, "fetched the image but came back on "+o.Running
		case back && o.Fetches > m.Fetches:
			to, why = PhoneFailed, "came back and downloaded the image again: it did not take it"
		case back && o.UpToDate:
			to, why = PhoneUpgraded, "came back and did not ask for the image again (presumed upgraded)"
		case now.Sub(m.Since) > lim.ComeBackWindow:
			to, why = PhoneFailed, fmt.Sprintf("did not come back within %s of downloading the image", lim.ComeBackWindow)
		}
	case PhoneFailed:
		if reported(m.Since) && same(o.Running, r.Version) {
			to, why = PhoneUpgraded, "reports "+o.Running+" after all"
		}
	}
	if to == m.State {
		return ""
	}
	from := m.State
	m.State, m.Since, m.Reason = to, now, why
	if to == PhoneFetched && !o.Fetched.IsZero() {
		m.Since = o.Fetched
	}
	return fmt.Sprintf("%s: %s → %s (%s)", mac, from, to, why)
}

// brake pauses the roll-out when the failures of the current wave, beyond
// those accepted, pass the share allowed.
func (r *Rollout) brake(lim Limits, now time.Time) string {
	c := r.waveCounts(r.Wave)
	size := 0
	for _, n := range c {
		size += n
	}
	failed := c[PhoneFailed] - r.Accepted
	if size == 0 || failed <= 0 || float64(failed)/float64(size) <= lim.MaxFailureShare {
		return ""
	}
	r.set(StatusBraked, fmt.Sprintf("brake: %d of %d phones of wave %d failed, more than %g %%; nothing new is offered until the operator resumes, aborts or finishes",
		failed, size, r.Wave, lim.MaxFailureShare*100), now)
	return r.Reason
}

// advance starts the next wave, or ends the roll-out, once every member
// of the current wave is upgraded, failed or absent.
func (r *Rollout) advance(population []string, now time.Time) string {
	c := r.waveCounts(r.Wave)
	if c[PhonePending] > 0 || c[PhoneFetched] > 0 {
		return ""
	}
	if r.Wave == len(r.Waves) {
		r.set(StatusDone, "every wave came back; finish the roll-out to offer the image to every phone", now)
		return r.Reason
	}
	r.Wave++
	r.Accepted = 0
	r.WaveStarted = now
	all := map[string]bool{}
	for mac := range r.Members {
		all[mac] = true
	}
	for _, mac := range population {
		all[mac] = true
	}
	want := r.waveTarget(r.Wave, len(all))
	var add []string
	for _, mac := range population {
		if len(r.Members)+len(add) >= want {
			break
		}
		if _, ok := r.Members[mac]; !ok {
			add = append(add, mac)
		}
	}
	r.addMembers(r.Wave, add, now)
	r.Reason = fmt.Sprintf("wave %d of %d started (%g %%): %d phones", r.Wave, len(r.Waves), r.Waves[r.Wave-1]*100, len(add))
	r.Updated = now
	return r.Reason
}

// Overlaps reports whether two roll-outs' targets may share a phone:
// the same series, a model of the other's series, or the same model.
// seriesOf lists the series a model belongs to.
func Overlaps(seriesOf func(model string) []string) func(a, b *Rollout) bool {
	return func(a, b *Rollout) bool {
		switch {
		case a.Model != "" && b.Model != "":
			return strings.EqualFold(a.Model, b.Model)
		case a.Series != "" && b.Series != "":
			return strings.EqualFold(a.Series, b.Series)
		case a.Model != "":
			return slices.ContainsFunc(seriesOf(a.Model), func(s string) bool { return strings.EqualFold(s, b.Series) })
		}
		return slices.ContainsFunc(seriesOf(b.Model), func(s string) bool { return strings.EqualFold(s, a.Series) })
	}
}
