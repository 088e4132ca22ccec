// Package ha pairs two DHCPv4 servers in hot standby, speaking the peer
// protocol of ISC Kea's high-availability hook (libdhcp_ha.so, Kea 2.2): JSON
// commands posted over HTTP (ha-heartbeat, lease4-update, lease4-del,
// lease4-get-page, dhcp-disable, dhcp-enable, ha-reset,
// ha-sync-complete-notify, status-get), the same states (waiting, syncing,
// ready, hot-standby, partner-down, terminated) and the same timing rules
// (heartbeat-delay, max-response-delay, max-ack-delay,
// max-unacked-clients). A phoneprov can therefore be the partner of another
// phoneprov or of a stock Kea whose HA hook uses its dedicated HTTP listener
// ("multi-threading": {"enable-multi-threading": true,
// "http-dedicated-listener": true}; Kea 2.2 needs multi-threading on in
// the server too). Kea's subnet4 "id"s must follow the order of the
// [[dhcp.subnet]]s (1, 2, ...): leases cross the wire with their subnet-id.
// Kea 2.2's own listener checks no basic authentication
// (src/lib/config/cmd_response_creator.h, http_auth_config_ "currently not
// used"): Kea sends the credentials of its peer entries, phoneprov checks
// them, Kea ignores what phoneprov sends.
//
// Sources (isc-projects/kea, tag Kea-2.2.0):
// src/hooks/dhcp/high_availability/ha_service.cc (state handlers, heartbeat
// and status answers, synchronisation), command_creator.cc (command bodies),
// communication_state.cc (failure detection), ha_config_parser.cc (defaults),
// src/hooks/dhcp/lease_cmds/lease_parser.cc and lease_cmds.cc (lease fields,
// result codes), src/lib/dhcpsrv/lease.cc (Lease4::toElement).
package ha

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"
)

// Roles of a peer in hot standby (Kea's "role").
const (
	RolePrimary = "primary"
	RoleStandby = "standby"
	RoleBackup  = "backup"
)

// ModeHotStandby is the only mode supported so far (Kea's "mode").
const ModeHotStandby = "hot-standby"

// Config is [dhcp.ha]. Kea's names are given beside each field.
type Config struct {
	// Enabled pairs this server with its partner; off by default.
	Enabled bool `toml:"enabled"`
	// ThisServerName names this server among Peers (this-server-name).
	ThisServerName string `toml:"this_server_name"`
	// Mode is "hot-standby" (mode).
	Mode string `toml:"mode"`
	// HeartbeatDelay is the time between heartbeats sent to the partner
	// (heartbeat-delay, Kea's default 10 s).
	HeartbeatDelay time.Duration `toml:"heartbeat_delay"`
	// MaxResponseDelay is how long the partner may stay silent before the
	// communication counts as interrupted (max-response-delay, 60 s).
	MaxResponseDelay time.Duration `toml:"max_response_delay"`
	// MaxAckDelay: a client whose secs field says it has waited longer is
	// counted as unanswered by the partner (max-ack-delay, 10 s).
	MaxAckDelay time.Duration `toml:"max_ack_delay"`
	// MaxUnackedClients: more unanswered clients than this while the
	// communication is interrupted means the partner is down
	// (max-unacked-clients, 10; 0 means no client need be seen).
	MaxUnackedClients int `toml:"max_unacked_clients"`
	// SyncPageLimit is the leases asked for in one lease4-get-page
	// (sync-page-limit, 10000).
	SyncPageLimit int `toml:"sync_page_limit"`
	// SyncTimeout bounds the whole lease synchronisation and is the
	// max-period of the dhcp-disable sent to the partner meanwhile
	// (sync-timeout, 60 s).
	SyncTimeout time.Duration `toml:"sync_timeout"`
	// TrustAnchor, CertFile and KeyFile turn TLS on for the peer channel
	// (trust-anchor, cert-file, key-file): all three or none. TrustAnchor
	// is a PEM file of the CA certificates the partner's certificate must
	// chain to; CertFile and KeyFile are this server's certificate (PEM),
	// shown both when it answers and when it sends. With TLS on both URLs
	// must be https; without it https is refused, as Kea refuses it.
	TrustAnchor string `toml:"trust_anchor,omitempty"`
	CertFile    string `toml:"cert_file,omitempty"`
	KeyFile     string `toml:"key_file,omitempty"`
	// RequireClientCerts refuses a partner that shows no certificate
	// (require-client-certs); true when not set.
	RequireClientCerts *bool `toml:"require_client_certs,omitempty"`
	// WaitBackupAck would hold the ACK until every backup server took the
	// lease (wait-backup-ack, false). Kea 2.2 allows it only in the
	// passive-backup mode and refuses it in hot-standby (ha_config.cc,
	// HAConfig::validate: "'wait-backup-ack' must be set to false in the
	// hot standby configuration"), and so does phoneprov.
	WaitBackupAck bool `toml:"wait_backup_ack,omitempty"`
	// Peers are the servers of the pair, this one included, and any
	// backup servers (peers).
	Peers []PeerConfig `toml:"peer,omitempty"`
}

