package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/phoneprovconf"
	"github.com/phoneprov/phoneprov/deploy/netlab"
	"github.com/phoneprov/phoneprov/dhcpd/ha"
	"github.com/phoneprov/phoneprov/dhcpd/ha/kealab"
)

// pairLab is the pair benchmark's network: three namespaces on a bridge
// (in a fourth): perfdhcp's clients, box A (the primary, at the plan's
// server address) and box B (the standby, standbyAddr).
type pairLab struct {
	nl           *netlab.Lab
	client, a, b *netlab.Namespace
	clientIf     string
	aIf, bIf     string
}

// standbyAddr is box B's address: two after box A's (perfdhcp's is the
// one between), on the same network.
func standbyAddr(p plan) netip.Prefix {
	return netip.PrefixFrom(p.ServerAddr.Addr().Next().Next(), p.ServerAddr.Bits())
}

// pairHAPort is where both boxes' HA listeners bind.
const pairHAPort = 8001

// buildPairLab creates the namespaces, joins them on a bridge and gives
// each its address. On error, whatever was made is removed.
func buildPairLab(p plan) (_ *pairLab, err error) {
	if err := netlab.Available(); err != nil {
		return nil, fmt.Errorf("pair lab: %w", err)
	}
	l := &pairLab{nl: netlab.New()}
	defer func() {
		if err != nil {
			_ = l.nl.Close()
		}
	}()
	sw, err := l.nl.Namespace("pairsw")
	if err != nil {
		return nil, fmt.Errorf("pair lab: %w", err)
	}
	br, err := sw.Bridge()
	if err != nil {
		return nil, fmt.Errorf("pair lab: %w", err)
	}
	join := func(role string, addr netip.Prefix) (*netlab.Namespace, string, error) {
		ns, err := l.nl.Namespace(role)
		if err != nil {
			return nil, "", err
		}
		swEnd, nsEnd, err := l.nl.Veth(sw, ns)
		if err != nil {
			return nil, "", err
		}
		if err := sw.Attach(swEnd, br); err != nil {
			return nil, "", err
		}
		return ns, nsEnd, ns.AddAddr(nsEnd, addr)
	}
	if l.client, l.clientIf, err = join("paircli", p.ClientAddr); err != nil {
		return nil, fmt.Errorf("pair lab: %w", err)
	}
	if l.a, l.aIf, err = join("paira", p.ServerAddr); err != nil {
		return nil, fmt.Errorf("pair lab: %w", err)
	}
	if l.b, l.bIf, err = join("pairb", standbyAddr(p)); err != nil {
		return nil, fmt.Errorf("pair lab: %w", err)
	}
	return l, nil
}

// The [dhcp.ha] delays both kinds of pair run with: the standby declares
// the partner down once heartbeats have failed for pairMaxResponse
// (max-unacked-clients 0: it waits for no client), so the failover time
// measures the engines, not a long default.
const (
	pairHeartbeat   = 500 * time.Millisecond
	pairMaxResponse = 2 * time.Second
	pairMaxAck      = time.Second
)

// haURL is a box's HA listener.
func haURL(addr netip.Addr) string {
	return fmt.Sprintf("http://%s:%d/", addr, pairHAPort)
}

// pairBox is one server of a pair: its name, role, address and link.
type pairBox struct {
	name, role string
	addr       netip.Addr
	iface      string
	ns         *netlab.Namespace
}

// boxes returns box A (primary) and box B (standby).
func (l *pairLab) boxes(p plan) (a, b pairBox) {
	return pairBox{name: "box-a", role: ha.RolePrimary, addr: p.ServerAddr.Addr(), iface: l.aIf, ns: l.a},
		pairBox{name: "box-b", role: ha.RoleStandby, addr: standbyAddr(p).Addr(), iface: l.bIf, ns: l.b}
}

