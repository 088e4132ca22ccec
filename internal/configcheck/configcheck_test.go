package configcheck

import (
	"errors"
	"testing"
)

func TestCheck(t *testing.T) {
	if err := Check("relay", func(func(string, error)) {}); err != nil {
		t.Fatalf("no problems: %v", err)
	}
	err := Check("relay", func(report func(string, error)) {
		report("timeout", errors.New("must be positive"))
		report("upstreams[0]", errors.New("not a URL"))
	})
	want := "relay: invalid configuration: timeout: must be positive; upstreams[0]: not a URL"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
}

func TestFleetCap(t *testing.T) {
	for _, c := range []struct{ set, least, fleet, want int }{
		{0, 5000, 0, 5000}, {0, 5000, 100, 5000}, {0, 5000, 6000, 12000}, {7, 5000, 6000, 7},
	} {
		if got := FleetCap(c.set, c.least, c.fleet); got != c.want {
			t.Errorf("FleetCap(%d, %d, %d) = %d, want %d", c.set, c.least, c.fleet, got, c.want)
		}
	}
}
