package ha

import (
	"context"
	"net"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/dhcpd/leases"
)

// TestReportLastSync: the report gives when the last synchronisation
// from the partner completed, how many leases the partner sent (over
// several pages) and how many were newer here and so applied.
func TestReportLastSync(t *testing.T) {
	partner, err := New(testConfig("b"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	pdb := &memDB{ls: map[netip.Addr]leases.Lease{}}
	for i := range 3 {
		a := netip.AddrFrom4([4]byte{198, 18, 0, byte(10 + i)})
		pdb.ls[a] = leases.Lease{Addr: a, HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, byte(i)}, Start: epoch, Expiry: epoch.Add(time.Hour), State: leases.Active}
	}
	partner.db = pdb
	srv := httptest.NewServer(partner.Handler())
	defer srv.Close()

	synced := epoch.Add(time.Minute)
	c := testConfig("a")
	c.Peers[1].URL = srv.URL + "/"
	c.SyncPageLimit = 2
	s, err := New(c, Options{Now: func() time.Time { return synced }})
	if err != nil {
		t.Fatal(err)
	}
	// One lease is already here, newer than the partner's: not applied.
	mine := pdb.ls[netip.MustParseAddr("198.18.0.10")]
	mine.Start = epoch.Add(time.Second)
	s.db = &memDB{ls: map[netip.Addr]leases.Lease{mine.Addr: mine}}
	if r := s.Report(); !r.LastSync.IsZero() || r.LastSyncLeases != 0 {
		t.Fatalf("before any synchronisation: %v, %d leases", r.LastSync, r.LastSyncLeases)
	}
	if err := s.synchronize(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := s.Report()
	if !r.LastSync.Equal(synced) || r.LastSyncLeases != 3 || r.LastSyncApplied != 2 {
		t.Errorf("last sync %v, %d leases pulled, %d applied; want %v, 3, 2", r.LastSync, r.LastSyncLeases, r.LastSyncApplied, synced)
	}
}
