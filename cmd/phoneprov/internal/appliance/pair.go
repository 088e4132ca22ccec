package appliance

import (
	"github.com/phoneprov/phoneprov/cmd/phoneprov/internal/admin"
	"github.com/phoneprov/phoneprov/cmd/phoneprov/internal/supervise"
	"github.com/phoneprov/phoneprov/dhcpd/ha"
	"github.com/phoneprov/phoneprov/internal/obs"
)

// buildPair creates this box's half of the DHCP pair ([dhcp.ha]) and
// registers its metrics (phoneprov_ha_*).
func (a *appliance) buildPair() error {
	var err error
	if a.pair, err = ha.New(a.cfg.DHCP.HA, ha.Options{Logger: a.log.With("part", "ha")}); err != nil {
		return err
	}
	return obs.Register(a.reg, "ha", a.pair.Collector())
}

// pairStatus is the pair for the status page, nil without one.
func (a *appliance) pairStatus() admin.Pair {
	if a.pair == nil {
		return nil
	}
	return a.pair
}

// replicaParts is the copier of phones' backups to the partner box, when
// there is one to copy to.
func (a *appliance) replicaParts() []supervise.Part {
	if a.backups == nil || !a.backups.Replicating() {
		return nil
	}
	a.log.Info("phones' backups are copied to the partner", "to", a.cfg.BackupReplicaURL())
	return []supervise.Part{{Name: "backup-replica", Run: a.backups.Replicate}}
}
