package main

import (
	"encoding/hex"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/phoneprov/phoneprov/cmd/internal/config"
	"github.com/phoneprov/phoneprov/cmd/internal/phoneprovconf"
)

func TestPhoneprovConfig(t *testing.T) {
	p := defaultPlan()
	text, err := phoneprovconf.Encode(phoneprovConfig(p, "vaabcd1234", "/tmp/x"), "test")
	if err != nil {
		t.Fatal(err)
	}
	var cfg config.Config // phoneprov's own configuration type
	if _, err := toml.Decode(string(text), &cfg); err != nil {
		t.Fatalf("not TOML: %v\n%s", err, text)
	}
	if cfg.DataDir != "/tmp/x/data" || cfg.Log.Level != "warn" || cfg.Admin.Listen != phoneprovAdmin {
		t.Errorf("paths and logging: %+v", cfg)
	}
	if fs := cfg.FileServe; fs.HTTP.Enabled || fs.HTTPS.Enabled || fs.TFTP.Enabled {
		t.Errorf("fileserve not switched off: %+v", fs)
	}
	d := cfg.DHCP
	if !d.Enabled || d.LockDir != "/tmp/x/locks" || d.LeaseTime != 24*time.Hour || d.AddressCheck != "off" {
		t.Errorf("dhcp: %+v", d)
	}
	if len(d.Subnets) != 1 || d.Subnets[0].CIDR != "198.18.0.0/16" || d.Subnets[0].Interface != "vaabcd1234" ||
		len(d.Subnets[0].Pools) != 1 || d.Subnets[0].Pools[0].Start != "198.18.1.0" || d.Subnets[0].Pools[0].End != "198.18.255.254" ||
		len(d.Subnets[0].Routers) != 1 || d.Subnets[0].Routers[0] != "198.18.0.1" {
		t.Errorf("subnet: %+v", d.Subnets)
	}
	if len(d.Classes) != 1 || d.Classes[0].Preset != "avaya" || d.Classes[0].CallServers[0] != "198.18.0.10" {
		t.Errorf("class: %+v", d.Classes)
	}
	d.Validate(func(key string, err error) { t.Errorf("dhcp.%s: %v", key, err) })
	cfg.FileServe.Validate(func(key string, err error) { t.Errorf("fileserve.%s: %v", key, err) })
}

// TestPhoneprovConfigLoads has phoneprov itself check the configuration.
func TestPhoneprovConfigLoads(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "phoneprov")
	if out, err := exec.Command("go", "build", "-o", bin, "../phoneprov").CombinedOutput(); err != nil {
		t.Fatalf("go build phoneprov: %v\n%s", err, out)
	}
	l, err := phoneprovDaemon{name: "phoneprov", bin: bin, plan: defaultPlan()}.Prepare(dir, "vaabcd1234")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "check", "-c", l.ConfigPath).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "configuration is valid") {
		t.Errorf("phoneprov check: %v\n%s", err, out)
	}
}

