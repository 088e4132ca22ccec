package phoneprovconf

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/config"
	"github.com/phoneprov/phoneprov/dhcpd"
	"github.com/phoneprov/phoneprov/provisioning"
)

// TestRoundTrip: what Write puts in the file loads, through phoneprov's own
// strict loader, into the same configuration.
func TestRoundTrip(t *testing.T) {
	full := New("/var/lib/x", "127.0.0.1:9167", "/srv/files")
	full.FileServe.TFTP.Enabled, full.FileServe.TFTP.Listen = true, []string{"198.18.0.1:69"}
	full.FileServe.DrainTimeout = time.Second
	full.DHCP.Enabled, full.DHCP.LeaseTime = true, time.Hour
	full.DHCP.Subnets = []dhcpd.SubnetConfig{{CIDR: "198.18.0.0/16", Interface: "veth0", Pools: []dhcpd.PoolConfig{{Start: "198.18.1.1", End: "198.18.1.9"}}}}
	full.DHCP.Classes = []dhcpd.ClassConfig{{Preset: "avaya", CallServers: []string{"198.18.0.2"}}}
	full.Provisioning.Settings = provisioning.Settings{"SNTPSRVR": "198.18.0.1"}

	for name, cfg := range map[string]config.Config{"full": full, "bare": New("/d", "", "")} {
		path := filepath.Join(t.TempDir(), "phoneprov.toml")
		text, err := Write(cfg, path, "under test")
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(path); string(b) != text || !strings.HasPrefix(text, "# under test\n") {
			t.Errorf("%s: file and returned text differ, or no comment:\n%s", name, text)
		}
		got, err := config.Load(path)
		if err != nil {
			t.Fatalf("%s: phoneprov does not load it: %v\n%s", name, err, text)
		}
		if !reflect.DeepEqual(got.FileServe, cfg.FileServe) || !reflect.DeepEqual(got.DHCP.Subnets, cfg.DHCP.Subnets) ||
			got.DataDir != cfg.DataDir || got.Admin != cfg.Admin || got.Log != cfg.Log {
			t.Errorf("%s: loaded\n%+v\nwant\n%+v\nfrom\n%s", name, got, cfg, text)
		}
	}
}

// TestNew: every protocol off, the rest phoneprov's defaults.
func TestNew(t *testing.T) {
	c := New("/d", "", "/srv")
	if c.FileServe.Root != "/srv" || c.FileServe.HTTP.Enabled || c.FileServe.HTTPS.Enabled || c.FileServe.TFTP.Enabled || c.Log.Level != "warn" {
		t.Errorf("New = %+v", c)
	}
}
