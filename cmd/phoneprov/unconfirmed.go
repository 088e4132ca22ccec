package main

import (
	"fmt"
	"io"

	"github.com/phoneprov/phoneprov/dhcpd"
	"github.com/phoneprov/phoneprov/provisioning"

	"github.com/phoneprov/phoneprov/cmd/internal/config"
)

// unconfirmedFact is one assumption about phones that no public source
// confirms, as `check` reports it.
type unconfirmedFact struct {
	id, statement string
}

// unconfirmedFacts lists what this configuration relies on without a
// source: the DHCP presets its classes use, and the generator's facts and
// firmware-name rules when it generates files.
func unconfirmedFacts(cfg config.Config) []unconfirmedFact {
	var out []unconfirmedFact
	for _, c := range cfg.DHCP.Classes {
		for _, f := range dhcpd.UnconfirmedPresetFacts(c) {
			out = append(out, unconfirmedFact{"dhcp-preset/" + c.Preset, f})
		}
	}
	if cfg.Provisioning.GenerateSettings || cfg.Provisioning.GenerateUpgrade {
		for _, f := range provisioning.UnconfirmedFacts() {
			out = append(out, unconfirmedFact{f.ID, f.Statement})
		}
	}
	return out
}

// warnUnconfirmed prints one comment line per unconfirmed fact, so an
// operator knows which behaviour rests on a guess rather than a manual.
func warnUnconfirmed(w io.Writer, cfg config.Config) {
	facts := unconfirmedFacts(cfg)
	if len(facts) == 0 {
		return
	}
	fmt.Fprintf(w, "# warning: %d facts about phones that this configuration relies on are unconfirmed (no manual or public project shows them; README: Unconfirmed phone facts):\n", len(facts))
	for _, f := range facts {
		fmt.Fprintf(w, "#   unconfirmed %s: %s\n", f.id, f.statement)
	}
}
