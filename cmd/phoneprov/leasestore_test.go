package main

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoneprov/phoneprov/dhcpd/leases"
)

func TestOpenLeasesImportsAnOldBoltFileOnce(t *testing.T) {
	ctx := context.Background()
	cfg := Config{DataDir: t.TempDir()}
	old, err := leases.OpenBolt(cfg.oldLeasesPath(), leases.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []leases.Lease{}
	for i := range 3 {
		want = append(want, leases.Lease{
			Addr: netip.AddrFrom4([4]byte{198, 18, 0, byte(10 + i)}), HWAddr: net.HardwareAddr{0, 4, 0x0d, 0, 0, byte(i)},
			State: leases.Active, Start: time.Unix(1700000000, 0).UTC(), Expiry: time.Unix(1700086400, 0).UTC(),
		})
	}
	if err := old.Put(ctx, want...); err != nil {
		t.Fatal(err)
	}
	old.Close()

	log := slog.New(slog.DiscardHandler)
	j, err := openLeases(ctx, cfg, log, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	got, err := j.Load(ctx)
	j.Close()
	if err != nil || len(got) != len(want) {
		t.Fatalf("after import: %d leases, err %v", len(got), err)
	}
	for i := range want {
		if got[i].Addr != want[i].Addr || got[i].HWAddr.String() != want[i].HWAddr.String() || !got[i].Expiry.Equal(want[i].Expiry) {
			t.Errorf("lease %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if _, err := os.Stat(cfg.oldLeasesPath()); !os.IsNotExist(err) {
		t.Errorf("old file still in place: %v", err)
	}
	if _, err := os.Stat(cfg.oldLeasesPath() + ".imported"); err != nil {
		t.Errorf("old file not kept as .imported: %v", err)
	}

	// A later start does not import again, even if an old file reappears.
	if err := os.Rename(cfg.oldLeasesPath()+".imported", cfg.oldLeasesPath()); err != nil {
		t.Fatal(err)
	}
	j, err = openLeases(ctx, cfg, log, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if _, err := os.Stat(cfg.oldLeasesPath()); err != nil {
		t.Errorf("the old file was touched on a later start: %v", err)
	}
}
