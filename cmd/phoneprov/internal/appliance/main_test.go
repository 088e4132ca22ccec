package appliance

import (
	"testing"

	"github.com/phoneprov/phoneprov/deploy/netlab/netlabtest"
)

// TestMain runs up to six of the parallel tests at once: they are HA labs
// that wait for heartbeats and failover delays, and browsers.
func TestMain(m *testing.M) {
	netlabtest.ParallelLabs(6)
	m.Run()
}
