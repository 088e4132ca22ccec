package dhcpd

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

func problems(c Config) map[string]string {
	out := map[string]string{}
	c.Validate(func(key string, err error) { out[key] = err.Error() })
	return out
}

func TestDefaultConfigIsValidAndOff(t *testing.T) {
	c := DefaultConfig()
	if c.Enabled {
		t.Error("DHCP is on by default")
	}
	if p := problems(c); len(p) != 0 {
		t.Errorf("defaults have problems: %v", p)
	}
	if p := problems(baseConfig()); len(p) != 0 {
		t.Errorf("test config has problems: %v", p)
	}
}

func TestValidateReportsEachProblemOnItsKey(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		key    string
		want   string
	}{
		{"enabled without subnets", func(c *Config) { c.Subnets = nil }, "subnet", "no [[dhcp.subnet]]"},
		{"bad cidr", func(c *Config) { c.Subnets[1].CIDR = "198.18.2.0/33" }, "subnet[1].cidr", "not an IPv4 network"},
		{"host bits set", func(c *Config) { c.Subnets[1].CIDR = "198.18.2.7/24" }, "subnet[1].cidr", "did you mean 198.18.2.0/24"},
		{"overlapping subnets", func(c *Config) {
			c.Subnets[1].CIDR = "198.18.0.0/25"
			c.Subnets[1].Routers = nil
			c.Subnets[1].Pools = []PoolConfig{{Start: "198.18.0.10", End: "198.18.0.20"}}
		}, "subnet[1].cidr", "overlaps"},
		{"pool outside subnet", func(c *Config) { c.Subnets[1].Pools[0].Start = "198.18.3.1" }, "subnet[1].pool[0].start", "outside the subnet"},
		{"pool reversed", func(c *Config) { c.Subnets[1].Pools[0] = PoolConfig{Start: "198.18.2.20", End: "198.18.2.10"} }, "subnet[1].pool[0].end", "comes before"},
		{"pool on broadcast", func(c *Config) { c.Subnets[1].Pools[0].End = "198.18.2.255" }, "subnet[1].pool[0].end", "broadcast address"},
		{"overlapping pools", func(c *Config) {
			c.Subnets[1].Pools = append(c.Subnets[1].Pools, PoolConfig{Start: "198.18.2.15", End: "198.18.2.30"})
		}, "subnet[1].pool[1].start", "overlaps pool"},
		{"reservation outside subnet", func(c *Config) { c.Subnets[0].Reservations[0].Address = "198.18.2.5" }, "subnet[0].reservation[0].address", "outside the subnet"},
		{"reservation twice", func(c *Config) {
			c.Subnets[0].Reservations = append(c.Subnets[0].Reservations, ReservationConfig{MAC: "00:04:0d:00:00:51", Address: "198.18.0.50"})
		}, "subnet[0].reservation[1].address", "already reserved"},
		{"same client twice", func(c *Config) {
			c.Subnets[0].Reservations = append(c.Subnets[0].Reservations, ReservationConfig{MAC: "00:04:0D:00:00:50", Address: "198.18.0.51"})
		}, "subnet[0].reservation[1].mac", "already has a reservation"},
		{"reservation without identity", func(c *Config) { c.Subnets[0].Reservations[0].MAC = "" }, "subnet[0].reservation[0].mac", "needs mac or client_id"},
		{"reservation bad mac", func(c *Config) { c.Subnets[0].Reservations[0].MAC = "00:04:0d" }, "subnet[0].reservation[0].mac", "not a MAC"},
		{"reservation unknown class", func(c *Config) { c.Subnets[0].Reservations[0].Class = "nope" }, "subnet[0].reservation[0].class", `no [[dhcp.class]] is named "nope"`},
		{"router not an address", func(c *Config) { c.Subnets[0].Routers = []string{"gw"} }, "subnet[0].routers[0]", "not an IPv4 address"},
		{"relayed subnet without relay_listen", func(c *Config) {
			c.RelayListen = nil
			c.Subnets = c.Subnets[1:]
		}, "subnet[0].interface", "needs relay_listen"},
		{"T1 after T2", func(c *Config) { c.Subnets[0].RenewTime = time.Hour; c.Subnets[0].RebindTime = 30 * time.Minute }, "subnet[0].renew_time", "shorter than rebind_time"},
		{"lease too short", func(c *Config) { c.LeaseTime = time.Second }, "lease_time", "outside"},
		{"unknown check", func(c *Config) { c.AddressCheck = "ping" }, "address_check", "not auto, arp, icmp or off"},
		{"relative lock dir", func(c *Config) { c.LockDir = "run" }, "lock_dir", "absolute"},
		{"unknown preset", func(c *Config) { c.Classes[0].Preset = "avaja" }, "class[0].preset", "unknown preset"},
		{"data vlan without vlan", func(c *Config) { c.Classes[0].Preset = PresetAvayaDataVLAN }, "class[0].preset", "voice_vlan"},
		{"bad regexp", func(c *Config) {
			c.Classes = append(c.Classes, ClassConfig{Name: "x", VendorClassRegexp: []string{"("}})
		}, "class[1].vendor_class_regexp[0]", "bad regular expression"},
		{"class without criteria", func(c *Config) { c.Classes = append(c.Classes, ClassConfig{Name: "empty"}) }, "class[1].name", "no criteria"},
		{"duplicate class", func(c *Config) { c.Classes = append(c.Classes, ClassConfig{Preset: PresetAvaya}) }, "class[1].name", "defined twice"},
		{"class subnet unknown", func(c *Config) { c.Classes[0].Subnets = []string{"198.18.9.0/24"} }, "class[0].subnets[0]", "not one of"},
		{"unknown option name", func(c *Config) { c.Options = []OptionConfig{{Name: "tftp-servr", Value: "x"}} }, "option[0].name", "did you mean"},
		{"option written by the server", func(c *Config) { c.Options = []OptionConfig{{Code: 54, Value: "198.18.0.1"}} }, "option[0].name", "written by the server"},
		{"bad option value", func(c *Config) {
			c.Subnets[1].Options = []OptionConfig{{Name: "tftp-servers", Value: []any{"not-an-ip"}}}
		}, "subnet[1].option[0].value", ""},
		{"option twice at one level", func(c *Config) {
			c.Options = []OptionConfig{{Code: 66, Value: "a"}, {Name: "tftp-server-name", Value: "b"}}
		}, "option[1]", "already set"},
		{"mitel call server not an address", func(c *Config) {
			c.Classes = append(c.Classes, ClassConfig{Preset: PresetMitel, CallServers: []string{"pbx.example"}})
		}, "class[1].preset", "call_srv"},
		{"mac prefix", func(c *Config) { c.Classes = append(c.Classes, ClassConfig{Name: "m", MACPrefix: []string{"zz"}}) }, "class[1].mac_prefix[0]", "not a MAC prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := baseConfig()
			tt.mutate(&c)
			p := problems(c)
			msg, ok := p[tt.key]
			if !ok {
				t.Fatalf("no problem on %q; got %v", tt.key, p)
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("%s: %q, want it to mention %q", tt.key, msg, tt.want)
			}
		})
	}
}

