package rollout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoneprov/phoneprov/provisioning"
	"github.com/phoneprov/phoneprov/provisioning/firmware"
	"github.com/phoneprov/phoneprov/provisioning/inventory"
)

// Phones is what the roll-outs read of the inventory.
type Phones interface {
	List(inventory.Filter) []inventory.Phone
	MACAt(addr netip.Addr) (inventory.MAC, bool)
}

// Options wire a Manager to the rest of the appliance.
type Options struct {
	Dir    string // <data_dir>/rollouts
	Phones Phones
	// Images returns the firmware files of a version for a series or a
	// model (provisioning.Generator.RolloutImages).
	Images func(ctx context.Context, series, model, version string) ([]string, error)
	// Versions lists the firmware versions in the file tree
	// (provisioning.Generator.FirmwareVersions), for the released and
	// held versions; nil: nothing is released or held.
	Versions func(ctx context.Context) ([]provisioning.FirmwareVersion, error)
	// GroupMembers returns the MACs of a GROUP, for a canary given as one;
	// nil: canaries by group are refused.
	GroupMembers func(group int) []string
	Logger       *slog.Logger
	Registry     prometheus.Registerer
	Now          func() time.Time
}

// Manager runs the roll-outs: the operator's commands, the periodic look
// at the inventory, the plans the generator asks for. Every change is
// written to disk before it is acknowledged or acted on.
type Manager struct {
	cfg  atomic.Pointer[Config]
	opts Options
	log  *slog.Logger

	mu    sync.Mutex // guards state, the file and announced
	state *State
	gen   uint64
	// versions are the firmware versions in the tree at the last look;
	// announced the held ones ("line version") logged already.
	versions  []provisioning.FirmwareVersion
	announced map[string]bool

	view atomic.Pointer[planView]
}

