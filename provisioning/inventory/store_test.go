package inventory

import (
	"bytes"
	"context"
	"fmt"
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
	inv.apply(context.Background(), fact{lease: ptr(lease(at, testMAC(i), "", dhcpd.Offered, "", "ccp.avaya.com"))})
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
	path := filepath.Join(t.TempDir(), "inventory.jsonl")
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
	i := bytes.Index(data, []byte(testMAC(1)))
	if i < 0 {
		t.Fatalf("phone 1 not in the journal:\n%s", data)
	}
	data[i+len(testMAC(1))+5] ^= 0x01
	data = append(data, []byte("0badf00d {\"mac\":\"02:00:00:00:00:09\",\"addre")...)
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
	st, err := openStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	phones, skipped, err := st.load()
	if err != nil || len(skipped) != 0 || len(phones) != 3 {
		t.Fatalf("after healing: %d phones, skipped %q, err %v", len(phones), skipped, err)
	}
}

func TestJournalIsRewrittenWhenItGrows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inventory.jsonl")
	inv := openTest(t, path, nil)
	inv.db.minSize = 0
	for round := range 5 {
		for i := range 50 {
			offerAt(inv, time.Duration(round*100+i)*time.Second, i)
		}
		if err := inv.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if got := testutil.ToFloat64(inv.metrics.rewrites); got < 1 {
		t.Fatalf("journal never rewritten (size %d, baseline %d)", inv.db.size, inv.db.baseline)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != inv.db.size {
		t.Errorf("file has %d bytes, store counts %d", fi.Size(), inv.db.size)
	}
	if err := inv.Close(); err != nil {
		t.Fatal(err)
	}
	again := openTest(t, path, nil)
	defer again.Close()
	ps := again.List(Filter{})
	if len(ps) != 50 {
		t.Fatalf("%d phones after reopen, want 50", len(ps))
	}
	for _, p := range ps {
		if p.LastSeen.Before(t0.Add(400 * time.Second)) {
			t.Fatalf("phone %s has an old record: last seen %s", p.MAC, p.LastSeen)
		}
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
}

func TestJournalOfAnotherFormatIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inventory.jsonl")
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
