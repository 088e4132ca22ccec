package appliance

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/phoneprov/phoneprov/cmd/internal/config"
	"github.com/phoneprov/phoneprov/dhcpd/dhcpopts"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// pairBoxConfig is one box of a pair on 198.18.50.0/24 with the avaya
// preset; paired=false leaves [dhcp.ha] off.
func pairBoxConfig(t *testing.T, name string, paired bool) config.Config {
	t.Helper()
	body := `data_dir = "data"
[dhcp]
enabled = true
[[dhcp.subnet]]
cidr = "198.18.50.0/24"
interface = "eth0"
[[dhcp.subnet.pool]]
start = "198.18.50.100"
end = "198.18.50.150"
[[dhcp.class]]
preset = "avaya"
call_servers = ["198.18.50.10"]
`
	if paired {
		body += fmt.Sprintf(`[dhcp.ha]
enabled = true
this_server_name = %q
[[dhcp.ha.peer]]
name = "pi-a"
url = "http://198.18.50.1:8001/"
role = "primary"
[[dhcp.ha.peer]]
name = "pi-b"
url = "http://198.18.50.2:8001/"
role = "standby"
`, name)
	}
	p := filepath.Join(t.TempDir(), "phoneprov.toml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// option242 is the Avaya preset's option 242 as the box sends it to a
// client on its own address.
func option242(t *testing.T, cfg config.Config, self string) string {
	t.Helper()
	classes, err := cfg.DHCP.ExpandedClasses()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range classes {
		for _, o := range c.Options {
			if o.Code != 242 {
				continue
			}
			v, err := dhcpopts.Parse(dhcpopts.Spec{Code: 242, Name: "avaya", Type: dhcpopts.TypeAvaya}, o.Value)
			if err != nil {
				t.Fatal(err)
			}
			b, err := v.Encode(dhcpVars(cfg.Endpoints())(netip.MustParseAddr(self)))
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
	t.Fatal("no option 242 in the avaya preset")
	return ""
}

// In a pair, each box's Avaya string lists itself then its partner as
// file servers (HTTPSRVR, TLSSRVR, TFTPSRVR); a lone box lists itself.
func TestPairFileServersInAvayaString(t *testing.T) {
	var out strings.Builder
	for _, box := range []struct {
		name, addr string
		paired     bool
	}{{"pi-a", "198.18.50.1", true}, {"pi-b", "198.18.50.2", true}, {"alone", "198.18.50.1", false}} {
		fmt.Fprintf(&out, "%s: %s\n", box.name, option242(t, pairBoxConfig(t, box.name, box.paired), box.addr))
	}
	golden := filepath.Join("testdata", "pair-option242.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) {
		t.Errorf("option 242:\n%s\nwant (%s):\n%s", out.String(), golden, want)
	}
}
