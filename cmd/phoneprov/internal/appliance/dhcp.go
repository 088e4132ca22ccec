package appliance

import (
	"net/netip"
	"os"

	"github.com/phoneprov/phoneprov/cmd/internal/config"
	"github.com/phoneprov/phoneprov/dhcpd/dhcpopts"
)

// dhcpVars tells DHCP option templates where this box's file server
// answers: ${server} is the address of the interface the request came in
// on, ${servers} adds the HA partner's, and the ports are the endpoints'
// (the ones the generated settings name too).
func dhcpVars(ep config.Endpoints) func(netip.Addr) dhcpopts.Vars {
	vars := dhcpopts.Vars{HTTPPort: ep.HTTPPort, HTTPSPort: ep.HTTPSPort, TLSPort: ep.TLSPort, TFTPPort: ep.TFTPPort, Partner: ep.Partner}
	vars.ServerName, _ = os.Hostname()
	return func(server netip.Addr) dhcpopts.Vars {
		v := vars
		v.ServerIP = server
		return v
	}
}
