package main

import (
	"fmt"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/config"
	"github.com/phoneprov/phoneprov/internal/durable"
)

// source is where `phones` and `leases` read from: the running appliance
// of this configuration, through its admin listener, or its files.
type source struct {
	running bool // ask the admin API
	text    string
}

func (s source) String() string { return s.text }

// findSource tells whether this configuration's appliance runs: a running
// appliance holds the flock of its inventory and lease journal, so the
// process holding them (seen in /proc/locks, the lock left alone) is the
// appliance of this data directory, and the admin listener it bound is the
// one this configuration names. An appliance of another configuration
// answering at the same address is never asked.
func findSource(cfg config.Config) source {
	for _, path := range []string{cfg.InventoryPath(), cfg.LeasesPath()} {
		pid, ok := durable.Holder(path)
		if !ok {
			continue
		}
		if cfg.Admin.Listen == "" {
			return source{text: fmt.Sprintf("the files in %s: phoneprov (pid %d) runs with them, but admin.listen is off", cfg.DataDir, pid)}
		}
		return source{running: true, text: fmt.Sprintf("the running appliance (pid %d, holding %s) at http://%s", pid, path, cfg.Admin.Listen)}
	}
	return source{text: fmt.Sprintf("the files in %s (no phoneprov runs with this data directory)", cfg.DataDir)}
}

// clock shows a time in the operator's zone, with the zone.
func (e env) clock(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(e.loc).Format("2006-01-02 15:04:05 MST")
}
