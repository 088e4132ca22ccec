package provisioning

import (
	"bytes"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// problems runs Validate and returns "key: message" lines, sorted.
func problems(c Config) []string {
	var out []string
	c.Validate(func(key string, err error) { out = append(out, key+": "+err.Error()) })
	sort.Strings(out)
	return out
}

func TestDefaultConfigIsValid(t *testing.T) {
	if p := problems(DefaultConfig()); len(p) > 0 {
		t.Fatalf("defaults do not validate: %v", p)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		want   string // "key: substring"
	}{
		{"port", func(c *Config) { c.HTTPSPort = 0 }, "https_port: 0 is not a port"},
		{"backup path relative", func(c *Config) { c.BackupPath = "backup/" }, "backup_path: \"backup/\" must start with /"},
		{"backup path space", func(c *Config) { c.BackupPath = "/back up/" }, "backup_path: \"/back up/\" must be a plain URL path"},
		{"skip_auto", func(c *Config) { c.SkipAuto = []string{"HTTPSRVR", "SIG"} }, "skip_auto[1]: \"SIG\" is not one of"},
		{"lower-case name", func(c *Config) { c.Settings = Settings{"sntpsrvr": "x"} }, "settings.sntpsrvr: setting names are upper-case"},
		{"name with dash", func(c *Config) { c.Settings = Settings{"A-B": "x"} }, "settings.A-B: setting names"},
		{"line break", func(c *Config) { c.Settings = Settings{"A": "x\nSET EVIL 1"} }, "settings.A: holds a line break"},
		{"NUL", func(c *Config) { c.Settings = Settings{"A": "x\x00"} }, "settings.A: holds a NUL byte"},
		{"quote", func(c *Config) { c.Settings = Settings{"A": `say "hi"`} }, "settings.A: holds a double quote"},
		{"too long", func(c *Config) { c.Settings = Settings{"A": Value(strings.Repeat("x", 2001))} }, "settings.A: value is 2001 characters long"},
		{"APPNAME in settings", func(c *Config) { c.Settings = Settings{"APPNAME": "x.bin"} }, "settings.APPNAME: firmware is chosen per model"},
		{"group range", func(c *Config) { c.Groups = []GroupConfig{{Group: 1000}} }, "group[0].group: 1000 is not a GROUP"},
		{"group duplicate", func(c *Config) { c.Groups = []GroupConfig{{Group: 3}, {Group: 3}} }, "group[1].group: group 3 is also group[0]"},
		{"group settings", func(c *Config) {
			c.Groups = []GroupConfig{{Group: 3, Settings: Settings{"bad": "1"}}}
		}, "group[0].settings.bad: setting names"},
		{"model", func(c *Config) { c.Models = []ModelConfig{{Model: "96 08"}} }, "model[0].model: \"96 08\" is not a MODEL4"},
		{"model duplicate", func(c *Config) { c.Models = []ModelConfig{{Model: "j179"}, {Model: "J179"}} }, "model[1].model: model J179 is also model[0]"},
		{"mac", func(c *Config) { c.Phones = []PhoneConfig{{MAC: "00:1b:4f"}} }, "phone[0].mac: \"00:1b:4f\" is not a MAC address: it has 6 hex digits"},
		{"mac junk", func(c *Config) { c.Phones = []PhoneConfig{{MAC: "zz:1b:4f:12:34:56"}} }, "phone[0].mac: \"zz:1b:4f:12:34:56\" is not a MAC address"},
		{"mac duplicate", func(c *Config) {
			c.Phones = []PhoneConfig{{MAC: "00:1b:4f:12:34:56"}, {MAC: "001B4F123456"}}
		}, "phone[1].mac: 001B4F123456 is also phone[0]"},
		{"phone name", func(c *Config) { c.Phones = []PhoneConfig{{MAC: "001b4f123456", Name: "a\nb"}} }, "phone[0].name: holds a line break"},
		{"firmware file", func(c *Config) { c.Firmware = []FirmwareConfig{{File: "sub/x.bin", Series: "J100"}} }, "firmware[0].file: \"sub/x.bin\" is not a file name"},
		{"firmware series", func(c *Config) { c.Firmware = []FirmwareConfig{{File: "x.bin", Series: "7900"}} }, "firmware[0].series: \"7900\" is not one of 46xx"},
		{"firmware model", func(c *Config) {
			c.Firmware = []FirmwareConfig{{File: "x.bin", Series: "J100", Models: []Value{"9608"}}}
		}, "firmware[0].models[0]: \"9608\" is not a J100 model"},
		{"firmware version", func(c *Config) {
			c.Firmware = []FirmwareConfig{{File: "x.bin", Series: "J100", Version: "latest"}}
		}, "firmware[0].version: \"latest\" is not a version"},
		{"firmware setting", func(c *Config) {
			c.Firmware = []FirmwareConfig{{File: "x.bin", Series: "J100", Setting: "SIG"}}
		}, "firmware[0].setting: \"SIG\" is not an APPNAME-style setting"},
		{"firmware signalling", func(c *Config) {
			c.Firmware = []FirmwareConfig{{File: "x.bin", Series: "J100", Signalling: "h323"}}
		}, "firmware[0].signalling: J100 phones run sip firmware only"},
		{"pin model", func(c *Config) { c.Pin = map[string]string{"nine six": "x.bin"} }, "pin.nine six: \"nine six\" is not a MODEL4"},
		{"pin file", func(c *Config) { c.Pin = map[string]string{"J179": "../x.bin"} }, "pin.J179: \"../x.bin\" is not a file name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.change(&c)
			got := problems(c)
			if len(got) != 1 || !strings.HasPrefix(got[0], strings.SplitN(tt.want, ": ", 2)[0]+": ") || !strings.Contains(got[0], strings.SplitN(tt.want, ": ", 2)[1]) {
				t.Errorf("problems = %q, want one like %q", got, tt.want)
			}
		})
	}
}

