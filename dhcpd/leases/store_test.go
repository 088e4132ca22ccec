package leases

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The behaviour required of every Store (leasestest.Memory follows it too).

type storeMaker func(t *testing.T) Store

func stores() map[string]storeMaker {
	return map[string]storeMaker{
		"journal": func(t *testing.T) Store {
			t.Helper()
			j, err := OpenJournal(filepath.Join(t.TempDir(), "leases.journal"), JournalOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = j.Close() })
			return j
		},
	}
}

func forEachStore(t *testing.T, test func(t *testing.T, s Store)) {
	for name, mk := range stores() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, mk(t))
		})
	}
}

// testAddr returns the i-th address of 198.18.0.0/15.
func testAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{198, 18 + byte(i>>16&1), byte(i >> 8), byte(i)})
}

// fullLease has every field set to something distinctive derived from i.
func fullLease(i int) Lease {
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Second + time.Duration(i%1000)*time.Nanosecond)
	return Lease{
		Addr:        testAddr(i),
		HWAddr:      net.HardwareAddr{0x00, 0x1b, 0x4f, byte(i >> 16), byte(i >> 8), byte(i)},
		ClientID:    []byte{1, 0x00, 0x1b, 0x4f, byte(i >> 16), byte(i >> 8), byte(i)},
		Subnet:      netip.MustParsePrefix("198.18.0.0/15"),
		Hostname:    fmt.Sprintf("AVB%06x", i),
		VendorClass: "ccp.avaya.com",
		Class:       "avaya-96x1",
		Start:       start,
		Expiry:      start.Add(42 * 24 * time.Hour),
		State:       State(1 + i%4),
	}
}

// equalLease compares leases field by field; times by instant, byte slices by content.
func equalLease(a, b Lease) bool {
	return a.Addr == b.Addr &&
		bytes.Equal(a.HWAddr, b.HWAddr) &&
		bytes.Equal(a.ClientID, b.ClientID) &&
		a.Subnet == b.Subnet &&
		a.Hostname == b.Hostname &&
		a.VendorClass == b.VendorClass &&
		a.Class == b.Class &&
		a.Start.Equal(b.Start) &&
		a.Expiry.Equal(b.Expiry) &&
		a.State == b.State
}

func mustLoad(t *testing.T, s Store) []Lease {
	t.Helper()
	ls, err := s.Load(context.Background())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return ls
}

func mustPut(t *testing.T, s Store, ls ...Lease) {
	t.Helper()
	if err := s.Put(context.Background(), ls...); err != nil {
		t.Fatalf("Put: %v", err)
	}
}

func TestStoreRoundTripEveryField(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		want := []Lease{
			fullLease(1),
			fullLease(2),
			// The empty/zero form of every optional field.
			{Addr: testAddr(3), State: Expired},
			// Long values and an IPv6 subnet must survive too.
			{
				Addr:        testAddr(4),
				HWAddr:      bytes.Repeat([]byte{0xab}, 16),
				ClientID:    bytes.Repeat([]byte{7}, 300),
				Subnet:      netip.MustParsePrefix("2001:db8::/64"),
				Hostname:    strings.Repeat("h", 300),
				VendorClass: "Cisco Systems, Inc. IP Phone CP-7911G",
				Class:       "cisco",
				Start:       time.Unix(-5, 999_999_999),
				Expiry:      time.Date(2200, 1, 1, 0, 0, 0, 1, time.FixedZone("x", 3600)),
				State:       Declined,
			},
		}
		mustPut(t, s, want...)
		got := mustLoad(t, s)
		if len(got) != len(want) {
			t.Fatalf("Load returned %d leases, want %d", len(got), len(want))
		}
		for i := range want {
			if !equalLease(got[i], want[i]) {
				t.Errorf("lease %d:\n got %+v\nwant %+v", i, got[i], want[i])
			}
		}
		if got[2].HWAddr != nil || got[2].ClientID != nil || got[2].Subnet.IsValid() || !got[2].Start.IsZero() || !got[2].Expiry.IsZero() {
			t.Errorf("empty fields did not come back empty: %+v", got[2])
		}
	})
}

