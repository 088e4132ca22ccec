// Package netlabtest builds the commonest test lab, two network namespaces
// joined by a veth pair, for tests: it skips where labs cannot be built and
// removes the lab when the test ends.
package netlabtest

import (
	"net/netip"
	"os"
	"testing"

	"github.com/phoneprov/phoneprov/deploy/netlab"
)

// Pair is the commonest lab: two namespaces joined by one veth pair.
type Pair struct {
	Lab      *netlab.Lab
	A, B     *netlab.Namespace
	AIf, BIf string // the veth ends, in A and in B
	AAddr    netip.Prefix
	BAddr    netip.Prefix
}

// NewPair builds a Pair for a test, addressing the ends with aAddr and
// bAddr (either may be the zero Prefix to leave an end unaddressed), and
// removes it when the test ends. Where labs cannot be built (not root, no
// ip command) the test is skipped, or fails when the CI variable is set.
func NewPair(t testing.TB, roleA, roleB string, aAddr, bAddr netip.Prefix) *Pair {
	t.Helper()
	if err := netlab.Available(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	p := &Pair{Lab: netlab.New(), AAddr: aAddr, BAddr: bAddr}
	t.Cleanup(func() { p.Lab.Close() })
	var err error
	if p.A, err = p.Lab.Namespace(roleA); err != nil {
		t.Fatal(err)
	}
	if p.B, err = p.Lab.Namespace(roleB); err != nil {
		t.Fatal(err)
	}
	if p.AIf, p.BIf, err = p.Lab.Veth(p.A, p.B); err != nil {
		t.Fatal(err)
	}
	for _, end := range []struct {
		ns     *netlab.Namespace
		ifname string
		addr   netip.Prefix
	}{{p.A, p.AIf, aAddr}, {p.B, p.BIf, bAddr}} {
		if end.addr.IsValid() {
			if err := end.ns.AddAddr(end.ifname, end.addr); err != nil {
				t.Fatal(err)
			}
		}
	}
	return p
}