// PeerConfig is one [[dhcp.ha.peer]].
type PeerConfig struct {
	// Name identifies the peer (name).
	Name string `toml:"name"`
	// URL is where the peer takes commands, like "http://198.18.0.1:8001/"
	// (url). This server listens on the host and port of its own URL.
	URL string `toml:"url"`
	// Role is primary, standby or backup (role).
	Role string `toml:"role"`
	// AutoFailover lets the server take over the partner's clients in
	// partner-down on its own (auto-failover); true when not set.
	AutoFailover *bool `toml:"auto_failover,omitempty"`
	// BasicAuthUser and BasicAuthPassword are the HTTP basic
	// authentication sent to this peer (basic-auth-user,
	// basic-auth-password). On this server's own entry they are what the
	// partner must send.
	BasicAuthUser     string `toml:"basic_auth_user,omitempty"`
	BasicAuthPassword string `toml:"basic_auth_password,omitempty"`
}

// DefaultConfig is [dhcp.ha] when the file does not set it: off, with
// Kea's default delays (ha_config_parser.cc).
func DefaultConfig() Config {
	return Config{
		Mode:              ModeHotStandby,
		HeartbeatDelay:    10 * time.Second,
		MaxResponseDelay:  60 * time.Second,
		MaxAckDelay:       10 * time.Second,
		MaxUnackedClients: 10,
		SyncPageLimit:     10000,
		SyncTimeout:       60 * time.Second,
	}
}

// Validate reports every problem with c, keyed relative to [dhcp.ha].
func (c Config) Validate(report func(key string, err error)) {
	if !c.Enabled {
		return
	}
	if c.Mode != ModeHotStandby {
		report("mode", fmt.Errorf("%q is not supported: only %q is", c.Mode, ModeHotStandby))
	}
	positive := map[string]time.Duration{
		"heartbeat_delay": c.HeartbeatDelay, "max_response_delay": c.MaxResponseDelay,
		"max_ack_delay": c.MaxAckDelay, "sync_timeout": c.SyncTimeout,
	}
	for _, k := range []string{"heartbeat_delay", "max_response_delay", "max_ack_delay", "sync_timeout"} {
		if positive[k] <= 0 {
			report(k, errors.New("must be more than zero"))
		}
	}
	if c.SyncTimeout > 0 && c.SyncTimeout < time.Second {
		report("sync_timeout", errors.New("must be at least 1s (it is sent in whole seconds)"))
	}
	if c.WaitBackupAck {
		report("wait_backup_ack", errors.New("must be false in hot-standby, as Kea 2.2 has it: updates to backup servers never hold the ACK"))
	}
	if c.MaxUnackedClients < 0 {
		report("max_unacked_clients", errors.New("must not be negative"))
	}
	if c.SyncPageLimit < 1 {
		report("sync_page_limit", errors.New("must be at least 1"))
	}
	if (c.TrustAnchor == "") != (c.CertFile == "") || (c.CertFile == "") != (c.KeyFile == "") {
		report("trust_anchor", errors.New("trust_anchor, cert_file and key_file go together: TLS needs all three"))
	} else if c.tlsOn() {
		if _, _, err := c.tlsConfigs(); err != nil {
			report("cert_file", err)
		}
	}
	c.validatePeers(report)
}

