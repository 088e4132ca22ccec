package provisioning

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/phoneprov/phoneprov/provisioning/firmware"
)

// Rollouts says how the firmware roll-outs in force change the upgrade
// scripts for one phone (provisioning/rollout implements it). The
// generator asks it per request and keeps one rendering per plan key.
type Rollouts interface {
	// UpgradePlan returns the plan for the phone at addr, or with mac
	// (12 hex digits, or empty) when the caller knows it; nil when no
	// roll-out is in force.
	UpgradePlan(addr netip.Addr, mac string) *UpgradePlan
}

// UpgradePlan is what the roll-outs in force mean for one phone's
// upgrade scripts. Equal keys mean equal plans; read it, never change it.
type UpgradePlan struct {
	// Key identifies the plan, for the generator's cache.
	Key string
	// Withhold are firmware files (the roll-outs' new images) named to no
	// phone, except by Offer: the scripts choose as if they were absent.
	Withhold []string
	// Offer are the files offered to this phone, for the models in
	// OfferModels (MODEL4 values; empty: every model the files fit):
	// named before any pin or newer file.
	Offer       []string
	OfferModels []string
	// Note says why, in the script's comment ("roll-out 3, wave 1").
	Note string
	// Released, when not nil, holds new firmware: an APPNAME image newer
	// (by releaseVersion) than the version released for its line
	// (ReleaseLine), or of a line
	// with none released, is named to no phone unless Offer names it (a
	// pin still may). Nil: nothing is held.
	Released map[string]firmware.Version
}

// ReleaseLine names the firmware line a released version is kept for:
// the series, and for a series that runs both protocols under one script
// (9600, 4600) the protocol too ("96xx/sip"), their versions being
// numbered apart.
func ReleaseLine(s firmware.Series, sig firmware.Signalling) string {
	if info, ok := firmware.Lookup(s); ok && info.Dual {
		return string(s) + "/" + string(sig)
	}
	return string(s)
}

// held reports whether the plan holds im back from model: new firmware
// not released yet and not offered to this phone by a roll-out.
func (p *UpgradePlan) held(im firmware.Image, model string) bool {
	if p == nil || p.Released == nil || im.Setting != "APPNAME" || im.Version.IsZero() || p.offered(im.File, model) {
		return false
	}
	r, ok := p.Released[ReleaseLine(im.Series, im.Signalling)]
	return !ok || firmware.Compare(releaseVersion(im.Version), r) > 0
}

// releaseVersion is v as releases record and compare it: its canonical
// form (firmware.Canonical), so that 7_1_15_0_4_r is 7.1.15.0.4.
func releaseVersion(v firmware.Version) firmware.Version {
	c, ok := firmware.ParseVersion(firmware.Canonical(v.String()))
	if !ok {
		return v
	}
	return c
}

// withheld reports whether the plan keeps file from model.
func (p *UpgradePlan) withheld(file, model string) bool {
	if p == nil || p.offered(file, model) {
		return false
	}
	return slices.ContainsFunc(p.Withhold, func(f string) bool { return strings.EqualFold(f, file) })
}

// offered reports whether the plan names file to model.
func (p *UpgradePlan) offered(file, model string) bool {
	if p == nil || len(p.OfferModels) > 0 && !slices.ContainsFunc(p.OfferModels, func(m string) bool { return strings.EqualFold(m, model) }) {
		return false
	}
	return slices.ContainsFunc(p.Offer, func(f string) bool { return strings.EqualFold(f, file) })
}

func (p *UpgradePlan) key() string {
	if p == nil {
		return ""
	}
	return p.Key
}
