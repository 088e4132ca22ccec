package rollout

import (
	"fmt"
	"time"
)

// Config is the [provisioning.rollout] section: the brake's settings.
type Config struct {
	// ComeBackWindow is how long a phone that downloaded the new image
	// has to come back reporting it before it counts as failed, and how
	// long a wave waits for its phones to download it.
	ComeBackWindow time.Duration `toml:"come_back_window"`
	// MaxFailureShare is the share of a wave (0..1) that may fail before
	// the roll-out brakes.
	MaxFailureShare float64 `toml:"max_failure_share"`
	// CheckInterval is how often the roll-outs look at the inventory.
	CheckInterval time.Duration `toml:"check_interval"`
	// HoldNewFirmware holds firmware newer than the version released for
	// its line (by a finished roll-out, rollout release, or present when
	// the feature first ran): no phone is offered it outside a roll-out.
	// False: a new image in the tree is offered to every phone of its
	// models at once, and counts as released.
	HoldNewFirmware bool `toml:"hold_new_firmware"`
}

// DefaultConfig returns the built-in defaults: 30 minutes to come back,
// brake past 10 % failed, a look every 5 seconds, new firmware held.
func DefaultConfig() Config {
	return Config{ComeBackWindow: 30 * time.Minute, MaxFailureShare: 0.1, CheckInterval: 5 * time.Second, HoldNewFirmware: true}
}

// Validate reports every problem with c, keyed relative to [provisioning.rollout].
func (c Config) Validate(report func(key string, err error)) {
	if c.ComeBackWindow < time.Second {
		report("come_back_window", fmt.Errorf("%s is shorter than a second (write durations with a unit, like \"30m\")", c.ComeBackWindow))
	}
	if c.MaxFailureShare < 0 || c.MaxFailureShare >= 1 {
		report("max_failure_share", fmt.Errorf("%g is outside 0..1 (0.1 brakes past 10 %% failed)", c.MaxFailureShare))
	}
	if c.CheckInterval < 10*time.Millisecond || c.CheckInterval > 10*time.Minute {
		report("check_interval", fmt.Errorf("%s is outside 10ms..10m", c.CheckInterval))
	}
}

func (c Config) limits() Limits {
	return Limits{ComeBackWindow: c.ComeBackWindow, MaxFailureShare: c.MaxFailureShare}
}
