package appliance

import (
	"net/netip"

	"github.com/phoneprov/phoneprov/dhcpd"
	"github.com/phoneprov/phoneprov/provisioning/downloads"
)

// buildDownloads makes the cap on concurrent firmware downloads that the
// file server asks before sending an image; its links are the DHCP
// subnets.
func (a *appliance) buildDownloads() error {
	l, err := downloads.New(a.cfg.Provisioning.Downloads, a.reg)
	if err != nil {
		return err
	}
	l.SetLinks(dhcpLinks(a.cfg.DHCP))
	a.downloads = l
	return nil
}

// dhcpLinks are the configured DHCP subnets, the links of the cap per
// link (whether or not the DHCP server is on: they describe the network).
// The configuration check has refused malformed ones already.
func dhcpLinks(c dhcpd.Config) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range c.Subnets {
		if p, err := netip.ParsePrefix(s.CIDR); err == nil {
			out = append(out, p)
		}
	}
	return out
}
