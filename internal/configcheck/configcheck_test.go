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
