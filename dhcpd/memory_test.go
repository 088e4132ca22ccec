package dhcpd

import (
	"context"
	"net/netip"
	"runtime"
	"testing"

	"github.com/phoneprov/phoneprov/dhcpd/leases"
)

// nullStore accepts every write and keeps nothing, so the test below weighs
// the server's own lease table.
type nullStore struct{}

func (nullStore) Load(context.Context) ([]leases.Lease, error) { return nil, nil }
func (nullStore) Put(context.Context, ...leases.Lease) error   { return nil }
func (nullStore) Delete(context.Context, ...netip.Addr) error  { return nil }
func (nullStore) Close() error                                 { return nil }

// The appliance must hold 50,000 leases in well under 60 MiB of RSS; the
// lease table is most of what grows with them.
func TestMemoryFor50kLeases(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	const n = 50000
	hs := newHarnessWith(t, benchConfig(), nullStore{})
	hs.h.log = discardLogger()
	hs.h.obs = nil
	disc, req := templates()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range uint32(n) {
		runDORA(t, hs, hs.sc, disc, req, i)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if got := len(hs.al.Snapshot()); got != n {
		t.Fatalf("%d leases, want %d", got, n)
	}
	perLease := float64(after.HeapAlloc-before.HeapAlloc) / n
	total := float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
	t.Logf("lease table: %.1f MiB for %d leases (%.0f bytes each, %.2f MiB per 10,000 leases; heap after GC)",
		total, n, perLease, perLease*10000/(1<<20))
	if total > 25 {
		t.Errorf("lease table takes %.1f MiB for %d leases; the budget for the whole process is 60 MiB", total, n)
	}
	runtime.KeepAlive(hs)
}
