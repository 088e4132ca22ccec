package inventory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/phoneprov/phoneprov/dhcpd"
)

// testMAC is the i-th MAC of a test fleet.
func testMAC(i int) string { return fmt.Sprintf("02:00:00:00:%02x:%02x", i>>8, i&0xff) }

func offerAt(inv *testInventory, at time.Duration, i int) {
	inv.apply(context.Background(), leaseFactOf(lease(at, testMAC(i), "", dhcpd.Offered, "", "ccp.avaya.com")))
}

func TestEvictsThePhoneSeenLongestAgo(t *testing.T) {
	inv := openTest(t, "", func(c *Config, o *Options) { c.MaxPhones = 100 })
	defer inv.Close()
	for i := range 100 {
		offerAt(inv, time.Duration(i)*time.Second, i)
	}
	// Phones 0..9 come back later: now 10..19 are the ones seen longest ago.
	for i := range 10 {
		offerAt(inv, 200*time.Second+time.Duration(i)*time.Second, i)
	}
	for i := range 10 {
		offerAt(inv, 300*time.Second+time.Duration(i)*time.Second, 1000+i)
	}
	if got := len(inv.List(Filter{})); got != 100 {
		t.Fatalf("%d phones kept, want 100", got)
	}
	for i := range 1010 {
		m, _ := ParseMAC(testMAC(i))
		_, kept := inv.Get(m)
		wantKept := i < 10 || i >= 20 && i < 100 || i >= 1000
		if kept != wantKept {
			t.Errorf("phone %d kept=%v, want %v", i, kept, wantKept)
		}
	}
	if got := testutil.ToFloat64(inv.metrics.evicted); got != 10 {
		t.Errorf("evicted counter %v, want 10", got)
	}
}

func TestEvictionAfterForgetAndRelearn(t *testing.T) {
	inv := openTest(t, "", func(c *Config, o *Options) { c.MaxPhones = 3 })
	defer inv.Close()
	for i := range 3 {
		offerAt(inv, time.Duration(i)*time.Second, i)
	}
	m0, _ := ParseMAC(testMAC(0))
	inv.Forget(m0)
	offerAt(inv, 10*time.Second, 0) // learnt again: the newest now
	offerAt(inv, 11*time.Second, 3) // full: phone 1 goes
	for i, want := range []bool{true, false, true, true} {
		m, _ := ParseMAC(testMAC(i))
		if _, kept := inv.Get(m); kept != want {
			t.Errorf("phone %d kept=%v, want %v", i, kept, want)
		}
	}
}

func TestJournalSkipsDamagedLinesAndHeals(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inventory.journal")
	first := openTest(t, path, nil)
	for i := range 3 {
		offerAt(first, time.Duration(i)*time.Second, i)
		if err := first.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	// Damage phone 1's line (bit rot) and leave a torn line at the end (a
	// power cut during a write).
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m1, _ := ParseMAC(testMAC(1))
	i := bytes.Index(data, append([]byte{opPhone}, m1[:]...))
	if i < 0 {
		t.Fatalf("phone 1 not in the journal: %x", data)
	}
	data[i+len(m1)+5] ^= 0x01
	m9, _ := ParseMAC(testMAC(9))
	data = append(data, appendPhoneFrame(nil, &Phone{MAC: m9, LastSeen: t0})[:20]...)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}

	second := openTest(t, path, nil)
	for i, want := range []bool{true, false, true} {
		m, _ := ParseMAC(testMAC(i))
		if _, ok := second.Get(m); ok != want {
			t.Errorf("phone %d present=%v, want %v", i, ok, want)
		}
	}
	// The journal was marked for rewriting; the first flush does it, so
	// later appends never follow the torn line.
	if err := second.Flush(); err != nil {
		t.Fatal(err)
	}
	offerAt(second, time.Minute, 7)
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}
	st, ld, err := openStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	if rec := ld.recovery; rec.TornBytes > 0 || rec.Damaged > 0 || ld.unreadable > 0 || len(ld.phones) != 3 {
		t.Fatalf("after healing: %d phones, %+v, %d unreadable", len(ld.phones), rec, ld.unreadable)
	}
}

