package config

import (
	"fmt"
)

// Fleet is how many phones the site's DHCP pools can serve: the addresses
// of every pool and reservation of the built-in DHCP server, 0 when it is
// off (another server hands out the addresses, and how many is not known
// here). The caps that must hold a record per phone (backup files,
// inventory records) scale with it when left at 0, and a cap set below it
// is an error at load (checkFleetCaps).
func (c Config) Fleet() int {
	if !c.DHCP.Enabled {
		return 0
	}
	return c.DHCP.Addresses()
}

// checkFleetCaps reports a cap set below the fleet: better to fail at
// start than to refuse the phones past it in the middle of a boot storm
// (a fixed 5000 backup files failed a 6,000-phone storm).
func (c Config) checkFleetCaps(report func(string, error)) {
	fleet := c.Fleet()
	p := c.Provisioning
	if p.Backup.Enabled && p.Backup.MaxFiles > 0 && p.Backup.MaxFiles < fleet {
		report("provisioning.backup.max_files", fmt.Errorf("%d is below the %d phones the DHCP pools can serve: every backup past the %dth would be refused (507); raise it, or leave it at 0 to scale with the pools",
			p.Backup.MaxFiles, fleet, p.Backup.MaxFiles))
	}
	if p.Inventory.MaxPhones > 0 && p.Inventory.MaxPhones < fleet {
		report("provisioning.inventory.max_phones", fmt.Errorf("%d is below the %d phones the DHCP pools can serve: the inventory would keep forgetting phones; raise it, or leave it at 0 to scale with the pools",
			p.Inventory.MaxPhones, fleet))
	}
}
