package phone

import (
	"maps"
	"net/netip"
)

// Flash is what a phone keeps across a power cycle: the address it asks
// for again, the firmware it runs and the certificates it trusts. phonesim
// -state saves it between runs, so a later run powers on the same phones
// as they were left (Avaya phones check for new files at every restart:
// IP Office manual 15-601046, see the reference notes). That a phone
// keeps the address and the trusted certificates across a power cycle,
// and that other vendors' phones keep the same, is unconfirmed.
type Flash struct {
	Addr     netip.Addr        `json:"address,omitzero"`
	Firmware string            `json:"firmware"`
	AppName  string            `json:"appname"`
	Trusted  map[string][]byte `json:"trusted,omitempty"`
}

// Flash returns what the phone keeps now.
func (p *Phone) Flash() Flash {
	return Flash{Addr: p.addr, Firmware: p.firmware, AppName: p.appName, Trusted: maps.Clone(p.trusted)}
}

// Restore puts what a phone kept back, as after a power cycle.
func (p *Phone) Restore(f Flash) {
	p.addr, p.firmware, p.appName = f.Addr, f.Firmware, f.AppName
	p.trusted = maps.Clone(f.Trusted)
	if p.trusted == nil {
		p.trusted = map[string][]byte{}
	}
}
