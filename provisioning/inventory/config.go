package inventory

import (
	"fmt"
	"time"

	"github.com/phoneprov/phoneprov/internal/configcheck"
)

// Config is the [provisioning.inventory] section of the configuration file.
type Config struct {
	// StaleAfter: a phone not seen for longer is in state stale.
	StaleAfter time.Duration `toml:"stale_after"`
	// FetchWindow is how long after its last script or firmware request a
	// phone counts as still in its boot sequence (state fetching).
	FetchWindow time.Duration `toml:"fetch_window"`
	// FilesPerPhone is how many recent file requests are kept per phone.
	FilesPerPhone int `toml:"files_per_phone"`
	// MaxPhones caps the records kept; past it the one seen longest ago
	// goes. 0, the default, scales it with the fleet (PhonesFor).
	MaxPhones int `toml:"max_phones"`
	// FlushInterval is how often changes are written to the journal (inventory.journal);
	// a crash (kill -9, power loss) loses at most this much. A graceful
	// stop writes everything.
	FlushInterval time.Duration `toml:"flush_interval"`
	// NeighborInterval is how often the kernel's neighbour table is read to
	// refresh known phones' addresses and last-seen times; 0 reads it only
	// to identify a client address no lease explains.
	NeighborInterval time.Duration `toml:"neighbor_interval"`
	// QueueLength bounds the facts waiting to be folded in; past it they
	// are dropped and counted. 0, the default, scales it with the fleet
	// (QueueFor).
	QueueLength int `toml:"queue_length"`
}

// MinPhones is the least max_phones = 0 allows.
const MinPhones = 20000

// PhonesFor returns the cap on records for a fleet of phones:
// configcheck.FleetCap (phones replaced or passing through keep their
// records until they are stale). A phone between boots takes 0.2 to 1.6
// kilobytes (its record frozen, see records), up to twice that while it
// changes (BenchmarkHeapPer10kPhones).
func (c Config) PhonesFor(fleet int) int { return configcheck.FleetCap(c.MaxPhones, MinPhones, fleet) }

// MinQueue is the least queue_length = 0 allows.
const MinQueue = 4096

// QueueFor returns the bound on waiting facts for a fleet of phones:
// configcheck.FleetCap, two facts per phone, so a whole site's DHCP
// exchanges (an offer and an ack each) fit when it reboots at once and
// the folding falls behind. A fact takes about 350 bytes while it waits;
// the queue's room is given back once it has drained (see spareKeep).
// With 4,096 for 30,000 phones, up to 2,263 facts of a mass reboot were
// dropped while the appliance ran on one processor (dhcpbench).
func (c Config) QueueFor(fleet int) int { return configcheck.FleetCap(c.QueueLength, MinQueue, fleet) }

// DefaultConfig returns the built-in defaults.
func DefaultConfig() Config {
	return Config{
		StaleAfter:       7 * 24 * time.Hour,
		FetchWindow:      10 * time.Minute,
		FilesPerPhone:    20,
		FlushInterval:    time.Second,
		NeighborInterval: time.Minute,
		QueueLength:      0,
	}
}

// Validate reports every problem with c, keyed relative to [provisioning.inventory].
func (c Config) Validate(report func(key string, err error)) {
	if c.StaleAfter <= 0 {
		report("stale_after", fmt.Errorf("%s must be positive (write durations with a unit, like \"168h\")", c.StaleAfter))
	}
	if c.FetchWindow <= 0 {
		report("fetch_window", fmt.Errorf("%s must be positive", c.FetchWindow))
	}
	if c.FilesPerPhone < 1 || c.FilesPerPhone > 1000 {
		report("files_per_phone", fmt.Errorf("%d is outside 1..1000", c.FilesPerPhone))
	}
	if c.MaxPhones < 0 || c.MaxPhones > 1000000 {
		report("max_phones", fmt.Errorf("%d is outside 0..1000000 (0 scales it with the DHCP pools)", c.MaxPhones))
	}
	if c.FlushInterval < 10*time.Millisecond || c.FlushInterval > time.Minute {
		report("flush_interval", fmt.Errorf("%s is outside 10ms..1m", c.FlushInterval))
	}
	if c.NeighborInterval < 0 {
		report("neighbor_interval", fmt.Errorf("%s is negative (0 turns periodic reads off)", c.NeighborInterval))
	}
	if c.QueueLength != 0 && (c.QueueLength < 16 || c.QueueLength > 1<<20) {
		report("queue_length", fmt.Errorf("%d is outside 16..1048576 (0 scales it with the DHCP pools)", c.QueueLength))
	}
}
