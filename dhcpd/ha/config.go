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
// "http-dedicated-listener": true}).
//
// Sources (isc-projects/kea, tag Kea-2.2.0):
// src/hooks/dhcp/high_availability/ha_service.cc (state handlers, heartbeat
// and status answers, synchronisation), command_creator.cc (command bodies),
// communication_state.cc (failure detection), ha_config_parser.cc (defaults),
// src/hooks/dhcp/lease_cmds/lease_parser.cc and lease_cmds.cc (lease fields,
// result codes), src/lib/dhcpsrv/lease.cc (Lease4::toElement).
package ha

import (
	"errors"
	"fmt"
	"net/url"
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
	// Peers are both servers of the pair, this one included (peers).
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
	if c.MaxUnackedClients < 0 {
		report("max_unacked_clients", errors.New("must not be negative"))
	}
	if c.SyncPageLimit < 1 {
		report("sync_page_limit", errors.New("must be at least 1"))
	}
	c.validatePeers(report)
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
		if err := checkURL(p.URL); err != nil {
			report(key+".url", err)
		}
		switch p.Role {
		case RolePrimary, RoleStandby:
			roles[p.Role]++
		case RoleBackup:
			report(key+".role", errors.New("backup servers are not supported yet"))
		default:
			report(key+".role", fmt.Errorf("%q is not primary or standby", p.Role))
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
	if roles[RolePrimary] != 1 || roles[RoleStandby] != 1 || len(c.Peers) != 2 {
		report("peer", fmt.Errorf("hot-standby needs two peers, one primary and one standby; found %d primary, %d standby", roles[RolePrimary], roles[RoleStandby]))
	}
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", s, err)
	}
	switch {
	case u.Scheme == "https":
		return errors.New("https (TLS on the peer channel) is not supported yet; use http")
	case u.Scheme != "http":
		return fmt.Errorf("%q: the scheme must be http", s)
	case u.Hostname() == "" || u.Port() == "":
		return fmt.Errorf("%q: give a host and a port, like http://198.18.0.1:8001/", s)
	}
	return nil
}

// this returns this server's peer entry and its partner's; the
// configuration was validated.
func (c Config) thisAndPartner() (this, partner PeerConfig) {
	for _, p := range c.Peers {
		if p.Name == c.ThisServerName {
			this = p
		} else {
			partner = p
		}
	}
	return this, partner
}

// autoFailover is AutoFailover with its default.
func (p PeerConfig) autoFailover() bool { return p.AutoFailover == nil || *p.AutoFailover }