func TestRenderKea(t *testing.T) {
	p := defaultPlan()
	b, err := renderKea(p, "vaabcd1234", "/tmp/x/leases4.csv", 0)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Dhcp4 struct {
			Interfaces struct {
				Interfaces []string `json:"interfaces"`
				SocketType string   `json:"dhcp-socket-type"`
			} `json:"interfaces-config"`
			LeaseDB struct {
				Type    string `json:"type"`
				Persist bool   `json:"persist"`
				Name    string `json:"name"`
				LFC     *int   `json:"lfc-interval"`
			} `json:"lease-database"`
			Valid     int  `json:"valid-lifetime"`
			TeeTimes  bool `json:"calculate-tee-times"`
			OptionDef []struct {
				Code int    `json:"code"`
				Type string `json:"type"`
			} `json:"option-def"`
			Classes []struct {
				Test       string `json:"test"`
				OptionData []struct {
					Code int    `json:"code"`
					CSV  bool   `json:"csv-format"`
					Data string `json:"data"`
				} `json:"option-data"`
			} `json:"client-classes"`
			Subnets []struct {
				Subnet string `json:"subnet"`
				Pools  []struct {
					Pool string `json:"pool"`
				} `json:"pools"`
			} `json:"subnet4"`
			MT json.RawMessage `json:"multi-threading"`
		} `json:"Dhcp4"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	d := cfg.Dhcp4
	if d.Interfaces.Interfaces[0] != "vaabcd1234" || d.Interfaces.SocketType != "udp" {
		t.Errorf("interfaces: %+v", d.Interfaces)
	}
	if d.LeaseDB.Type != "memfile" || !d.LeaseDB.Persist || d.LeaseDB.Name != "/tmp/x/leases4.csv" || d.LeaseDB.LFC == nil || *d.LeaseDB.LFC != 0 {
		t.Errorf("lease database: %+v", d.LeaseDB)
	}
	if d.Valid != 86400 || !d.TeeTimes {
		t.Errorf("lifetimes: %d %v", d.Valid, d.TeeTimes)
	}
	if len(d.OptionDef) != 1 || d.OptionDef[0].Code != 242 || d.OptionDef[0].Type != "string" {
		t.Errorf("option-def: %+v", d.OptionDef)
	}
	if len(d.Classes) != 1 || d.Classes[0].Test != "option[60].text == 'ccp.avaya.com'" {
		t.Fatalf("classes: %+v", d.Classes)
	}
	od := d.Classes[0].OptionData[0]
	data, err := hex.DecodeString(od.Data)
	if err != nil || od.Code != 242 || od.CSV || string(data) != p.option242() {
		t.Errorf("option 242: %+v (%q)", od, data)
	}
	if d.Subnets[0].Subnet != "198.18.0.0/16" || d.Subnets[0].Pools[0].Pool != "198.18.1.0 - 198.18.255.254" {
		t.Errorf("subnet: %+v", d.Subnets)
	}
	if d.MT != nil {
		t.Errorf("multi-threading set without -kea-threads: %s", d.MT)
	}
	b, err = renderKea(p, "v", "/l", 4)
	if err != nil || !strings.Contains(string(b), `"thread-pool-size": 4`) || !strings.Contains(string(b), `"enable-multi-threading": true`) {
		t.Errorf("with 4 threads: %v\n%s", err, b)
	}
}

func TestRenderDnsmasq(t *testing.T) {
	p := defaultPlan()
	text := renderDnsmasq(p, "vaabcd1234")
	for _, want := range []string{
		"port=0", "interface=vaabcd1234", "bind-interfaces", "dhcp-authoritative", "no-ping", "quiet-dhcp",
		"dhcp-range=198.18.1.0,198.18.255.254,255.255.0.0,86400",
		"dhcp-lease-max=65279",
		"dhcp-option=option:router,198.18.0.1",
		"dhcp-vendorclass=set:avaya,ccp.avaya.com",
		`dhcp-option=tag:avaya,242,"` + p.option242() + `"`,
	} {
		if !strings.Contains("\n"+text, "\n"+want+"\n") {
			t.Errorf("missing line %q in\n%s", want, text)
		}
	}
}

func TestCountKeaLeases(t *testing.T) {
	csv := `address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context
198.18.1.1,00:0c:01:02:03:04,01:00:0c:01:02:03:04,86400,1795626846,1,0,0,,0,
198.18.1.2,00:0c:01:02:03:05,,86400,1795626846,1,0,0,,0,
198.18.1.1,00:0c:01:02:03:04,01:00:0c:01:02:03:04,86400,1795626900,1,0,0,,0,
198.18.1.3,00:0c:01:02:03:06,,86400,1795626846,1,0,0,,0,
198.18.1.3,00:0c:01:02:03:06,,0,1795626846,1,0,0,,0,
198.18.1.4,00:0c:01:02:03:07,,86400,1795626846,1,0,0,,1,
198.18.1.5,00:0c
`
	n, err := countKeaLeases(strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 { // .1 (renewed), .2; .3 released, .4 declined, .5 cut short
		t.Errorf("%d leases, want 2", n)
	}
	if n, err := countKeaLeases(strings.NewReader("")); n != 0 || err != nil {
		t.Errorf("empty file: %d %v", n, err)
	}
	if _, err := countKeaLeases(strings.NewReader("a,b\n1,2\n")); err == nil {
		t.Error("no error for a file without the lease columns")
	}
}

func TestCountDnsmasqLeases(t *testing.T) {
	text := `1795626846 00:0c:01:02:06:eb 198.18.194.48 * 01:00:0c:01:02:06:eb
1795626846 00:0c:01:02:06:ea 198.18.194.47 * 01:00:0c:01:02:06:ea

duid 00:01:00:01:2c:1a:2b:3c:00:0c:01:02:03:04
1795626846 1234 2001:db8::1 * 00:01
`
	n, err := countDnsmasqLeases(strings.NewReader(text))
	if err != nil || n != 2 {
		t.Errorf("%d leases (%v), want 2", n, err)
	}
}

func TestAssignedFromMetrics(t *testing.T) {
	text := `# HELP phoneprov_dhcp_pool_addresses Addresses of each pool by state.
# TYPE phoneprov_dhcp_pool_addresses gauge
phoneprov_dhcp_pool_addresses{pool="198.18.1.0-198.18.255.254",state="assigned",subnet="198.18.0.0/16"} 39467
phoneprov_dhcp_pool_addresses{pool="198.18.1.0-198.18.255.254",state="free",subnet="198.18.0.0/16"} 25812
phoneprov_dhcp_pool_addresses{pool="198.19.0.1-198.19.0.9",state="assigned",subnet="198.19.0.0/24"} 3
phoneprov_dhcp_queue_drops_total 0
`
	n, err := assignedFromMetrics(text)
	if err != nil || n != 39470 {
		t.Errorf("%d (%v), want 39470", n, err)
	}
	if _, err := assignedFromMetrics("phoneprov_dhcp_queue_drops_total 0\n"); err == nil {
		t.Error("no error without the gauge")
	}
}

func TestPhoneprovDrops(t *testing.T) {
	// Lines as phoneprov-r1-reboot-metrics.txt of a mass reboot holds them.
	text := `# HELP phoneprov_dhcp_packets_dropped_total Packets dropped, by reason.
# TYPE phoneprov_dhcp_packets_dropped_total counter
phoneprov_dhcp_packets_dropped_total{reason="invalid"} 0
phoneprov_dhcp_packets_dropped_total{reason="rate_limit_client"} 142
phoneprov_dhcp_packets_dropped_total{reason="store_error"} 0
phoneprov_dhcp_queue_drops_total 3
phoneprov_inventory_dropped_facts_total 1597
phoneprov_inventory_queue_length 12
`
	var d phoneprovDaemon
	if got, want := d.Drops(text), "rate_limit_client 142, queue full 3, inventory facts 1597"; got != want {
		t.Errorf("Drops = %q, want %q", got, want)
	}
	if got := d.Drops("phoneprov_dhcp_packets_dropped_total{reason=\"invalid\"} 0\nphoneprov_inventory_dropped_facts_total 0\n"); got != "none" {
		t.Errorf("all zero: %q, want none", got)
	}
}

func TestLaunchCommand(t *testing.T) {
	l := launch{Env: []string{"KEA_PIDFILE_DIR=/tmp/a b"}, Argv: []string{"/usr/sbin/kea-dhcp4", "-c", "/tmp/k.json"}}
	if got, want := l.command(), "'KEA_PIDFILE_DIR=/tmp/a b' /usr/sbin/kea-dhcp4 -c /tmp/k.json"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
