package probe

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/deploy/netlab/netlabtest"
)

func TestProbesTellUsedFromFree(t *testing.T) {
	p := netlabtest.NewPair(t, "srv", "host", netip.MustParsePrefix("198.18.220.1/24"), netip.MustParsePrefix("198.18.220.7/24"))
	srv, es := p.A, p.AIf
	var err error
	var arp *ARP
	var icmp *ICMP
	err = srv.Do(func() error {
		ifi, err := net.InterfaceByName(es)
		if err != nil {
			return err
		}
		if arp, err = NewARP(ifi.Index, ifi.HardwareAddr, netip.MustParseAddr("198.18.220.1")); err != nil {
			return err
		}
		icmp, err = NewICMP()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer arp.Close()
	defer icmp.Close()
	for _, p := range []struct {
		name string
		p    Prober
	}{{"arp", arp}, {"icmp", icmp}} {
		for addr, want := range map[string]bool{"198.18.220.7": true, "198.18.220.99": false} {
			ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
			start := time.Now()
			got, err := p.p.Probe(ctx, netip.MustParseAddr(addr))
			cancel()
			if err != nil {
				t.Errorf("%s %s: %v", p.name, addr, err)
			}
			if got != want {
				t.Errorf("%s %s: answered %v, want %v", p.name, addr, got, want)
			}
			if took := time.Since(start); took > time.Second {
				t.Errorf("%s %s took %s; probes are bounded by their context", p.name, addr, took)
			}
		}
	}
}