func TestStoreReplacesByAddressAndDeletes(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		first := fullLease(10)
		second := fullLease(11)
		second.Addr = first.Addr // same address, another client
		mustPut(t, s, first, fullLease(12))
		mustPut(t, s, second)
		got := mustLoad(t, s)
		if len(got) != 2 || !equalLease(got[0], second) || !equalLease(got[1], fullLease(12)) {
			t.Fatalf("after replace got %+v", got)
		}
		if err := s.Delete(context.Background(), first.Addr, testAddr(999)); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		got = mustLoad(t, s)
		if len(got) != 1 || got[0].Addr != testAddr(12) {
			t.Fatalf("after delete got %+v", got)
		}
	})
}

func TestStoreRefusesBadLeasesAndKeepsNothingOfTheCall(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		bad := []Lease{
			{Addr: netip.MustParseAddr("2001:db8::1"), State: Active},
			{Addr: netip.MustParseAddr("::ffff:198.18.0.1"), State: Active},
			{State: Active},
			{Addr: testAddr(1)},
			{Addr: testAddr(1), State: 9},
		}
		for _, b := range bad {
			err := s.Put(context.Background(), fullLease(100), b)
			if err == nil {
				t.Errorf("Put(%+v) succeeded", b)
			}
		}
		if got := mustLoad(t, s); len(got) != 0 {
			t.Fatalf("a refused Put stored %d leases", len(got))
		}
		if err := s.Delete(context.Background(), netip.MustParseAddr("2001:db8::1")); err == nil {
			t.Error("Delete of an IPv6 address succeeded")
		}
	})
}

func TestStoreCopiesInAndOut(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		l := fullLease(5)
		mustPut(t, s, l)
		l.HWAddr[0] = 0xff // the caller reuses its buffer
		got := mustLoad(t, s)
		if got[0].HWAddr[0] != 0x00 {
			t.Fatal("store aliases the caller's HWAddr")
		}
		got[0].ClientID[0] = 0xff
		if again := mustLoad(t, s); again[0].ClientID[0] != 1 {
			t.Fatal("Load returns the store's own ClientID slice")
		}
	})
}

func TestStoreConcurrentPuts(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		const workers, perWorker = 64, 25
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Go(func() {
				for j := 0; j < perWorker; j++ {
					i := w*perWorker + j
					var err error
					if j%5 == 4 { // some calls carry two leases
						err = s.Put(context.Background(), fullLease(i), fullLease(100000+i))
					} else {
						err = s.Put(context.Background(), fullLease(i))
					}
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		got := mustLoad(t, s)
		byAddr := make(map[netip.Addr]Lease, len(got))
		for _, l := range got {
			byAddr[l.Addr] = l
		}
		want := 0
		for i := 0; i < workers*perWorker; i++ {
			check := []int{i}
			if i%perWorker%5 == 4 {
				check = append(check, 100000+i)
			}
			for _, k := range check {
				want++
				if l, ok := byAddr[testAddr(k)]; !ok || !equalLease(l, fullLease(k)) {
					t.Fatalf("lease %d missing or wrong: %+v", k, l)
				}
			}
		}
		if len(got) != want {
			t.Fatalf("Load returned %d leases, want %d", len(got), want)
		}
	})
}

func TestStoreCancelledContextWritesNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := s.Put(ctx, fullLease(1)); !errors.Is(err, context.Canceled) {
			t.Fatalf("Put with cancelled context: %v", err)
		}
		if _, err := s.Load(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Load with cancelled context: %v", err)
		}
		if got := mustLoad(t, s); len(got) != 0 {
			t.Fatalf("cancelled Put stored %d leases", len(got))
		}
	})
}

func TestStoreClosed(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		mustPut(t, s, fullLease(1))
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		ctx := context.Background()
		if err := s.Put(ctx, fullLease(2)); !errors.Is(err, ErrClosed) {
			t.Errorf("Put after Close: %v", err)
		}
		if err := s.Delete(ctx, testAddr(1)); !errors.Is(err, ErrClosed) {
			t.Errorf("Delete after Close: %v", err)
		}
		if _, err := s.Load(ctx); !errors.Is(err, ErrClosed) {
			t.Errorf("Load after Close: %v", err)
		}
	})
}
