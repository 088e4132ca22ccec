package config

import (
	"net/netip"
	"strings"
	"testing"
)

// haWithBackup is a hot-standby pair with a backup server listed before
// the standby, as box this.
func haWithBackup(this string, extra string) string {
	return `[dhcp.ha]
enabled = true
this_server_name = "` + this + `"
` + extra + `
[[dhcp.ha.peer]]
name = "a"
url = "http://198.18.0.1:8001/"
role = "primary"

[[dhcp.ha.peer]]
name = "c"
url = "http://198.18.0.5:8001/"
role = "backup"

[[dhcp.ha.peer]]
name = "b"
url = "http://198.18.0.3:8001/"
role = "standby"

[dhcp]
enabled = true
[[dhcp.subnet]]
cidr = "198.18.0.0/24"
interface = "eth0"
[[dhcp.subnet.pool]]
start = "198.18.0.100"
end = "198.18.0.150"
`
}

// A backup server is accepted in [dhcp.ha]; it is nobody's partner (the
// active boxes name each other: DHCP strings, backup copies) and has
// none itself.
func TestHABackupPeer(t *testing.T) {
	for this, want := range map[string]netip.Addr{
		"a": netip.MustParseAddr("198.18.0.3"), "b": netip.MustParseAddr("198.18.0.1"), "c": {},
	} {
		cfg, err := Load(writeConfig(t, haWithBackup(this, "")))
		if err != nil {
			t.Fatalf("box %s: %v", this, err)
		}
		if got := cfg.Endpoints().Partner; got != want {
			t.Errorf("box %s: partner %v, want %v", this, got, want)
		}
	}
}

// wait_backup_ack is refused in hot-standby, as Kea 2.2 refuses it, with
// the file, line and key.
func TestHAWaitBackupAckRefused(t *testing.T) {
	p := writeConfig(t, haWithBackup("a", "wait_backup_ack = true"))
	_, err := Load(p)
	if want := p + ":4: dhcp.ha.wait_backup_ack: must be false in hot-standby"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want it to contain %q", err, want)
	}
}
