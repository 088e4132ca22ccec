package leasestest

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/dhcpd/leases"
)

func TestMemoryBehavesLikeAStore(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	a := netip.MustParseAddr("198.18.0.2")
	b := netip.MustParseAddr("198.18.0.1")
	hw := []byte{0xc8, 0x1f, 0xea, 0x83, 0xe8, 0x5a}
	exp := time.Unix(1700000000, 0)
	if err := m.Put(ctx, leases.Lease{Addr: a, HWAddr: hw, Expiry: exp, State: leases.Active}, leases.Lease{Addr: b, HWAddr: hw, Expiry: exp, State: leases.Active}); err != nil {
		t.Fatal(err)
	}
	hw[0] = 0 // the store keeps its own copy
	got, err := m.Load(ctx)
	if err != nil || len(got) != 2 || got[0].Addr != b || got[1].HWAddr[0] != 0xc8 {
		t.Fatalf("Load = %+v, %v", got, err)
	}
	if err := m.Put(ctx, leases.Lease{Addr: netip.MustParseAddr("::1")}); err == nil {
		t.Error("an IPv6 lease was stored")
	}
	if err := m.Delete(ctx, b, netip.MustParseAddr("198.18.9.9")); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Load(ctx); len(got) != 1 || got[0].Addr != a {
		t.Errorf("after Delete: %+v", got)
	}
	if err := m.Delete(ctx, netip.MustParseAddr("::1")); err == nil {
		t.Error("deleting an IPv6 address was accepted")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Load(ctx); !errors.Is(err, leases.ErrClosed) {
		t.Errorf("Load after Close: %v", err)
	}
}
