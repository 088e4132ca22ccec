package config

import (
	"strings"
	"testing"

	"github.com/phoneprov/phoneprov/dhcpd"
)

// sixThousandPhones is the defaults with a DHCP pool of 6,000 addresses.
func sixThousandPhones() Config {
	c := Default()
	c.DHCP.Enabled = true
	c.DHCP.Subnets = []dhcpd.SubnetConfig{{CIDR: "198.18.0.0/19", Pools: []dhcpd.PoolConfig{{Start: "198.18.0.10", End: "198.18.23.120"}},
		Reservations: []dhcpd.ReservationConfig{{MAC: "00:04:0d:12:34:56", Address: "198.18.30.1"}}}}
	return c
}

// A cap below the fleet is a load error naming the key, instead of
// phones refused mid-storm; left at 0 it scales with the pools.
func TestCapsBelowTheFleetFailAtLoad(t *testing.T) {
	check := func(c Config) map[string]string {
		got := map[string]string{}
		c.crossCheck(func(key string, err error) { got[key] = err.Error() })
		return got
	}
	cfg := sixThousandPhones()
	if got := cfg.Fleet(); got != 6000 {
		t.Fatalf("fleet %d, want 6000", got)
	}
	if got := check(cfg); len(got) != 0 {
		t.Errorf("the defaults: %v", got)
	}
	if got := cfg.Provisioning.Backup.FilesFor(cfg.Fleet()); got < 6000 {
		t.Errorf("backup cap %d below the fleet", got)
	}
	if got := cfg.Provisioning.Inventory.PhonesFor(cfg.Fleet()); got < 6000 {
		t.Errorf("inventory cap %d below the fleet", got)
	}
	cfg.Provisioning.Backup.MaxFiles, cfg.Provisioning.Inventory.MaxPhones = 5000, 5000
	got := check(cfg)
	for _, key := range []string{"provisioning.backup.max_files", "provisioning.inventory.max_phones"} {
		if !strings.Contains(got[key], "6000 phones") {
			t.Errorf("%s = 5000 for 6000 phones: %q", key, got[key])
		}
	}
	cfg.Provisioning.Backup.MaxFiles, cfg.Provisioning.Inventory.MaxPhones = 6000, 6000
	if got := check(cfg); len(got) != 0 {
		t.Errorf("caps that hold the fleet: %v", got)
	}
	cfg.DHCP.Enabled = false
	if got := cfg.Fleet(); got != 0 {
		t.Errorf("fleet %d with the DHCP server off, want 0 (unknown)", got)
	}
}
