package rollout

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/phoneprov/phoneprov/provisioning/firmware"
)

// Held is a firmware version in the file tree newer than the version
// released for its line: no phone is offered it outside a roll-out.
type Held struct {
	Line     string   `json:"line"`               // provisioning.ReleaseLine
	Series   string   `json:"series"`             // for rollout start
	Version  string   `json:"version"`            // the held version
	Files    []string `json:"files"`              // its images
	Released string   `json:"released,omitempty"` // what phones keep; empty: none released
	Rollout  int      `json:"rollout,omitempty"`  // the roll-out in force that releases it, if any
}

// Commands are what the operator runs to roll h out, or to release it
// to every phone at once.
func (h Held) Commands() (start, release string) {
	return fmt.Sprintf("phoneprov rollout start %s %s", h.Series, h.Version),
		fmt.Sprintf("phoneprov rollout release %s %s", h.Series, h.Version)
}

// HoldsNewFirmware reports whether new firmware is held
// (Config.HoldNewFirmware).
func (m *Manager) HoldsNewFirmware() bool { return m.cfg.Load().HoldNewFirmware }

// Held lists the held versions, by line, oldest first; none when
// Config.HoldNewFirmware is off.
func (m *Manager) Held() []Held {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.heldLocked()
}

func (m *Manager) heldLocked() []Held {
	if !m.cfg.Load().HoldNewFirmware || m.state.Released == nil {
		return nil
	}
	released := releasedVersions(m.state, true)
	var out []Held
	for _, v := range m.versions {
		r, ok := released[v.Line]
		if ok && firmware.Compare(v.Version, r) <= 0 {
			continue
		}
		h := Held{Line: v.Line, Series: string(v.Series), Version: v.Version.String(), Files: slices.Clone(v.Files), Released: m.state.Released[v.Line]}
		for _, ro := range m.state.InForce() {
			if ro.Release[v.Line] == h.Version {
				h.Rollout = ro.ID
			}
		}
		out = append(out, h)
	}
	return out
}

// releasedVersions are the plans' released versions: nil when nothing is
// held (hold off, or the file tree not looked at yet).
func releasedVersions(s *State, hold bool) map[string]firmware.Version {
	if !hold || s.Released == nil {
		return nil
	}
	out := make(map[string]firmware.Version, len(s.Released))
	for line, v := range s.Released {
		if pv, ok := firmware.ParseVersion(v); ok {
			out[line] = pv
		}
	}
	return out
}

// lookAtFirmware reads the firmware versions in the file tree. The first
// time ever it takes every one as released, so that a site that upgrades
// phoneprov offers what it offered before; with HoldNewFirmware off every
// version present is released as it appears. It logs each held version
// once, with the commands that roll it out or release it.
func (m *Manager) lookAtFirmware(ctx context.Context) error {
	if m.opts.Versions == nil {
		return nil
	}
	versions, err := m.opts.Versions(ctx)
	if err != nil {
		return fmt.Errorf("rollout: %w", err)
	}
	hold := m.cfg.Load().HoldNewFirmware
	m.mu.Lock()
	defer m.mu.Unlock()
	m.versions = versions
	prev := maps.Clone(m.state.Released)
	newer := map[string]string{}
	for _, v := range versions { // oldest first: the newest of a line wins
		if r, ok := m.state.Released[v.Line]; !ok || newerThan(v.Version, r) {
			newer[v.Line] = v.Version.String()
		}
	}
	switch {
	case m.state.Released == nil:
		m.state.Released = newer
		m.log.Info("firmware in the file tree taken as released (first look)", "versions", fmtVersions(newer))
	case !hold && len(newer) > 0:
		m.state.release(newer)
	}
	if !maps.Equal(prev, m.state.Released) || prev == nil {
		if err := m.saveLocked(); err != nil {
			m.state.Released = prev
			return err
		}
	}
	for _, h := range m.heldLocked() {
		key := h.Line + " " + h.Version
		if m.announced[key] || h.Rollout != 0 {
			continue
		}
		m.announced[key] = true
		start, release := h.Commands()
		m.log.Warn("new firmware held: no phone is offered it until a roll-out or a release",
			"series", h.Series, "line", h.Line, "version", h.Version, "files", strings.Join(h.Files, ","), "released", h.Released,
			"roll_out", start, "release_at_once", release)
	}
	return nil
}

// newerThan reports whether v is newer than the released version r.
func newerThan(v firmware.Version, r string) bool {
	rv, ok := firmware.ParseVersion(r)
	return !ok || firmware.Compare(v, rv) > 0
}

func fmtVersions(v map[string]string) string {
	var parts []string
	for _, line := range slices.Sorted(maps.Keys(v)) {
		parts = append(parts, line+" "+v[line])
	}
	return strings.Join(parts, ", ")
}

// releaseOf returns the lines and versions of images, as a roll-out or a
// release of them records them.
func (m *Manager) releaseOf(ctx context.Context, images []string) (map[string]string, error) {
	if m.opts.Versions == nil {
		return nil, nil
	}
	versions, err := m.opts.Versions(ctx)
	if err != nil {
		return nil, fmt.Errorf("rollout: %w", err)
	}
	out := map[string]string{}
	for _, v := range versions {
		if slices.ContainsFunc(v.Files, func(f string) bool {
			return slices.ContainsFunc(images, func(im string) bool { return strings.EqualFold(im, f) })
		}) {
			out[v.Line] = v.Version.String()
		}
	}
	return out, nil
}

// Release makes version of a series the released one at once, without
// waves: every phone of the series may be offered it from now on. It is
// refused while a roll-out in force covers the series (finish it
// instead). It returns what it released (line → version).
func (m *Manager) Release(ctx context.Context, series, version string) (map[string]string, error) {
	s, ok := firmware.ParseSeries(series)
	if !ok {
		return nil, fmt.Errorf("%q is not a series (%s)", series, strings.Join(firmware.SeriesNames(), ", "))
	}
	if m.opts.Versions == nil {
		return nil, errors.New("releases are not available here")
	}
	images, err := m.opts.Images(ctx, string(s), "", version)
	if err != nil {
		return nil, err
	}
	release, err := m.releaseOf(ctx, images)
	if err != nil {
		return nil, err
	}
	if len(release) == 0 {
		return nil, fmt.Errorf("no firmware %s with a version in its name for %s", version, s)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	target := &Rollout{Series: string(s)}
	for _, o := range m.state.InForce() {
		if Overlaps(seriesOf)(o, target) {
			return nil, fmt.Errorf("%w: roll-out %d (%s to %s) is in force for these phones: finish or abort it first", ErrState, o.ID, o.Target(), o.Version)
		}
	}
	prev := maps.Clone(m.state.Released)
	m.state.release(release)
	if err := m.saveLocked(); err != nil {
		m.state.Released = prev
		return nil, err
	}
	m.log.Warn("firmware released without a roll-out", "series", s, "versions", fmtVersions(release))
	return release, nil
}
