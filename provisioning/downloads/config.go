package downloads

import (
	"fmt"
	"time"
)

// Config is the [provisioning.downloads] section.
type Config struct {
	// MaxConcurrent caps firmware downloads in flight over HTTP, HTTPS
	// and TFTP together; 0 means no cap (they are still counted).
	MaxConcurrent int `toml:"max_concurrent"`
	// MaxPerLink caps firmware downloads in flight to the phones of one
	// link; 0 means no such cap. A phone's link is the [[dhcp.subnet]]
	// its address is in (a segment phoneprov serves directly or through
	// a relay), else its /24 (IPv4) or /64 (IPv6).
	MaxPerLink int `toml:"max_per_link"`
	// RetryAfter is what a phone over the cap is told to wait (HTTP's
	// Retry-After; TFTP has no such field).
	RetryAfter time.Duration `toml:"retry_after"`
}

// DefaultConfig returns the built-in defaults: no caps, retry after 30 seconds.
func DefaultConfig() Config {
	return Config{MaxConcurrent: 0, MaxPerLink: 0, RetryAfter: 30 * time.Second}
}

// Validate reports every problem with c, keyed relative to [provisioning.downloads].
func (c Config) Validate(report func(key string, err error)) {
	if c.MaxConcurrent < 0 {
		report("max_concurrent", fmt.Errorf("%d is negative (0 means no cap)", c.MaxConcurrent))
	}
	if c.MaxPerLink < 0 {
		report("max_per_link", fmt.Errorf("%d is negative (0 means no cap per link)", c.MaxPerLink))
	}
	if c.MaxConcurrent > 0 && c.MaxPerLink > c.MaxConcurrent {
		report("max_per_link", fmt.Errorf("%d is more than max_concurrent %d: the global cap would always bind first", c.MaxPerLink, c.MaxConcurrent))
	}
	if c.RetryAfter < time.Second || c.RetryAfter > time.Hour {
		report("retry_after", fmt.Errorf("%s is outside 1s..1h (write durations with a unit, like \"30s\")", c.RetryAfter))
	}
}
