package inventory

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/dhcpd"
)

// listJSON is everything List says, for comparing two inventories.
func listJSON(t *testing.T, inv *testInventory) string {
	t.Helper()
	b, err := json.Marshal(inv.List(Filter{}))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// flushTwice writes the changes, then freezes every phone that did not
// change since.
func flushTwice(t *testing.T, inv *testInventory) {
	t.Helper()
	for range 2 {
		if err := inv.Flush(); err != nil {
			t.Fatal(err)
		}
	}
}

// A phone that fetched nothing lists its files as [], hot and frozen: the
// API's and --json's lists are arrays, never null.
func TestEmptyListsAreArrays(t *testing.T) {
	inv := openTest(t, "", nil)
	defer inv.Close()
	feed(inv.Inventory, []fact{leaseFactOf(lease(0, "00:1b:4f:12:34:56", "198.18.10.22", dhcpd.Acked, "AVB123456", "ccp.avaya.com"))})
	for _, when := range []string{"hot", "frozen"} {
		if when == "frozen" {
			flushTwice(t, inv)
			if len(inv.phones.frozen) != 1 {
				t.Fatalf("%d phones frozen, want 1", len(inv.phones.frozen))
			}
		}
		got := listJSON(t, inv)
		if !strings.Contains(got, `"files":[]`) || strings.Contains(got, "null") {
			t.Errorf("%s: %s", when, got)
		}
	}
}

// A phone frozen between its boots reads, changes and persists exactly as
// one kept whole: the same morning is fed to two inventories, one of
// which freezes its phones, and everything they say is compared.
func TestFrozenPhonesAreTheSameRecords(t *testing.T) {
	neighbors := staticNeighbors()
	mutate := func(c *Config, o *Options) { o.Neighbors = neighbors.List }
	hot := openTest(t, "", mutate)
	defer hot.Close()
	cold := openTest(t, "", mutate)
	feed(hot.Inventory, bootMorning())
	feed(cold.Inventory, bootMorning())
	for _, inv := range []*testInventory{hot, cold} {
		inv.clock.Set(t0.Add(time.Minute))
	}

	if err := cold.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := len(cold.phones.frozen); n != 0 {
		t.Fatalf("%d phones frozen by the flush that wrote their changes", n)
	}
	if err := cold.Flush(); err != nil {
		t.Fatal(err)
	}
	if n, h := len(cold.phones.frozen), len(cold.phones.hot); n != 4 || h != 0 {
		t.Fatalf("after a flush with no change: %d frozen, %d hot; want 4 and 0", n, h)
	}
	if got, want := listJSON(t, cold), listJSON(t, hot); got != want {
		t.Fatalf("frozen phones list as\n%s\nwant\n%s", got, want)
	}

	// Facts about frozen phones: a renewal, a request tied to its phone
	// by its leased address only, and a new phone evicting none.
	more := []fact{
		leaseFactOf(lease(time.Hour, "00:1b:4f:12:34:56", "198.18.10.22", dhcpd.Acked, "AVB123456", "ccp.avaya.com")),
		{access: access(time.Hour+time.Second, "198.18.10.22", "http", "46xxsettings.txt", 200, 9000, s96UA)},
		leaseFactOf(lease(time.Hour+2*time.Second, "c8:1f:ea:83:e8:5a", "198.18.10.31", dhcpd.Acked, "AVX83E85A", "ccp.avaya.com")),
	}
	for _, inv := range []*testInventory{hot, cold} {
		feed(inv.Inventory, more)
		inv.clock.Set(t0.Add(2 * time.Hour))
	}
	if n := len(cold.phones.hot); n != 2 {
		t.Errorf("%d phones thawed by facts about two", n)
	}
	if got, want := listJSON(t, cold), listJSON(t, hot); got != want {
		t.Fatalf("after facts about frozen phones:\n%s\nwant\n%s", got, want)
	}
	if mac, ok := cold.MACAt(netip.MustParseAddr("198.18.10.31")); !ok || mac.String() != "c8:1f:ea:83:e8:5a" {
		t.Errorf("the moved address belongs to %v, %v", mac, ok)
	}

	// The journal, rewritten from frozen records and appended to from
	// thawed ones, reopens to the same phones.
	flushTwice(t, cold)
	cold.flushMu.Lock()
	err := cold.rewriteLocked()
	cold.flushMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	feed(hot.Inventory, []fact{{access: access(3*time.Hour, "198.18.10.21", "https", "J100Supgrade.txt", 200, 1800, j179UA)}})
	feed(cold.Inventory, []fact{{access: access(3*time.Hour, "198.18.10.21", "https", "J100Supgrade.txt", 200, 1800, j179UA)}})
	if err := cold.Close(); err != nil {
		t.Fatal(err)
	}
	reopened := openTest(t, cold.path, nil)
	defer reopened.Close()
	reopened.clock.Set(t0.Add(3 * time.Hour))
	hot.clock.Set(t0.Add(3 * time.Hour))
	if got, want := listJSON(t, reopened), listJSON(t, hot); got != want {
		t.Fatalf("reopened:\n%s\nwant\n%s", got, want)
	}
}

// The neighbour scan reads frozen phones and thaws only the ones it
// changes: a phone the kernel no longer confirms stays frozen.
func TestNeighborScanThawsOnlyWhatChanges(t *testing.T) {
	neighbors := staticNeighbors()
	inv := openTest(t, "", func(c *Config, o *Options) { o.Neighbors = neighbors.List })
	defer inv.Close()
	feed(inv.Inventory, bootMorning())
	flushTwice(t, inv)
	static, _ := ParseMAC("00:60:1d:01:02:03")

	inv.clock.Set(t0.Add(time.Hour))
	neighbors.mu.Lock()
	neighbors.table[0].Reachable = false
	neighbors.mu.Unlock()
	inv.scanNeighbors(context.Background())
	if len(inv.phones.hot) != 0 || len(inv.dirty) != 0 {
		t.Fatalf("a scan that confirms nothing thawed %d phones and changed %d", len(inv.phones.hot), len(inv.dirty))
	}

	neighbors.mu.Lock()
	neighbors.table[0].Reachable = true
	neighbors.mu.Unlock()
	inv.scanNeighbors(context.Background())
	if _, ok := inv.phones.hot[static]; !ok || len(inv.phones.hot) != 1 {
		t.Fatalf("the confirmed phone is not the one thawed: %d hot", len(inv.phones.hot))
	}
	if p := stateOf(t, inv, static.String()); !p.LastSeen.Equal(t0.Add(time.Hour)) {
		t.Errorf("last seen %v after the scan that confirmed it", p.LastSeen)
	}
}

// A DHCP client frozen takes well under half the heap it takes hot
// (BenchmarkHeapPer10kPhones reports both): the record, its map entry, its
// address's entry and its place in the age queue.
func TestFrozenPhoneHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	const phones = 10000
	inv := openTest(t, "", nil)
	defer inv.Close()
	before := heapInUse()
	for i := range phones {
		ev := lease(time.Duration(i)*time.Millisecond, fmt.Sprintf("02:42:00:00:%02x:%02x", i>>8, i&0xff),
			fmt.Sprintf("198.18.%d.%d", 100+i>>8, i&0xff), dhcpd.Acked, fmt.Sprintf("AVX%06X", i), "ccp.avaya.com")
		inv.apply(context.Background(), leaseFactOf(ev))
	}
	hot := float64(heapInUse()-before) / phones
	flushTwice(t, inv)
	frozen := float64(heapInUse()-before) / phones
	t.Logf("heap per DHCP client: %.0f bytes hot, %.0f frozen", hot, frozen)
	if n := len(inv.phones.frozen); n != phones {
		t.Fatalf("%d phones frozen, want %d", n, phones)
	}
	if frozen > 320 {
		t.Errorf("a frozen DHCP client takes %.0f bytes of heap; want at most 320 (hot: %.0f)", frozen, hot)
	}
}