// Open loads the state from opts.Dir, registers the metrics and looks at
// the file tree's firmware once (the first time ever, every version
// present is taken as released).
func Open(ctx context.Context, cfg Config, opts Options) (*Manager, error) {
	var problems []string
	cfg.Validate(func(key string, err error) { problems = append(problems, key+": "+err.Error()) })
	if len(problems) > 0 {
		return nil, fmt.Errorf("rollout: invalid configuration: %s", strings.Join(problems, "; "))
	}
	if opts.Dir == "" || opts.Phones == nil || opts.Images == nil {
		return nil, errors.New("rollout: a folder, the inventory and the firmware catalogue are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	st, err := ReadState(opts.Dir)
	if err != nil {
		return nil, err
	}
	m := &Manager{opts: opts, log: opts.Logger, state: st, announced: map[string]bool{}}
	m.cfg.Store(&cfg)
	m.publishLocked()
	if err := m.lookAtFirmware(ctx); err != nil {
		m.log.Error("firmware versions not read; nothing is held until they are", "err", err)
	}
	if err := opts.Registry.Register(collector{m}); err != nil {
		return nil, fmt.Errorf("rollout: register metrics: %w", err)
	}
	if n := len(st.InForce()); n > 0 {
		m.log.Info("roll-outs in force", "count", n, "dir", opts.Dir)
	}
	return m, nil
}

// SetConfig replaces the settings (on reload); the plans follow
// HoldNewFirmware at once.
func (m *Manager) SetConfig(cfg Config) {
	m.cfg.Store(&cfg)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.publishLocked()
}

// UpgradePlan implements provisioning.Rollouts: the phone is the one
// named by mac, else the one the inventory knows at addr.
func (m *Manager) UpgradePlan(addr netip.Addr, mac string) *provisioning.UpgradePlan {
	v := m.view.Load()
	if v == nil {
		return nil
	}
	if mac != "" {
		c, err := canonicalMAC(mac)
		if err == nil {
			return v.plan(c)
		}
	}
	if im, ok := m.opts.Phones.MACAt(addr); ok {
		return v.plan(im.String())
	}
	return v.other
}

// List returns a copy of every roll-out, newest first.
func (m *Manager) List() []Rollout {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Rollout, 0, len(m.state.Rollouts))
	for i := len(m.state.Rollouts) - 1; i >= 0; i-- {
		out = append(out, clone(m.state.Rollouts[i]))
	}
	return out
}

func clone(r *Rollout) Rollout {
	c := *r
	c.Images, c.Waves = slices.Clone(r.Images), slices.Clone(r.Waves)
	c.Canary.MACs = slices.Clone(r.Canary.MACs)
	c.Members = make(map[string]*Member, len(r.Members))
	for k, v := range r.Members {
		mv := *v
		c.Members[k] = &mv
	}
	return c
}

// Start begins a roll-out and writes it to disk.
func (m *Manager) Start(ctx context.Context, req StartRequest) (Rollout, error) {
	if req.Model != "" {
		req.Model = strings.ToUpper(req.Model)
	}
	if req.Series != "" {
		s, ok := firmware.ParseSeries(req.Series)
		if !ok {
			return Rollout{}, fmt.Errorf("%q is not a series (%s)", req.Series, strings.Join(firmware.SeriesNames(), ", "))
		}
		req.Series = string(s)
	}
	images, err := m.opts.Images(ctx, req.Series, req.Model, req.Version)
	if err != nil {
		return Rollout{}, err
	}
	canary, err := m.canaryMACs(req.Canary)
	if err != nil {
		return Rollout{}, err
	}
	release, err := m.releaseOf(ctx, images)
	if err != nil {
		return Rollout{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opts.Now()
	pop := m.population(req.Series, req.Model, req.Version)
	r, err := m.state.Start(req, images, release, pop, canary, Overlaps(seriesOf), now)
	if err != nil {
		return Rollout{}, err
	}
	if err := m.saveLocked(); err != nil {
		m.state.Rollouts = m.state.Rollouts[:len(m.state.Rollouts)-1]
		m.state.NextID--
		return Rollout{}, err
	}
	m.log.Warn("roll-out started", "id", r.ID, "target", r.Target(), "version", r.Version, "images", strings.Join(r.Images, ","), "canary", len(r.Members), "waves", fmt.Sprint(r.Waves))
	return clone(r), nil
}

func (m *Manager) canaryMACs(c Canary) ([]string, error) {
	var macs []string
	switch {
	case c.Group > 0 && m.opts.GroupMembers == nil:
		return nil, errors.New("canaries by group are not available here")
	case c.Group > 0:
		macs = m.opts.GroupMembers(c.Group)
		if len(macs) == 0 {
			return nil, fmt.Errorf("no [[provisioning.phone]] sets GROUP %d", c.Group)
		}
	default:
		macs = c.MACs
	}
	out := make([]string, 0, len(macs))
	for _, s := range macs {
		mac, err := canonicalMAC(s)
		if err != nil {
			return nil, fmt.Errorf("canary: %w", err)
		}
		out = append(out, mac)
	}
	return out, nil
}

// Command is an operator's command on a roll-out.
type Command string

// The commands besides start.
const (
	Pause  Command = "pause"
	Resume Command = "resume"
	Abort  Command = "abort"
	Finish Command = "finish"
)

// Do applies a command to roll-out id (0: the newest in force) and writes
// the result to disk; on a failed write nothing changes.
func (m *Manager) Do(cmd Command, id int) (Rollout, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.pick(id)
	if err != nil {
		return Rollout{}, err
	}
	before, released := clone(r), maps.Clone(m.state.Released)
	now := m.opts.Now()
	switch cmd {
	case Pause:
		err = r.Pause(now)
	case Resume:
		err = r.Resume(now)
	case Abort:
		err = r.Abort(now)
	case Finish:
		// An aborted roll-out ends without releasing its version.
		aborted := r.Status == StatusAborted
		if err = r.Finish(now); err == nil && !aborted {
			m.state.release(r.Release)
		}
	default:
		err = fmt.Errorf("unknown command %q (pause, resume, abort, finish)", cmd)
	}
	if err != nil {
		return Rollout{}, err
	}
	if err := m.saveLocked(); err != nil {
		*r, m.state.Released = before, released
		return Rollout{}, err
	}
	m.log.Warn("roll-out "+string(cmd), "id", r.ID, "target", r.Target(), "version", r.Version, "status", r.Status)
	return clone(r), nil
}

func (m *Manager) pick(id int) (*Rollout, error) {
	if id != 0 {
		if r, ok := m.state.Get(id); ok {
			return r, nil
		}
		return nil, fmt.Errorf("no roll-out %d", id)
	}
	in := m.state.InForce()
	if len(in) == 0 {
		return nil, errors.New("no roll-out in force")
	}
	if len(in) > 1 {
		return nil, fmt.Errorf("%d roll-outs in force: name one by its id", len(in))
	}
	return in[0], nil
}

// Run looks at the inventory and the firmware every Config.CheckInterval
// until ctx ends.
func (m *Manager) Run(ctx context.Context) error {
	t := time.NewTicker(m.cfg.Load().CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := m.lookAtFirmware(ctx); err != nil {
				m.log.Error("firmware versions not read or not saved; will retry", "err", err)
			}
			if err := m.Check(); err != nil {
				m.log.Error("roll-out state not saved; will retry", "err", err)
			}
		}
	}
}

// Check folds what the inventory knows into every roll-out in force and
// writes the changes to disk. With none in force it reads nothing: a
// listing is a copy of every phone's record, which a storm of thousands
// of phones would double in memory every interval for nothing.
func (m *Manager) Check() error {
	if !m.anyInForce() {
		return nil
	}
	phones := m.opts.Phones.List(inventory.Filter{})
	byMAC := make(map[string]*inventory.Phone, len(phones))
	for i := range phones {
		byMAC[phones[i].MAC.String()] = &phones[i]
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opts.Now()
	lim := m.cfg.Load().limits()
	changed := false
	for _, r := range m.state.InForce() {
		images := r.Images
		observe := func(mac string) (Observation, bool) {
			p, ok := byMAC[mac]
			if !ok {
				return Observation{}, false
			}
			return observe(p, images), true
		}
		pop := populationOf(phones, r.Series, r.Model, r.Version)
		was := r.Status
		for _, ev := range r.Step(observe, SameVersion, pop, lim, now) {
			m.log.Info("roll-out", "id", r.ID, "event", ev)
			changed = true
		}
		if r.Status == StatusBraked && was != StatusBraked {
			m.log.Error("roll-out braked", "id", r.ID, "target", r.Target(), "version", r.Version, "reason", r.Reason)
		}
	}
	if !changed {
		return nil
	}
	return m.saveLocked()
}

// anyInForce reports whether a roll-out is in force.
func (m *Manager) anyInForce() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.ContainsFunc(m.state.Rollouts, (*Rollout).InForce)
}

// saveLocked writes the state and publishes its plans.
func (m *Manager) saveLocked() error {
	if err := writeState(m.opts.Dir, m.state); err != nil {
		return err
	}
	m.publishLocked()
	return nil
}

func (m *Manager) publishLocked() {
	m.gen++
	m.view.Store(newPlanView(m.state, m.gen, m.cfg.Load().HoldNewFirmware))
}

func (m *Manager) population(series, model, version string) []string {
	return populationOf(m.opts.Phones.List(inventory.Filter{}), series, model, version)
}

// populationOf returns the MACs, sorted, of the phones of a series or
// model that are not stale and do not report the version already.
func populationOf(phones []inventory.Phone, series, model, version string) []string {
	var out []string
	for i := range phones {
		p := &phones[i]
		if p.State == inventory.StateStale || p.FirmwareFrom == "user-agent" && SameVersion(p.Firmware, version) {
			continue
		}
		if inTarget(p, series, model) {
			out = append(out, p.MAC.String())
		}
	}
	slices.Sort(out)
	return out
}

func inTarget(p *inventory.Phone, series, model string) bool {
	if model != "" {
		return strings.EqualFold(p.Model, model)
	}
	if strings.EqualFold(p.Series, series) {
		return true
	}
	if p.Series != "" {
		return false
	}
	s, _ := firmware.ParseSeries(series)
	info, ok := firmware.Lookup(s)
	return ok && slices.Contains(info.Models, strings.ToUpper(p.Model))
}

// observe reads what the roll-outs need of one phone.
func observe(p *inventory.Phone, images []string) Observation {
	var o Observation
	if p.FirmwareFrom == "user-agent" && p.Firmware != "" {
		o.Running = p.Firmware
		o.Reported = p.LastSeen
		if p.LastScript != nil {
			o.Reported = p.LastScript.Time
		}
	}
	for _, f := range p.Files {
		base := path.Base(f.Name)
		switch {
		case f.Kind == inventory.KindFirmware && f.Status == 200 && (f.Size == 0 || f.Bytes == f.Size) &&
			slices.ContainsFunc(images, func(im string) bool { return strings.EqualFold(im, base) }):
			o.Fetches++
			if f.Time.After(o.Fetched) {
				o.Fetched = f.Time
			}
		case f.Kind == inventory.KindScript && (f.Status == 200 || f.Status == 304) && isUpgradeScript(base):
			if f.Time.After(o.Back) {
				o.Back = f.Time
			}
		}
	}
	o.UpToDate = p.State == inventory.StateUpToDate
	return o
}

func isUpgradeScript(name string) bool {
	_, ok := firmware.ByScript(name)
	return ok
}

// seriesOf lists the series whose scripts cover a model.
func seriesOf(model string) []string {
	var out []string
	for _, info := range firmware.AllSeries() {
		if slices.Contains(info.Models, strings.ToUpper(model)) {
			out = append(out, string(info.Series))
		}
	}
	return out
}