// phoneprovPairConfig writes box's phoneprov configuration into dir: the
// dhcpbench configuration (phoneprovConfig) with [dhcp.ha] on, or off
// when alone is set.
func phoneprovPairConfig(p plan, box pairBox, dir string, alone bool) (launch, error) {
	for _, sub := range []string{"data", "locks"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return launch{}, fmt.Errorf("phoneprov: %w", err)
		}
	}
	bp := p
	bp.ServerAddr = netip.PrefixFrom(box.addr, p.ServerAddr.Bits())
	cfg := phoneprovConfig(bp, box.iface, dir)
	if !alone {
		h := ha.DefaultConfig()
		h.Enabled = true
		h.ThisServerName = box.name
		h.HeartbeatDelay, h.MaxResponseDelay, h.MaxAckDelay = pairHeartbeat, pairMaxResponse, pairMaxAck
		h.MaxUnackedClients = 0
		h.Peers = []ha.PeerConfig{
			{Name: "box-a", URL: haURL(p.ServerAddr.Addr()), Role: ha.RolePrimary},
			{Name: "box-b", URL: haURL(standbyAddr(p).Addr()), Role: ha.RoleStandby},
		}
		cfg.DHCP.HA = h
	}
	path := filepath.Join(dir, "phoneprov.toml")
	if _, err := phoneprovconf.Write(cfg, path, "phoneprov under dhcpbench -pair"); err != nil {
		return launch{}, err
	}
	return launch{Argv: []string{"", "serve", "-c", path}, ConfigPath: path}, nil
}

// keaPairConfig writes box's kea-dhcp4 configuration into dir: the
// dhcpbench configuration (renderKea, multi-threaded) with, unless alone
// is set, the lease_cmds and HA hooks, the HA hook on its dedicated
// listener (Kea 2.2 needs multi-threading on in the server for it:
// ha_config.cc, HAConfig::validate, HA_CONFIG_DHCP_MT_DISABLED).
func keaPairConfig(p plan, box pairBox, dir, hooks string, alone bool) (launch, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return launch{}, fmt.Errorf("kea: %w", err)
	}
	bp := p
	bp.ServerAddr = netip.PrefixFrom(box.addr, p.ServerAddr.Bits())
	leases := filepath.Join(dir, "leases4.csv")
	text, err := renderKea(bp, box.iface, leases, 2)
	if err != nil {
		return launch{}, err
	}
	var conf map[string]map[string]any
	if err := json.Unmarshal(text, &conf); err != nil {
		return launch{}, fmt.Errorf("kea: %w", err)
	}
	if !alone {
		conf["Dhcp4"]["hooks-libraries"] = keaHAHooks(p, box, hooks)
	}
	out, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return launch{}, fmt.Errorf("kea: %w", err)
	}
	path := filepath.Join(dir, "kea-dhcp4.json")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return launch{}, fmt.Errorf("kea: %w", err)
	}
	return launch{
		Argv:       []string{"", "-c", path},
		Env:        []string{"KEA_PIDFILE_DIR=" + dir, "KEA_LOCKFILE_DIR=" + dir},
		ConfigPath: path, LeaseFile: leases,
	}, nil
}

// keaHAHooks is the hooks-libraries list of a Kea box in the pair.
func keaHAHooks(p plan, box pairBox, hooks string) []any {
	return kealab.Hooks(hooks, kealab.HA{
		ThisServer: box.name,
		Peers: []kealab.Peer{
			{Name: "box-a", URL: haURL(p.ServerAddr.Addr()), Role: "primary"},
			{Name: "box-b", URL: haURL(standbyAddr(p).Addr()), Role: "standby"},
		},
		Heartbeat: pairHeartbeat, MaxResponseDelay: pairMaxResponse, MaxAck: pairMaxAck,
	})
}

// haState asks a box for its HA state (ha-heartbeat) from the client
// namespace; "" when it does not answer.
func haState(ctx context.Context, ns *netlab.Namespace, addr netip.Addr) string {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	out, err := ns.Command(ctx, "curl", "-s", "-m", "2", "-X", "POST", "-H", "Content-Type: application/json",
		"-d", `{"command":"ha-heartbeat","service":["dhcp4"]}`, haURL(addr)).Output()
	if err != nil {
		return ""
	}
	var ans []struct {
		Arguments struct {
			State string `json:"state"`
		} `json:"arguments"`
	}
	if json.Unmarshal(out, &ans) != nil || len(ans) == 0 {
		return ""
	}
	return ans[0].Arguments.State
}

// waitHAState polls a box until it reports want, for at most limit.
func waitHAState(ctx context.Context, ns *netlab.Namespace, addr netip.Addr, want string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	last := ""
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if last = haState(ctx, ns, addr); last == want {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("%s is %q after %v, not %q", addr, last, limit, want)
}

// needCurl says whether curl, which asks the boxes their state, is here.
func needCurl() error {
	if _, err := exec.LookPath("curl"); err != nil {
		return fmt.Errorf("curl not found: it asks the pair's boxes their state")
	}
	return nil
}