func TestLongOptionRefusedWithLength(t *testing.T) {
	c := baseConfig()
	servers := make([]string, 20)
	for i := range servers {
		servers[i] = "198.18.100.10"
	}
	c.Classes[0].CallServers = servers
	c.Classes[0].Settings = "L2Q=0,VLANTEST=0"
	p := problems(c)
	var msg string
	for k, v := range p {
		if strings.HasPrefix(k, "class[0].option[") {
			msg = v
		}
	}
	if !strings.Contains(msg, "bytes long") || !strings.Contains(msg, "255") || !strings.Contains(msg, "refuse") {
		t.Fatalf("long Avaya string: %v", p)
	}
	// The same length splits when the class allows it.
	c.Classes[0].LongOptions = "split"
	if p := problems(c); len(p) != 0 {
		t.Errorf("split allowed, still refused: %v", p)
	}
}

func TestExpandedClassesShowPresets(t *testing.T) {
	c := baseConfig()
	c.Classes = []ClassConfig{
		{Preset: PresetAvayaDataVLAN, VoiceVLAN: 20, Subnets: []string{"198.18.2.0/24"}},
		{Preset: PresetAvaya, CallServers: []string{"198.18.0.5", "198.18.0.6"}, CallServerPort: 1720},
		{Preset: PresetCisco},
		{Preset: PresetPolycom},
		{Preset: PresetYealink},
		{Preset: PresetMitel, CallServers: []string{"198.18.0.5"}, VoiceVLAN: 20},
		{Preset: PresetSnom},
		{Preset: PresetGrandstream, Name: "gs", Options: []OptionConfig{{Code: 66, Type: "string", Value: "http://${server}/gs"}}},
	}
	xs, err := c.ExpandedClasses()
	if err != nil {
		t.Fatal(err)
	}
	if len(xs) != 8 {
		t.Fatalf("%d classes", len(xs))
	}
	for _, x := range xs {
		if x.Preset != "" || !x.hasCriteria() || len(x.Options) == 0 {
			t.Errorf("class %q not expanded: %+v", x.Name, x)
		}
	}
	want242 := "MCIPADD=198.18.0.5,198.18.0.6,MCPORT=1720,HTTPSRVR=${servers},HTTPPORT=${http_port},TLSSRVR=${servers},TLSPORT=${tls_port},TFTPSRVR=${servers}"
	if xs[1].Name != "avaya" || xs[1].Options[0].Code != 242 || xs[1].Options[0].Value != want242 {
		t.Errorf("avaya 242: %+v", xs[1].Options)
	}
	if xs[0].Options[0].Value != "L2Q=1,L2QVLAN=20,VLANTEST=60" || xs[0].Subnets[0] != "198.18.2.0/24" {
		t.Errorf("avaya-data-vlan: %+v", xs[0])
	}
	if xs[7].Name != "gs" || len(xs[7].Options) != 1 || xs[7].Options[0].Value != "http://${server}/gs" {
		t.Errorf("own option must replace the preset's: %+v", xs[7].Options)
	}
	if p := problems(c); len(p) != 0 {
		t.Errorf("all presets together: %v", p)
	}
	// The expanded list encodes as TOML, for phoneprov check.
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(map[string]any{"class": xs}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `vendor_class = ["ccp.avaya.com"]`) {
		t.Errorf("TOML output:\n%s", buf.String())
	}
	c.Classes[0].Preset = "nope"
	if _, err := c.ExpandedClasses(); err == nil || !strings.Contains(err.Error(), "class[0].preset") {
		t.Errorf("bad preset: %v", err)
	}
}

