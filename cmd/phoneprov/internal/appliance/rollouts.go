package appliance

import (
	"context"

	"github.com/phoneprov/phoneprov/provisioning/rollout"
)

// buildRollouts opens the firmware roll-outs over the inventory and the
// generator's catalogue, and hands them to the generator.
func (a *appliance) buildRollouts(ctx context.Context) error {
	m, err := rollout.Open(ctx, a.cfg.Provisioning.Rollout, rollout.Options{
		Dir:          a.cfg.RolloutsDir(),
		Phones:       a.inventory,
		Images:       a.generator.RolloutImages,
		Versions:     a.generator.FirmwareVersions,
		GroupMembers: a.generator.GroupMembers,
		Logger:       a.log.With("part", "rollout"),
		Registry:     a.reg,
	})
	if err != nil {
		return err
	}
	a.rollouts = m
	a.generator.SetRollouts(m)
	return nil
}
