package inventory

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/dhcpd"
)

// A graceful stop loses no phone: not those queued as the stop came, nor
// a static one the neighbour table identifies then, nor those the servers
// report while they drain, after Run has returned.
func TestGracefulStopKeepsEveryPhone(t *testing.T) {
	table := staticNeighbors()
	// As the kernel's table does, the read honours its context.
	neighbors := func(ctx context.Context) ([]Neighbor, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return table.List(ctx)
	}
	inv := openTest(t, "", func(c *Config, o *Options) {
		c.FlushInterval = time.Minute // no periodic write saves them
		o.Neighbors = neighbors
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- inv.Run(ctx) }()

	inv.ObserveLease(lease(0, "c8:1f:ea:83:e8:5a", "198.18.10.21", dhcpd.Acked, "AVX83E85A", "ccp.avaya.com"))
	inv.ObserveAccess(access(time.Second, "198.18.10.50", "tftp", "46xxupgrade.scr", 200, 1500, ""))
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	// A transfer that ends while the file server drains.
	inv.ObserveLease(lease(2*time.Second, "00:1b:4f:12:34:56", "198.18.10.22", dhcpd.Acked, "AVB123456", "ccp.avaya.com"))
	inv.ObserveAccess(access(3*time.Second, "198.18.10.22", "http", "96x1Supgrade.txt", 200, 2000, s96UA))
	if err := inv.Close(); err != nil {
		t.Fatal(err)
	}

	reopened := openTest(t, inv.path, nil)
	defer reopened.Close()
	for _, mac := range []string{"c8:1f:ea:83:e8:5a", "00:60:1d:01:02:03", "00:1b:4f:12:34:56"} {
		m, _ := ParseMAC(mac)
		if _, ok := reopened.Get(m); !ok {
			t.Errorf("%s was lost in the stop", mac)
		}
	}
	if p := stateOf(t, reopened, "00:1b:4f:12:34:56"); len(p.Files) != 1 || p.Files[0].Name != "96x1Supgrade.txt" {
		t.Errorf("the file fetched during the drain was lost: %+v", p.Files)
	}
	if p := stateOf(t, reopened, "00:60:1d:01:02:03"); len(p.Addrs) == 0 || p.Addrs[0].Addr != netip.MustParseAddr("198.18.10.50") {
		t.Errorf("the static phone's address: %+v", p.Addrs)
	}
}
