package dhcpd

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/dhcpd/leases/leasestest"
)

func TestDisabledServerBindsNothingAndWaits(t *testing.T) {
	srv, err := New(DefaultConfig(), Options{Store: leasestest.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Bind(context.Background()); err != nil {
		t.Fatalf("Bind of a disabled server: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	select {
	case err := <-done:
		t.Fatalf("Serve returned before its context ended: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	if len(srv.Leases()) != 0 {
		t.Error("leases on a disabled server")
	}
}

func TestServeNeedsBind(t *testing.T) {
	srv, err := New(baseConfig(), Options{Store: leasestest.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(context.Background()); err == nil || !strings.Contains(err.Error(), "before Bind") {
		t.Errorf("Serve before Bind: %v", err)
	}
}

func TestMetricsRegisterOnTheGivenRegistry(t *testing.T) {
	hs := newHarness(t, nil)
	mfs, err := hs.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, want := range []string{
		"phoneprov_dhcp_packets_received_total", "phoneprov_dhcp_packets_sent_total", "phoneprov_dhcp_queue_drops_total",
		"phoneprov_dhcp_declines_total", "phoneprov_dhcp_pool_addresses", "phoneprov_dhcp_allocation_failures_total",
	} {
		if !names[want] {
			t.Errorf("metric %s missing", want)
		}
	}
	// Two servers on one registry collide loudly instead of sharing series.
	if _, err := newMetrics(hs.reg, hs.pol, hs.al); err == nil {
		t.Error("registering twice succeeded")
	}
	if got := hs.counter("phoneprov_dhcp_pool_size", "subnet", "198.18.0.0/24"); got != 100 {
		t.Errorf("pool size %v, want 100 (the reservation is outside the pool)", got)
	}
}