// tlsOn is whether the peer channel uses TLS.
func (c Config) tlsOn() bool { return c.TrustAnchor != "" && c.CertFile != "" && c.KeyFile != "" }

// tlsConfigs reads the trust anchor and this server's certificate and
// returns the TLS settings of the listener and of the client. The
// listener asks for the partner's certificate and, unless
// require_client_certs is false, refuses a partner without one, as Kea's
// TlsContext does for its server role (ha_config.cc, validate).
func (c Config) tlsConfigs() (server, client *tls.Config, err error) {
	pem, err := os.ReadFile(c.TrustAnchor)
	if err != nil {
		return nil, nil, fmt.Errorf("trust_anchor: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, nil, fmt.Errorf("trust_anchor %s: no PEM certificate in it", c.TrustAnchor)
	}
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("cert_file and key_file: %w", err)
	}
	auth := tls.RequireAndVerifyClientCert
	if c.RequireClientCerts != nil && !*c.RequireClientCerts {
		auth = tls.VerifyClientCertIfGiven
	}
	server = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: auth}
	client = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}, RootCAs: pool}
	return server, client, nil
}

func (c Config) validatePeers(report func(string, error)) {
	roles := map[string]int{}
	names := map[string]bool{}
	for i, p := range c.Peers {
		key := fmt.Sprintf("peer[%d]", i)
		if p.Name == "" {
			report(key+".name", errors.New("must not be empty"))
		} else if names[p.Name] {
			report(key+".name", fmt.Errorf("%q is used by another peer", p.Name))
		}
		names[p.Name] = true
		if err := checkURL(p.URL, c.tlsOn()); err != nil {
			report(key+".url", err)
		}
		switch p.Role {
		case RolePrimary, RoleStandby, RoleBackup:
			roles[p.Role]++
		default:
			report(key+".role", fmt.Errorf("%q is not primary, standby or backup", p.Role))
		}
		if (p.BasicAuthUser == "") != (p.BasicAuthPassword == "") {
			report(key+".basic_auth_password", errors.New("basic_auth_user and basic_auth_password go together"))
		}
	}
	if c.ThisServerName == "" {
		report("this_server_name", errors.New("must name this server's peer"))
	} else if !names[c.ThisServerName] {
		report("this_server_name", fmt.Errorf("%q is not the name of a [[dhcp.ha.peer]]", c.ThisServerName))
	}
	if roles[RolePrimary] != 1 || roles[RoleStandby] != 1 {
		report("peer", fmt.Errorf("hot-standby needs one primary and one standby peer (and any number of backups); found %d primary, %d standby", roles[RolePrimary], roles[RoleStandby]))
	}
}

// checkURL checks a peer's URL: https with TLS on, http without.
func checkURL(s string, tlsOn bool) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", s, err)
	}
	switch {
	case u.Scheme == "https" && !tlsOn:
		return fmt.Errorf("%q: https needs TLS: set trust_anchor, cert_file and key_file", s)
	case u.Scheme == "http" && tlsOn:
		return fmt.Errorf("%q: with TLS on (trust_anchor, cert_file, key_file) the scheme must be https", s)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q: the scheme must be http or https", s)
	case u.Hostname() == "" || u.Port() == "":
		return fmt.Errorf("%q: give a host and a port, like http://198.18.0.1:8001/", s)
	}
	return nil
}

// peerRoles returns this server's peer entry, its failover partner's (the
// other active server; none for a backup server, which has no partner:
// HAConfig::getFailoverPeerConfig) and the backup servers this server
// sends its lease updates to (none for a backup server); the
// configuration was validated.
func (c Config) peerRoles() (this, partner PeerConfig, backups []PeerConfig) {
	for _, p := range c.Peers {
		if p.Name == c.ThisServerName {
			this = p
		}
	}
	if this.Role == RoleBackup {
		return this, PeerConfig{}, nil
	}
	for _, p := range c.Peers {
		switch {
		case p.Name == c.ThisServerName:
		case p.Role == RoleBackup:
			backups = append(backups, p)
		default:
			partner = p
		}
	}
	return this, partner, backups
}

// autoFailover is AutoFailover with its default.
func (p PeerConfig) autoFailover() bool { return p.AutoFailover == nil || *p.AutoFailover }