func TestConfigDecodesFromTOML(t *testing.T) {
	const doc = `
enabled = true
lock_dir = "/tmp"
lease_time = "1008h"
relay_listen = ["198.18.1.1"]

[[option]]
name = "ntp-servers"
value = ["198.18.0.3"]

[[subnet]]
cidr = "198.18.0.0/24"
interface = "eth1"
routers = ["198.18.0.1"]
  [[subnet.pool]]
  start = "198.18.0.100"
  end = "198.18.0.199"
  [[subnet.reservation]]
  mac = "00:04:0d:12:34:56"
  address = "198.18.0.20"
  class = "avaya"

[[class]]
preset = "avaya"
call_servers = ["198.18.0.5"]
  [[class.subnet]]
  cidr = "198.18.0.0/24"
    [[class.subnet.option]]
    code = 66
    type = "string"
    value = "${server}"

[[class]]
name = "vvx"
vendor_class_prefix = ["Polycom-VVX"]
match = "all"
requests_option = [160]
  [[class.option]]
  code = 160
  value = "https://${server}:${https_port}/"
  always_send = true
`
	c := DefaultConfig()
	md, err := toml.Decode(doc, &c)
	if err != nil {
		t.Fatal(err)
	}
	if und := md.Undecoded(); len(und) != 0 {
		t.Fatalf("undecoded keys %v", und)
	}
	if p := problems(c); len(p) != 0 {
		t.Fatalf("problems: %v", p)
	}
	if c.LeaseTime != 1008*time.Hour || len(c.Classes) != 2 || c.Classes[1].Options[0].Value != "https://${server}:${https_port}/" {
		t.Errorf("decoded %+v", c)
	}
	// phoneprov check prints the effective configuration: it must encode
	// and read back the same.
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(c); err != nil {
		t.Fatal(err)
	}
	back := DefaultConfig()
	if _, err := toml.Decode(buf.String(), &back); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if p := problems(back); len(p) != 0 || back.LeaseTime != c.LeaseTime || len(back.Subnets[0].Reservations) != 1 ||
		back.Classes[0].Subnet[0].Options[0].Value != "${server}" {
		t.Errorf("round trip: %v\n%s", p, buf.String())
	}
}

func TestNewRefusesBadConfigWithAllProblems(t *testing.T) {
	c := baseConfig()
	c.Subnets[0].Pools[0].Start = "nope"
	c.Classes[0].Preset = "nope"
	_, err := New(c, Options{Store: nil})
	if err == nil || !strings.Contains(err.Error(), "store") {
		t.Errorf("no store: %v", err)
	}
	_, err = New(c, Options{Store: fakeStore{}})
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"dhcp.subnet[0].pool[0].start", "dhcp.class[0].preset"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %s", err, want)
		}
	}
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) < 2 {
		t.Errorf("problems are not listed one by one: %v", err)
	}
}
