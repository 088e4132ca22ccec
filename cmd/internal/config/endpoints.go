package config

import (
	"net"
	"net/netip"
	"net/url"
	"strconv"

	"github.com/phoneprov/phoneprov/dhcpd/ha"
	"github.com/phoneprov/phoneprov/fileserve"
)

// Endpoints is where this box's file server answers, as phones are told
// it: by DHCP option templates (${http_port}, ${tls_port}, …) and by the
// generated settings (HTTPSRVR, TLSPORT, TRUSTCERTS, BRURI). It is derived
// from [fileserve] alone, in one place, so that DHCP and the generated
// files cannot disagree.
type Endpoints struct {
	// HTTPS is whether the file server serves HTTPS.
	HTTPS bool
	// CACertName is the name under which the file server serves the
	// appliance's own CA, which phones must trust; empty when HTTPS is off
	// or the operator brings a certificate (fileserve.https.cert_file).
	CACertName string
	// The ports phones are told: each protocol's first listen port, or its
	// standard port when it has no listen address. TLSPort is 411, the
	// 96x1 H.323 default TLSPORT, when HTTPS listens there too, else
	// HTTPSPort.
	HTTPPort, HTTPSPort, TLSPort, TFTPPort int
	// HTTPSListen is whether HTTPSPort comes from a listen address (rather
	// than being the standard 443).
	HTTPSListen bool
	// Partner is the other box of the DHCP pair ([dhcp.ha] on): the host
	// of its peer URL, when that is an IPv4 address; phones are told both
	// boxes as file servers (${servers}). Invalid without a pair.
	Partner netip.Addr
}

// Endpoints derives the file server's endpoints from the configuration.
func (c Config) Endpoints() Endpoints {
	fs := c.FileServe
	e := Endpoints{HTTPS: fs.HTTPS.Enabled, HTTPPort: 80, HTTPSPort: 443, TLSPort: 411, TFTPPort: 69}
	if e.HTTPS && fs.HTTPS.CertFile == "" {
		e.CACertName = fileserve.CAFileName
	}
	if p := firstPort(fs.HTTP.Listen); p > 0 {
		e.HTTPPort = p
	}
	if p := firstPort(fs.HTTPS.Listen); p > 0 {
		e.HTTPSPort, e.TLSPort, e.HTTPSListen = p, p, true
		if listensOnPort(fs.HTTPS.Listen, 411) {
			e.TLSPort = 411
		}
	}
	if p := firstPort(fs.TFTP.Listen); p > 0 {
		e.TFTPPort = p
	}
	e.Partner = c.partnerAddr()
	return e
}

// partnerAddr is the host of the HA partner's URL, when [dhcp.ha] is on
// and the host is an IPv4 address. Backup servers are nobody's partner
// and have none: they serve no clients.
func (c Config) partnerAddr() netip.Addr {
	h := c.DHCP.HA
	if !h.Enabled {
		return netip.Addr{}
	}
	for _, p := range h.Peers {
		if p.Name == h.ThisServerName && p.Role == ha.RoleBackup {
			return netip.Addr{}
		}
	}
	for _, p := range h.Peers {
		if p.Name == h.ThisServerName || p.Role == ha.RoleBackup {
			continue
		}
		if u, err := url.Parse(p.URL); err == nil {
			if a, err := netip.ParseAddr(u.Hostname()); err == nil && a.Is4() {
				return a
			}
		}
	}
	return netip.Addr{}
}

func firstPort(addrs []string) int {
	for _, a := range addrs {
		if _, p, err := net.SplitHostPort(a); err == nil {
			n, _ := strconv.Atoi(p)
			return n
		}
	}
	return 0
}

func listensOnPort(addrs []string, port int) bool {
	for _, a := range addrs {
		if _, p, err := net.SplitHostPort(a); err == nil && p == strconv.Itoa(port) {
			return true
		}
	}
	return false
}

// BackupReplicaURL is where phones' backups are copied to: the partner's
// backup folder. It is [provisioning.backup] replicate_to when set; else,
// with a DHCP pair, the partner's address over HTTP at this box's HTTP
// port and backup path, provided HTTP is on and backups do not require
// TLS (the boxes are configured alike); else "" (no copies).
func (c Config) BackupReplicaURL() string {
	b := c.Provisioning.Backup
	if !b.Enabled {
		return ""
	}
	if b.ReplicateTo != "" {
		return b.ReplicateTo
	}
	partner := c.partnerAddr()
	if !partner.IsValid() || !c.FileServe.HTTP.Enabled || b.RequireTLS {
		return ""
	}
	u := url.URL{Scheme: "http", Host: net.JoinHostPort(partner.String(), strconv.Itoa(c.Endpoints().HTTPPort)), Path: b.Path}
	return u.String()
}
