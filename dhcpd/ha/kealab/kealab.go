// Package kealab configures a stock Kea 2.2 as one box of a hot-standby
// pair, for the HA lab tests and dhcpbench -pair: the hook libraries and
// the HA hook's parameters the labs vary.
package kealab

import (
	"fmt"
	"path/filepath"
	"time"
)

// Peer is one peer of a Kea HA relationship.
type Peer struct {
	Name, URL, Role string // role: primary, standby or backup
}

// HA is what a hot-standby Kea box of a test or bench lab is set up
// with: the parts of the HA hook's parameters that the labs vary.
type HA struct {
	ThisServer                          string
	Peers                               []Peer
	Heartbeat, MaxResponseDelay, MaxAck time.Duration
	MaxUnackedClients                   int
	SyncTimeout                         time.Duration // 0: Kea's default
	BasicAuthUser, BasicAuthPassword    string        // on every peer when set
	TrustAnchor, CertFile, KeyFile      string        // TLS on the peer channel when set
}

// Hooks returns the hooks-libraries list of a Kea 2.2 box in a
// hot-standby pair: lease_cmds and the HA hook, on the HA hook's own HTTP
// listener with multi-threading on (Kea 2.2 refuses a dedicated listener
// without it: ha_config.cc, HAConfig::validate,
// HA_CONFIG_DHCP_MT_DISABLED), every peer with auto-failover. hookDir is
// where the libraries are (HookDir).
func Hooks(hookDir string, ha HA) []any {
	peers := make([]any, 0, len(ha.Peers))
	for _, p := range ha.Peers {
		m := map[string]any{"name": p.Name, "url": p.URL, "role": p.Role, "auto-failover": true}
		if ha.BasicAuthUser != "" {
			m["basic-auth-user"], m["basic-auth-password"] = ha.BasicAuthUser, ha.BasicAuthPassword
		}
		peers = append(peers, m)
	}
	hac := map[string]any{
		"this-server-name":    ha.ThisServer,
		"mode":                "hot-standby",
		"heartbeat-delay":     ha.Heartbeat.Milliseconds(),
		"max-response-delay":  ha.MaxResponseDelay.Milliseconds(),
		"max-ack-delay":       ha.MaxAck.Milliseconds(),
		"max-unacked-clients": ha.MaxUnackedClients,
		"multi-threading": map[string]any{
			"enable-multi-threading": true, "http-dedicated-listener": true,
			"http-listener-threads": 2, "http-client-threads": 2,
		},
		"peers": peers,
	}
	if ha.SyncTimeout > 0 {
		hac["sync-timeout"] = ha.SyncTimeout.Milliseconds()
	}
	if ha.CertFile != "" {
		hac["trust-anchor"], hac["cert-file"], hac["key-file"] = ha.TrustAnchor, ha.CertFile, ha.KeyFile
		hac["require-client-certs"] = true
	}
	return []any{
		map[string]any{"library": filepath.Join(hookDir, "libdhcp_lease_cmds.so")},
		map[string]any{"library": filepath.Join(hookDir, "libdhcp_ha.so"), "parameters": map[string]any{
			"high-availability": []any{hac},
		}},
	}
}

// HookDir finds the directory of Kea's hook libraries (Debian's
// kea-dhcp4-server installs them under /usr/lib/<triplet>/kea/hooks).
func HookDir() (string, error) {
	m, _ := filepath.Glob("/usr/lib/*/kea/hooks/libdhcp_ha.so")
	if len(m) == 0 {
		m, _ = filepath.Glob("/usr/lib/kea/hooks/libdhcp_ha.so")
	}
	if len(m) == 0 {
		return "", fmt.Errorf("kea's HA hook libdhcp_ha.so not found (Debian: kea-dhcp4-server)")
	}
	return filepath.Dir(m[0]), nil
}
