package rollout

import (
	"fmt"
	"net/netip"

	"github.com/phoneprov/phoneprov/provisioning"
	"github.com/phoneprov/phoneprov/provisioning/inventory"
)

// planView is the upgrade plans of one State, computed once per change
// so that a request costs a map lookup.
type planView struct {
	other *provisioning.UpgradePlan            // phones no roll-out offers the image to
	byMAC map[string]*provisioning.UpgradePlan // MAC (canonical) → plan, for those it does
}

// newPlanView computes the plans; nil when no roll-out is in force and
// nothing is held. gen tells apart the plans of successive states, for
// the generator's cache. hold: new firmware is held (Config.HoldNewFirmware).
func newPlanView(s *State, gen uint64, hold bool) *planView {
	in := s.InForce()
	released := releasedVersions(s, hold)
	if len(in) == 0 && released == nil {
		return nil
	}
	var withhold []string
	for _, r := range in {
		withhold = append(withhold, r.Images...)
	}
	v := &planView{
		other: &provisioning.UpgradePlan{Key: fmt.Sprint(gen), Withhold: withhold, Released: released},
		byMAC: map[string]*provisioning.UpgradePlan{},
	}
	for _, r := range in {
		p := &provisioning.UpgradePlan{
			Key: fmt.Sprintf("%d/r%d", gen, r.ID), Withhold: withhold, Offer: r.Images, Released: released,
			Note: fmt.Sprintf("roll-out %d of %s to %s", r.ID, r.Target(), r.Version),
		}
		if r.Model != "" {
			p.OfferModels = []string{r.Model}
		}
		for mac := range r.Members {
			if r.Offers(mac) {
				v.byMAC[mac] = p
			}
		}
	}
	return v
}

// plan returns the plan for a phone (MAC in canonical form, or empty).
func (v *planView) plan(mac string) *provisioning.UpgradePlan {
	if v == nil {
		return nil
	}
	if p, ok := v.byMAC[mac]; ok {
		return p
	}
	return v.other
}

// canonicalMAC writes a MAC as the roll-outs key it: the inventory's
// form, lower-case hex pairs with colons.
func canonicalMAC(s string) (string, error) {
	m, err := inventory.ParseMAC(s)
	if err != nil {
		return "", err
	}
	return m.String(), nil
}

// Offline answers upgrade plans from a state read from disk, for
// phoneprov render --mac: the phone is the one named by MAC.
type Offline struct{ view *planView }

// NewOffline returns the plans of s; hold is Config.HoldNewFirmware.
func NewOffline(s *State, hold bool) Offline { return Offline{view: newPlanView(s, 0, hold)} }

// UpgradePlan implements provisioning.Rollouts for the phone with mac;
// without one, the plan for phones outside every wave.
func (o Offline) UpgradePlan(_ netip.Addr, mac string) *provisioning.UpgradePlan {
	m, err := canonicalMAC(mac)
	if err != nil {
		m = ""
	}
	return o.view.plan(m)
}