func TestJournalIsRewrittenWhenItGrows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inventory.journal")
	inv := openTest(t, path, nil)
	// Enough phones and rounds (whole records, then touches) to pass compactMin.
	const phones, rounds = 4000, 9
	for round := range rounds {
		for i := range phones {
			offerAt(inv, time.Duration(round*phones+i)*time.Millisecond, i)
		}
		if err := inv.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if got := testutil.ToFloat64(inv.metrics.rewrites); got < 1 {
		t.Fatalf("journal never rewritten (size %d)", inv.db.j.Size())
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != inv.db.j.Size() {
		t.Errorf("file has %d bytes, store counts %d", fi.Size(), inv.db.j.Size())
	}
	if err := inv.Close(); err != nil {
		t.Fatal(err)
	}
	again := openTest(t, path, nil)
	defer again.Close()
	ps := again.List(Filter{})
	if len(ps) != phones {
		t.Fatalf("%d phones after reopen, want %d", len(ps), phones)
	}
	for _, p := range ps {
		if p.LastSeen.Before(t0.Add((rounds - 1) * phones * time.Millisecond)) {
			t.Fatalf("phone %s has an old record: last seen %s", p.MAC, p.LastSeen)
		}
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
}

func TestJournalOfAnotherFormatIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inventory.journal")
	if err := os.WriteFile(path, []byte("something else\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(DefaultConfig(), Options{Path: path})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "not a phoneprov inventory journal") {
		t.Fatalf("Open: %v", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "something else\n" {
		t.Fatalf("the foreign file was changed: %q", data)
	}
}

// TestJournalOfTheEarlierFormatIsConverted opens a journal written by the
// JSON-lines store of earlier versions (testdata/inventory-v1.jsonl, made
// by that code from bootMorning: three phones, one forgotten), with a torn
// last line added: the phones come back, and the file is replaced by a
// journal in the current format.
func TestJournalOfTheEarlierFormatIsConverted(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "inventory.jsonl")
	old, err := os.ReadFile(filepath.Join("testdata", "inventory-v1.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	old = append(old, "0badf00d {\"mac\":\"02:00:00:00:00:09\",\"addre"...)
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	for range 2 { // converted, then read as it is
		inv := openTest(t, path, nil)
		inv.clock.Set(t0.Add(time.Minute))
		if n := len(inv.List(Filter{})); n != 3 {
			t.Errorf("%d phones, want 3", n)
		}
		p := stateOf(t, inv, "00:1b:4f:12:34:56")
		if p.Model != "96x1 SIP" || p.Firmware != "7.1.15.0.4" || len(p.Files) != 3 || p.Upgraded == nil ||
			p.Upgraded.Name != "S96x1_SALBR7_1_15_0_4_r.tar" || !p.LastSeen.Equal(t0.Add(40*time.Second)) ||
			len(p.Addrs) != 1 || p.Addrs[0].Addr.String() != "198.18.10.22" || p.State != StateUpToDate {
			t.Errorf("9611 after the conversion: %+v", p)
		}
		if p := stateOf(t, inv, "00:60:1d:01:02:03"); p.Model != "46xx" || len(p.Files) != 2 || p.Addrs[0].Source != "neighbor" {
			t.Errorf("4610 after the conversion: %+v", p)
		}
		if p := stateOf(t, inv, "c8:1f:ea:83:e8:5a"); p.Model != "J179" || p.UserAgent != j179UA {
			t.Errorf("J179 after the conversion: %+v", p)
		}
		if _, ok := inv.Get(MAC{0x00, 0x04, 0x0d, 0xaa, 0xbb, 0xcc}); ok {
			t.Error("the forgotten 4621 came back")
		}
		if err := inv.Close(); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(data, []byte("PPINVENT")) { // journalConfig().Magic
			t.Fatalf("the file was not converted: starts %q", data[:min(len(data), 30)])
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Errorf("folder holds %d files, want the journal only", len(entries))
		}
	}
}

// TestEarlierFileIsMovedToTheJournal: a data directory of an earlier
// version holds inventory.jsonl; the first open with EarlierPath set moves
// it to the journal's path and converts it, and the earlier name is gone.
func TestEarlierFileIsMovedToTheJournal(t *testing.T) {
	dir := t.TempDir()
	earlier, path := filepath.Join(dir, "inventory.jsonl"), filepath.Join(dir, "inventory.journal")
	old, err := os.ReadFile(filepath.Join("testdata", "inventory-v1.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(earlier, old, 0o600); err != nil {
		t.Fatal(err)
	}
	inv := openTest(t, path, func(_ *Config, o *Options) { o.EarlierPath = earlier })
	if n := len(inv.List(Filter{})); n != 3 {
		t.Errorf("%d phones, want the earlier file's 3", n)
	}
	if err := inv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(earlier); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the earlier file is still there: %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil || !bytes.HasPrefix(data, []byte("PPINVENT")) {
		t.Fatalf("the journal was not written in the current format: %v", err)
	}
}

// TestCapScalesWithTheFleet: by default the cap on records follows the
// fleet the DHCP pools can serve, so a 12,500-phone site (25,000 records
// of phones replaced and passing through) evicts nothing where the fixed
// 20000 forgot phones; a cap set in the configuration stays as set.
func TestCapScalesWithTheFleet(t *testing.T) {
	inv := openTest(t, "", func(c *Config, o *Options) { o.Fleet = 12500 })
	defer inv.Close()
	const phones = 25000
	for i := range phones {
		m := MAC{0x02, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)}
		inv.apply(context.Background(), leaseFactOf(dhcpd.LeaseEvent{Kind: dhcpd.Offered, MAC: m[:], Time: t0.Add(time.Duration(i) * time.Millisecond)}))
	}
	if n, ev := len(inv.List(Filter{})), testutil.ToFloat64(inv.metrics.evicted); n != phones || ev != 0 {
		t.Errorf("%d phones kept, %v evicted; want %d and none", n, ev, phones)
	}
	for _, c := range []struct{ maxPhones, fleet, want int }{{0, 0, MinPhones}, {0, 30000, 60000}, {7, 30000, 7}} {
		if got := (Config{MaxPhones: c.maxPhones}).PhonesFor(c.fleet); got != c.want {
			t.Errorf("max_phones %d, fleet %d: cap %d, want %d", c.maxPhones, c.fleet, got, c.want)
		}
	}
}

// TestQueueScalesWithTheFleet: left at 0, the bound on waiting facts
// holds an offer and an ack for every phone the pools can serve, so a
// whole site rebooting at once is folded in late rather than dropped; a
// length set in the configuration stays as set.
func TestQueueScalesWithTheFleet(t *testing.T) {
	inv := openTest(t, "", func(c *Config, o *Options) { o.Fleet = 30000 })
	defer inv.Close()
	f := leaseFactOf(lease(0, "00:04:0d:00:00:01", "198.18.0.10", dhcpd.Offered, "", ""))
	for i := range 60000 {
		if !inv.queue.push(&f) {
			t.Fatalf("fact %d of a 30,000-phone site's offers and acks refused", i+1)
		}
	}
	if inv.queue.push(&f) {
		t.Error("the queue took more than two facts a phone")
	}
	for _, c := range []struct{ length, fleet, want int }{{0, 0, MinQueue}, {0, 1000, MinQueue}, {0, 30000, 60000}, {64, 30000, 64}} {
		if got := (Config{QueueLength: c.length}).QueueFor(c.fleet); got != c.want {
			t.Errorf("queue_length %d, fleet %d: bound %d, want %d", c.length, c.fleet, got, c.want)
		}
	}
}

// TestExchangesOfKnownPhonesWriteTouchRecords: a DHCP exchange of a known
// phone changes only its times and lease kind, and that is all the
// journal grows by; a lease that changes more writes the whole record.
// Both read back after a reopen.
func TestExchangesOfKnownPhonesWriteTouchRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inventory.jsonl")
	inv := openTest(t, path, nil)
	ctx := context.Background()
	const mac, ip = "00:04:0d:00:00:01", "198.18.0.10"
	inv.apply(ctx, leaseFactOf(lease(0, mac, ip, dhcpd.Acked, "AVA000001", "ccp.avaya.com")))
	if err := inv.Flush(); err != nil {
		t.Fatal(err)
	}
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	whole := size()
	for i := 1; i <= 10; i++ {
		inv.apply(ctx, leaseFactOf(lease(time.Duration(i)*time.Hour, mac, ip, dhcpd.Offered, "AVA000001", "ccp.avaya.com")))
		inv.apply(ctx, leaseFactOf(lease(time.Duration(i)*time.Hour+time.Second, mac, ip, dhcpd.Acked, "AVA000001", "ccp.avaya.com")))
		if err := inv.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if grown := size() - whole; grown > 10*32 {
		t.Errorf("ten exchanges of a known phone grew the journal by %d bytes (its whole record took %d)", grown, whole)
	}
	// A new host name is more than a touch.
	inv.apply(ctx, leaseFactOf(lease(11*time.Hour, mac, ip, dhcpd.Acked, "AVA000002", "ccp.avaya.com")))
	if err := inv.Close(); err != nil {
		t.Fatal(err)
	}
	again := openTest(t, path, nil)
	defer again.Close()
	p := stateOf(t, again, mac)
	if !p.LastSeen.Equal(t0.Add(11*time.Hour)) || p.LeaseKind != "ack" || p.HostName != "AVA000002" ||
		len(p.Addrs) != 1 || !p.Addrs[0].Seen.Equal(t0.Add(11*time.Hour)) || !p.FirstSeen.Equal(t0) {
		t.Errorf("after a reopen: %+v", p)
	}
	// The touches alone, without the last whole record, read back too.
	inv2 := openTest(t, "", nil)
	defer inv2.Close()
	inv2.apply(ctx, leaseFactOf(lease(0, mac, ip, dhcpd.Acked, "AVA000001", "ccp.avaya.com")))
	inv2.apply(ctx, leaseFactOf(lease(time.Hour, mac, ip, dhcpd.Released, "AVA000001", "ccp.avaya.com")))
	inv2.apply(ctx, leaseFactOf(lease(2*time.Hour, mac, "", dhcpd.Offered, "AVA000001", "ccp.avaya.com")))
	if err := inv2.Close(); err != nil {
		t.Fatal(err)
	}
	third := openTest(t, inv2.path, nil)
	defer third.Close()
	if p := stateOf(t, third, mac); p.LeaseKind != "offer" || len(p.Addrs) != 0 || !p.LastSeen.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("after release and offer: %+v", p)
	}
}
