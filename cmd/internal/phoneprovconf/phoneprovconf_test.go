package phoneprovconf

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/phoneprov/phoneprov/dhcpd"
	"github.com/phoneprov/phoneprov/provisioning"
)

// TestRoundTrip: what Write puts in the file decodes into the same
// configuration, sections set or left out.
func TestRoundTrip(t *testing.T) {
	full := New("/var/lib/x", "127.0.0.1:9167")
	full.FileServe = Files("/srv/files")
	full.FileServe.TFTP.Enabled, full.FileServe.TFTP.Listen = true, []string{"198.18.0.1:69"}
	full.FileServe.DrainTimeout = time.Second
	d := dhcpd.DefaultConfig()
	d.Enabled, d.LeaseTime = true, time.Hour
	d.Subnets = []dhcpd.SubnetConfig{{CIDR: "198.18.0.0/16", Interface: "veth0", Pools: []dhcpd.PoolConfig{{Start: "198.18.1.1", End: "198.18.1.9"}}}}
	d.Classes = []dhcpd.ClassConfig{{Preset: "avaya", CallServers: []string{"198.18.0.2"}}}
	full.DHCP = &d
	p := provisioning.DefaultConfig()
	p.Settings = provisioning.Settings{"SNTPSRVR": "198.18.0.1"}
	full.Provisioning = &p

	for name, cfg := range map[string]Config{"full": full, "bare": New("/d", "")} {
		path := filepath.Join(t.TempDir(), "phoneprov.toml")
		text, err := cfg.Write(path, "under test")
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(path); string(b) != text || !strings.HasPrefix(text, "# under test\n") {
			t.Errorf("%s: file and returned text differ, or no comment:\n%s", name, text)
		}
		var got Config
		if _, err := toml.Decode(text, &got); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, text)
		}
		if !reflect.DeepEqual(got, cfg) {
			t.Errorf("%s: decoded\n%+v\nwant\n%+v\nfrom\n%s", name, got, cfg, text)
		}
	}
}

// TestFiles: every protocol off, the rest phoneprov's defaults.
func TestFiles(t *testing.T) {
	c := Files("/srv")
	if c.Root != "/srv" || c.HTTP.Enabled || c.HTTPS.Enabled || c.TFTP.Enabled || c.TFTP.BlockSizeMax != 1468 {
		t.Errorf("Files = %+v", c)
	}
	var problems []string
	c.Validate(func(key string, err error) { problems = append(problems, key+": "+err.Error()) })
	if len(problems) > 0 {
		t.Errorf("invalid: %v", problems)
	}
	if _, err := New("/d", "").Write(filepath.Join(t.TempDir(), "no", "such.toml"), "x"); err == nil {
		t.Error("Write into a missing directory succeeded")
	}
}