// Reading frozen phones (a scrape of the phones gauge, a listing) decodes
// them into one reused Phone whose strings are parts of the records: it
// allocates nothing per phone, so a scrape of a large site makes no
// garbage to speak of.
func TestReadingFrozenPhonesAllocatesNothingPerPhone(t *testing.T) {
	const phones = 1000
	inv := openTest(t, "", nil)
	defer inv.Close()
	for i := range phones {
		ev := lease(time.Duration(i)*time.Millisecond, fmt.Sprintf("02:42:00:00:%02x:%02x", i>>8, i&0xff),
			fmt.Sprintf("198.18.%d.%d", 100+i>>8, i&0xff), dhcpd.Acked, fmt.Sprintf("AVX%06X", i), "ccp.avaya.com")
		inv.apply(context.Background(), leaseFactOf(ev))
	}
	feed(inv.Inventory, bootMorning()) // phones with fetches and a User-Agent too
	flushTwice(t, inv)
	seen := 0
	allocs := testing.AllocsPerRun(5, func() {
		inv.phones.each(func(p *Phone) {
			if p.LastSeen.After(t0) || len(p.Addrs) > 0 {
				seen++
			}
		})
	})
	if seen == 0 || allocs > 16 {
		t.Errorf("reading %d frozen phones: %v allocations (want a few for the whole walk: the reused Phone's room), %d seen", inv.phones.len(), allocs, seen)
	}
}