func TestPhoneSettingsMayNameFirmware(t *testing.T) {
	c := DefaultConfig()
	c.Phones = []PhoneConfig{{MAC: "001b4f123456", Settings: Settings{"APPNAME": "FW_S_J179_R4_1_4_0_5.bin"}}}
	if p := problems(c); len(p) > 0 {
		t.Errorf("a per-phone APPNAME was refused: %v", p)
	}
}

func TestValueDecoding(t *testing.T) {
	var doc struct {
		S Settings `toml:"s"`
	}
	src := `
[s]
STR = "a b"
INT = 240
NEG = -5
FLOAT = 1.5
YES = true
NO = false
LIST = ["a.pem", "b.pem", 3]
`
	if _, err := toml.Decode(src, &doc); err != nil {
		t.Fatal(err)
	}
	want := Settings{"STR": "a b", "INT": "240", "NEG": "-5", "FLOAT": "1.5", "YES": "1", "NO": "0", "LIST": "a.pem,b.pem,3"}
	if fmt.Sprint(doc.S) != fmt.Sprint(want) {
		t.Errorf("decoded %v, want %v", doc.S, want)
	}
	for _, bad := range []string{
		"[s]\nT = 1979-05-27T07:32:00Z\n",
		"[s]\nT = { a = 1 }\n",
		"[s]\nT = [\"a,b\"]\n",
	} {
		if _, err := toml.Decode(bad, &doc); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestNormalizeMAC(t *testing.T) {
	for _, in := range []string{"00:1b:4f:12:34:56", "00-1B-4F-12-34-56", "001b.4f12.3456", "001B4F123456"} {
		got, err := NormalizeMAC(in)
		if err != nil || got != "001b4f123456" {
			t.Errorf("NormalizeMAC(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "00:1b:4f:12:34", "00:1b:4f:12:34:56:78", "00 1b 4f 12 34 56", "g01b4f123456"} {
		if _, err := NormalizeMAC(bad); err == nil {
			t.Errorf("NormalizeMAC(%q) accepted it", bad)
		}
	}
	if n, _ := PhoneFileName("C8:1F:EA:83:E8:5A"); n != "c81fea83e85a.txt" {
		t.Errorf("PhoneFileName = %q", n)
	}
}

// `phoneprov check` prints the effective configuration as TOML; what it
// prints must read back to the same configuration.
func TestConfigEncodesAndDecodesBack(t *testing.T) {
	cfg := loadConfig(t, filepath.Join(goldenDir, "mixed-fleet", "config.toml"))
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(struct {
		Provisioning Config `toml:"provisioning"`
	}{cfg}); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Provisioning Config `toml:"provisioning"`
	}
	if _, err := toml.Decode(buf.String(), &back); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if !reflect.DeepEqual(back.Provisioning, cfg) {
		t.Errorf("round trip changed the configuration:\n%+v\n%+v", back.Provisioning, cfg)
	}
}
